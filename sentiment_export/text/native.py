"""The optional native TextEncoder backend: cpp_demo's C++ encoder, loaded with ctypes.

The library is ``libsentiment_encoder.so``, built by the package build
(``pip install .``, scikit-build-core running CMake on ``cpp_demo/``, with
PCRE2, ICU and libstdc++ linked in) and installed beside this module, where
it is found as :data:`DEFAULT_LIBRARY`. The environment variable
``SENTIMENT_EXPORT_NATIVE_ENCODER`` (a library's path) overrides it, e.g. for
a library built by hand with ``cmake -S cpp_demo -B build``. When the native
build failed at install time (no compiler, no PCRE2/ICU headers) the package
installs without it and the pure-Python encoder runs, which stays the
reference: the native one gives the same ids (tested on the golden hard
cases, real reviews, adversarial and non-UTF-8 texts).

Texts that have no UTF-8 form (``str`` with lone surrogates, which Python's
own encoder accepts), and any text the native library fails on (it reports
failures per text), are encoded by the Python path, so both backends give
the same ids for every ``str`` and one text never takes down its batch.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import NativeEncoderError
from .spec import PreprocessingSpec
from .vocabulary import Vocabulary

logger = logging.getLogger(__name__)

ENV_VAR = "SENTIMENT_EXPORT_NATIVE_ENCODER"
DEFAULT_LIBRARY = Path(__file__).resolve().with_name("libsentiment_encoder.so")
BACKENDS = ("auto", "python", "native")
ABI_VERSION = 3
"""The SE_ABI_VERSION of cpp_demo/include/sentiment_encoder.h this module speaks."""

_CHUNK = 4096  # texts per native call: bounds the (chunk, max_length) int64 buffer
_ERROR_BYTES = 1024
_BUILD_HINT = (
    "reinstall the package with the native build (`pip install --force-reinstall --no-deps .` with g++ "
    "libpcre2-dev libicu-dev nlohmann-json3-dev installed; SENTIMENT_EXPORT_REQUIRE_NATIVE=1 shows why it fails) "
    f"or set {ENV_VAR}=/path/to/libsentiment_encoder.so"
)


def configured_path() -> str:
    """``$SENTIMENT_EXPORT_NATIVE_ENCODER`` as set (stripped), or ``""`` when the installed library is used."""
    return os.environ.get(ENV_VAR, "").strip()


def library_path() -> Path:
    """Where the native library is looked for: ``$SENTIMENT_EXPORT_NATIVE_ENCODER``, else :data:`DEFAULT_LIBRARY`."""
    return Path(configured_path() or DEFAULT_LIBRARY)


@functools.lru_cache(maxsize=None)
def _load_library(path: str) -> ctypes.CDLL:
    """The library at ``path`` with its signatures declared; loaded once per process and path."""
    try:
        library = ctypes.CDLL(path)
    except OSError as error:
        raise NativeEncoderError(f"cannot load the native encoder library {path}: {error}; {_BUILD_HINT}") from error
    try:
        library.se_abi_version.restype = ctypes.c_int
        library.se_abi_version.argtypes = []
    except AttributeError as error:
        raise NativeEncoderError(f"{path} is not a sentiment_encoder library (no se_abi_version); {_BUILD_HINT}") from error
    version = library.se_abi_version()
    if version != ABI_VERSION:
        raise NativeEncoderError(
            f"the native encoder library {path} has ABI version {version}, this sentiment_export speaks "
            f"{ABI_VERSION}; rebuild cpp_demo from the same source tree as the package"
        )
    library.se_build_info.restype = ctypes.c_char_p
    library.se_build_info.argtypes = []
    library.se_nltk_steps_fingerprint.restype = ctypes.c_uint64
    library.se_nltk_steps_fingerprint.argtypes = []
    library.se_encoder_create.restype = ctypes.c_void_p
    library.se_encoder_create.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
    ]
    library.se_encoder_destroy.restype = None
    library.se_encoder_destroy.argtypes = [ctypes.c_void_p]
    library.se_encoder_max_length.restype = ctypes.c_int64
    library.se_encoder_max_length.argtypes = [ctypes.c_void_p]
    library.se_encoder_uses_head_shortcut.restype = ctypes.c_int
    library.se_encoder_uses_head_shortcut.argtypes = [ctypes.c_void_p]
    library.se_encoder_encode_batch.restype = ctypes.c_int
    library.se_encoder_encode_batch.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
    ]
    library.se_encoder_tokenize_batch.restype = ctypes.c_int
    library.se_encoder_tokenize_batch.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
    ]
    return library


def build_info() -> dict[str, object] | None:
    """What the native library at :func:`library_path` was built with, or None when none loads.

    For diagnostics (which PCRE2, whether its JIT runs, the Unicode version of
    its character tables, ICU): ``{"abi", "pcre2", "pcre2_jit", "unicode_version", "icu"}``.
    """
    path = library_path()
    if not path.is_file():
        return None
    try:
        library = _load_library(str(path))
    except NativeEncoderError as error:
        logger.warning("%s", error)
        return None
    return json.loads(library.se_build_info().decode("utf-8"))


_TOKEN_BYTES_PER_TEXT_BYTE = 3
"""First output buffer for tokenize_batch per input byte: tokens plus separators rarely take more (NLTK's
quote rewriting and a few lower-case forms grow, spaces become separators)."""


def _utf8_batch(texts: Sequence[str]) -> tuple[bytes, np.ndarray, list[int]]:
    """The texts' UTF-8 bytes back to back, their (count + 1) offsets, and which texts have no UTF-8 form.

    A text with lone surrogates goes in empty; the caller answers it through the Python path.
    """
    parts: list[bytes] = []
    unencodable: list[int] = []
    for index, text in enumerate(texts):
        try:
            parts.append(text.encode("utf-8"))
        except UnicodeEncodeError:
            parts.append(b"")
            unencodable.append(index)
    offsets = np.zeros(len(parts) + 1, dtype=np.uint64)
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    return b"".join(parts), offsets, unencodable


_STATUS_SOME_FAILED = 2
"""What se_encoder_encode_batch / se_encoder_tokenize_batch return when some texts failed (marked per text)."""
_FIRST_FAILURE = re.compile(r"^text \d+: ")


def _in_chunks(
    texts: Sequence[str],
    native_rows: Callable[[bytes, np.ndarray, int, np.ndarray], tuple[list, str]],
    fallback: Callable[[str], list],
    what: str,
) -> list[list]:
    """``native_rows(data, offsets, count, failed)`` (rows, first failure) over chunks of the texts, in order.

    A text without a UTF-8 form (lone surrogates), or one the library marks in
    ``failed`` (logged with its index in ``texts``), goes through ``fallback``
    (the Python path), so no result depends on the backend and no text takes
    down its batch.
    """
    rows: list[list] = []
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start : start + _CHUNK]
        data, offsets, unencodable = _utf8_batch(chunk)
        failed = np.zeros(len(chunk), dtype=np.uint8)
        part, failure = native_rows(data, offsets, len(chunk), failed)
        if failure:
            indices = (start + np.flatnonzero(failed)).tolist()
            logger.warning(
                "the native %s failed on text %s (%s)%s; encoded by the Python encoder",
                what, indices[0], _FIRST_FAILURE.sub("", failure),
                f" and {len(indices) - 1} more ({indices[1:6]}...)" if len(indices) > 1 else "",
            )
        for index in sorted(set(unencodable) | set(np.flatnonzero(failed).tolist())):
            part[index] = fallback(chunk[index])
        rows += part
    return rows


def _check_status(status: int, error: ctypes.Array, what: str) -> str:
    """The first failing text's message when some texts failed ("" when none); raises for a failed call."""
    message = error.value.decode("utf-8", "replace")
    if status == _STATUS_SOME_FAILED:
        return message
    if status != 0:  # not expected: every text here is well-formed UTF-8
        raise NativeEncoderError(f"the native {what} failed: {message}")
    return ""


def _split_rows(flat: list, lengths: np.ndarray) -> list[list]:
    ends = np.cumsum(lengths).tolist()
    return [flat[end - length : end] for end, length in zip(ends, lengths.tolist())]


def _check_threads(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an int, got {type(threads).__name__} {threads!r}")
    if not 1 <= threads <= 256:
        raise ValueError(f"threads must be between 1 and 256, got {threads}")
    return threads


class NativeEncoder:
    """Text -> ids by the C++ encoder, for one spec and vocabulary; thread-safe (the library locks).

    ``threads``: how many threads one batch is split over (1: all work in the
    calling thread; texts are independent, so the ids never depend on it).
    Raises :class:`NativeEncoderError` when the library cannot be loaded or
    refuses the spec (a pattern whose Python meaning it cannot reproduce).
    """

    def __init__(
        self,
        spec: PreprocessingSpec,
        vocabulary: Vocabulary,
        *,
        library: str | os.PathLike[str] | None = None,
        threads: int = 1,
    ) -> None:
        self.threads = _check_threads(threads)
        path = Path(library) if library is not None else library_path()
        self.library_path = path
        self._library = _load_library(str(path))
        spec_json = spec.to_json().encode("utf-8")
        vocab_text = vocabulary.to_text().encode("utf-8")
        error = ctypes.create_string_buffer(_ERROR_BYTES)
        handle = self._library.se_encoder_create(
            spec_json, len(spec_json), vocab_text, len(vocab_text), threads, error, _ERROR_BYTES
        )
        if not handle:
            raise NativeEncoderError(
                f"the native encoder ({path}) refuses this spec/vocabulary: {error.value.decode('utf-8', 'replace')}; "
                "use backend='python'"
            )
        self._handle = ctypes.c_void_p(handle)
        self._destroy = self._library.se_encoder_destroy
        self.max_length = int(self._library.se_encoder_max_length(self._handle))

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._destroy(handle)
            self._handle = None

    @property
    def uses_head_shortcut(self) -> bool:
        """Whether long texts are tokenized only as far as right truncation keeps (the NLTK rule set)."""
        return bool(self._library.se_encoder_uses_head_shortcut(self._handle))

    def encode_ids_batch(self, texts: Sequence[str], *, fallback: Callable[[str], list[int]]) -> list[list[int]]:
        """Ids of each text (truncated, not padded), one native call per chunk of texts.

        A text without a UTF-8 form (lone surrogates), or one the library fails
        on (logged), is encoded by ``fallback`` (the Python path), so the result
        never depends on the backend and every text gets its ids.
        """
        return _in_chunks(texts, self._native_ids, fallback, "encoder")

    def _native_ids(self, data: bytes, offsets: np.ndarray, count: int, failed: np.ndarray) -> tuple[list[list[int]], str]:
        ids = np.empty(count * self.max_length, dtype=np.int64)
        lengths = np.empty(count, dtype=np.int64)
        error = ctypes.create_string_buffer(_ERROR_BYTES)
        status = self._library.se_encoder_encode_batch(
            self._handle, data, offsets.ctypes.data, count,
            ids.ctypes.data, ids.size, lengths.ctypes.data, failed.ctypes.data, error, _ERROR_BYTES,
        )
        failure = _check_status(status, error, "encoder")
        return _split_rows(ids[: int(lengths.sum())].tolist(), lengths), failure

    def tokenize_batch(self, texts: Sequence[str], *, fallback: Callable[[str], list[str]]) -> list[list[str]]:
        """Every token of each text (whole: not truncated), one native call per chunk of texts.

        For counting a vocabulary; a text without a UTF-8 form or that the library fails on goes through ``fallback``.
        """
        return _in_chunks(texts, self._native_tokens, fallback, "tokenizer")

    def _native_tokens(self, data: bytes, offsets: np.ndarray, count: int, failed: np.ndarray) -> tuple[list[list[str]], str]:
        counts = np.empty(count, dtype=np.int64)
        needed = ctypes.c_size_t(0)
        capacity = _TOKEN_BYTES_PER_TEXT_BYTE * len(data) + count + 64  # too small only for odd texts: asked again
        for _ in range(2):
            tokens = ctypes.create_string_buffer(capacity)
            error = ctypes.create_string_buffer(_ERROR_BYTES)
            status = self._library.se_encoder_tokenize_batch(
                self._handle, data, offsets.ctypes.data, count, tokens, capacity,
                ctypes.byref(needed), counts.ctypes.data, failed.ctypes.data, error, _ERROR_BYTES,
            )
            if status != 1:
                break
            capacity = needed.value
        failure = _check_status(status, error, "tokenizer")
        return _split_rows(tokens.raw[: needed.value].decode("utf-8").split("\n")[:-1], counts), failure


def create_native_encoder(
    spec: PreprocessingSpec, vocabulary: Vocabulary, backend: str, *, threads: int = 1
) -> NativeEncoder | None:
    """The native encoder for ``backend`` ``"native"`` (or an error), ``"auto"`` (or None), ``"python"`` (None).

    ``"auto"`` falls back to Python silently when no library is installed, and
    with a logged warning when one is configured or present but unusable.
    Raises ``ValueError`` for an unknown backend and :class:`NativeEncoderError`
    when ``"native"`` cannot be served.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _check_threads(threads)
    if backend == "python":
        return None
    path = library_path()
    if backend == "auto" and not path.is_file() and not configured_path():
        return None
    if not path.is_file():
        how = f"{ENV_VAR}={configured_path()!r}" if configured_path() else "the default location"
        message = f"no native encoder library at {path} ({how}); {_BUILD_HINT}"
        if backend == "native":
            raise NativeEncoderError(message)
        logger.warning("%s; using the Python encoder", message)
        return None
    try:
        return NativeEncoder(spec, vocabulary, library=path, threads=threads)
    except NativeEncoderError as error:
        if backend == "native":
            raise
        logger.warning("%s; using the Python encoder", error)
        return None

"""Tokenizing a corpus over every core: the native library's threads, or Python worker processes without it.

Either way a text gets the tokens of :meth:`Tokenizer.tokenize` (the native
tokenizer is held to them by the parity tests), so the ids a data set is
encoded to do not depend on which backend or how many workers ran.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..cpus import usable_cpus
from .native import create_native_encoder
from .spec import PreprocessingSpec
from .tokenizer import Tokenizer
from .vocabulary import Vocabulary

logger = logging.getLogger(__name__)

MAX_WORKERS = 256
"""The most threads or processes one tokenizer uses."""

_worker_tokenizer: Tokenizer | None = None


def _start_worker(spec_json: str) -> None:
    global _worker_tokenizer
    _worker_tokenizer = Tokenizer(PreprocessingSpec.from_json(spec_json))


def _tokenize_in_worker(texts: Sequence[str]) -> list[str] | list[list[str]]:
    """Each text's tokens joined by spaces: one string per text pickles many times faster than a list of tokens.

    Tokens hold no whitespace (the tokenizer splits on it) unless the spec's
    ``url_token`` does; only then do the lists travel as they are.
    """
    assert _worker_tokenizer is not None, "the worker initializer sets the tokenizer"
    if _joinable(_worker_tokenizer.spec):
        return [" ".join(_worker_tokenizer.tokenize(text)) for text in texts]
    return [_worker_tokenizer.tokenize(text) for text in texts]


def _joinable(spec: PreprocessingSpec) -> bool:
    return not any(ch.isspace() for ch in spec.url_token)


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity), at most :data:`MAX_WORKERS`."""
    return min(MAX_WORKERS, usable_cpus())


class ParallelTokenizer:
    """``tokenize_batch(texts)`` over ``workers`` threads (native) or processes (Python); use it as a context manager.

    ``backend`` is that of :class:`~sentiment_export.text.encoder.TextEncoder`:
    ``"auto"`` takes the native library when it loads. With one worker the
    Python backend tokenizes in this process (no pool to start).
    """

    def __init__(self, spec: PreprocessingSpec, *, backend: str = "auto", workers: int | None = None) -> None:
        workers = default_workers() if workers is None else workers
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be in [1, {MAX_WORKERS}], got {workers!r}")
        self.spec = spec
        self.workers = workers
        self._tokenizer = Tokenizer(spec)
        self._native = create_native_encoder(spec, Vocabulary.from_tokens([], spec), backend, threads=workers)
        self._pool: ProcessPoolExecutor | None = None
        if self._native is None and workers > 1:
            # spawned, not forked: the parent may hold torch's threads, whose locks a fork would copy mid-use
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                initargs=(spec.to_json(),),
            )

    @property
    def backend(self) -> str:
        """``"native"`` or ``"python"``."""
        return "python" if self._native is None else "native"

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """The tokens of each text, whole (not truncated), in input order."""
        if self._native is not None:
            return self._native.tokenize_batch(texts, fallback=self._tokenizer.tokenize)
        if self._pool is None:
            return [self._tokenizer.tokenize(text) for text in texts]
        size = -(-len(texts) // self.workers)
        parts = [texts[start : start + size] for start in range(0, len(texts), size)]
        try:
            results = [item for part in self._pool.map(_tokenize_in_worker, parts) for item in part]
        except BrokenProcessPool as error:  # e.g. a worker could not start (a __main__ read from stdin)
            logger.warning("tokenizer worker processes failed (%s); tokenizing in this process", error)
            self.close()
            return [self._tokenizer.tokenize(text) for text in texts]
        if _joinable(self.spec):
            return [joined.split(" ") if joined else [] for joined in results]
        return results

    def close(self) -> None:
        """Stop the worker processes (nothing to do for the native backend)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> ParallelTokenizer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

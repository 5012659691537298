"""One input, every encoder: what the Python encoder (the oracle) gives and the others do not.

The others are the native library through the Python binding
(sentiment_export/text/native.py) and through its raw C ABI (input that is not
UTF-8 reaches only C callers), and the C++ demo, which reads a whole batch per
process (:func:`demo_differences`). Each input is encoded under a few specs:
the default one, short ones (max_length 7) whose head shortcut cuts within
the few hundred characters a fuzzer mutates, and the largest character budget. The vocabulary of each check is
every token of the input, so that any token the head path gets wrong changes
an id instead of hiding behind the unknown-word id.

The native binding must find the library through SENTIMENT_EXPORT_NATIVE_ENCODER
(the caller sets it).
"""

from __future__ import annotations

import ctypes
import json
import logging
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from sentiment_export import PreprocessingSpec, TextEncoder, Vocabulary
from sentiment_export.text import native
from sentiment_export.text.spec import MAX_CHARACTERS_LIMIT, character_budget
from sentiment_export.text.tokenizer import Tokenizer

SPECS: Mapping[str, PreprocessingSpec] = {
    "default": PreprocessingSpec(),
    "short-head": PreprocessingSpec(max_length=7, max_characters=character_budget(7)),
    "short-tail": PreprocessingSpec(max_length=7, max_characters=character_budget(7), truncation_side="left"),
    "largest-budget": PreprocessingSpec(max_characters=MAX_CHARACTERS_LIMIT),  # PCRE2's JIT stack and match limits
}
LARGEST_BUDGET_INPUT = 4_000_000
"""Longer inputs skip the largest-budget spec: they are the budget's repros (the other specs read 10,000
characters of them), and the Python encoder takes tens of seconds over 10 million."""
_ERROR_BYTES = 512


class _Warnings(logging.Handler):
    """Collects what sentiment_export logs: the binding logs each text the library failed on."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _show(value: object, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _differ(what: str, got: Sequence, expected: Sequence) -> str:
    """Where two token or id lists part: the first differing index and a few items around it."""
    index = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    window = slice(max(0, index - 2), index + 3)
    return f"{what}: {len(got)} vs {len(expected)} items, first difference at {index}: {_show(got[window])} vs {_show(expected[window])}"


class Differential:
    """The encoders of one process, compared input by input (:meth:`differences`)."""

    def __init__(self) -> None:
        self._tokenizers = {name: Tokenizer(spec) for name, spec in SPECS.items()}
        self._library = native._load_library(str(native.library_path()))
        spec = PreprocessingSpec().to_json().encode()
        error = ctypes.create_string_buffer(_ERROR_BYTES)
        self._handle = self._library.se_encoder_create(spec, len(spec), b"_PAD\n_UNK\n", 10, 1, error, _ERROR_BYTES)
        if not self._handle:
            raise RuntimeError(f"the native library refused the default spec: {error.value!r}")
        self._warnings = _Warnings()
        logging.getLogger("sentiment_export").addHandler(self._warnings)

    def close(self) -> None:
        logging.getLogger("sentiment_export").removeHandler(self._warnings)
        self._library.se_encoder_destroy(self._handle)

    def differences(self, data: bytes) -> list[str]:
        """What differs between the encoders on ``data`` (empty when they all agree)."""
        problems: list[str] = []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            problems += self._raw_abi_refusal(data, error.start)
            text = data.decode("utf-8", "surrogateescape")  # lone surrogates: a str without a UTF-8 form
        return problems + self.text_differences(text, input_bytes=len(data))

    def text_differences(self, text: str, *, input_bytes: int = 0) -> list[str]:
        """What differs between the encoders on ``text`` under each spec (the largest budget only up to
        LARGEST_BUDGET_INPUT bytes of input)."""
        problems: list[str] = []
        for name in SPECS:
            if name != "largest-budget" or input_bytes <= LARGEST_BUDGET_INPUT:
                problems += [f"{name}: {problem}" for problem in self._spec_differences(name, text)]
        return problems

    def _spec_differences(self, name: str, text: str) -> list[str]:
        spec, tokenizer = SPECS[name], self._tokenizers[name]
        try:
            tokens = tokenizer.tokenize(text)
        except Exception as error:  # the oracle must take any str
            return [f"the Python tokenizer raised {error!r}"]
        problems = []
        count = spec.max_length
        if (head := tokenizer.tokenize_head(text, count)) != tokens[:count]:
            problems.append(_differ("Python head path vs full tokenization's head", head, tokens[:count]))
        words = {token for token in tokens if not any("\ud800" <= character <= "\udfff" for character in token)}  # vocab.txt is UTF-8
        vocabulary = Vocabulary.from_tokens(sorted(words - {spec.pad_token, spec.unk_token}), spec)
        python = TextEncoder(spec, vocabulary, backend="python")
        expected = python.encode_tokens(tokens)
        if (ids := python.encode_ids(text)) != expected:
            problems.append(_differ("Python ids vs ids of the full tokens", ids, expected))
        if len(expected) != min(len(tokens), count):
            problems.append(f"{len(expected)} ids for {len(tokens)} tokens at max_length {count}")
        del self._warnings.messages[:]
        encoder = TextEncoder(spec, vocabulary, backend="native")
        if (ids := encoder.encode_ids_batch([text])[0]) != expected:
            problems.append(_differ("native ids vs Python's", ids, expected))
        if (native_tokens := encoder.tokenize_batch([text])[0]) != tokens:
            problems.append(_differ("native tokens vs Python's", native_tokens, tokens))
        if self._warnings.messages:  # the library failed on a text Python encoded
            problems.append(f"the native library failed: {self._warnings.messages}")
        return problems

    def _raw_abi_refusal(self, data: bytes, bad_byte: int) -> list[str]:
        """Input that is not UTF-8 must be refused through the C ABI, naming the byte Python names."""
        offsets = np.array([0, len(data)], dtype=np.uint64)
        ids, lengths, failed = np.empty(200, dtype=np.int64), np.empty(1, dtype=np.int64), np.zeros(1, dtype=np.uint8)
        error = ctypes.create_string_buffer(_ERROR_BYTES)
        status = self._library.se_encoder_encode_batch(
            self._handle, data, offsets.ctypes.data, 1, ids.ctypes.data, ids.size, lengths.ctypes.data, failed.ctypes.data, error, _ERROR_BYTES
        )
        expected = f"text 0 is not valid UTF-8 (byte {bad_byte})".encode()
        if status != -1 or error.value != expected:
            return [f"C ABI on bytes that are not UTF-8: status {status}, {error.value!r} (expected -1, {expected!r})"]
        return []


def demo_differences(binary: Path, artifact: Path, inputs: Iterable[bytes], environment: Mapping[str, str] | None = None) -> list[str]:
    """The C++ demo's tokens and ids of each UTF-8 input against the Python encoder of the artifact it reads.

    One demo process per output kind for the whole batch (it loads libtorch);
    an input that is not UTF-8 (and has no line break) must get a per-index error
    record naming the byte Python names, and exit status 3.
    """
    python = TextEncoder.load(artifact, backend="python")
    texts, invalid = [], []
    for data in inputs:
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            if b"\n" not in data and b"\r" not in data:
                invalid.append((data, error.start))
    problems = []
    model = str(artifact / "model.pt")
    jsonl = "".join(json.dumps(text) + "\n" for text in texts).encode("ascii")
    for kind, expected in (("ids", [python.encode_ids(text) for text in texts]), ("tokens", [python.tokenize(text) for text in texts])):
        records = _demo_records(binary, [model, "--jsonl", f"--{kind}"], jsonl, len(texts), 0, environment, problems)
        for index, record in enumerate(records):
            if kind not in record:
                problems.append(f"demo failed on input {index} ({_show(texts[index], 80)}): {_show(record)}")
            elif record[kind] != expected[index]:
                problems.append(_differ(f"demo {kind} of input {index} ({_show(texts[index], 80)}) vs Python's", record[kind], expected[index]))
    lines = b"".join(data + b"\n" for data, _ in invalid)
    for (data, bad_byte), record in zip(invalid, _demo_records(binary, [model, "--stdin", "--ids"], lines, len(invalid), 3, environment, problems)):
        if record.get("error") != f"invalid UTF-8 at byte {bad_byte}":
            problems.append(f"demo on bytes that are not UTF-8 ({_show(data, 80)}): {_show(record)}, expected the error 'invalid UTF-8 at byte {bad_byte}'")
    return problems


def _demo_records(binary: Path, arguments: Sequence[str], stdin: bytes, count: int, status: int, environment: Mapping[str, str] | None,
                  problems: list[str]) -> list[dict]:
    """The demo's JSON records for ``count`` inputs, or none with the reason in ``problems``."""
    if count == 0:
        return []
    done = subprocess.run([str(binary), *arguments], input=stdin, capture_output=True, timeout=1800, check=False, env=environment)
    if done.returncode != status:
        problems.append(f"demo {' '.join(arguments[1:])} exited {done.returncode}: {done.stderr.decode('utf-8', 'replace')[-3000:]}")
        return []
    records = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    if [record.get("index") for record in records] != list(range(count)):
        problems.append(f"demo {' '.join(arguments[1:])} gave {len(records)} records for {count} inputs")
        return []
    return records

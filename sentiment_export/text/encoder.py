"""TextEncoder: the one place where raw strings become model input."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..fileio import atomic_write_text
from .batching import batch_bounds
from .native import create_native_encoder
from .spec import PADDING_SIDES, PreprocessingSpec
from .tokenizer import Tokenizer
from .vocabulary import Vocabulary

BatchMap = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
"""``map``'s signature: ``(function, items) -> results in the items' order``."""

SPEC_FILENAME = "spec.json"
VOCAB_FILENAME = "vocab.txt"


def pad_ids(rows: Sequence[Sequence[int]], *, width: int, side: str, pad_id: int) -> np.ndarray:
    """Stack id lists into an int64 ``(len(rows), width)`` matrix, each row padded with ``pad_id`` on ``side``.

    The one padding routine: :meth:`TextEncoder.pad` calls it with the spec's
    side, and the article baseline of the benchmarks with ``side="left"``.
    Raises ``ValueError`` for an unknown side or a row longer than ``width``.
    """
    if side not in PADDING_SIDES:
        raise ValueError(f"side must be one of {PADDING_SIDES}, got {side!r}")
    matrix = np.full((len(rows), width), pad_id, dtype=np.int64)
    for index, row in enumerate(rows):
        if len(row) > width:
            raise ValueError(f"row {index} has {len(row)} ids, more than the padded length {width}")
        if side == "right":
            matrix[index, : len(row)] = row
        elif len(row):
            matrix[index, width - len(row) :] = row
    return matrix


class TextEncoder:
    """Text -> token ids by a spec and a vocabulary; training, export and serving all call it.

    Saved as two plain files (``spec.json`` and ``vocab.txt``) so that any
    language can rebuild it.

    ``backend`` chooses who computes ids (:meth:`encode_ids`, :meth:`encode_ids_batch`,
    :meth:`encode`): ``"python"`` (the reference), ``"native"`` (the C++
    encoder of cpp_demo via :mod:`sentiment_export.text.native`, same ids;
    :class:`NativeEncoderError` when it is unavailable) or ``"auto"`` (native
    when its library is installed, else Python); :meth:`tokenize_batch` too,
    while :meth:`tokenize` always comes from Python. ``native_threads``: threads the native backend
    splits a batch over (default 1; the ids do not depend on it).
    """

    def __init__(
        self, spec: PreprocessingSpec, vocabulary: Vocabulary, *, backend: str = "auto", native_threads: int = 1
    ) -> None:
        self.spec = spec
        self.vocabulary = vocabulary
        self.tokenizer = Tokenizer(spec)
        self.native_threads = native_threads
        self._native = create_native_encoder(spec, vocabulary, backend, threads=native_threads)

    @property
    def backend(self) -> str:
        """The backend in use: ``"native"`` or ``"python"``."""
        return "python" if self._native is None else "native"

    def with_backend(self, backend: str) -> TextEncoder:
        """This encoder when ``backend`` is ``"auto"`` or already in use, else a copy on ``backend``
        (with the same ``native_threads``)."""
        if backend in ("auto", self.backend):
            return self
        return TextEncoder(self.spec, self.vocabulary, backend=backend, native_threads=self.native_threads)

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """:meth:`tokenize` of each text (whole, not truncated); the native backend tokenizes the batch in one call.

        For counting a vocabulary over a corpus: the same tokens either way.
        """
        if self._native is not None:
            return self._native.tokenize_batch(texts, fallback=self.tokenize)
        return [self.tokenize(text) for text in texts]

    def encode_ids(self, text: str) -> list[int]:
        """Ids of one text, truncated to ``max_length`` and not padded (may be empty)."""
        if self._native is not None:
            return self._native.encode_ids_batch([text], fallback=self._python_ids)[0]
        return self._python_ids(text)

    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode_ids` of each text; the native backend encodes the whole batch in one call."""
        if self._native is not None:
            return self._native.encode_ids_batch(texts, fallback=self._python_ids)
        return [self._python_ids(text) for text in texts]

    def _python_ids(self, text: str) -> list[int]:
        if self.spec.truncation_side == "right":
            return self.vocabulary.lookup(self.tokenizer.tokenize_head(text, self.spec.max_length))
        return self.encode_tokens(self.tokenizer.tokenize(text))

    def encode_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Ids of already tokenized text (from :meth:`tokenize`), truncated like :meth:`encode_ids`.

        Lets training tokenize a corpus once, count the vocabulary from the
        tokens, then encode the same tokens without tokenizing twice.
        """
        ids = self.vocabulary.lookup(tokens)
        limit = self.spec.max_length
        if len(ids) > limit:
            ids = ids[:limit] if self.spec.truncation_side == "right" else ids[-limit:]
        return ids

    def pad(self, rows: Sequence[Sequence[int]], *, length: int | None = None) -> np.ndarray:
        """Stack id lists into an int64 ``(batch, length)`` matrix, padded on the spec's side.

        ``length`` defaults to the longest row (at least 1, so an all-empty batch
        still has a column).
        """
        width = max([len(row) for row in rows] + [1]) if length is None else length
        return pad_ids(rows, width=width, side=self.spec.padding_side, pad_id=self.spec.pad_id)

    def length_sorted_batches(
        self, rows: Sequence[Sequence[int]], batch_size: int, *, max_padded_ids: int | None = None, min_batches: int = 1
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(indices, id matrix)`` batches of ``rows`` taken in order of length, cut by :func:`batch_bounds`.

        Each matrix is padded only to its own longest row, so short texts do
        not pay for long ones; scatter results back with ``scores[indices] = ...``
        to restore input order. The model's padding invariance makes this
        give the same scores as any other batching.
        """
        lengths = [len(row) for row in rows]
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = [lengths[index] for index in order]
        for start, end in batch_bounds(sorted_lengths, batch_size=batch_size, max_padded_ids=max_padded_ids, min_batches=min_batches):
            indices = order[start:end]
            yield indices, self.pad([rows[index] for index in indices])

    def score_length_sorted(
        self,
        rows: Sequence[Sequence[int]],
        run: Callable[[np.ndarray], np.ndarray],
        *,
        batch_size: int,
        max_padded_ids: int | None = None,
        min_batches: int = 1,
        map_batches: BatchMap = map,
    ) -> np.ndarray:
        """``run`` (an id matrix -> one score per row) over :meth:`length_sorted_batches`; float32, input order.

        The scoring loop of the runtime and of every way the benchmarks score
        with a model: whatever runs the model, the batching is this one.
        ``map_batches`` (``map``'s signature, results in order) decides how
        the batches are run: one after the other, or several at once.
        """
        scores = np.empty(len(rows), dtype=np.float32)

        def score(batch: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            indices, ids = batch
            return indices, run(ids)

        batches = self.length_sorted_batches(rows, batch_size, max_padded_ids=max_padded_ids, min_batches=min_batches)
        for indices, batch_scores in map_batches(score, batches):
            scores[indices] = batch_scores
        return scores

    def encode(self, texts: Sequence[str], *, length: int | None = None) -> np.ndarray:
        """Encode and pad a batch of texts (see :meth:`encode_ids` and :meth:`pad`)."""
        return self.pad(self.encode_ids_batch(texts), length=length)

    def save(self, directory: str | os.PathLike[str]) -> None:
        directory = Path(directory)
        atomic_write_text(directory / SPEC_FILENAME, self.spec.to_json())
        self.vocabulary.save(directory / VOCAB_FILENAME)

    @classmethod
    def from_texts(cls, spec_json: str, vocab_text: str, *, backend: str = "auto", native_threads: int = 1) -> TextEncoder:
        """Rebuild from the contents of ``spec.json`` and ``vocab.txt``."""
        spec = PreprocessingSpec.from_json(spec_json)
        return cls(spec, Vocabulary.from_text(vocab_text, spec), backend=backend, native_threads=native_threads)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, backend: str = "auto") -> TextEncoder:
        directory = Path(directory)
        try:
            spec_json = (directory / SPEC_FILENAME).read_text(encoding="utf-8")
            vocab_text = (directory / VOCAB_FILENAME).read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise SpecError(f"cannot load a TextEncoder from {directory}: {error.filename} is missing") from error
        return cls.from_texts(spec_json, vocab_text, backend=backend)

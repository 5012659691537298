"""Encoding a train and a test file into compact arrays on disk, streaming, in memory that does not grow with the files.

One pass over each file tokenizes it in chunks (:class:`ParallelTokenizer`)
and writes every token as a provisional id (its first appearance in the run)
to a scratch file; per review only its token count and label stay in memory.
The validation split is then carved by the review count, the vocabulary is
counted from the training split's provisional ids (``np.bincount``, no Python
objects per review), and a second pass over the scratch files maps provisional
ids to vocabulary ids, truncated to the spec's ``max_length``, into
``{split}_ids.npy`` (int32), ``{split}_offsets.npy`` (int64) and
``{split}_labels.npy`` (int8). The ids are those of
``TextEncoder.encode_tokens(tokenize(text))``, whichever tokenizer ran.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sentiment_export import PreprocessingSpec, Vocabulary
from sentiment_export.data import DataFormat, in_chunks
from sentiment_export.data.encoded import ID_DTYPE
from sentiment_export.data.labelled import no_usable_review, review_source
from sentiment_export.text.parallel import ParallelTokenizer

from .data import split_validation
from .vocab import vocabulary_from_counts

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")
TEXTS_PER_CHUNK = 8192
"""Reviews tokenized per call: bounds the Python objects alive at once."""
ROWS_PER_PASS = 8192
"""Reviews per numpy step of the counting and mapping passes: bounds their temporary arrays (~24 bytes an id)."""


@dataclass(frozen=True)
class EncodingSettings:
    """Everything the encoded arrays depend on besides the files' bytes (the data cache's key is made of it)."""

    spec: PreprocessingSpec
    min_freq: int
    max_vocab_size: int
    val_fraction: float
    val_seed: int
    formats: dict[str, DataFormat]
    strict: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "min_freq": self.min_freq,
            "max_vocab_size": self.max_vocab_size,
            "val_fraction": self.val_fraction,
            "val_seed": self.val_seed,
            "formats": {split: self.formats[split].to_dict() for split in SPLITS},
            "strict": self.strict,
        }


class _ProvisionalIds:
    """Token -> id in order of first appearance, over both files (the only structure that grows with the vocabulary)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def ids(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        index = self.index
        setdefault = index.setdefault
        flat = [setdefault(token, len(index)) for token in itertools.chain.from_iterable(token_lists)]
        return np.array(flat, dtype=ID_DTYPE)


def _tokenize_file(
    path: Path,
    data_format: DataFormat,
    *,
    strict: bool,
    tokenizer: ParallelTokenizer,
    provisional: _ProvisionalIds,
    scratch: Path,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(token counts per review, labels, malformed report) of one file; its provisional ids go to ``scratch``."""
    source = review_source(path, data_format=data_format, strict=strict)
    lengths: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    with open(scratch, "wb") as out, tqdm(
        desc=f"tokenizing {path.name}", unit=" reviews", unit_scale=True, disable=not progress, dynamic_ncols=True
    ) as bar:
        for chunk in in_chunks(source, TEXTS_PER_CHUNK):
            token_lists = tokenizer.tokenize_batch([review.text for review in chunk])
            out.write(provisional.ids(token_lists).tobytes())
            lengths.append(np.fromiter(map(len, token_lists), dtype=np.int64, count=len(chunk)))
            labels.append(np.fromiter((review.label for review in chunk), dtype=np.int8, count=len(chunk)))
            bar.update(len(chunk))
    malformed = source.malformed
    count = sum(len(part) for part in lengths)
    logger.info("%s: %d reviews, %s", path, count, malformed.describe())
    if not count:
        raise no_usable_review(path, malformed, data_format)
    report = {"counts": malformed.to_dict(), "examples": {reason: list(lines) for reason, lines in malformed.examples.items()}}
    return np.concatenate(lengths), np.concatenate(labels), report


def _row_ranges(offsets: np.ndarray) -> Iterable[tuple[int, int]]:
    for first in range(0, len(offsets) - 1, ROWS_PER_PASS):
        yield first, min(first + ROWS_PER_PASS, len(offsets) - 1)


def _read_ids(path: Path, begin: int, end: int) -> np.ndarray:
    """Ids ``begin:end`` of a scratch file, read (not memory-mapped, so they leave the process's memory after use)."""
    return np.fromfile(path, dtype=ID_DTYPE, count=end - begin, offset=begin * np.dtype(ID_DTYPE).itemsize)


def _count_training_tokens(raw: Path, offsets: np.ndarray, in_training: np.ndarray, size: int) -> np.ndarray:
    """How often each provisional id occurs in the training split's reviews (int64, ``size`` entries)."""
    counts = np.zeros(size, dtype=np.int64)
    for first, last in _row_ranges(offsets):
        keep = np.repeat(in_training[first:last], np.diff(offsets[first : last + 1]))
        counts += np.bincount(_read_ids(raw, offsets[first], offsets[last])[keep], minlength=size)
    return counts


def _write_final_ids(raw: Path, offsets: np.ndarray, mapping: np.ndarray, spec: PreprocessingSpec, out: Path) -> np.ndarray:
    """Write the vocabulary ids of every review, truncated like ``encode_tokens``, to ``out`` (.npy); returns their offsets."""
    lengths = np.diff(offsets)
    kept = np.minimum(lengths, spec.max_length)
    final_offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    first_kept = offsets[:-1] + (0 if spec.truncation_side == "right" else lengths - kept)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(ID_DTYPE)), "fortran_order": False,
              "shape": (int(final_offsets[-1]),)}
    with open(out, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for first, last in _row_ranges(offsets):
            chunk = _read_ids(raw, offsets[first], offsets[last])
            local = np.repeat(first_kept[first:last] - offsets[first] - final_offsets[first:last] + final_offsets[first],
                              kept[first:last])
            positions = local + np.arange(final_offsets[last] - final_offsets[first], dtype=np.int64)
            handle.write(mapping[chunk[positions]].tobytes())
    return final_offsets


def encode_files(
    paths: dict[str, Path],
    settings: EncodingSettings,
    directory: Path,
    *,
    vocabulary: Sequence[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Encode ``paths["train"]`` and ``paths["test"]`` into ``directory`` (which must exist); returns what was read.

    ``vocabulary`` (a resumed run's) is used as given; otherwise one is counted
    from the training split. The result: ``{"vocabulary": tokens, "malformed":
    {split: report}, "backend": tokenizer backend}``; ``vocab.txt`` is written too.
    """
    provisional = _ProvisionalIds()
    lengths, labels, malformed = {}, {}, {}
    with ParallelTokenizer(settings.spec) as tokenizer:
        logger.info("tokenizing over %d worker(s) (%s tokenizer)", tokenizer.workers, tokenizer.backend)
        backend = tokenizer.backend
        for split in SPLITS:
            lengths[split], labels[split], malformed[split] = _tokenize_file(
                paths[split], settings.formats[split], strict=settings.strict, tokenizer=tokenizer,
                provisional=provisional, scratch=directory / f"{split}.raw", progress=progress,
            )
    offsets = {split: np.concatenate([[0], np.cumsum(lengths[split])]).astype(np.int64) for split in SPLITS}
    raw = {split: directory / f"{split}.raw" for split in SPLITS}
    tokens = list(provisional.index)
    del provisional
    if vocabulary is None:
        train_index, _ = split_validation(len(labels["train"]), fraction=settings.val_fraction, seed=settings.val_seed)
        in_training = np.zeros(len(labels["train"]), dtype=bool)
        in_training[train_index] = True
        counts = _count_training_tokens(raw["train"], offsets["train"], in_training, len(tokens))
        seen = np.flatnonzero(counts)
        vocabulary = vocabulary_from_counts(
            Counter({tokens[i]: int(counts[i]) for i in seen.tolist()}), settings.spec,
            min_freq=settings.min_freq, max_vocab_size=settings.max_vocab_size,
        ).tokens
    table = Vocabulary(vocabulary, settings.spec)
    mapping = np.array(table.lookup(tokens), dtype=ID_DTYPE)
    for split in SPLITS:
        final_offsets = _write_final_ids(raw[split], offsets[split], mapping, settings.spec, directory / f"{split}_ids.npy")
        np.save(directory / f"{split}_offsets.npy", final_offsets, allow_pickle=False)
        np.save(directory / f"{split}_labels.npy", labels[split], allow_pickle=False)
        raw[split].unlink()
    table.save(directory / "vocab.txt")
    return {"vocabulary": list(table.tokens), "malformed": malformed, "backend": backend}

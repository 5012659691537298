"""Encoded reviews as three numpy arrays: every id in one flat int32 array, where each row starts, how long it is.

A data set of millions of reviews held as Python lists of ints costs several
kilobytes a review; here a review costs its ids (4 bytes each) plus 16 bytes
of bookkeeping, and the flat array may be a read-only memory map of a cache
file that several processes share. A subset (the training or the validation
split) shares the flat array and copies only its starts and lengths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

ID_DTYPE = np.int32
"""The dtype of token ids (a vocabulary never comes near 2**31 tokens)."""


@dataclass(frozen=True)
class EncodedRows(Sequence[np.ndarray]):
    """Rows of token ids: ``rows[i]`` is ``ids[starts[i] : starts[i] + lengths[i]]`` (an int32 view, no copy).

    ``rows[index_array]`` and ``rows[slice]`` give another :class:`EncodedRows`
    over the same flat ``ids``. Labels travel separately (one int8 array per split).
    """

    ids: np.ndarray  # (total ids,) int32, possibly a read-only memory map
    starts: np.ndarray  # (rows,) int64
    lengths: np.ndarray  # (rows,) int64

    @classmethod
    def from_offsets(cls, ids: np.ndarray, offsets: np.ndarray) -> EncodedRows:
        """Rows stored back to back: row ``i`` is ``ids[offsets[i] : offsets[i + 1]]``; ``offsets[0] == 0``."""
        offsets = np.asarray(offsets, dtype=np.int64)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ids):
            raise ValueError(f"offsets must run from 0 to the number of ids ({len(ids)})")
        lengths = np.diff(offsets)
        if (lengths < 0).any():
            raise ValueError("offsets must not decrease")
        return cls(ids, offsets[:-1], lengths)

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[int]]) -> EncodedRows:
        """Compact rows given as lists (small data and tests)."""
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        ids = np.fromiter((i for row in rows for i in row), dtype=ID_DTYPE, count=int(offsets[-1]))
        return cls.from_offsets(ids, offsets)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, key):  # type: ignore[override]  # int -> row, slice/array -> EncodedRows
        if isinstance(key, (int, np.integer)):
            start = int(self.starts[key])
            return self.ids[start : start + int(self.lengths[key])]
        return EncodedRows(self.ids, self.starts[key], self.lengths[key])

    def __iter__(self) -> Iterator[np.ndarray]:
        for start, length in zip(self.starts.tolist(), self.lengths.tolist()):
            yield self.ids[start : start + length]

    def to_lists(self) -> list[list[int]]:
        """Every row as a list of ints (comparisons in tests; small data only)."""
        return [row.tolist() for row in self]

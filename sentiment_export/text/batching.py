"""How a call's length-sorted rows are cut into batches: at most so many rows, and at most so many padded ids.

A batch is padded to its longest row and an LSTM runs every padded step, so
a batch's cost is its row count times its longest row. Cutting sorted rows
only by count gives the longest texts of a call the largest padding, in the
last and slowest batch; a small call becomes one batch and leaves all but
one core idle. Measured on a 2-core CPU (benchmarks/README.md, "Batch
size and the batch plan"), both cost the runtime up to half its speed on calls of 32 to 128
texts; this plan bounds the padded ids of each batch and splits a small
call into enough batches for the concurrent runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def batch_bounds(
    sorted_lengths: Sequence[int], *, batch_size: int, max_padded_ids: int | None = None, min_batches: int = 1
) -> list[tuple[int, int]]:
    """``(start, end)`` slices of rows sorted by ascending length, cut in order.

    Each batch has at most ``batch_size`` rows, and at most
    ``ceil(len / min_batches)`` so that a call of at least ``min_batches``
    rows makes at least that many batches; with ``max_padded_ids`` a batch
    grows only while its rows times its longest row (the last, as lengths
    ascend; an empty row counts as one padded id) stay within it, one row
    always fitting. Without the two options: fixed batches of ``batch_size``.
    Raises ``ValueError`` for a bound below 1 (the runtime checks its options' upper bounds).
    """
    if min(batch_size, min_batches, 1 if max_padded_ids is None else max_padded_ids) < 1:
        raise ValueError(f"batch bounds must be at least 1, got batch_size={batch_size}, "
                         f"max_padded_ids={max_padded_ids}, min_batches={min_batches}")
    count = len(sorted_lengths)
    rows = min(batch_size, max(1, math.ceil(count / min_batches)))
    bounds = []
    start = 0
    while start < count:
        limit = min(start + rows, count)
        end = limit if max_padded_ids is None else start + 1
        while end < limit and (end - start + 1) * max(1, sorted_lengths[end]) <= max_padded_ids:
            end += 1
        bounds.append((start, end))
        start = end
    return bounds

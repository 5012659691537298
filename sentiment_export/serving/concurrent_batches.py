"""Several onnxruntime runs at once, one per batch, for the runtime's scoring loop.

A small LSTM keeps one core busy per run and splits badly over threads: each
recurrent step is one small product, so a second intra-op thread mostly
waits. Two batches on one thread each kept two cores busy instead (figures:
benchmarks/README.md, "Decisions"). onnxruntime sessions are safe to run
from several threads at once, and ``session.run`` releases the GIL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..data import in_chunks
from .counts import check_count

MAX_CONCURRENT_BATCHES = 64
"""The most batches a model may score at once (each holds its padded ids and activations)."""


def check_concurrent_batches(count: int) -> int:
    """``count`` if it is an int in [1, :data:`MAX_CONCURRENT_BATCHES`]; else TypeError / ValueError."""
    return check_count("concurrent_batches", count, MAX_CONCURRENT_BATCHES)


class ConcurrentBatches:
    """``map`` over a thread pool of ``workers``, results in order, at most ``2 * workers`` items taken at a time.

    The window keeps memory bounded: the items (padded batches) are made
    lazily, and only a window of them exists at once however many texts a
    call scores. A window of one item runs on the calling thread.
    """

    def __init__(self, workers: int) -> None:
        self.workers = check_concurrent_batches(workers)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sentiment-export-batch")

    def __call__(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for window in in_chunks(items, 2 * self.workers):
            if len(window) == 1:
                yield function(window[0])
            else:
                yield from self._executor.map(function, window)

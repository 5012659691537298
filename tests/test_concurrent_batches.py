"""ConcurrentBatches: ``map`` over a thread pool, in order, a bounded window of items at a time."""

from __future__ import annotations

import threading
import time

import pytest

from sentiment_export.serving.concurrent_batches import ConcurrentBatches


def test_results_come_in_input_order_and_only_a_window_of_items_is_taken_at_once() -> None:
    taken, lock = [], threading.Lock()

    def items():
        for index in range(23):
            with lock:
                taken.append(index)
            yield index

    results, peak_ahead = [], 0
    for result in ConcurrentBatches(3)(lambda item: (time.sleep(0.001 * (item % 4)), item * item)[1], items()):
        with lock:
            peak_ahead = max(peak_ahead, len(taken) - len(results))
        results.append(result)
    assert results == [index * index for index in range(23)]
    assert peak_ahead <= 6  # 2 x workers: the padded batches are made lazily, a window at a time


def test_a_single_item_runs_on_the_calling_thread_and_errors_reach_the_caller() -> None:
    pool = ConcurrentBatches(2)
    assert list(pool(lambda _: threading.current_thread(), [0])) == [threading.current_thread()]

    def fail(item: int) -> int:
        if item == 5:
            raise RuntimeError("batch 5 failed")
        return item

    with pytest.raises(RuntimeError, match="batch 5 failed"):
        list(pool(fail, range(10)))

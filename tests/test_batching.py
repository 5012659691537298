"""How a call's length-sorted rows are cut into batches (sentiment_export/text/batching.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment_export.serving.runtime import MIN_BATCHES_PER_CALL, PADDED_IDS_PER_TEXT, batch_plan
from sentiment_export.text.batching import batch_bounds


def _sizes(bounds: list[tuple[int, int]]) -> list[int]:
    return [end - start for start, end in bounds]


def test_without_the_bounds_the_batches_are_fixed() -> None:
    assert batch_bounds([3] * 10, batch_size=4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds([], batch_size=4) == []


def test_a_small_call_is_cut_into_at_least_min_batches() -> None:
    assert _sizes(batch_bounds([5] * 32, batch_size=32, min_batches=4)) == [8, 8, 8, 8]
    assert _sizes(batch_bounds([5] * 3, batch_size=32, min_batches=4)) == [1, 1, 1]
    assert _sizes(batch_bounds([5] * 1000, batch_size=32, min_batches=4)) == [32] * 31 + [8]


def test_long_rows_go_in_smaller_batches_within_the_padded_id_budget() -> None:
    lengths = sorted(np.random.default_rng(0).integers(0, 400, size=500).tolist())
    bounds = batch_bounds(lengths, batch_size=32, max_padded_ids=2048)
    assert [start for start, _ in bounds[1:]] == [end for _, end in bounds[:-1]] and bounds[-1][1] == len(lengths)
    for start, end in bounds:
        rows, longest = end - start, max(1, lengths[end - 1])
        assert rows <= 32 and (rows == 1 or rows * longest <= 2048)
        assert end == len(lengths) or rows == 32 or (rows + 1) * max(1, lengths[end]) > 2048  # as full as allowed
    assert _sizes(batch_bounds([4096, 5000], batch_size=32, max_padded_ids=2048)) == [1, 1]  # one row always fits


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"min_batches": 0}, {"max_padded_ids": 0}])
def test_bounds_below_one_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="batch bounds must be at least 1"):
        batch_bounds([1, 2], **{"batch_size": 2, **bad})


def test_the_runtime_bounds_cpu_batches_and_not_cuda_ones() -> None:
    assert batch_plan(32, on_gpu=False) == {
        "batch_size": 32, "max_padded_ids": 32 * PADDED_IDS_PER_TEXT, "min_batches": MIN_BATCHES_PER_CALL,
    }
    assert batch_plan(256, on_gpu=True) == {"batch_size": 256}


def test_a_plan_given_to_predict_proba_cuts_the_call_and_leaves_the_scores(exported_artifact) -> None:
    from sentiment_export import SentimentModel

    model = SentimentModel.load(exported_artifact, device="cpu", batch_size=8)
    texts = [f"review {n}: " + "good " * (n % 7) + "bad " * (n % 5) for n in range(40)]
    seen: list[int] = []
    run = model._run
    model._run = lambda ids: (seen.append(len(ids)), run(ids))[1]
    default = model.predict_proba(texts)
    default_batches, seen[:] = list(seen), []
    fixed = model.predict_proba(texts, plan={"batch_size": 40})
    assert seen == [40] and default_batches != [40]
    np.testing.assert_allclose(fixed, default, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict_proba(texts, plan={"batch_size": 10**6})

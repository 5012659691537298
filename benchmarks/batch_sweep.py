"""The runtime's texts/s per batch size, with its batch plan and with fixed batches: the figures behind the plan.

    python -m benchmarks.batch_sweep --artifact A [--imdb FILE] [--batch-sizes 8,16,32] [--call-sizes 32,128,1000]

A call of ``predict_proba`` sorts its own texts by length and pads each
batch to its longest row, so how much padding a batch carries, and how
evenly the concurrent batches share the cores, depend on the batch size,
on how the sorted rows are cut, and on how many texts one call brings. For
every data set, precision and call size the same texts are scored the
runtime's way (encoding, sorting, its session and concurrent batches) at
each batch size, cut by the runtime's plan
(:func:`sentiment_export.serving.runtime.batch_plan`: at most so many padded
ids per batch, at least so many batches per call) and into fixed batches,
in turn (rotating order, best of ``--repeats``). The table gives texts/s and
each cell's ratio to the row's fastest.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path


from sentiment_export import SentimentModel
from sentiment_export.cli.options import bounded_int
from sentiment_export.data.amazon import read_reviews
from sentiment_export.serving.runtime import MAX_BATCH_SIZE, PRECISIONS, batch_plan

from . import MAX_REPEATS, MAX_TEXTS

_REPO = Path(__file__).resolve().parents[1]
_SNIPPETS = _REPO / "training" / "default_data" / "test.ft.txt.bz2"
_IMDB = _REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2"


def _sizes(bound: int):
    """argparse type: a comma-separated list of ints in [1, ``bound``]."""
    single = bounded_int(1, bound)

    def parse(value: str) -> list[int]:
        return [single(part) for part in value.split(",")]

    return parse


def plans(batch_sizes: Sequence[int]) -> dict[str, dict[str, int | None]]:
    """Column name -> :meth:`TextEncoder.score_length_sorted` keyword arguments: the runtime's plan and fixed batches."""
    columns = {}
    for size in batch_sizes:
        columns[f"plan {size}"] = batch_plan(size, on_gpu=False)
        columns[f"fixed {size}"] = {"batch_size": size}
    return columns


def sweep(model: SentimentModel, texts: Sequence[str], *, columns: dict[str, dict[str, int | None]], call_size: int,
          repeats: int) -> dict[str, float]:
    """Texts/s of ``model.predict_proba`` on ``texts`` cut into calls of ``call_size``, per column (best of ``repeats``)."""

    def score_all(plan: dict[str, int | None]) -> None:
        for start in range(0, len(texts), call_size):
            model.predict_proba(texts[start : start + call_size], plan=plan)

    best = dict.fromkeys(columns, float("inf"))
    score_all(next(iter(columns.values())))  # warm-up: the session's first-run allocations
    order = list(columns)
    for repeat in range(repeats):
        turn = repeat % len(order)
        for name in [*order[turn:], *order[:turn]]:
            started = time.perf_counter()
            score_all(columns[name])
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, help="artifact directory")
    parser.add_argument("--snippets", type=Path, default=_SNIPPETS)
    parser.add_argument("--imdb", type=Path, default=_IMDB, help="imdb test file (skipped when absent)")
    parser.add_argument("--snippets-texts", type=bounded_int(1, MAX_TEXTS), default=1000)
    parser.add_argument("--imdb-texts", type=bounded_int(1, MAX_TEXTS), default=300)
    parser.add_argument("--batch-sizes", type=_sizes(MAX_BATCH_SIZE), default=[16, 32, 64])
    parser.add_argument("--call-sizes", type=_sizes(MAX_TEXTS), default=[32, 128, 1000],
                        help="texts per predict_proba call (a call larger than the data is the whole data)")
    parser.add_argument("--repeats", type=bounded_int(1, MAX_REPEATS), default=5)
    args = parser.parse_args(argv)
    data = {"snippets": [review.text for review in read_reviews(args.snippets)[0][: args.snippets_texts]]}
    if args.imdb.exists():
        data["imdb"] = [review.text for review in read_reviews(args.imdb)[0][: args.imdb_texts]]
    columns = plans(args.batch_sizes)
    print(f"| data | precision | texts per call | {' | '.join(columns)} |")
    print("|---|---|---|" + "---|" * len(columns))
    for precision in PRECISIONS:
        model = SentimentModel.load(args.artifact, precision=precision)
        for name, texts in data.items():
            for call_size in args.call_sizes:
                rates = sweep(model, texts, columns=columns, call_size=call_size, repeats=args.repeats)
                fastest = max(rates.values())
                cells = " | ".join(f"{rate:,.0f} ({rate / fastest:.2f})" for rate in rates.values())
                print(f"| {name} | {precision} | {min(call_size, len(texts))} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

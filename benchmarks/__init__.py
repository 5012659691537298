"""The benchmark suite: run its modules from the repository root, e.g. ``python -m benchmarks.run_all``.

Nothing is imported here, so that ``benchmarks.cold_start`` times the import of ``sentiment_export``
in an interpreter that has loaded nothing else. Commands and results: benchmarks/README.md.
"""

MAX_TEXTS = 10_000_000
"""Bound of every count option of the benchmarks (texts, requests, steps): far above any run measured."""

MAX_REPEATS = 1000

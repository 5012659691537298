"""Data-stage time and peak memory at the Amazon polarity set's scale, without and with the data cache.

    python -m benchmarks.data_scale [--sizes 100000,400000,1600000,4000000] [--work-dir /tmp/data_scale]

For each N it writes an Amazon-format train file of N reviews and a test file
of N/9 (the real set's 3.6 M : 0.4 M), each review 2 to 5 embedded snippets of
one label joined (about Amazon's 430 characters), drawn deterministically
(seed 0). Then, each in a fresh process: the data stage of ``python -m
training`` (read, tokenize, count the vocabulary, encode, write the cache) on
an empty cache, and again on the filled one, plus the second run's time to its
first optimizer step (``--max-steps 1 --no-export``, default preset). It
reports wall time, peak RSS (``VmHWM``), bytes of RSS per review above
the process's baseline (RSS right before the data stage), the cache's size,
and the slope of time and memory in N (least squares over the sizes).
Set ``SENTIMENT_EXPORT_NATIVE_ENCODER`` to time the native tokenizer.
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SNIPPETS = Path(__file__).resolve().parents[1] / "training" / "default_data" / "train.ft.txt.bz2"
DEFAULT_SIZES = (100_000, 400_000, 1_600_000, 4_000_000)
MAX_REVIEWS = 10_000_000
TEST_SHARE = 9  # train : test = 9 : 1
_LINES_PER_WRITE = 20_000


def _snippets() -> tuple[list[bytes], list[bytes]]:
    """(negative, positive) snippet texts of the embedded data, as bytes."""
    by_label: tuple[list[bytes], list[bytes]] = ([], [])
    with bz2.open(SNIPPETS, "rb") as handle:
        for line in handle:
            label, _, text = line.rstrip(b"\n").partition(b" ")
            by_label[label == b"__label__2"].append(text)
    return by_label


def generate_reviews(path: Path, count: int, *, seed: int = 0) -> Path:
    """Write ``count`` Amazon-format reviews to ``path``; the same ``(count, seed)`` always gives the same bytes."""
    pools = _snippets()
    rng = np.random.default_rng(seed)
    with open(path, "wb") as out:
        for first in range(0, count, _LINES_PER_WRITE):
            size = min(_LINES_PER_WRITE, count - first)
            labels = rng.integers(0, 2, size)
            parts = rng.integers(2, 6, size)
            picks = rng.random((size, 5))
            lines = []
            for label, part, pick in zip(labels.tolist(), parts.tolist(), picks):
                pool = pools[label]
                chosen = (pick[:part] * len(pool)).astype(np.int64).tolist()
                lines.append(b"__label__%d %s\n" % (label + 1, b" ".join(pool[i] for i in chosen)))
            out.write(b"".join(lines))
    return path


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that over exec, from the forking parent."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) / 1024 for line in handle if line.startswith("VmHWM:"))


def data_stage(train_file: Path, test_file: Path, cache: Path | None, code_tree: Path | None = None) -> dict[str, float]:
    """The data stage of a default run in this process: seconds, peak and baseline RSS (MiB), reviews.

    ``code_tree``: a checkout whose ``training`` runs instead of this one's
    (an older commit, without a data cache: ``cache`` must then be ``None``).
    """
    if code_tree is not None:
        sys.path.insert(0, str(code_tree))
    from training import PRESETS, TrainConfig
    from training.distributed import DistContext
    from training.loop import _prepare_data

    cache_setting = {} if cache is None else {"data_cache": cache}
    config = TrainConfig(hyperparameters=PRESETS["default"], train_file=train_file, test_file=test_file,
                         device="cpu", progress=False, **cache_setting)
    baseline = _rss_mb()
    started = time.perf_counter()
    data = _prepare_data(config, DistContext(), None)
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    reviews = len(data.train_rows) + len(data.val_rows) + len(data.test_rows)
    return {"seconds": seconds, "peak_mb": peak, "baseline_mb": baseline, "reviews": reviews}


def _in_process(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", __spec__.name, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"data stage failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _first_step_seconds(train_file: Path, test_file: Path, cache: Path, run_dir: Path) -> float:
    """Wall time of ``python -m training --max-steps 1 --no-export`` on a filled cache (process start included)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "training", "--train", str(train_file), "--test", str(test_file),
                    "--max-steps", "1", "--no-export", "--no-progress", "--device", "cpu", "--run-dir", str(run_dir),
                    "--data-cache", str(cache)], check=True, capture_output=True)
    return time.perf_counter() - started


def _slope(sizes: list[int], values: list[float]) -> float:
    return float(np.polyfit(np.array(sizes, dtype=float), np.array(values, dtype=float), 1)[0]) if len(sizes) > 1 else float("nan")


def measure(sizes: list[int], work_dir: Path) -> list[dict[str, float]]:
    """One row per size (files generated once under ``work_dir`` and kept; the caches are removed)."""
    rows = []
    for size in sizes:
        train_file = work_dir / f"train-{size}.ft.txt"
        test_file = work_dir / f"test-{size}.ft.txt"
        if not train_file.is_file():
            generate_reviews(train_file, size, seed=0)
            generate_reviews(test_file, max(1, size // TEST_SHARE), seed=1)
        cache = work_dir / f"cache-{size}"
        shutil.rmtree(cache, ignore_errors=True)
        first = _in_process("--one", str(train_file), str(test_file), str(cache))
        cache_bytes = sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())
        second = _in_process("--one", str(train_file), str(test_file), str(cache))
        run_dir = work_dir / f"run-{size}"
        shutil.rmtree(run_dir, ignore_errors=True)
        to_first_step = _first_step_seconds(train_file, test_file, cache, run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        reviews = first["reviews"]
        row = {
            "reviews": reviews, "seconds": first["seconds"], "peak_mb": first["peak_mb"],
            "bytes_per_review": (first["peak_mb"] - first["baseline_mb"]) * 2**20 / reviews,
            "cache_mb": cache_bytes / 2**20, "cached_seconds": second["seconds"],
            "cached_peak_mb": second["peak_mb"], "first_step_seconds": to_first_step,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[dict[str, float]]) -> None:
    print("| reviews | data stage s | peak RSS MiB | B/review above baseline | cache MiB | cached data stage s "
          "| cached peak MiB | cached run to first step s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['reviews']:,} | {row['seconds']:.1f} | {row['peak_mb']:.0f} | {row['bytes_per_review']:.0f} "
              f"| {row['cache_mb']:.0f} | {row['cached_seconds']:.1f} | {row['cached_peak_mb']:.0f} "
              f"| {row['first_step_seconds']:.1f} |")
    sizes = [int(row["reviews"]) for row in rows]
    print(f"\nslope: {1e6 * _slope(sizes, [row['seconds'] for row in rows]):.1f} s per million reviews, "
          f"{_slope(sizes, [row['peak_mb'] * 2**20 for row in rows]):.0f} B of peak RSS per review, "
          f"{_slope(sizes, [row['cache_mb'] * 2**20 for row in rows]):.0f} B of cache per review")


def _sizes(text: str) -> list[int]:
    """``--sizes``: comma-separated review counts, each bounded."""
    from sentiment_export.cli.options import bounded_int  # not at the top: --code-tree imports another checkout

    check = bounded_int(1, MAX_REVIEWS)
    return [check(item) for item in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES),
                        help=f"comma-separated train-file sizes (each 1..{MAX_REVIEWS:,})")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/data_scale"),
                        help="where the generated files (kept for the next run) and caches go")
    parser.add_argument("--one", nargs=3, metavar=("TRAIN", "TEST", "CACHE"),
                        help="only the data stage on these files, in this process (CACHE 'none': no cache)")
    parser.add_argument("--code-tree", type=Path, metavar="DIR",
                        help="with --one: run the data stage of the checkout in DIR (e.g. `git worktree add DIR "
                             "faa18ea`, the per-review-objects pipeline; CACHE 'none')")
    args = parser.parse_args(argv)
    if args.one:
        train_file, test_file, cache = args.one
        figures = data_stage(Path(train_file), Path(test_file), None if cache == "none" else Path(cache), args.code_tree)
        print(json.dumps(figures))
        return 0
    sizes = args.sizes
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"command: python -m benchmarks.data_scale --sizes {','.join(map(str, sizes))}; "
          f"native library: {os.environ.get('SENTIMENT_EXPORT_NATIVE_ENCODER') or 'default location'}\n")
    print_table(measure(sizes, args.work_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

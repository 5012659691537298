"""model.pt2 (AOTInductor, loaded in Python) vs TorchScript vs ONNX Runtime on the same texts, one run.

    python -m benchmarks.pt2_bench --artifact artifacts/NAME-VERSION [--texts FILE] [--count 2000]
        [--batch-size 64] [--threads 1] [--repeats 3] [--latency-texts 200] [--markdown]

Every way scores the same id matrices (the texts encoded once by the
artifact's encoder, length-sorted batches padded to their own longest row),
so the table compares the models, not the encoding. Each row gives batched
throughput (best of ``--repeats`` passes over all texts), one-text latency
p50 (batch of one, the first ``--latency-texts`` texts), the speed ratio
to TorchScript (above 1: faster), and the largest score difference from eager PyTorch. Eager
PyTorch is the reference row. ``--texts`` is a reviews file (Amazon polarity
format, plain or bz2); the default is the embedded snippets test set.
``--markdown`` prints the table as markdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from sentiment_export import artifact_model_config, load_artifact, load_eager_model
from sentiment_export.data.amazon import read_reviews
from sentiment_export.export.parity import eager_runner, torchscript_runner
from sentiment_export.export.pt2 import aoti_runner
from sentiment_export.serving.providers import create_session, session_options
from sentiment_export.cli.options import MAX_THREADS, bounded_int
from sentiment_export.serving.runtime import MAX_BATCH_SIZE

from . import MAX_REPEATS, MAX_TEXTS

SNIPPETS_TEST = Path(__file__).resolve().parents[1] / "training" / "default_data" / "test.ft.txt.bz2"
LIMITS = {"count": (1, 100_000), "batch_size": (1, 4096), "threads": (1, 256), "repeats": (1, 20), "latency_texts": (1, 10_000)}

Runner = Callable[[np.ndarray], np.ndarray]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", required=True, type=Path, help="artifact directory holding model.pt2")
    parser.add_argument("--texts", type=Path, default=SNIPPETS_TEST, help="reviews file (default: the snippets test set)")
    parser.add_argument("--count", type=bounded_int(1, MAX_TEXTS), default=2000, help="texts to score (the file's first N)")
    parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH_SIZE), default=64)
    parser.add_argument("--threads", type=bounded_int(1, MAX_THREADS), default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=bounded_int(1, MAX_REPEATS), default=3, help="passes over all texts; the best is reported")
    parser.add_argument("--latency-texts", type=bounded_int(1, MAX_TEXTS), default=200, help="texts scored one at a time for the p50")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    for name, (low, high) in LIMITS.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be in {low}..{high}, got {getattr(args, name)}")
    return args


def _throughput(run: Runner, batches: list[np.ndarray], texts: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for ids in batches:
            run(ids)
        best = min(best, time.perf_counter() - started)
    return texts / best


def _latency_ms(run: Runner, singles: list[np.ndarray]) -> float:
    times = []
    for ids in singles:
        started = time.perf_counter()
        run(ids)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    artifact = load_artifact(args.artifact)
    if not artifact.file("pt2").is_file():
        sys.exit(f"error: {args.artifact} has no model.pt2 (exported with --no-pt2?); export it again without that flag")
    encoder = artifact.encoder()
    reviews, _ = read_reviews(args.texts)
    rows = [encoder.encode_ids(review.text) for review in reviews[: args.count]]
    batches = [ids for _, ids in encoder.length_sorted_batches(rows, args.batch_size)]
    singles = [encoder.pad([row]) for row in rows[: args.latency_texts]]

    session = create_session(artifact.file("onnx"), device="cpu", options=session_options(intra_op_threads=args.threads))
    input_name = session.get_inputs()[0].name

    def ort_run(ids: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: ids})[0]

    eager = eager_runner(load_eager_model(artifact))
    ways: list[tuple[str, Runner]] = [
        ("eager PyTorch", eager),
        ("TorchScript (model.pt)", torchscript_runner(artifact.file("torchscript"))),
        ("AOTInductor in Python (model.pt2)", aoti_runner(artifact.file("pt2"))),
        ("ONNX Runtime fp32 (model.onnx)", ort_run),
    ]
    references = [eager(ids) for ids in batches]
    results = []
    for name, run in ways:
        for ids in batches[:2]:  # warm-up: first calls allocate and pick kernels
            run(ids)
        diff = max(float(np.max(np.abs(run(ids) - expected))) for ids, expected in zip(batches, references))
        results.append((name, _throughput(run, batches, len(rows), args.repeats), _latency_ms(run, singles), diff))
    torchscript_rate = results[1][1]
    torchscript_latency = results[1][2]
    config = artifact_model_config(artifact)
    print(
        f"{artifact.manifest.name} {artifact.manifest.version} (hidden {config.hidden_dim}, layers {config.num_layers}, "
        f"bidirectional {config.bidirectional}, recurrent_steps {config.recurrent_steps}, ngram_dim {config.ngram_dim}); "
        f"{len(rows)} texts of {args.texts.name}, batch {args.batch_size}, {args.threads} thread(s), best of {args.repeats}; "
        f"torch {torch.__version__}"
    )
    header = ("way", "texts/s", "speed vs TorchScript", "one text p50 ms", "speed vs TorchScript", "max abs diff vs eager")
    lines = [
        (name, f"{rate:,.0f}", f"{rate / torchscript_rate:.2f}x", f"{latency:.3f}", f"{torchscript_latency / latency:.2f}x", f"{diff:.2g}")
        for name, rate, latency, diff in results
    ]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(row[k])) for row in (header, *lines)) for k in range(len(header))]
        for row in (header, *lines):
            print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GPU: the benchmark suite's end-to-end table on CUDA, and the parity proof, in one call.

    python -m benchmarks.gpu_check --artifact A [--artifact B ...] [--imdb FILE] [--json FILE]

For each artifact and data set (the snippets test set; the imdb test set when
the file is there) every way of benchmarks/run_all.py runs on the GPU: the
article's (NLTK + eager torch over 200 left-padded steps; "not run" for a
network it cannot run faithfully, see benchmarks/article_baseline.py), eager torch and
TorchScript through our encoder (also with TorchScript's graph optimisations
off: "torchscript unoptimized"), and the onnxruntime runtime on the CUDA
provider in fp32 and int8. The ORT CPU fp32 session runs beside them, in the
same interleaved chunks, as the reference. Rows: texts/s, single-text latency
p50/p99, accuracy, useful FLOP/s against the GPU's fp32 ``torch.mm`` rate, and
the largest |P - P_cpu| with label agreement.

TF32 is off everywhere (torch matmul and cuDNN flags; the runtime's CUDA
provider options set ``use_tf32=0``), so eager, TorchScript and ORT fp32 on
CUDA must stay within ``--atol`` (default 1e-5) of the CPU. Exit status: 0
when they do, 1 when one does not or a way fails to run, 2 when there is no
usable NVIDIA GPU (nothing was checked).

Needs ``onnxruntime-gpu`` (same version as ``onnxruntime``, built for the CUDA
major your driver supports, with cuDNN 9), a CUDA build of torch, and nltk
(the article's way); see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sentiment_export import SentimentModel, load_artifact
from sentiment_export.serving.providers import cuda_in_build, default_intra_op_threads, nvidia_driver_present
from sentiment_export.cli.options import MAX_THREADS, bounded_int
from sentiment_export.serving.runtime import MAX_BATCH_SIZE

from . import MAX_TEXTS

from .run_all import (
    IMDB,
    SNIPPETS,
    Results,
    Scorer,
    bench_end_to_end,
    flop_fractions,
    matmul_gflops,
    read_texts,
    recorded_facts,
    render,
    scorers_for,
)

EXIT_MISMATCH = 1
EXIT_NO_GPU = 2
REFERENCE = "ort fp32 cpu"
TORCHSCRIPT_UNOPTIMIZED = "torchscript unoptimized"
# same ids and padding as the reference, so they must match it
HELD_TO_ATOL = ("eager", "torchscript", TORCHSCRIPT_UNOPTIMIZED, "ort fp32")
NOT_HELD = {"article": "left-padded to 200: other scores by design", "ort int8": "int8: labels only"}


def no_gpu_reason() -> str | None:
    """Why nothing can be checked here, or None when a GPU, CUDA torch and onnxruntime-gpu are all there."""
    if not nvidia_driver_present():
        return "no NVIDIA driver on this machine (/proc/driver/nvidia/version and /dev/nvidiactl are absent)"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} cannot use CUDA (a CPU-only build, or a driver too old for it)"
    if not cuda_in_build():
        return "onnxruntime has no CUDA provider: install onnxruntime-gpu (same version) instead of onnxruntime"
    return None


def _unoptimized(score: Scorer) -> Scorer:
    """``score`` with TorchScript's graph executor optimisations off (C++: ``setGraphExecutorOptimize(false)``).

    On CUDA the profiling executor specialises and fuses per input shape; with
    every batch a new (batch, length) shape, short texts pay for that again and
    again (figures: benchmarks/README.md, GPU).
    """

    def unoptimized(texts):
        with torch.jit.optimized_execution(False):
            return score(texts)

    return unoptimized


def working_scorers(scorers: dict[str, Scorer], texts: list[str], results: Results, tag: str) -> dict[str, Scorer]:
    """The scorers that score two texts without raising; each one that raises gets a 'failed' row instead."""
    working = {}
    for name, score in scorers.items():
        try:
            score(texts[:2])
        except Exception as error:  # noqa: BLE001 - reported as a row and in the exit status, not hidden
            results.add(tag, "end-to-end", name, "-", "failed", f"{type(error).__name__}: {str(error)[:200]}")
            continue
        working[name] = score
    return working


def parity_rows(results: Results, tag: str, scored: dict[str, dict[str, np.ndarray]], atol: float) -> int:
    """One row per data set and way: max |P - P_cpu| and label agreement; returns how many exceed ``atol``."""
    failures = 0
    for data_name, scores in scored.items():
        reference = scores[REFERENCE]
        for way, values in scores.items():
            if way == REFERENCE:
                continue
            difference = float(np.abs(values - reference).max()) if len(values) else 0.0
            agreement = float(np.mean((values >= 0.5) == (reference >= 0.5))) if len(values) else 1.0
            held = way in HELD_TO_ATOL
            ok = difference <= atol or not held
            failures += not ok
            note = f"held to {atol:g}: {'ok' if ok else 'FAIL'}" if held else f"not held: {NOT_HELD.get(way, '')}"
            results.figures.update({f"{tag}|{data_name}|{way}|max_abs_diff": difference,
                                    f"{tag}|{data_name}|{way}|label_agreement": agreement})
            results.add(tag, "parity vs ORT CPU fp32", way, data_name,
                        f"max abs(P - P_cpu) {difference:.2e}; labels agree {agreement:.2%}", note)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", action="append", required=True, help="artifact directory (repeat for more)")
    parser.add_argument("--snippets", type=Path, default=SNIPPETS, help="snippets test file (default: embedded)")
    parser.add_argument("--imdb", type=Path, default=IMDB, help="imdb test file; skipped when absent")
    parser.add_argument("--snippets-texts", type=bounded_int(1, MAX_TEXTS), default=2000, help="texts from its head (default 2000)")
    parser.add_argument("--imdb-texts", type=bounded_int(1, MAX_TEXTS), default=2000, help="texts from its head (default 2000)")
    parser.add_argument("--latency-texts", type=bounded_int(1, MAX_TEXTS), default=100, help="single-text calls per way (default 100)")
    parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH_SIZE), default=256, help="texts per batch, every way (default 256)")
    parser.add_argument("--threads", type=bounded_int(1, MAX_THREADS), default=default_intra_op_threads(),
                        help="onnxruntime intra-op threads (the CPU reference; default: the runtime's)")
    parser.add_argument("--atol", type=float, default=1e-5, help="largest allowed |P - P_cpu| in fp32")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)

    reason = no_gpu_reason()
    if reason is not None:
        print(f"gpu_check: nothing checked: {reason}", file=sys.stderr)
        return EXIT_NO_GPU
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    started = time.perf_counter()
    data = {"snippets": read_texts(args.snippets, args.snippets_texts)}
    if args.imdb.exists():
        data["imdb"] = read_texts(args.imdb, args.imdb_texts)
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
          f"data: {', '.join(f'{name} {len(texts)} texts' for name, (texts, _) in data.items())}")
    ceiling = matmul_gflops(size=8192, repeats=5, threads=args.threads, device="cuda")
    results = Results()
    results.add("-", "machine", "fp32 torch.mm rate on the GPU (TF32 off)", "-", f"{ceiling:.0f} GFLOP/s",
                "8192x8192, best of 5")
    failures = 0
    for path in args.artifact:
        artifact = load_artifact(path)
        tag = recorded_facts(artifact)[0]
        scorers = scorers_for(artifact, args.batch_size, args.threads, device="cuda")
        reference = SentimentModel.load(artifact.root, device="cpu", batch_size=args.batch_size,
                                        intra_op_threads=args.threads)
        scorers[REFERENCE] = reference.predict_proba
        scorers[TORCHSCRIPT_UNOPTIMIZED] = _unoptimized(scorers["torchscript"])
        working = working_scorers(scorers, data["snippets"][0], results, tag)
        failures += len(scorers) - len(working)
        if "ort fp32" not in working or REFERENCE not in working:
            continue
        scored = bench_end_to_end(results, tag, artifact, data, scorers=working, batch_size=args.batch_size,
                                  latency_texts=args.latency_texts)
        failures += parity_rows(results, tag, scored, args.atol)
    flop_fractions(results, ceiling)
    print()
    print(render(results))
    print(f"\n(TF32 off; batch size {args.batch_size}; texts/s include encoding; total "
          f"{time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results.figures, indent=1) + "\n", encoding="utf-8")
    if failures:
        print(f"gpu_check: {failures} way(s) failed or differ from ORT CPU by more than {args.atol}", file=sys.stderr)
        return EXIT_MISMATCH
    print(f"gpu_check: eager, TorchScript and ORT fp32 on CUDA all within {args.atol} of ORT CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())

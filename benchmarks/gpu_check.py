"""GPU proof: run an artifact on the ORT CUDA provider and on torch CUDA, and compare with the CPU.

    python benchmarks/gpu_check.py --artifact artifacts/<name>-<version> [--data FILE] [--limit N]

Prints the providers each session really got, the largest absolute
difference of P(positive) against the ORT CPU session (the reference) for
ORT CUDA, torch CUDA and eager torch CPU, the label agreement, and texts/s.
TF32 is off everywhere (torch matmul and cuDNN flags; the runtime's CUDA
provider options set ``use_tf32=0``), so fp32 parity is held to ``--atol``
(default 1e-5). Exit status: 0 when every comparison is within ``--atol``,
1 when one is not, 2 when there is no usable NVIDIA GPU (nothing was checked).

Needs ``onnxruntime-gpu`` (same version as ``onnxruntime``, built for the CUDA
major your driver supports, with cuDNN 9) and a CUDA build of torch; see the
README's GPU section.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sentiment_export import DeviceError, SentimentModel
from sentiment_export.providers import cuda_in_build, nvidia_driver_present
from sentiment_export.reviews import read_reviews

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "training" / "default_data" / "test.ft.txt.bz2"
EXIT_MISMATCH = 1
EXIT_NO_GPU = 2


def _no_gpu_reason() -> str | None:
    if not nvidia_driver_present():
        return "no NVIDIA driver on this machine (/proc/driver/nvidia/version and /dev/nvidiactl are absent)"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} cannot use CUDA (a CPU-only build, or a driver too old for it)"
    if not cuda_in_build():
        return "onnxruntime has no CUDA provider: install onnxruntime-gpu (same version) instead of onnxruntime"
    return None


def _timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


@torch.no_grad()
def _torch_scores(net: torch.nn.Module, encoder, texts: list[str], *, device: str, batch_size: int) -> np.ndarray:
    """Eager torch, batched the runtime's way (sorted by length, each batch padded to its longest)."""
    rows = [encoder.encode_ids(text) for text in texts]
    scores = np.empty(len(rows), dtype=np.float32)
    for indices, ids in encoder.length_sorted_batches(rows, batch_size):
        scores[indices] = torch.sigmoid(net(torch.from_numpy(ids).to(device))).float().cpu().numpy()
    if device == "cuda":
        torch.cuda.synchronize()
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, help="artifact directory, .tar.gz or .zip")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="reviews file (__label__N <text> lines)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N reviews")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--atol", type=float, default=1e-5, help="largest allowed |P - P_cpu| in fp32")
    args = parser.parse_args(argv)

    reason = _no_gpu_reason()
    if reason is not None:
        print(f"gpu_check: nothing checked: {reason}", file=sys.stderr)
        return EXIT_NO_GPU
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    reviews, malformed = read_reviews(args.data)
    texts = [review.text for review in reviews[: args.limit]]
    print(f"data: {args.data}: {len(texts)} texts ({malformed.describe()})")
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__} (CUDA {torch.version.cuda})")

    cpu = SentimentModel.load(args.artifact, device="cpu", batch_size=args.batch_size)
    try:
        gpu = SentimentModel.load(args.artifact, device="cuda", batch_size=args.batch_size)
    except DeviceError as error:
        print(f"gpu_check: nothing checked on the GPU: {error}", file=sys.stderr)
        return EXIT_NO_GPU
    print(f"ORT CPU session providers:  {cpu.providers}")
    print(f"ORT CUDA session providers: {gpu.providers}")
    reference, cpu_seconds = _timed(cpu.predict_proba, texts)
    gpu.predict_proba(texts[: args.batch_size])  # first full-size batch allocates CUDA memory
    ort_cuda, ort_cuda_seconds = _timed(gpu.predict_proba, texts)

    net_cpu = cpu.artifact.build_model()  # the same verified artifact the sessions were built from
    net_cuda = cpu.artifact.build_model().cuda()
    eager_cpu, eager_cpu_seconds = _timed(
        lambda: _torch_scores(net_cpu, cpu.encoder, texts, device="cpu", batch_size=args.batch_size)
    )
    _torch_scores(net_cuda, cpu.encoder, texts[: args.batch_size], device="cuda", batch_size=args.batch_size)
    eager_cuda, eager_cuda_seconds = _timed(
        lambda: _torch_scores(net_cuda, cpu.encoder, texts, device="cuda", batch_size=args.batch_size)
    )

    failures = 0
    print(f"\n{'path':<18} {'max |P - P_cpu|':>16} {'labels agree':>13} {'texts/s':>10}")
    for name, scores, seconds in (
        ("ORT CPU (ref)", reference, cpu_seconds),
        ("ORT CUDA", ort_cuda, ort_cuda_seconds),
        ("torch CPU", eager_cpu, eager_cpu_seconds),
        ("torch CUDA", eager_cuda, eager_cuda_seconds),
    ):
        diff = float(np.abs(scores - reference).max()) if len(texts) else 0.0
        agree = float(np.mean((scores >= 0.5) == (reference >= 0.5))) if len(texts) else 1.0
        ok = diff <= args.atol
        failures += not ok
        print(f"{name:<18} {diff:>16.3e} {agree:>12.2%} {len(texts) / seconds:>10.0f}{'' if ok else '  FAIL'}")
    print(f"\n(texts/s include encoding; TF32 off; batch size {args.batch_size})")
    if failures:
        print(f"gpu_check: {failures} path(s) differ from ORT CPU by more than {args.atol}", file=sys.stderr)
        return EXIT_MISMATCH
    print(f"gpu_check: all paths within {args.atol} of ORT CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())

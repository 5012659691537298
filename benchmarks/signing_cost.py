"""What the integrity checks cost next to a plain load: embedded copies, known answers, signing, key-checked load.

    python -m benchmarks.signing_cost ARTIFACT [--repeats N]

Works on a private copy of ARTIFACT (a directory) with a P-256 key pair made
for the run. Each step runs N times (default 5); the table gives the median
and its ratio to ``SentimentModel.load`` without a key (same run, same
machine, so the ratios hold on a busy box where absolute times do not). The
``model_signing`` import is timed in a fresh interpreter, since it is paid once
per process, by the first signed load or sign.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sentiment_export import SentimentModel, check_known_answers, load_artifact, sign_artifact, verify_signature
from sentiment_export.artifact.embedded import check_embedded_copies
from sentiment_export.cli.options import bounded_int

from . import MAX_REPEATS


def _median_seconds(step: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import model_signing.signing, model_signing.verifying; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path)
    parser.add_argument("--repeats", type=bounded_int(1, MAX_REPEATS), default=5)
    args = parser.parse_args()
    if not 1 <= args.repeats <= 100:
        parser.error(f"--repeats must be in 1..100, got {args.repeats}")
    with tempfile.TemporaryDirectory(prefix="signing-cost-") as scratch:
        root = Path(shutil.copytree(args.artifact, Path(scratch) / args.artifact.name))
        key = ec.generate_private_key(ec.SECP256R1())
        private, public = Path(scratch) / "key.pem", Path(scratch) / "key.pub"
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        artifact = load_artifact(root)
        import_s = _import_seconds()
        sign_artifact(root, private_key=private)  # warm: the import is timed above
        rows = [
            ("SentimentModel.load, no key (baseline)", lambda: SentimentModel.load(root, device="cpu")),
            ("load_artifact, no key (sha256 of every file + embedded copies)", lambda: load_artifact(root)),
            ("  of which: embedded copies in model.pt", lambda: check_embedded_copies(artifact)),
            ("known answers (verification.json through model.onnx)", lambda: check_known_answers(artifact)),
            ("verify_signature", lambda: verify_signature(root, public_key=public)),
            ("load_artifact with public_key", lambda: load_artifact(root, public_key=public)),
            ("SentimentModel.load with public_key", lambda: SentimentModel.load(root, device="cpu", public_key=public)),
            ("sign_artifact (checks + known answers + signing)", lambda: sign_artifact(root, private_key=private)),
        ]
        timings = [(name, _median_seconds(step, args.repeats)) for name, step in rows]
    baseline = timings[0][1]
    files = sum(1 for _ in args.artifact.iterdir())
    size = sum(p.stat().st_size for p in args.artifact.iterdir()) / 1e6
    print(f"artifact {args.artifact} ({files} files, {size:.1f} MB); median of {args.repeats}; python {sys.version.split()[0]}")
    print("| step | median s | x SentimentModel.load |")
    print("|---|---|---|")
    for name, seconds in timings:
        print(f"| {name} | {seconds:.4f} | {seconds / baseline:.2f}x |")
    print(f"| import model_signing (once per process, fresh interpreter) | {import_s:.3f} | {import_s / baseline:.1f}x |")


if __name__ == "__main__":
    main()

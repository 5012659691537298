"""Time and peak memory of encoding one pathological long text, per encoder: the character budget at work.

    python -m benchmarks.long_texts [--scale S]

Each (text, backend) runs in a fresh Python process, so its peak RSS
(``ru_maxrss``) is that text's alone: the text is built, encoded once with the
default spec (``max_characters`` 10,000) and timed from the raw string to the
ids. The texts are those that once failed in the native encoder (PCRE2's JIT
stack and match limits) or took unbounded time and memory. ``native`` runs
only when the native library is installed (see sentiment_export/text/native.py).
``--scale`` multiplies every text's length (a smoke run uses a small one).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from sentiment_export import PreprocessingSpec, TextEncoder, Vocabulary

TEXTS = {
    "'!' * 20,000,000": ("!", 20_000_000),
    "'! ' * 10,000,000": ("! ", 10_000_000),
    "'review.' * 830": ("review.", 830),
    "'a.' * 2,100": ("a.", 2100),
    "'0.' * 2,050": ("0.", 2050),
    "'x' * 3,400,000": ("x", 3_400_000),
}
"""Name -> (unit, repeats)."""


def encode_one(name: str, backend: str, scale: float) -> dict[str, object]:
    """Encodes TEXTS[name] once on ``backend`` in this process; its time, this process's peak RSS and the id count."""
    unit, repeats = TEXTS[name]
    text = unit * max(1, int(repeats * scale))
    spec = PreprocessingSpec()
    encoder = TextEncoder(spec, Vocabulary.from_tokens(["!", "review", "."], spec), backend=backend)
    started = time.perf_counter()
    ids = encoder.encode_ids(text)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"text": name, "backend": encoder.backend, "characters": len(text), "seconds": seconds, "peak_rss_mb": peak_mb, "ids": len(ids)}


def measure_long_texts(*, scale: float = 1.0, backends: tuple[str, ...] = ("python", "native")) -> list[dict[str, object]]:
    """One row per text and backend, each measured in its own process (a backend that cannot run is left out)."""
    rows = []
    for name in TEXTS:
        for backend in backends:
            done = subprocess.run(
                [sys.executable, "-m", __spec__.name, "--one", name, backend, "--scale", str(scale)],
                capture_output=True, text=True, check=False,
            )
            if done.returncode == 0:
                rows.append(json.loads(done.stdout))
            elif backend != "native":
                raise RuntimeError(f"{name} on {backend} failed:\n{done.stderr[-2000:]}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every text's length (0 < S <= 1)")
    parser.add_argument("--one", nargs=2, metavar=("TEXT", "BACKEND"), help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error(f"--scale must be in (0, 1], got {args.scale}")
    if args.one:
        print(json.dumps(encode_one(*args.one, args.scale)))
        return
    print("| text | encoder | characters | encode s | peak RSS MB | ids |\n|---|---|---|---|---|---|")
    for row in measure_long_texts(scale=args.scale):
        print(f"| {row['text']} | {row['backend']} | {row['characters']:,} | {row['seconds']:.3f} | {row['peak_rss_mb']:.0f} | {row['ids']} |")


if __name__ == "__main__":
    main()

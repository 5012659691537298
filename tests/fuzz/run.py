"""Differential fuzzing of the encoders under AddressSanitizer and UBSan: ``python -m tests.fuzz.run --seconds N``.

Builds the sanitized library (cpp_demo -DSENTIMENT_SANITIZE=ON) unless
``--library`` names one, then starts tests/fuzz/target.py with the sanitizer
runtime preloaded: it replays the seed corpus (tests/fuzz/corpus/) and fuzzes
for ``--seconds`` (or ``--runs`` inputs). With ``--demo`` and ``--artifact`` the
corpus that libFuzzer grew is then replayed through the C++ demo.

Under LD_PRELOAD of libasan, atheris loses its Python coverage (libasan
provides the coverage symbols libFuzzer would): the sanitized run mutates
inputs without feedback. A ``--plain`` run (plain library) is coverage-guided
and grows the work corpus; ``--runs 0`` on that work directory with the
sanitized library then runs every input it kept under the sanitizers. Prints one
JSON summary (executions, seconds, crashes, mismatches, ...); exit status 0
only when every encoder agreed and no sanitizer spoke. A failing input is
kept in the work directory (crash-*), ready to be added to the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sentiment_export.cli.options import bounded_int
from sentiment_export.text import native

from tests.fuzz import sanitized
from tests.fuzz.corpus import seeds
from tests.fuzz.differential import demo_differences

REPO = Path(__file__).resolve().parents[2]
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def _scale(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=bounded_int(1, 86_400), default=60, help="fuzzing time (default 60)")
    parser.add_argument("--runs", type=bounded_int(0, 10**9), default=None,
                        help="fuzz this many inputs instead of --seconds (0: run each input of the work corpus once)")
    parser.add_argument("--library", type=Path, default=None, help="a libsentiment_encoder.so already built (default: build the sanitized one)")
    parser.add_argument("--build-dir", type=Path, default=REPO / "build" / "sanitized", help="where to build it (default build/sanitized)")
    parser.add_argument("--plain", action="store_true", help="the library is not sanitized: no LD_PRELOAD")
    parser.add_argument("--max-len", type=bounded_int(1, 1_000_000), default=12_000, help="largest fuzzed input in bytes (default 12000)")
    parser.add_argument("--replay-scale", type=_scale, default=0.01, help="size of the long seeds in the replay and the seed directory (default 0.01)")
    parser.add_argument("--work", type=Path, default=None, help="corpus and crash files (default: a new temporary directory)")
    parser.add_argument("--demo", type=Path, default=None, help="sentiment_demo to replay the grown corpus through (needs --artifact)")
    parser.add_argument("--artifact", type=Path, default=None, help="artifact directory (model.pt, spec.json, vocab.txt) for --demo")
    args = parser.parse_args(argv)
    if (args.demo is None) != (args.artifact is None):
        parser.error("--demo and --artifact go together")
    return args


def fuzz(args: argparse.Namespace) -> dict:
    """Runs the fuzzing process once; the summary that main prints."""
    runtime = None if args.plain else sanitized.asan_runtime()
    if not args.plain and runtime is None:
        raise SystemExit("no libasan.so for this C++ compiler (apt-get install g++), or pass --plain with a plain --library")
    library = args.library or sanitized.build_library(args.build_dir, demo=False)
    work = args.work or Path(tempfile.mkdtemp(prefix="sentiment-fuzz-"))
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in seeds(args.replay_scale):
        (corpus / name).write_bytes(data[: args.max_len])
    environment = {**os.environ, native.ENV_VAR: str(library.resolve()), "PYTHONPATH": str(REPO)}
    if runtime is not None:
        environment = sanitized.environment(environment, runtime)
    limit = [f"-runs={args.runs}"] if args.runs is not None else [f"-max_total_time={args.seconds}"]
    command = [sys.executable, "-m", "tests.fuzz.target", "--replay-scale", str(args.replay_scale), str(corpus), *limit,
               f"-max_len={args.max_len}", "-len_control=0", "-timeout=120", "-rss_limit_mb=4096", f"-artifact_prefix={work}/"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, errors="replace", check=False,
                          timeout=(args.seconds if args.runs is None else 3600) + 900)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    replay = next((json.loads(line[len("REPLAY "):]) for line in done.stdout.splitlines() if line.startswith("REPLAY ")), None)
    executions = [int(match.group(1)) for match in _DONE.finditer(output)]
    report = sanitized.sanitizer_report(output)
    mismatch = "EncoderMismatch" in output or (replay is not None and replay["problems"])
    failed = done.returncode != 0 or report is not None
    summary = {
        "seconds": round(seconds, 1),
        "executions": executions[-1] if executions else 0,
        "seed_inputs": replay["inputs"] if replay else 0,
        "sanitized": bool(replay and replay["sanitized"]),
        "crashes": int(failed and not mismatch),
        "mismatches": int(bool(mismatch)),
        "corpus_after": len(list(corpus.iterdir())),
        "exit_status": done.returncode,
        "sanitizer_report": report,
        "failing_inputs": sorted(str(path) for path in work.glob("crash-*")),
        "work": str(work),
    }
    if replay is None or failed or summary["sanitized"] == args.plain:
        summary["output_tail"] = output[-6000:]
    if args.demo is not None:
        demo_environment = sanitized.environment(dict(os.environ), runtime) if runtime is not None else None
        problems = demo_differences(args.demo, args.artifact, [path.read_bytes() for path in sorted(corpus.iterdir())], demo_environment)
        summary["demo_inputs"] = summary["corpus_after"]
        summary["demo_mismatches"] = problems[:20]
        summary["mismatches"] += len(problems)
    summary["clean"] = summary["crashes"] == summary["mismatches"] == 0 and summary["sanitized"] != args.plain
    return summary


def main(argv: list[str] | None = None) -> int:
    summary = fuzz(parse_arguments(argv))
    print(json.dumps(summary, indent=2))
    return 0 if summary["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())

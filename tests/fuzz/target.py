"""The fuzzing process: replays the seed corpus, then lets atheris (libFuzzer) mutate inputs.

Started by tests/fuzz/run.py, with LD_PRELOAD of libasan when the library is
sanitized; not meant to be run by hand. Coverage comes from the Python
encoder's code, instrumented at import (atheris's regular-expression hook is
left off: its pattern proxy does not take re's ``pos`` argument), and only
without libasan preloaded (see tests/fuzz/run.py); the library is compiled
by GCC, without libFuzzer's coverage. Arguments after the
``--replay-scale`` option are libFuzzer's (corpus directories, -runs,
-max_total_time, ...; ``-runs=0`` runs each corpus input once); with none,
only the replay runs. The last line of
output is ``REPLAY {json}``, before the fuzzing starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["sentiment_export"]):
    from tests.fuzz.corpus import seeds
    from tests.fuzz.differential import Differential


class EncoderMismatch(AssertionError):
    """The encoders disagree on an input (libFuzzer saves it as a crash-* file)."""


def _sanitizer_loaded() -> bool:
    return "libasan" in Path("/proc/self/maps").read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replay-scale", type=float, default=1.0, help="size of the long seeds, in (0, 1]")
    args, libfuzzer = parser.parse_known_args()
    differential = Differential()
    replayed, problems = 0, []
    for name, data in seeds(args.replay_scale):
        problems += [f"seed {name}: {problem}" for problem in differential.differences(data)]
        replayed += 1
    print("REPLAY " + json.dumps({"inputs": replayed, "problems": problems, "sanitized": _sanitizer_loaded()}), flush=True)
    if problems or not libfuzzer:
        sys.exit(3 if problems else 0)

    def one_input(data: bytes) -> None:
        found = differential.differences(data)
        if found:
            raise EncoderMismatch("\n".join(found))

    atheris.Setup([sys.argv[0], *libfuzzer], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

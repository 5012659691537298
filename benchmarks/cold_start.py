"""Cold start of the runtime, run by ``run_all.py`` in a fresh interpreter; prints one JSON line.

    python -m benchmarks.cold_start ARTIFACT PRECISION THREADS [TEXTS_FILE]

``import_s``: importing ``sentiment_export`` (onnxruntime, numpy; torch is not
imported by the runtime path). ``load_to_first_s``: ``SentimentModel.load``
(artifact checks, session, warm-up) to the first prediction's return.
``peak_rss_mb``: the process's peak resident memory (``VmHWM``) after scoring the texts
of TEXTS_FILE (one per line) if given, else after the first prediction.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

started = time.perf_counter()
from sentiment_export import SentimentModel  # noqa: E402 - timing the import is the point

imported = time.perf_counter()


def main() -> None:
    artifact, precision, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    load_started = time.perf_counter()
    model = SentimentModel.load(artifact, device="cpu", precision=precision, intra_op_threads=threads)
    model.predict("This is the first request of the day.")
    first = time.perf_counter()
    if len(sys.argv) > 4:
        with open(sys.argv[4], encoding="utf-8") as texts:
            model.predict_proba(texts.read().splitlines())
    print(json.dumps({
        "import_s": imported - started,
        "load_to_first_s": first - load_started,
        "peak_rss_mb": _peak_rss_kib() / 1024,
        "torch_imported": "torch" in sys.modules,
    }))


def _peak_rss_kib() -> int:
    """This process image's peak RSS: ``VmHWM`` (``ru_maxrss`` would include the forking parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


if __name__ == "__main__":
    main()

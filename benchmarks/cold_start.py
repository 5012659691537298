"""Cold start of the runtime, run by ``run_all.py`` in a fresh interpreter; prints one JSON line.

    python benchmarks/cold_start.py ARTIFACT PRECISION THREADS [TEXTS_FILE]

``import_s``: importing ``sentiment_export`` (onnxruntime, numpy; torch is not
imported by the runtime path). ``load_to_first_s``: ``SentimentModel.load``
(artifact checks, session, warm-up) to the first prediction's return.
``peak_rss_mb``: the process's peak resident memory after scoring the texts
of TEXTS_FILE (one per line) if given, else after the first prediction.
"""

from __future__ import annotations

import json
import resource
import sys
import time

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
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "import_s": imported - started,
        "load_to_first_s": first - load_started,
        "peak_rss_mb": peak_kib / 1024,
    }))


if __name__ == "__main__":
    main()

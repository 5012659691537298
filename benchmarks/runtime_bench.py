"""CPU speed of the runtime: texts/s, single-text latency and load-to-first-prediction time.

    python benchmarks/runtime_bench.py --artifact artifacts/<name>-<version> \
        [--data training/default_data/test.ft.txt.bz2 --data ../shared/data/imdb/test.ft.txt.bz2]

For each precision (fp32, int8) and data file: texts/s of ``predict_proba``
over the whole file (raw strings in, encoding included; the share spent in
the encoder is shown too), then p50/p99 latency of ``predict`` on one text,
over ``--latency-texts`` texts drawn from the file. Load-to-first-prediction
is the wall time from calling ``SentimentModel.load`` (artifact checks, session
creation, warm-up) to the first prediction's return, in this process.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from sentiment_export import SentimentModel
from sentiment_export.providers import default_intra_op_threads
from sentiment_export.reviews import read_reviews

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "training" / "default_data" / "test.ft.txt.bz2"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--data", action="append", help="reviews file; repeatable (default: embedded snippets test)")
    parser.add_argument("--precision", action="append", choices=("fp32", "int8"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the runtime's)")
    parser.add_argument("--latency-texts", type=int, default=300)
    args = parser.parse_args(argv)
    data_files = args.data or [str(DEFAULT_DATA)]
    threads = args.threads or default_intra_op_threads()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; intra-op threads {threads}; "
          f"batch size {args.batch_size}")

    for precision in args.precision or ["fp32", "int8"]:
        start = time.perf_counter()
        model = SentimentModel.load(
            args.artifact, device="cpu", precision=precision, batch_size=args.batch_size, intra_op_threads=threads
        )
        loaded = time.perf_counter()
        model.predict("This is the first request of the day.")
        first = time.perf_counter()
        print(f"\n[{precision}] load {loaded - start:.2f} s, load-to-first-prediction {first - start:.2f} s "
              f"({model.providers[0]})")
        for data in data_files:
            texts = [review.text for review in read_reviews(data)[0]]
            encode_start = time.perf_counter()
            for text in texts:
                model.encoder.encode_ids(text)
            encode_seconds = time.perf_counter() - encode_start
            run_start = time.perf_counter()
            model.predict_proba(texts)
            seconds = time.perf_counter() - run_start
            picks = np.random.default_rng(0).choice(len(texts), size=min(args.latency_texts, len(texts)), replace=False)
            latencies = []
            for index in picks:
                call = time.perf_counter()
                model.predict(texts[index])
                latencies.append(time.perf_counter() - call)
            p50, p99 = np.percentile(np.array(latencies) * 1e3, [50, 99])
            name = f"{Path(data).parent.name}/{Path(data).name}"
            print(f"  {name}: {len(texts)} texts, {len(texts) / seconds:.0f} texts/s "
                  f"(encoder {encode_seconds / seconds:.0%} of the time); single text p50 {p50:.2f} ms, "
                  f"p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()

"""Spark scoring against one in-process SentimentModel on the same texts, in one run.

    python -m benchmarks.spark_bench --artifact artifacts/sentiment-default-1.0.0 [--rows 1000000]

The reviews are drawn (seeded, with replacement) from the snippets data set
(train + test of ../shared/data/snippets, the Amazon polarity format) and
written to one Parquet file in row groups of 50,000. Then, side by side:

- ``SentimentModel`` in this process, 1 onnxruntime thread (one core), and
  with 2 threads (the whole box), scoring the texts in chunks of 10,000;
- ``score_dataframe`` on ``local[2]``: Parquet read, scored by two tasks of one
  thread each, Parquet written (the ``score`` CLI's path).

Start-up is the SparkSession's creation plus the first scored row (Python
workers started, artifact loaded and verified in each). The Spark scores are
checked against the in-process ones (max abs diff). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sentiment_export import SentimentModel
from sentiment_export.data.amazon import read_reviews

REPO = Path(__file__).resolve().parents[1]

DEFAULT_DATA = REPO.parent / "shared" / "data" / "snippets"
ROW_GROUP = 50_000
CHUNK = 10_000  # Spark's default Arrow batch (spark.sql.execution.arrow.maxRecordsPerBatch)
MAX_ROWS = 10_000_000


def _rows(text: str) -> int:
    rows = int(text)
    if not 1_000 <= rows <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"--rows must be between 1,000 and {MAX_ROWS:,}, got {rows:,}")
    return rows


def make_texts(data_dir: Path, rows: int) -> list[str]:
    """``rows`` reviews drawn with replacement, seed 0, from the data set's train and test files."""
    pool = [review.text for split in ("train", "test") for review in read_reviews(data_dir / f"{split}.ft.txt.bz2")[0]]
    return [pool[index] for index in np.random.default_rng(0).integers(0, len(pool), size=rows)]


def write_parquet(texts: list[str], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": np.arange(len(texts), dtype=np.int64), "text": texts}), path, row_group_size=ROW_GROUP)


def in_process(artifact: Path, texts: list[str], threads: int) -> tuple[float, np.ndarray]:
    model = SentimentModel.load(artifact, device="cpu", intra_op_threads=threads)
    started = time.perf_counter()
    scores = np.concatenate([model.predict_proba(texts[start : start + CHUNK]) for start in range(0, len(texts), CHUNK)])
    return time.perf_counter() - started, scores


def on_spark(artifact: Path, parquet: Path, output: Path) -> dict[str, float]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.perf_counter()
    from pyspark.sql import SparkSession

    from sentiment_export.spark import score_dataframe

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("spark-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.files.maxPartitionBytes", str(8 << 20))  # ~8 tasks per million reviews, not 2
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter() - started
    score_dataframe(spark.range(2, numPartitions=2).selectExpr("'warm up' AS text"), artifact).collect()
    startup = time.perf_counter() - started
    df = spark.read.parquet(str(parquet))
    partitions = df.rdd.getNumPartitions()
    started = time.perf_counter()
    score_dataframe(df, artifact).write.mode("overwrite").parquet(str(output))
    seconds = time.perf_counter() - started
    spark.stop()
    return {"session": session, "startup": startup, "seconds": seconds, "partitions": partitions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, required=True, help="artifact directory")
    parser.add_argument("--rows", type=_rows, default=1_000_000, help="reviews to score (default 1,000,000)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="train/test.ft.txt.bz2 to draw from")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    work = Path(tempfile.mkdtemp(prefix="spark-bench-"))
    try:
        texts = make_texts(args.data_dir, args.rows)
        parquet = work / "reviews.parquet"
        write_parquet(texts, parquet)
        one_seconds, expected = in_process(args.artifact, texts, threads=1)
        two_seconds, _ = in_process(args.artifact, texts, threads=2)
        spark = on_spark(args.artifact, parquet, work / "scored")
        scored = pq.read_table(work / "scored", columns=["id", "score"]).to_pandas().sort_values("id")
        diff = float(np.abs(scored["score"].to_numpy() - expected).max())
        assert len(scored) == len(texts)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = len(texts)
    print(f"{rows:,} reviews (snippets, seed 0), artifact {args.artifact.name}, {os.cpu_count()} CPUs; "
          f"Spark: {spark['partitions']} partitions, start-up {spark['startup']:.1f} s "
          f"(session {spark['session']:.1f} s, then workers + artifact load); max |spark - in-process| {diff:.1e}\n")
    print("| way | seconds | reviews/s | vs one in-process thread |")
    print("|---|---|---|---|")
    for name, seconds in (
        ("SentimentModel in process, 1 thread", one_seconds),
        ("SentimentModel in process, 2 threads", two_seconds),
        ("score_dataframe, local[2] (Parquet in and out)", spark["seconds"]),
    ):
        print(f"| {name} | {seconds:.1f} | {rows / seconds:,.0f} | {one_seconds / seconds:.2f}x |")


if __name__ == "__main__":
    main()

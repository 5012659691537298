"""The ``score`` subcommand: score a table of reviews with Spark and write Parquet (the ``[spark]`` extra).

Thin on purpose: the input becomes a DataFrame, :func:`sentiment_export.spark.score_dataframe`
adds the score and label columns, and Spark writes the result. Input is Parquet (a file or a
directory, read by Spark) or the Amazon polarity format (``.txt`` / ``.txt.bz2``, read on the
driver by :class:`sentiment_export.reviews.ReviewFile`, the reader training uses, into the
columns ``text`` and ``true_label``; malformed lines are counted and skipped, or fatal with
``--strict``). Progress is Spark's own (console progress bar, UI, log); the last line on stdout
is the summary: rows, rows/s and label counts, nulls included. Runs inside an active Spark
session when there is one (``spark-submit``, a notebook, the tests), else starts one
(``--master``, ``--conf``) and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import TextIO

from .. import errors
from ..errors import SentimentExportError
from .options import EXIT_OK, add_trust_custom_rules_option


_REVIEW_SUFFIXES = (".txt", ".txt.bz2", ".bz2")
_WORKER_ERROR = re.compile(r"^sentiment_export\.errors\.(\w+): (.+)$", re.MULTILINE)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` subcommand to the ``sentiment_export`` CLI's subparsers."""
    parser = subparsers.add_parser(
        "score",
        help="score a table of reviews with Spark (Parquet or .ft.txt[.bz2] in, Parquet out)",
        description=(
            "Add a score (P(positive)) and a label column to every row of a table of reviews, on Spark. "
            "A null text gets a null score and label, counted in the summary (--strict fails instead)."
        ),
    )
    parser.add_argument(
        "--input",
        required=True,
        metavar="PATH",
        help="Parquet file or directory (any URI Spark reads), or an Amazon polarity file (.txt, .txt.bz2)",
    )
    parser.add_argument("--output", required=True, metavar="PATH", help="Parquet directory to write")
    parser.add_argument(
        "--artifact",
        required=True,
        help="artifact directory or archive every executor reads, or the name of an archive shipped "
        "with --conf spark.files=... / spark-submit --files",
    )
    parser.add_argument("--text-column", default="text", metavar="NAME", help="column holding the reviews (default: text)")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="texts per onnxruntime run")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on the first null or non-UTF-8 text (and, for .txt input, the first malformed line)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument(
        "--master", default=None, help="Spark master when no session is active (default: Spark's, local[*])"
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        type=_conf_pair,
        metavar="KEY=VALUE",
        help="Spark configuration for a session this command starts (repeatable)",
    )
    add_trust_custom_rules_option(parser)
    parser.set_defaults(handler=run_score)


def _conf_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _is_review_file(path: str) -> bool:
    return path.lower().endswith(_REVIEW_SUFFIXES)


def _is_local(path: str) -> bool:
    return "://" not in path


def run_score(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Handler of ``score``: read, score, write, then print the summary line."""
    out = out if out is not None else sys.stdout
    if _is_review_file(args.input) and not Path(args.input).is_file():
        raise FileNotFoundError(f"review file {args.input} does not exist")
    if _is_local(args.output) and Path(args.output).exists() and not args.overwrite:
        raise ValueError(f"--output {args.output} exists; pass --overwrite to replace it, or choose another path")

    from pyspark.sql import SparkSession

    from ..serving.spark import score_dataframe

    started = time.perf_counter()
    own_session = SparkSession.getActiveSession() is None
    spark = _session(args) if own_session else SparkSession.getActiveSession()
    startup = time.perf_counter() - started
    try:
        df, skipped_note = _read(spark, args)
        scored = score_dataframe(
            df, args.artifact, text_col=args.text_column, precision=args.precision,
            batch_size=args.batch_size, strict=args.strict, trust_custom_rules=args.trust_custom_rules,
        )
        started = time.perf_counter()
        scored.write.mode("overwrite" if args.overwrite else "errorifexists").parquet(args.output)
        seconds = time.perf_counter() - started
        counts = spark.read.parquet(args.output).groupBy("label").count().collect()
    except _spark_errors() as error:
        raise _as_project_error(error) from None
    finally:
        if own_session:
            spark.stop()
    by_label = {row["label"]: row["count"] for row in counts}
    rows = sum(by_label.values())
    labels = ", ".join(f"{count:,} {label}" for label, count in sorted((k, v) for k, v in by_label.items() if k is not None))
    out.write(
        f"{rows:,} rows scored in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s; Spark ready in "
        f"{startup:.1f} s): {labels or 'no text'}, {by_label.get(None, 0):,} null (null or non-UTF-8 text)"
        f"{skipped_note} -> {args.output}\n"
    )
    return EXIT_OK


def _session(args: argparse.Namespace):
    from pyspark.sql import SparkSession

    # A plain `python -m sentiment_export score` runs its Python workers with this interpreter (Spark's default
    # is whatever `python3` is on the PATH, which may lack the packages); spark-submit and clusters set their own.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("sentiment-export score")
    if args.master:
        builder = builder.master(args.master)
    for key, value in args.conf:
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _read(spark, args: argparse.Namespace):
    """(DataFrame, summary note): Parquet through Spark, review files through the project's reader."""
    if not _is_review_file(args.input):
        return spark.read.parquet(args.input), ""
    import pyarrow as pa

    from ..data.amazon import ReviewFile

    source = ReviewFile(args.input, strict=args.strict)
    texts, labels = [], []
    for review in source:
        texts.append(review.text)
        labels.append(review.label)
    table = pa.table({args.text_column: pa.array(texts, pa.string()), "true_label": pa.array(labels, pa.int8())})
    note = f"; {source.malformed.describe()}" if source.malformed.total else ""
    return spark.createDataFrame(table), note


def _spark_errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return PySparkException, Py4JJavaError


def _as_project_error(error: BaseException) -> SentimentExportError:
    """What a Python worker raised on purpose (its class and message, the last in Spark's report), or
    Spark's own first line for any other failure: one line for the CLI instead of two stack traces."""
    found = _WORKER_ERROR.findall(str(error))
    if found:
        name, message = found[-1]
        kind = getattr(errors, name, SentimentExportError)
        return kind(message) if isinstance(kind, type) and issubclass(kind, SentimentExportError) else SentimentExportError(message)
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return SentimentExportError(f"the Spark job failed: {first_line}")

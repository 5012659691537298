"""Scoring on Spark (`sentiment_export.spark`, `python -m sentiment_export score`) gives SentimentModel's scores.

One local[2] SparkSession for the module (UI off, bound to 127.0.0.1). Its
Python workers get a `torch` package first on their path that records any
import and refuses it, so a worker that imports torch is caught. Without
pyspark or Java the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import bz2
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cpp_build import ci_requested, skip_or_fail

from sentiment_export import ArtifactError, SentimentModel
from sentiment_export.data.amazon import read_reviews

pytestmark = pytest.mark.slow

_REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 5
NULL_IDS = (0, 777, 2000)  # rows whose text is null, spread over the partitions
SUMMARY = re.compile(r"^([\d,]+) rows scored in [\d.]+ s \([\d,]+ rows/s; Spark ready in [\d.]+ s\): (.*), ([\d,]+) null ")


def _missing() -> list[str]:
    missing = [
        f"{module} (pip install -e '.[spark]')" for module in ("pyspark", "pandas", "pyarrow") if importlib.util.find_spec(module) is None
    ]
    java_home = os.environ.get("JAVA_HOME", "")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").is_file()):
        missing.append("java (apt-get install openjdk-17-jre-headless)")
    return missing


@pytest.fixture(scope="module")
def torch_marker(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(directory to put first on the workers' path, file written when a worker imports torch)."""
    directory = tmp_path_factory.mktemp("no-torch")
    marker = directory / "torch-was-imported"
    (directory / "torch").mkdir()
    (directory / "torch" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'a').write('imported\\n')\n"
        "raise ImportError('a Spark Python worker imported torch')\n",
        encoding="utf-8",
    )
    return directory, marker


@pytest.fixture(scope="module")
def spark(torch_marker):
    skip_or_fail(_missing(), ci=ci_requested(os.environ), what="run Spark", needed_by="the Spark tests")
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter, not the PATH's python3
        session = (
            SparkSession.builder.master("local[2]")
            .appName("sentiment-export-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "500")  # several Arrow batches per task
            .config("spark.executorEnv.PYTHONPATH", str(torch_marker[0]))
            .getOrCreate()
        )
        yield session
        session.stop()


@pytest.fixture(scope="module")
def model(exported_artifact: Path) -> SentimentModel:
    return SentimentModel.load(exported_artifact, device="cpu")


@pytest.fixture(scope="module")
def texts() -> list[str | None]:
    """A few thousand real reviews plus edge cases, some rows null."""
    reviews, _ = read_reviews(_REPO / "training" / "default_data" / "test.ft.txt.bz2")
    texts: list[str | None] = [review.text for review in reviews]
    texts += ["", "   ", "Ünïcödé ✓ quite good", "word " * 500]
    for index in NULL_IDS:
        texts[index] = None
    return texts


def _frame(spark, texts: list[str | None]):
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    schema = StructType([StructField("id", LongType(), False), StructField("text", StringType(), True)])
    return spark.createDataFrame(spark.sparkContext.parallelize(list(enumerate(texts)), PARTITIONS), schema)


def _with_partition(df) -> list[tuple]:
    from pyspark.sql import functions as F

    return [tuple(row) for row in df.withColumn("partition", F.spark_partition_id()).collect()]


@pytest.fixture(scope="module")
def scored(spark, exported_artifact: Path, texts) -> tuple[list[tuple], list[tuple]]:
    """(input rows, scored rows), each (id, text, ..., partition) as collected: one scoring job."""
    from sentiment_export.spark import score_dataframe

    df = _frame(spark, texts)
    return _with_partition(df), _with_partition(score_dataframe(df, str(exported_artifact)))


def test_scores_equal_sentiment_model(scored, model: SentimentModel, texts) -> None:
    _, rows = scored
    present = [row for row in rows if row[1] is not None]
    expected = model.predict([row[1] for row in present])
    assert len(present) == len(texts) - len(NULL_IDS) > 2000
    scores = np.array([row[2] for row in present])
    assert np.abs(scores - [prediction.score for prediction in expected]).max() <= 1e-6
    assert [row[3] for row in present] == [prediction.label for prediction in expected]


def test_every_row_kept_in_its_partition_and_place(scored) -> None:
    inputs, rows = scored
    assert [(row[0], row[1], row[-1]) for row in rows] == [(row[0], row[1], row[-1]) for row in inputs]
    assert len({row[-1] for row in rows}) == PARTITIONS


def test_null_text_gets_null_score_and_label(scored) -> None:
    _, rows = scored
    nulls = [row for row in rows if row[1] is None]
    assert [row[0] for row in nulls] == list(NULL_IDS)
    assert all(row[2] is None and row[3] is None for row in nulls)


def test_binary_column_decodes_utf8_and_nulls_the_rest(spark, exported_artifact: Path, model) -> None:
    from pyspark.sql.types import BinaryType, StructField, StructType

    from sentiment_export.spark import score_dataframe

    values = [b"Great blender, five stars", b"bad \xff bytes", None, "Très déçu".encode()]
    df = spark.createDataFrame([(value,) for value in values], StructType([StructField("body", BinaryType())]))
    rows = score_dataframe(df, exported_artifact, text_col="body", score_col="p", label_col="y").collect()
    expected = model.predict(["Great blender, five stars", "Très déçu"])
    assert [(row.p, row.y) for row in rows] == [
        (expected[0].score, expected[0].label), (None, None), (None, None), (expected[1].score, expected[1].label),
    ]


def test_strict_fails_the_job_naming_the_row(spark, exported_artifact: Path) -> None:
    from pyspark.errors import PythonException

    from sentiment_export.spark import score_dataframe

    df = _frame(spark, ["fine"] * 9 + [None] + ["fine"] * 5)  # 15 rows over 5 partitions: row 9 is row 0 of partition 3
    with pytest.raises(PythonException, match=r"DataFormatError: text column 'text': row 0 of partition 3 .* is null"):
        score_dataframe(df, exported_artifact, strict=True).collect()


def test_packed_archive_shipped_with_add_file(spark, exported_artifact: Path, tmp_path: Path, model) -> None:
    from sentiment_export.artifact.archive import pack_artifact
    from sentiment_export.spark import score_dataframe

    copy = tmp_path / "shipped" / exported_artifact.name
    shutil.copytree(exported_artifact, copy)
    archive = pack_artifact(copy, "tar.gz")
    spark.sparkContext.addFile(str(archive))
    assert not Path(archive.name).exists()  # only SparkFiles can find it by this name
    texts = [f"review number {i}: {'loved it' if i % 3 else 'returned it'}" for i in range(40)]
    rows = score_dataframe(_frame(spark, texts), archive.name).collect()
    assert [(row.id, row.score, row.label) for row in rows] == [
        (index, prediction.score, prediction.label) for index, prediction in enumerate(model.predict(texts))
    ]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"text_col": "review"}, ValueError, r"df has no column 'review' \(its columns: 'id', 'text'\)"),
        ({"text_col": "id"}, TypeError, r"column 'id' is bigint, expected string .*cast\('string'\)"),
        ({"score_col": "id"}, ValueError, r"df already has a column 'id'; pass score_col="),
        ({"label_col": "score"}, ValueError, r"score_col and label_col must differ"),
        ({"batch_size": 0}, ValueError, r"batch_size must be between 1 and 4096, got 0"),
        ({"batch_size": 5000}, ValueError, r"batch_size must be between 1 and 4096, got 5000"),
        ({"precision": "fp16"}, ValueError, r"precision must be one of"),
        ({"strict": "yes"}, TypeError, r"strict must be True or False"),
    ],
)
def test_bad_options_fail_at_the_call(spark, exported_artifact: Path, options, error, match) -> None:
    from sentiment_export.spark import score_dataframe

    with pytest.raises(error, match=match):
        score_dataframe(_frame(spark, ["a"]), exported_artifact, **options)


def test_missing_artifact_fails_at_the_call(spark, tmp_path: Path) -> None:
    from sentiment_export.spark import score_dataframe

    with pytest.raises(ArtifactError, match=r"is neither a path on this machine .* nor a file shipped to it"):
        score_dataframe(_frame(spark, ["a"]), tmp_path / "nowhere.tar.gz")


def test_one_cached_model_per_worker_key(exported_artifact: Path) -> None:
    from sentiment_export.serving import spark as scoring

    job = scoring._Job(str(exported_artifact), "f" * 64, "fp32", 32, False, "text")
    with pytest.raises(ArtifactError, match="is not the one the driver loaded"):
        scoring._worker_model(job, threads=1)  # the fingerprint check
    fingerprint = scoring._fingerprint(SentimentModel.load(exported_artifact, device="cpu").artifact.manifest)
    job = scoring._Job(str(exported_artifact), fingerprint, "fp32", 32, False, "text")
    first = scoring._worker_model(job, threads=1)
    assert scoring._worker_model(job, threads=1) is first
    assert scoring._worker_model(job, threads=2) is not first and len(scoring._MODELS) == 1


# --- the CLI --------------------------------------------------------------------------------------


def _score_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from sentiment_export.cli.main import main

    status = main(["score", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_parquet_in_parquet_out(spark, exported_artifact: Path, tmp_path: Path, model, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = ["Love it", None, "Hate it", "meh", ""] * 20
    source = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"review_id": list(range(len(texts))), "body": texts}), source, row_group_size=30)
    output = tmp_path / "scored"
    argv = ["--input", str(source), "--output", str(output), "--artifact", str(exported_artifact), "--text-column", "body"]
    status, out, _ = _score_cli(capsys, *argv)
    assert status == 0
    table = pq.read_table(output).to_pandas().sort_values("review_id")
    assert table["review_id"].tolist() == list(range(len(texts)))
    present = table[table["body"].notna()]
    expected = model.predict(present["body"].tolist())
    assert np.abs(present["score"].to_numpy() - [p.score for p in expected]).max() <= 1e-6
    assert present["label"].tolist() == [p.label for p in expected]
    assert table[table["body"].isna()][["score", "label"]].isna().all().all()
    summary = SUMMARY.match(out.strip().splitlines()[-1])
    labels = {label: sum(p.label == label for p in expected) for label in ("negative", "positive")}
    assert summary and summary.group(1) == "100" and summary.group(3) == "20"
    assert summary.group(2) == ", ".join(f"{count} {label}" for label, count in labels.items() if count)

    status, _, err = _score_cli(capsys, *argv)  # the output exists now
    assert status == 2 and f"--output {output} exists; pass --overwrite" in err


def test_cli_amazon_review_file(spark, exported_artifact: Path, tmp_path: Path, model, capsys) -> None:
    import pyarrow.parquet as pq

    source = tmp_path / "reviews.ft.txt.bz2"
    source.write_bytes(bz2.compress(b"__label__2 Works great\nno label here\n__label__1 Broke in a day\n"))
    output = tmp_path / "scored"
    status, out, _ = _score_cli(capsys, "--input", str(source), "--output", str(output), "--artifact", str(exported_artifact))
    assert status == 0
    table = pq.read_table(output).to_pandas()
    expected = model.predict(["Works great", "Broke in a day"])
    assert sorted(zip(table["text"], table["true_label"], table["score"], table["label"])) == sorted(
        zip(["Works great", "Broke in a day"], [1, 0], [p.score for p in expected], [p.label for p in expected])
    )
    last = out.strip().splitlines()[-1]
    assert SUMMARY.match(last) and "1 malformed lines skipped: 1 no label (lines 2)" in last


def test_cli_strict_names_the_bad_row(spark, exported_artifact: Path, tmp_path: Path, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"text": ["good", "bad", None]}), source)
    status, out, err = _score_cli(
        capsys, "--input", str(source), "--output", str(tmp_path / "scored"), "--artifact", str(exported_artifact), "--strict"
    )
    assert status == 2 and out == ""
    assert err.startswith("error: text column 'text': row 2 of partition 0 (0-based) is null") and err.count("\n") == 1


# --- torch stays out (last: after every job above has run in the workers) -------------------------------


def test_workers_never_import_torch(spark, scored, torch_marker) -> None:
    import pandas as pd
    from pyspark.sql import functions as F

    def probe(values):  # a pandas UDF, so it runs in the pool of Python workers that scored (RDD jobs have their own)
        import sys

        from sentiment_export.serving import spark as scoring

        return values.map(lambda _: f"{'torch' in sys.modules} {len(scoring._MODELS)}")

    probe.__annotations__ = {"values": pd.Series, "return": pd.Series}  # pandas_udf reads the kind from the hints

    df = spark.range(0, 8, numPartitions=4).withColumn("probe", F.pandas_udf(probe, "string")(F.col("id")))
    found = {row.probe for row in df.collect()}
    assert not any(item.startswith("True") for item in found)
    assert "False 1" in found  # the workers kept the model of the jobs above
    assert not torch_marker[1].exists()


def test_importing_the_spark_api_does_not_import_torch() -> None:
    code = "import sys, sentiment_export.spark; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_REPO)
    assert done.stdout.strip() == "False"


def test_the_spark_benchmark_prints_its_table(exported_artifact: Path) -> None:
    """benchmarks/spark_bench.py runs end to end on the embedded data (its smallest size)."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.spark_bench", "--artifact", str(exported_artifact), "--rows", "1000",
         "--data-dir", str(_REPO / "training" / "default_data")],
        capture_output=True, text=True, timeout=600, cwd=_REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| score_dataframe, local[2] (Parquet in and out) |" in result.stdout
    diff = re.search(r"max \|spark - in-process\| (\S+)", result.stdout)
    assert diff is not None and float(diff.group(1)) <= 1e-6, result.stdout

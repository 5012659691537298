"""Score a Spark DataFrame of reviews with an artifact: the scores of :class:`SentimentModel`, at table scale.

:func:`score_dataframe` adds a score and a label column to a DataFrame. It is
one Arrow-batched pandas UDF in Spark's iterator form over the text column
only (the other columns never travel to Python), so:

- each Python worker loads and verifies the artifact once, on its first
  batch, and keeps that one model in a module-level cache keyed by the
  artifact's path and manifest fingerprint (an onnxruntime session cannot be
  pickled, so it is never shipped from the driver); later tasks that the
  worker runs reuse it (Spark reuses Python workers by default);
- each session gets as many intra-op threads as Spark reserved CPUs for the
  task (``spark.task.cpus``, 1 by default), so concurrent tasks x threads never
  exceeds an executor's cores;
- the result is a narrow transformation: every input row is kept, in its
  partition and its place, with the scores :meth:`SentimentModel.predict`
  gives for the same texts (the model is a pure function of each text).

Where the artifact comes from (``artifact`` names it on every machine):

- a directory or archive on storage that the driver and every executor can
  read under the same path; or
- an archive (``.tar.gz`` / ``.zip`` from ``export --pack``) shipped with
  ``SparkContext.addFile`` or ``spark-submit --files``: a path that does not
  exist on a machine is looked up by its file name through ``SparkFiles``.

The driver loads the artifact first (checksums, precision, options), so a
bad artifact or option fails at the call, before any job; each worker checks
that its copy has the same manifest as the driver's. Archives are unpacked
below the worker's ``SparkFiles`` directory, which Spark removes with the
application.

Rows that are not text: a null text (or, in a binary column, bytes that are
not UTF-8) gets a null score and a null label, so a job never dies on one bad
row and the nulls can be counted afterwards; with ``strict=True`` the first
such row fails the job instead, naming its partition and row. A text column
of any other type than string or binary is refused at the call.

The executors score on their CPUs (``device="cpu"``); torch is never imported.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from ..artifact.loader import load_artifact
from ..artifact.manifest import Manifest
from ..errors import ArtifactError, DataFormatError
from .runtime import SentimentModel, check_batch_size

try:
    from pyspark import SparkFiles, TaskContext
    from pyspark.sql import Column, DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql.types import BinaryType, DoubleType, StringType, StructField, StructType
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"sentiment_export.spark needs pyspark ({error}); install the extra: pip install 'sentiment_export[spark]'"
    ) from error

_RESULT = StructType([StructField("score", DoubleType()), StructField("label", StringType())])
_TEXT_TYPES = (StringType, BinaryType)
_SCRATCH_COLUMN = "__sentiment_export_scored"


@dataclass(frozen=True)
class _Job:
    """What every worker needs to score, pickled with the UDF (plain values only)."""

    artifact: str
    fingerprint: str  # sha256 of the driver's manifest: the cache key, and the check of each worker's copy
    precision: str
    batch_size: int
    strict: bool
    text_col: str
    trust_custom_rules: bool = False


def score_dataframe(
    df: DataFrame,
    artifact: str | os.PathLike[str],
    *,
    text_col: str = "text",
    score_col: str = "score",
    label_col: str = "label",
    precision: str = "fp32",
    batch_size: int | None = None,
    strict: bool = False,
    trust_custom_rules: bool = False,
) -> DataFrame:
    """``df`` with two columns added: ``score_col`` (double, P(positive)) and ``label_col``
    (``"positive"`` iff score >= 0.5, else ``"negative"``), the values of :meth:`SentimentModel.predict`.

    ``artifact``: a path that the driver and every executor can read, or the
    file name of an archive shipped with ``SparkContext.addFile`` /
    ``spark-submit --files`` (see the module doc). ``precision``: ``"fp32"``
    or ``"int8"``. ``batch_size``: texts per onnxruntime run (1 to
    :data:`~sentiment_export.serving.runtime.MAX_BATCH_SIZE`; default: :class:`SentimentModel`'s). ``strict``:
    fail the job on the first null or undecodable text instead of giving it a
    null score and label. ``trust_custom_rules``: accept an artifact whose
    spec rules are not a shipped rule set (see :func:`load_artifact`).

    Lazy like every DataFrame transformation: the scoring runs when an action
    (``write``, ``collect``, ...) runs. Raises, at the call: ``TypeError`` when
    ``df`` is not a DataFrame or the text column is neither string nor binary;
    ``ValueError`` for a missing text column, an output column that exists
    already, or a bad option; :class:`ArtifactError` when the driver cannot
    find or verify the artifact. During the job a worker raises
    :class:`ArtifactError` when its copy of the artifact is missing or differs
    from the driver's, and with ``strict=True`` :class:`DataFormatError`
    naming the first bad row.
    """
    if not isinstance(df, DataFrame):
        raise TypeError(f"df must be a pyspark.sql.DataFrame, got {type(df).__name__}")
    _check_columns(df, text_col=text_col, score_col=score_col, label_col=label_col)
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be True or False, got {strict!r}")
    options = {} if batch_size is None else {"batch_size": check_batch_size(batch_size)}
    # Verified on the driver: a bad artifact or option fails here, before any job; the session is dropped.
    driver_model = SentimentModel.load(
        _resolve_artifact(artifact), device="cpu", precision=precision, intra_op_threads=1,
        trust_custom_rules=trust_custom_rules, **options
    )
    job = _Job(
        artifact=os.fspath(artifact),
        fingerprint=_fingerprint(driver_model.artifact.manifest),
        precision=precision,
        batch_size=driver_model.batch_size,
        strict=strict,
        text_col=text_col,
        trust_custom_rules=trust_custom_rules,
    )
    scored = df.withColumn(_SCRATCH_COLUMN, _udf(job)(_column(text_col)))
    # One Python evaluation feeds both fields (the plan holds a single ArrowEvalPython node).
    return (
        scored.withColumn(score_col, F.col(f"{_SCRATCH_COLUMN}.score"))
        .withColumn(label_col, F.col(f"{_SCRATCH_COLUMN}.label"))
        .drop(_SCRATCH_COLUMN)
    )


def _column(name: str) -> Column:
    """A column by its exact name, even one holding dots or backticks."""
    return F.col("`" + name.replace("`", "``") + "`")


def _check_columns(df: DataFrame, *, text_col: str, score_col: str, label_col: str) -> None:
    for option, name in (("text_col", text_col), ("score_col", score_col), ("label_col", label_col)):
        if not isinstance(name, str) or not name:
            raise ValueError(f"{option} must be a non-empty column name, got {name!r}")
    if score_col == label_col:
        raise ValueError(f"score_col and label_col must differ, both are {score_col!r}")
    fields = {field.name: field for field in df.schema.fields}
    if text_col not in fields:
        raise ValueError(
            f"df has no column {text_col!r} (its columns: {', '.join(map(repr, fields)) or 'none'}); "
            "pass the column holding the reviews as text_col="
        )
    text_type = fields[text_col].dataType
    if not isinstance(text_type, _TEXT_TYPES):
        raise TypeError(
            f"column {text_col!r} is {text_type.simpleString()}, expected string (or binary holding UTF-8); "
            f"cast it first, e.g. df.withColumn({text_col!r}, df[{text_col!r}].cast('string'))"
        )
    for option, name in (("score_col", score_col), ("label_col", label_col)):
        if name in fields or name == _SCRATCH_COLUMN:
            raise ValueError(f"df already has a column {name!r}; pass {option}= another name, or drop that column")


def _fingerprint(manifest: Manifest) -> str:
    """sha256 of the manifest's canonical JSON: it lists every file's sha256, so it names the whole artifact."""
    return hashlib.sha256(json.dumps(manifest.to_dict(), sort_keys=True).encode("utf-8")).hexdigest()


def _resolve_artifact(artifact: str | os.PathLike[str]) -> Path:
    """The artifact on this machine: the path as given, else the file of that name in ``SparkFiles``."""
    path = Path(artifact)
    if path.exists():
        return path
    shipped = Path(SparkFiles.get(path.name))
    if shipped.exists():
        return shipped
    raise ArtifactError(
        f"artifact {os.fspath(artifact)!r} is neither a path on this machine ({os.uname().nodename}) nor a file "
        f"shipped to it (looked for {shipped}); put the artifact on storage that the driver and every executor "
        "read under the same path, or ship its archive with SparkContext.addFile / spark-submit --files"
    )


# --- on the Python workers ------------------------------------------------------------------------------

_MODELS: dict[tuple, SentimentModel] = {}
"""This worker's model: one entry, keyed by (artifact, fingerprint, precision, batch size, threads)."""


def _udf(job: _Job):
    def score(texts: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        yield from _score_batches(job, texts)

    return F.pandas_udf(score, _RESULT)


def _worker_model(job: _Job, threads: int) -> SentimentModel:
    key = (job.artifact, job.fingerprint, job.precision, job.batch_size, threads)
    model = _MODELS.get(key)
    if model is None:
        _MODELS.clear()  # one model per worker: a new artifact or option replaces the old one
        model = _MODELS[key] = _load_on_worker(job, threads)
    return model


def _load_on_worker(job: _Job, threads: int) -> SentimentModel:
    path = _resolve_artifact(job.artifact)
    if path.is_file():  # an archive: unpacked once per worker below SparkFiles, which Spark removes at the end
        target = Path(SparkFiles.getRootDirectory()) / f"sentiment-artifact-{job.fingerprint[:16]}-{os.getpid()}"
        path = target if (target / "manifest.json").is_file() else load_artifact(
            path, extract_to=target, trust_custom_rules=job.trust_custom_rules
        ).root
    model = SentimentModel.load(
        path, device="cpu", precision=job.precision, batch_size=job.batch_size, intra_op_threads=threads,
        trust_custom_rules=job.trust_custom_rules,
    )
    if _fingerprint(model.artifact.manifest) != job.fingerprint:
        raise ArtifactError(
            f"artifact {job.artifact!r} on {os.uname().nodename} ({path}) is not the one the driver loaded "
            "(their manifests differ); give every machine the same artifact version"
        )
    return model


def _score_batches(job: _Job, batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
    """One task: the batches of one partition, in order; the model is loaded (once per worker) on the first."""
    context = TaskContext.get()
    model = _worker_model(job, threads=context.cpus())
    row = 0  # 0-based position in the partition, for strict mode's message
    for values in batches:
        texts = _texts(values, job=job, partition=context.partitionId(), first_row=row)
        yield _score(model, texts)
        row += len(values)


def _texts(values: pd.Series, *, job: _Job, partition: int, first_row: int) -> list[str | None]:
    """Each value as str, or None for a null or non-UTF-8 value (DataFormatError under strict)."""
    texts: list[str | None] = []
    for offset, value in enumerate(values):
        problem = ""
        if isinstance(value, (bytes, bytearray)):  # a binary column: UTF-8 only, as SentimentModel decodes bytes
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                value, problem = None, "bytes that are not UTF-8"
        elif not isinstance(value, str):
            value, problem = None, "null"
        if problem and job.strict:
            _fail(job, partition, first_row + offset, problem)
        texts.append(value)
    return texts


def _fail(job: _Job, partition: int, row: int, what: str) -> NoReturn:
    raise DataFormatError(
        f"text column {job.text_col!r}: row {row} of partition {partition} (0-based) is {what}; with strict=True "
        "the first such row fails the job (without it the row gets a null score and label)"
    )


def _score(model: SentimentModel, texts: list[str | None]) -> pd.DataFrame:
    """Scores and labels of one batch; rows without text get NaN and None, which Spark stores as null."""
    scores = np.full(len(texts), np.nan)
    labels = np.full(len(texts), None, dtype=object)
    present = [index for index, text in enumerate(texts) if text is not None]
    if present:
        predictions = model.predict([texts[index] for index in present])
        scores[present] = [prediction.score for prediction in predictions]
        labels[present] = [prediction.label for prediction in predictions]
    return pd.DataFrame({"score": scores, "label": labels})

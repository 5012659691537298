"""Known answers: an artifact must still give the answers it was exported with, key or no key.

Two checks that need no signature, so that a rewritten file fails unless
every copy of it is rewritten consistently:

- :func:`check_embedded_copies`: ``model.pt`` carries its own spec.json,
  vocab.txt and manifest (the C++ demo reads those); they must equal the
  directory's. Read with :mod:`zipfile` only (a TorchScript file is a zip of
  records; the copies are stored under ``<archive>/extra/``): nothing is
  unpickled and torch is not imported. Cheap, so :func:`load_artifact` runs it.
- :func:`check_known_answers`: the texts of ``verification.json`` through the
  artifact's own encoder (spec.json + vocab.txt) and ``model.onnx`` in
  onnxruntime must give the probabilities eager PyTorch gave at export. It
  costs a session and a scoring run, several times a load
  (``benchmarks/signing_cost.py``), so ``verify`` and ``sign`` run it, and a
  plain load does not.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from .artifact import MANIFEST_FILENAME, Artifact
from .errors import ArtifactError

FP32_ATOL = 1e-5
"""Largest allowed |exported - eager| on a probability for the fp32 models: the export gate's
tolerance (``sentiment_export.parity``), and the known-answer check's."""

EMBEDDED_COPIES = {"spec.json": "spec", "vocab.txt": "vocab", MANIFEST_FILENAME: "manifest"}
"""Name of each file embedded in model.pt -> the role of its directory counterpart."""

WRITTEN_AFTER_MODEL_PT = (("files",), ("metrics", "parity"), ("export", "seconds"), ("export", "curves"))
"""Manifest entries export writes only after model.pt exists (they describe model.pt itself, or come later),
so its embedded manifest lacks exactly these; every other entry must be equal."""

_WORST = 3


def _embedded_records(artifact: Artifact) -> dict[str, zipfile.ZipInfo]:
    """``{name: record}`` of model.pt's ``<archive>/extra/<name>`` records, as libtorch names them."""
    path = artifact.file("torchscript")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ArtifactError(f"artifact {artifact.root}: model.pt is not a TorchScript zip archive ({error}); re-export") from error
    if not infos:
        raise ArtifactError(f"artifact {artifact.root}: model.pt is an empty zip archive; re-export")
    prefix = PurePosixPath(infos[0].filename).parts[0]  # the writer's archive name; every record lies below it
    records: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if len(parts) == 3 and parts[:2] == (prefix, "extra"):
            if parts[2] in records:
                raise ArtifactError(f"artifact {artifact.root}: model.pt holds the embedded file {parts[2]} twice; re-export")
            records[parts[2]] = info
    return records


def _without(manifest: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """A copy of ``manifest`` without the entries at ``paths`` (absent ones are skipped)."""
    copy = json.loads(json.dumps(manifest))
    for keys in paths:
        parent = copy
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(keys[-1], None)
    return copy


def embedded_copy_problems(artifact: Artifact) -> list[str]:
    """One line per embedded copy that is missing or differs from the directory's file; empty when all agree.

    spec.json and vocab.txt must be byte for byte equal; the manifest is
    compared as JSON, without the entries of :data:`WRITTEN_AFTER_MODEL_PT`.
    A record is read only when its size allows equality (so at most the size
    of the checked directory file is read).
    """
    records = _embedded_records(artifact)
    problems = []
    with zipfile.ZipFile(artifact.file("torchscript")) as archive:
        for name, role in EMBEDDED_COPIES.items():
            info = records.get(name)
            if info is None:
                problems.append(f"model.pt has no embedded {name}")
                continue
            ours = artifact.file(role).read_bytes()
            if info.file_size > len(ours) or (name != MANIFEST_FILENAME and info.file_size != len(ours)):
                problems.append(f"model.pt's embedded {name} has {info.file_size} bytes, the directory's {len(ours)}")
                continue
            theirs = archive.read(info)
            if name != MANIFEST_FILENAME:
                if theirs != ours:
                    problems.append(f"model.pt's embedded {name} differs from the directory's {name}")
                continue
            try:
                embedded = json.loads(theirs)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                problems.append(f"model.pt's embedded {name} is not JSON ({error})")
                continue
            expected = _without(artifact.manifest, WRITTEN_AFTER_MODEL_PT)
            differing = sorted(key for key in set(embedded) | set(expected) if embedded.get(key) != expected.get(key))
            if differing:
                problems.append(f"model.pt's embedded {name} differs from the directory's in {differing}")
    return problems


def check_embedded_copies(artifact: Artifact) -> None:
    """Raise :class:`ArtifactError` naming each copy in model.pt that disagrees with the directory's file.

    Catches a file rewritten together with its sha256 in the manifest (the
    swapped-vocabulary attack) unless model.pt was rewritten to match too.
    """
    problems = embedded_copy_problems(artifact)
    if problems:
        raise ArtifactError(
            f"artifact {artifact.root}: {'; '.join(problems)}. The copies that the C++ demo reads no longer match "
            "what Python reads: a file was changed after export (together with its sha256 in manifest.json); "
            "do not use this artifact: copy the original again, or re-export"
        )


@dataclass
class KnownAnswerReport:
    """How far model.onnx, fed by the artifact's encoder, is from verification.json's stored probabilities."""

    texts: int
    max_abs_diff: float
    atol: float
    worst: list[dict[str, Any]] = field(default_factory=list)  # text index, stored, got, diff

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.atol

    def describe(self) -> str:
        """One line, plus the worst texts on failure."""
        verdict = "ok" if self.passed else "FAILED"
        line = (
            f"known answers {verdict}: {self.texts} texts of verification.json through spec.json + vocab.txt + "
            f"model.onnx, max abs diff {self.max_abs_diff:.3g} (tolerance {self.atol:g})"
        )
        if self.passed:
            return line
        cases = "; ".join(f"text {c['text_index']}: stored {c['stored']:.6f}, got {c['got']:.6f}" for c in self.worst)
        return f"{line}\n  worst: {cases}"

    def raise_for_failures(self) -> None:
        """Raise :class:`ArtifactError` with :meth:`describe` when the answers differ."""
        if not self.passed:
            raise ArtifactError(
                self.describe() + "\nThe artifact no longer gives the answers it was exported with: its encoder files, "
                "model.onnx or verification.json were changed after export. Do not use it; copy the original again, or re-export."
            )


def _verification_record(artifact: Artifact) -> tuple[list[str], np.ndarray]:
    path = artifact.file("verification")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        texts, stored = record["texts"], record["eager_probabilities"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ArtifactError(f"artifact {artifact.root}: verification.json is not a record of texts and probabilities ({error}); re-export") from error
    valid = (
        isinstance(texts, list)
        and isinstance(stored, list)
        and len(texts) == len(stored) > 0
        and all(isinstance(text, str) for text in texts)
        and all(isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) and 0 <= p <= 1 for p in stored)
    )
    if not valid:
        raise ArtifactError(
            f"artifact {artifact.root}: verification.json must hold as many texts as probabilities (at least one; "
            "each a string, each probability a number in [0, 1]); re-export"
        )
    return texts, np.asarray(stored, dtype=np.float64)


def check_known_answers(artifact: Artifact, *, atol: float = FP32_ATOL) -> KnownAnswerReport:
    """Score verification.json's texts with the artifact's encoder and fp32 ONNX model on the CPU, compare.

    Scored through :class:`SentimentModel` (the serving path: length-sorted
    batches, each padded to its own longest text). Returns the report (call
    ``raise_for_failures()`` to gate on it); raises :class:`ArtifactError` for
    an unreadable verification.json and ``ValueError`` for ``atol`` outside
    (0, 1).
    """
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not 0 < atol < 1:
        raise ValueError(f"atol must be a number in (0, 1), got {atol!r}")
    from .providers import create_session, session_options
    from .runtime import DEFAULT_BATCH_SIZE, SentimentModel

    texts, stored = _verification_record(artifact)
    session = create_session(artifact.file("onnx"), device="cpu", options=session_options())
    model = SentimentModel(artifact, artifact.encoder(), session, precision="fp32", batch_size=DEFAULT_BATCH_SIZE)
    got = model.predict_proba(texts).astype(np.float64)
    diffs = np.where(np.isfinite(got), np.abs(got - stored), np.inf)
    order = np.argsort(-diffs)[:_WORST]
    return KnownAnswerReport(
        texts=len(texts),
        max_abs_diff=float(diffs.max()),
        atol=float(atol),
        worst=[{"text_index": int(i), "stored": float(stored[i]), "got": float(got[i]), "diff": float(diffs[i])} for i in order],
    )

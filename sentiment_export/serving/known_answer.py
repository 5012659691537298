"""Known answers: the texts of ``verification.json`` through the artifact's own encoder (spec.json +
vocab.txt) and ``model.onnx`` in onnxruntime must give the probabilities eager PyTorch gave at export.

So a rewritten encoder file or model fails even when every copy of it (and its
sha256) was rewritten consistently. It costs a session and a scoring run,
several times a load (benchmarks/results/signing.md), so ``verify`` and
``sign`` run it and a plain load does not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..artifact.loader import Artifact
from ..errors import ArtifactError

FP32_ATOL = 1e-5
"""Largest allowed |exported - eager| on a probability for the fp32 models: the export gate's
tolerance (``sentiment_export.export.parity``), and the known-answer check's."""

_WORST = 3


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

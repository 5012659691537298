"""Accuracy and log loss of the exported ONNX files on the test reviews, for the manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..artifact.manifest import Scores
from ..text.encoder import TextEncoder
from .parity import onnx_runner

_EVAL_BATCH_SIZE = 256



def _score(runner: Any, rows: Sequence[list[int]], encoder: TextEncoder) -> np.ndarray:
    """Probabilities of all ``rows`` (id lists), batched by length so little padding is run."""
    scores = np.empty(len(rows), dtype=np.float64)
    for indices, ids in encoder.length_sorted_batches(rows, _EVAL_BATCH_SIZE):
        scores[indices] = runner(ids)
    return scores


def _scores(probabilities: np.ndarray, labels: np.ndarray) -> Scores:
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    return Scores(accuracy=float(np.mean((probabilities >= 0.5) == labels)), loss=float(loss))


def evaluate_onnx_files(
    onnx_path: Path, int8_path: Path, encoder: TextEncoder, rows: list[list[int]], labels: np.ndarray
) -> dict[str, Any]:
    """fp32 and int8 scores on the encoded test ``rows``, and how often their labels agree."""
    fp32 = _score(onnx_runner(onnx_path)[0], rows, encoder)
    int8 = _score(onnx_runner(int8_path)[0], rows, encoder)
    fp32_scores, int8_scores = _scores(fp32, labels), _scores(int8, labels)
    return {
        "fp32": fp32_scores,
        "int8": int8_scores,
        "int8_label_agreement": float(np.mean((fp32 >= 0.5) == (int8 >= 0.5))),
        "int8_accuracy_delta": int8_scores.accuracy - fp32_scores.accuracy,
    }

"""sentiment_export: a sentiment model trained once and scored the same everywhere."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ArtifactError,
    CheckpointError,
    DataFormatError,
    DeviceError,
    ParityError,
    SentimentExportError,
    SignatureError,
    SigningKeyError,
    SpecError,
    VocabularyError,
)

# Public name -> the submodule defining it, imported on first use (PEP 562): serving through
# SentimentModel then never imports torch (~3-6 s and ~600 MB RSS on a 2-core box, measured by
# benchmarks/run_all.py's cold-start row); training, export and the eager model still do.
_LAZY = {
    "ARTIFACT_FORMAT_VERSION": "artifact",
    "Artifact": "artifact",
    "load_artifact": "artifact",
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "TextEncoder": "encoder",
    "export_artifact": "export",
    "ProbabilityModel": "model",
    "SentimentNet": "model",
    "SentimentNetConfig": "model",
    "ParityReport": "parity",
    "check_parity": "parity",
    "verify_artifact": "parity",
    "Prediction": "runtime",
    "SentimentModel": "runtime",
    "SPEC_VERSION": "spec",
    "PreprocessingSpec": "spec",
    "Vocabulary": "vocabulary",
    "sign_artifact": "signing",
    "verify_signature": "signing",
    "check_known_answers": "known_answer",
}

if TYPE_CHECKING:
    from .artifact import ARTIFACT_FORMAT_VERSION, Artifact, load_artifact
    from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from .encoder import TextEncoder
    from .export import export_artifact
    from .model import ProbabilityModel, SentimentNet, SentimentNetConfig
    from .parity import ParityReport, check_parity, verify_artifact
    from .runtime import Prediction, SentimentModel
    from .spec import SPEC_VERSION, PreprocessingSpec
    from .vocabulary import Vocabulary
    from .signing import sign_artifact, verify_signature
    from .known_answer import check_known_answers


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ARTIFACT_FORMAT_VERSION",
    "SPEC_VERSION",
    "Artifact",
    "ArtifactError",
    "Checkpoint",
    "CheckpointError",
    "DataFormatError",
    "DeviceError",
    "ParityError",
    "ParityReport",
    "Prediction",
    "PreprocessingSpec",
    "ProbabilityModel",
    "SentimentExportError",
    "SentimentModel",
    "SentimentNet",
    "SignatureError",
    "SigningKeyError",
    "SentimentNetConfig",
    "SpecError",
    "TextEncoder",
    "Vocabulary",
    "VocabularyError",
    "check_known_answers",
    "check_parity",
    "export_artifact",
    "load_artifact",
    "load_checkpoint",
    "save_checkpoint",
    "sign_artifact",
    "verify_artifact",
    "verify_signature",
]

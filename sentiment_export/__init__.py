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
# SentimentModel then never imports torch, which dominates a serving process's start time and
# memory (figures: benchmarks/README.md, "Cold start"); training, export and the eager model still do.
_LAZY = {
    "ARTIFACT_FORMAT_VERSION": "artifact.manifest",
    "Manifest": "artifact.manifest",
    "Artifact": "artifact.loader",
    "load_artifact": "artifact.loader",
    "Checkpoint": "modeling.checkpoint",
    "load_checkpoint": "modeling.checkpoint",
    "save_checkpoint": "modeling.checkpoint",
    "TextEncoder": "text.encoder",
    "export_artifact": "export.build",
    "artifact_model_config": "modeling.from_artifact",
    "load_eager_model": "modeling.from_artifact",
    "ProbabilityModel": "modeling.net",
    "SentimentNet": "modeling.net",
    "SentimentNetConfig": "modeling.config",
    "ParityReport": "export.parity",
    "check_parity": "export.parity",
    "verify_artifact": "export.parity",
    "Prediction": "serving.runtime",
    "SentimentModel": "serving.runtime",
    "SPEC_VERSION": "text.spec",
    "PreprocessingSpec": "text.spec",
    "Vocabulary": "text.vocabulary",
    "sign_artifact": "artifact.signing",
    "verify_signature": "artifact.signing",
    "check_known_answers": "serving.known_answer",
}

if TYPE_CHECKING:
    from .artifact.loader import Artifact, load_artifact
    from .artifact.manifest import ARTIFACT_FORMAT_VERSION, Manifest
    from .modeling.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from .text.encoder import TextEncoder
    from .export.build import export_artifact
    from .modeling.from_artifact import artifact_model_config, load_eager_model
    from .modeling.config import SentimentNetConfig
    from .modeling.net import ProbabilityModel, SentimentNet
    from .export.parity import ParityReport, check_parity, verify_artifact
    from .serving.runtime import Prediction, SentimentModel
    from .text.spec import SPEC_VERSION, PreprocessingSpec
    from .text.vocabulary import Vocabulary
    from .artifact.signing import sign_artifact, verify_signature
    from .serving.known_answer import check_known_answers


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
    "Manifest",
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
    "artifact_model_config",
    "check_known_answers",
    "check_parity",
    "export_artifact",
    "load_artifact",
    "load_checkpoint",
    "load_eager_model",
    "save_checkpoint",
    "sign_artifact",
    "verify_artifact",
    "verify_signature",
]

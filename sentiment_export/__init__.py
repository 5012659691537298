"""sentiment_export: a sentiment model trained once and scored the same everywhere."""

from .artifact import ARTIFACT_FORMAT_VERSION, Artifact, load_artifact
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .encoder import TextEncoder
from .errors import (
    ArtifactError,
    CheckpointError,
    DataFormatError,
    DeviceError,
    ParityError,
    SentimentExportError,
    SpecError,
    VocabularyError,
)
from .export import export_artifact
from .model import ProbabilityModel, SentimentNet, SentimentNetConfig
from .parity import ParityReport, check_parity, verify_artifact
from .runtime import Prediction, SentimentModel
from .spec import SPEC_VERSION, PreprocessingSpec
from .vocabulary import Vocabulary

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
    "SentimentNetConfig",
    "SpecError",
    "TextEncoder",
    "Vocabulary",
    "VocabularyError",
    "check_parity",
    "export_artifact",
    "load_artifact",
    "load_checkpoint",
    "save_checkpoint",
    "verify_artifact",
]

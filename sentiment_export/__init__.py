"""sentiment_export: a sentiment model trained once and scored the same everywhere."""

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
from .model import ProbabilityModel, SentimentNet, SentimentNetConfig
from .runtime import Prediction, SentimentModel
from .spec import SPEC_VERSION, PreprocessingSpec
from .vocabulary import Vocabulary

__all__ = [
    "SPEC_VERSION",
    "ArtifactError",
    "Checkpoint",
    "CheckpointError",
    "DataFormatError",
    "DeviceError",
    "ParityError",
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
    "load_checkpoint",
    "save_checkpoint",
]

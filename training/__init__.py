"""training: ``python -m training`` trains SentimentNet on labelled reviews and exports the result.

The CLI (``training/__main__.py``) is a thin layer over :func:`train` and
:func:`resume`; tests and notebooks call those directly. The names that need
torch (the loop) are imported on first use, so that the CLI checks its flags
without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sentiment_export.data import CsvOptions, DataFormat, read_csv_reviews, read_labelled_file

from .config import TrainConfig
from .data import DEFAULT_DATA_DIR, data_files, split_validation
from .presets import CHOICES, PRESETS, Hyperparameters

_LAZY = {"TrainResult": "loop", "resume": "loop", "train": "loop"}

if TYPE_CHECKING:
    from .loop import TrainResult, resume, train


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CHOICES",
    "DEFAULT_DATA_DIR",
    "PRESETS",
    "CsvOptions",
    "DataFormat",
    "Hyperparameters",
    "TrainConfig",
    "TrainResult",
    "data_files",
    "read_csv_reviews",
    "read_labelled_file",
    "resume",
    "split_validation",
    "train",
]

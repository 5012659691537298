"""training: ``python -m training`` trains SentimentNet on labelled reviews and exports the result.

The CLI (``training/__main__.py``) is a thin layer over :func:`train` and
:func:`resume`; tests and notebooks call those directly.
"""

from sentiment_export.data.csv_reader import CsvOptions, read_csv_reviews
from .data import DEFAULT_DATA_DIR, data_files, read_labelled_file, split_validation
from .loop import TrainConfig, TrainResult, resume, train
from .presets import PRESETS, Hyperparameters, get_preset
from .vocab import build_vocabulary

__all__ = [
    "DEFAULT_DATA_DIR",
    "PRESETS",
    "CsvOptions",
    "Hyperparameters",
    "TrainConfig",
    "TrainResult",
    "build_vocabulary",
    "data_files",
    "get_preset",
    "read_csv_reviews",
    "read_labelled_file",
    "resume",
    "split_validation",
    "train",
]

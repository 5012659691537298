"""training: ``python -m training`` trains SentimentNet on labelled reviews and exports the result.

The CLI (``training/__main__.py``) is a thin layer over :func:`train` and
:func:`resume`; tests and notebooks call those directly.
"""

from sentiment_export.data import CsvOptions, DataFormat, read_csv_reviews, read_labelled_file
from .data import DEFAULT_DATA_DIR, data_files, split_validation
from .loop import TrainConfig, TrainResult, resume, train
from .presets import CHOICES, PRESETS, Hyperparameters

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

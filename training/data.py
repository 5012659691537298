"""Where the training data lives, reading it, and carving the validation split.

The test file is read here but only ever used for the final evaluation; the
validation split is carved from the training file with its own fixed seed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sentiment_export.errors import DataFormatError
from sentiment_export.fileio import sha256_file
from sentiment_export.data.amazon import MalformedLines, Review, read_reviews

from sentiment_export.data.csv_reader import CsvOptions, read_csv_reviews

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "default_data"
"""The embedded review snippets (see its README): what ``python -m training`` trains on by default."""


def _find_split(directory: Path, split: str) -> Path:
    candidates = [directory / f"{split}.ft.txt.bz2", directory / f"{split}.ft.txt"]
    found = [path for path in candidates if path.is_file()]
    if not found:
        raise FileNotFoundError(
            f"data directory {directory} has neither {candidates[0].name} nor {candidates[1].name}; "
            "--data-dir expects the Amazon Reviews polarity layout (train.ft.txt[.bz2] and "
            "test.ft.txt[.bz2]); use --train FILE --test FILE for other names"
        )
    return found[0]


def data_files(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """(train, test) files of a data directory in the Amazon layout; the embedded data when ``None``."""
    directory = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist")
    return _find_split(directory, "train"), _find_split(directory, "test")


def is_csv(path: Path) -> bool:
    """CSV files are recognised by their name: ``*.csv`` or ``*.csv.bz2``."""
    return path.name.lower().endswith((".csv", ".csv.bz2"))


@dataclass
class LabelledFile:
    """The reviews of one file and what the metadata says about it."""

    path: Path
    reviews: list[Review]
    malformed: MalformedLines
    sha256: str

    def describe(self) -> dict[str, Any]:
        """The ``data.train`` / ``data.test`` entry of the checkpoint metadata."""
        return {
            "file": self.path.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "examples": len(self.reviews),
            "malformed": self.malformed.to_dict(),
        }


def read_labelled_file(
    path: str | os.PathLike[str], *, strict: bool = False, csv_options: CsvOptions | None = None
) -> LabelledFile:
    """Read a labelled file (Amazon polarity format, or CSV by name), logging the malformed-line report.

    Raises ``FileNotFoundError``, or :class:`DataFormatError` for a malformed
    line with ``strict=True``, or when the file holds no usable review at all.
    """
    path = Path(path).resolve()
    if is_csv(path):
        reviews, malformed = read_csv_reviews(path, options=csv_options or CsvOptions(), strict=strict)
    else:
        reviews, malformed = read_reviews(path, strict=strict)
    logger.info("%s: %d reviews, %s", path, len(reviews), malformed.describe())
    if not reviews:
        raise DataFormatError(f"{path} holds no usable review ({malformed.describe()})")
    return LabelledFile(path, reviews, malformed, sha256_file(path))


def split_validation(count: int, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) of ``count`` examples: a seeded random ``fraction`` held out.

    Both index arrays are sorted, so the split depends on ``count``, ``fraction``
    and ``seed`` only. Raises ``ValueError`` when either side would be empty.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction!r}")
    held_out = int(round(count * fraction))
    if held_out < 1 or held_out >= count:
        raise ValueError(
            f"a validation fraction of {fraction} of {count} training reviews leaves an empty split; "
            "use more training data or another --val-fraction"
        )
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[held_out:]), np.sort(order[:held_out])

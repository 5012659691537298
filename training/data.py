"""Where the training data lives, and carving the validation split.

Files are read by :func:`sentiment_export.data.read_labelled_file` (the one
reader export uses too). The test file is read but only ever used for the
final evaluation; the validation split is carved from the training file with
its own fixed seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sentiment_export.data import read_labelled_file  # re-exported: the reader's name where training's data lives

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


def check_val_fraction(fraction: float) -> None:
    """The validation fraction's bounds, checked when a run is configured (before any data is read)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction!r}")


def split_validation(count: int, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) of ``count`` examples: a seeded random ``fraction`` held out.

    Both index arrays are sorted, so the split depends on ``count``, ``fraction``
    and ``seed`` only. Raises ``ValueError`` when either side would be empty.
    """
    check_val_fraction(fraction)
    held_out = int(round(count * fraction))
    if held_out < 1 or held_out >= count:
        raise ValueError(
            f"a validation fraction of {fraction} of {count} training reviews leaves an empty split; "
            "use more training data or another --val-fraction"
        )
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


__all__ = ["DEFAULT_DATA_DIR", "check_val_fraction", "data_files", "read_labelled_file", "split_validation"]

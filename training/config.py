"""A training run's configuration: the preset's hyper-parameters plus data, seed, device and where to write.

Torch-free on purpose: ``python -m training`` builds (and so checks) the
whole configuration before it imports torch, creates a run directory or
reads any data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sentiment_export.data import CsvOptions

from .data import check_val_fraction, data_files
from .presets import PRESETS, Hyperparameters

DEVICES = ("auto", "cpu", "cuda")
"""Values of ``device``: ``auto`` = CUDA when available, else the CPU."""


@dataclass
class TrainConfig:
    """Everything a run needs: the preset's hyper-parameters plus data, seed, device and where to write.

    ``train_file``/``test_file`` ``None`` means the embedded snippets data;
    each is read as CSV (with ``csv_options``) when its name ends in ``.csv``
    or ``.csv.bz2``, else in the Amazon polarity format.
    ``max_steps`` (0 = no limit) stops the run after that many optimizer steps
    in total, as if it had been interrupted: ``last.pt`` is written and
    :func:`resume` continues it.
    ``data_cache``: the directory of the encoded-data cache (:mod:`training.data_cache`); ``None``
    encodes the data for this run only.
    """

    preset: str = "default"
    hyperparameters: Hyperparameters = field(default_factory=lambda: PRESETS["default"])
    train_file: Path | None = None
    test_file: Path | None = None
    csv_options: CsvOptions = field(default_factory=CsvOptions)
    strict: bool = False
    val_fraction: float = 0.1
    val_seed: int = 0
    seed: int = 0
    device: str = "auto"
    run_dir: Path | None = None
    runs_root: Path = Path("runs")
    max_steps: int = 0
    progress: bool = True
    data_cache: Path | None = None

    def __post_init__(self) -> None:
        if (self.train_file is None) != (self.test_file is None):
            raise ValueError("give both a train file and a test file, or neither (for the embedded data)")
        if self.max_steps < 0:
            raise ValueError(f"max_steps must be >= 0 (0 = no limit), got {self.max_steps}")
        check_val_fraction(self.val_fraction)

    def data_paths(self) -> dict[str, Path]:
        """``{"train": ..., "test": ...}``: the files this run reads (the embedded data when none are given)."""
        if self.train_file is None:
            train_path, test_path = data_files(None)
        else:
            train_path, test_path = Path(self.train_file), Path(self.test_file)
        return {"train": train_path, "test": test_path}

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["hyperparameters"] = self.hyperparameters.to_dict()
        data["csv_options"] = self.csv_options.to_dict()
        for name in ("train_file", "test_file", "run_dir", "runs_root", "data_cache"):
            data[name] = None if data[name] is None else str(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        data["hyperparameters"] = Hyperparameters.from_dict(data["hyperparameters"])
        data["csv_options"] = CsvOptions.from_dict(data["csv_options"])
        for name in ("train_file", "test_file", "run_dir", "runs_root", "data_cache"):
            data[name] = None if data.get(name) is None else Path(data[name])
        return cls(**data)

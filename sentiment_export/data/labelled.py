"""One way to read a labelled file, whatever its format: what training reads and what export evaluates on.

A :class:`DataFormat` says how a file is read (the Amazon polarity format, or
CSV with its columns and label values); training records it for every file in
the checkpoint (``metadata["data"][split]["format"]``), so that export reads
the test file exactly as training did.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DataFormatError
from ..fileio import sha256_file
from .amazon import MalformedLines, Review, ReviewFile
from .csv_reader import CsvOptions, CsvReviewFile

logger = logging.getLogger(__name__)

DATA_FORMATS = ("amazon", "csv")
"""Names of the formats a labelled file can be in."""


@dataclass(frozen=True)
class DataFormat:
    """How a labelled file is read: ``name`` is one of :data:`DATA_FORMATS`; ``csv_options`` only for CSV."""

    name: str = "amazon"
    csv_options: CsvOptions | None = None

    def __post_init__(self) -> None:
        if self.name not in DATA_FORMATS:
            raise DataFormatError(f"data format must be one of {DATA_FORMATS}, got {self.name!r}")
        if self.name == "csv" and self.csv_options is None:
            object.__setattr__(self, "csv_options", CsvOptions())
        if self.name != "csv" and self.csv_options is not None:
            raise DataFormatError(f"CSV options belong to the csv format only, not to {self.name!r}")

    @classmethod
    def for_path(cls, path: str | os.PathLike[str], *, csv_options: CsvOptions | None = None) -> DataFormat:
        """The format of a file by its name: CSV for ``*.csv`` / ``*.csv.bz2`` (with ``csv_options``), else Amazon."""
        if Path(path).name.lower().endswith((".csv", ".csv.bz2")):
            return cls("csv", csv_options or CsvOptions())
        return cls("amazon")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.csv_options is not None:
            data["csv_options"] = self.csv_options.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFormat:
        """Rebuild a recorded format; raises :class:`DataFormatError` for anything but what ``to_dict`` writes."""
        if not isinstance(data, Mapping) or "name" not in data or set(data) - {"name", "csv_options"}:
            raise DataFormatError(f"a data format must be {{'name': ..., ['csv_options': ...]}}, got {data!r}")
        options = data.get("csv_options")
        return cls(data["name"], None if options is None else CsvOptions.from_dict(options))


@dataclass
class LabelledFile:
    """The reviews of one file, what was skipped, its sha256 and the format it was read in."""

    path: Path
    reviews: list[Review]
    malformed: MalformedLines
    sha256: str
    data_format: DataFormat

    def describe(self) -> dict[str, Any]:
        """The file as checkpoint metadata records it (:func:`describe_file`)."""
        return describe_file(self.path, self.sha256, self.data_format, len(self.reviews), self.malformed)


def describe_file(
    path: Path, sha256: str, data_format: DataFormat, examples: int, malformed: MalformedLines
) -> dict[str, Any]:
    """A data file as checkpoint metadata records it: its name, never the directory it sits in."""
    return {
        "file": path.name,
        "sha256": sha256,
        "format": data_format.to_dict(),
        "examples": examples,
        "malformed": malformed.to_dict(),
    }


_Item = TypeVar("_Item")


def in_chunks(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    """``items`` in lists of ``size`` (the last one shorter): a stream of reviews or lines is
    worked on a bounded number at a time, so memory does not grow with the file."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def review_source(
    path: str | os.PathLike[str], *, data_format: DataFormat | None = None, strict: bool = False
) -> ReviewFile | CsvReviewFile:
    """A stream of the reviews of ``path`` in ``data_format`` (default: by its name); its ``malformed`` after iterating.

    What training reads large files through: one review in memory at a time.
    """
    data_format = data_format or DataFormat.for_path(path)
    if data_format.name == "csv":
        return CsvReviewFile(path, options=data_format.csv_options or CsvOptions(), strict=strict)
    return ReviewFile(path, strict=strict)


def no_usable_review(path: Path, malformed: MalformedLines, data_format: DataFormat) -> DataFormatError:
    """The error for a file that holds no review at all (every line malformed, or none)."""
    return DataFormatError(
        f"{path} holds no usable review ({malformed.describe()}; read in the {data_format.name} format)"
    )


def read_labelled_file(
    path: str | os.PathLike[str], *, data_format: DataFormat | None = None, strict: bool = False
) -> LabelledFile:
    """Read a labelled file in ``data_format`` (default: by its name, see :meth:`DataFormat.for_path`).

    Logs the malformed-line report. Raises ``FileNotFoundError``, or
    :class:`DataFormatError` for a malformed line with ``strict=True``, for a
    CSV header without the configured columns, or when the file holds no
    usable review at all.
    """
    path = Path(path).resolve()
    data_format = data_format or DataFormat.for_path(path)
    source = review_source(path, data_format=data_format, strict=strict)
    reviews = list(source)
    malformed = source.malformed
    logger.info("%s: %d reviews, %s", path, len(reviews), malformed.describe())
    if not reviews:
        raise no_usable_review(path, malformed, data_format)
    return LabelledFile(path, reviews, malformed, sha256_file(path), data_format)

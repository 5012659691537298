"""Labelled reviews from a CSV file (a text column and a label column, names configurable).

Rows that cannot become an example are counted by reason, like the Amazon
format reader does (:class:`sentiment_export.data.amazon.MalformedLines`), or
raise :class:`DataFormatError` with ``strict=True``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import DataFormatError
from .amazon import MalformedLines, Review
from .files import open_data_file, read_errors_named


@dataclass(frozen=True)
class CsvOptions:
    """Which columns hold the text and the label, and which label values mean negative / positive."""

    text_column: str = "text"
    label_column: str = "label"
    negative_label: str = "0"
    positive_label: str = "1"

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, str) or not value.strip():
                raise DataFormatError(f"CSV option {name} must be a non-empty string, got {value!r}")
        if self.text_column == self.label_column:
            raise DataFormatError(f"the CSV text and label columns must differ, both are {self.text_column!r}")
        if self.negative_label.strip() == self.positive_label.strip():
            raise DataFormatError(f"the negative and positive CSV labels must differ, both are {self.negative_label!r}")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CsvOptions:
        """Rebuild the options recorded in a checkpoint; unknown or missing keys are errors, not guesses."""
        known = set(cls.__dataclass_fields__)
        if not isinstance(data, Mapping) or set(data) != known:
            found = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise DataFormatError(f"CSV options must have exactly the keys {sorted(known)}, got {found}")
        return cls(**data)


def _open_text(path: Path) -> io.TextIOBase:
    # surrogateescape keeps undecodable bytes visible (as surrogates) so that the
    # row holding them is counted instead of the whole file failing; utf-8-sig drops a leading BOM.
    return io.TextIOWrapper(open_data_file(path), encoding="utf-8-sig", errors="surrogateescape", newline="")


def _has_undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


class CsvReviewFile:
    """Streams the reviews of one CSV file (plain or bz2, UTF-8, header row first); ``malformed`` holds what was skipped.

    Iterating again starts from the top with fresh counts. Raises
    :class:`DataFormatError` when a configured column is missing from the
    header, or (``strict=True``) at the first row that cannot become a review.
    """

    def __init__(self, path: str | os.PathLike[str], *, options: CsvOptions = CsvOptions(), strict: bool = False) -> None:
        self.path = Path(path)
        self.options = options
        self.strict = strict
        self.malformed = MalformedLines()

    def __iter__(self) -> Iterator[Review]:
        path, options, strict = self.path, self.options, self.strict
        labels = {options.negative_label: 0, options.positive_label: 1}
        self.malformed = malformed = MalformedLines()
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            with read_errors_named(path, lambda: reader.line_num):
                header = reader.fieldnames or []
                missing = [c for c in (options.text_column, options.label_column) if c not in header]
                if missing:
                    raise DataFormatError(
                        f"CSV file {path} has no column(s) {missing}; its header is {header}. "
                        "Name the columns with --csv-text-column / --csv-label-column"
                    )
                for row in reader:
                    text, label = row.get(options.text_column), row.get(options.label_column)
                    if text is None or label is None:
                        reason = "missing field"
                    elif _has_undecodable(text) or _has_undecodable(label):
                        reason = "undecodable bytes"
                    elif label.strip() not in labels:
                        reason = "unknown label"
                    elif not text.strip():
                        reason = "empty text"
                    else:
                        yield Review(text, labels[label.strip()])
                        continue
                    if strict:
                        raise DataFormatError(
                            f"{path}, line {reader.line_num}: {reason}; expected a UTF-8 text in column "
                            f"{options.text_column!r} and {options.negative_label!r} (negative) or "
                            f"{options.positive_label!r} (positive) in column {options.label_column!r} "
                            "(drop --strict to skip and count such rows)"
                        )
                    malformed.add(reason, reader.line_num)


def read_csv_reviews(
    path: str | os.PathLike[str], *, options: CsvOptions = CsvOptions(), strict: bool = False
) -> tuple[list[Review], MalformedLines]:
    """All reviews of a CSV file in memory and the report of skipped rows (see :class:`CsvReviewFile`)."""
    source = CsvReviewFile(path, options=options, strict=strict)
    reviews = list(source)
    return reviews, source.malformed

"""Reader for labelled reviews in the Amazon Reviews polarity format.

One review per line, ``__label__1 <text>`` (negative) or ``__label__2 <text>``
(positive), UTF-8 (a byte order mark at the start is dropped), plain or
bz2-compressed, lines ended by LF or CRLF. Lines that are not in that format
are counted by kind and line number, never turned into examples. A file with
CR-only line endings (a carriage return followed by ``__label__``) is refused
as a whole, since reading it by LF would merge reviews into one example. Training
reads its data through this, and export reads its evaluation data through it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataFormatError
from .files import UTF8_BOM, open_data_file, read_errors_named

LABELS = {b"__label__1": 0, b"__label__2": 1}
"""Label token -> class (0 = negative, 1 = positive)."""

_MAX_EXAMPLES_KEPT = 5

_MERGED_LINES = b"\r__label__"


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 0 negative, 1 positive


@dataclass
class MalformedLines:
    """What a reader skipped: counts by reason and the first few line numbers of each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, reason: str, line_number: int) -> None:
        self.counts[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < _MAX_EXAMPLES_KEPT:
            kept.append(line_number)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        if not self.total:
            return "no malformed lines"
        parts = [
            f"{count} {reason} (lines {', '.join(map(str, self.examples[reason]))}"
            f"{', ...' if count > len(self.examples[reason]) else ''})"
            for reason, count in sorted(self.counts.items())
        ]
        return f"{self.total} malformed lines skipped: " + "; ".join(parts)

    def to_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _parse(raw: bytes) -> tuple[str | None, Review | None]:
    """(reason, None) for a malformed line, (None, review) otherwise."""
    line = raw.rstrip(b"\r\n")
    if not line.strip():
        return "empty line", None
    label_token, _, text_bytes = line.partition(b" ")
    if not label_token.startswith(b"__label__"):
        return "no label", None
    if label_token not in LABELS:
        return "unknown label", None
    try:
        text = text_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return "undecodable bytes", None
    if not text.strip():
        return "empty text", None
    return None, Review(text, LABELS[label_token])


class ReviewFile:
    """Streams the reviews of one file; ``malformed`` holds what was skipped so far.

    Iterating again starts from the top with fresh counts. With ``strict=True``
    the first malformed line raises :class:`DataFormatError` instead.
    """

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"review file {self.path} does not exist")
        self.strict = strict
        self.malformed = MalformedLines()

    def __iter__(self) -> Iterator[Review]:
        self.malformed = MalformedLines()
        line_number = 0
        with open_data_file(self.path) as handle, read_errors_named(self.path, lambda: line_number):
            for line_number, raw in enumerate(handle, start=1):
                if line_number == 1:
                    raw = raw.removeprefix(UTF8_BOM)
                if _MERGED_LINES in raw:
                    raise DataFormatError(
                        f"{self.path}, line {line_number}: a carriage return is followed by '__label__': the file "
                        "has CR-only line endings, so reviews would merge into one example; convert its line "
                        "endings to LF (for example: tr '\\r' '\\n' < FILE > FIXED)"
                    )
                reason, review = _parse(raw)
                if review is not None:
                    yield review
                    continue
                if self.strict:
                    raise DataFormatError(
                        f"{self.path}, line {line_number}: {reason}; expected '__label__1 <text>' "
                        "or '__label__2 <text>' (drop --strict to skip and count such lines)"
                    )
                self.malformed.add(reason, line_number)


def read_reviews(path: str | os.PathLike[str], *, strict: bool = False) -> tuple[list[Review], MalformedLines]:
    """All reviews of a file in memory, with the report of skipped lines."""
    source = ReviewFile(path, strict=strict)
    reviews = list(source)
    return reviews, source.malformed

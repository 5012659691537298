"""Opening a data file whether it is bz2-compressed or plain, decided by its first bytes (not its name),
and turning a file that breaks off while being read into one message naming it."""

from __future__ import annotations

import bz2
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import DataFormatError

_BZ2_MAGIC = b"BZh"

UTF8_BOM = b"\xef\xbb\xbf"
"""Written at the start of UTF-8 files by many Windows tools; readers drop it from the first line."""


def open_data_file(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading bytes, decompressed on the fly when it is a bz2 file.

    Every reader of labelled data opens its file through this, so a reader
    never guesses compression from a file name (``train.ft.txt`` may be bz2,
    ``data.csv.bz2`` plain). Raises ``FileNotFoundError`` naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    with open(path, "rb") as probe:
        compressed = probe.read(len(_BZ2_MAGIC)) == _BZ2_MAGIC
    return bz2.open(path, "rb") if compressed else open(path, "rb")  # type: ignore[return-value]


@contextlib.contextmanager
def read_errors_named(path: str | os.PathLike[str], lines_read: Callable[[], int]) -> Iterator[None]:
    """Turn a read that breaks off (a truncated or corrupted bz2 stream: ``EOFError``, ``OSError``) into one
    :class:`DataFormatError` naming the file and the last line read (``lines_read()``)."""
    try:
        yield
    except (EOFError, OSError) as error:
        raise DataFormatError(
            f"{path}: the file breaks off after line {lines_read()} ({error}); it is truncated or corrupted, "
            "copy or download it again"
        ) from error

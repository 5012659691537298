"""Opening a data file whether it is bz2-compressed or plain, decided by its first bytes (not its name)."""

from __future__ import annotations

import bz2
import os
from pathlib import Path
from typing import BinaryIO

_BZ2_MAGIC = b"BZh"


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

"""The data cache: a data set encoded once (:mod:`training.encoding`) and memory-mapped by every later run.

An entry is a directory named by a sha256 over both files' sha256 and the
:class:`~training.encoding.EncodingSettings` (spec, vocabulary limits,
validation split, formats, strictness), so a changed file or setting never
reads a stale entry. It is built in a temporary directory beside the entries
and renamed into place, so a killed run leaves no half-written entry; its
arrays are ``.npy`` files read with ``allow_pickle=False``. All processes of a
distributed run memory-map the same entry (the operating system holds one copy
of its pages); the main process builds it first. Without a cache the data is
encoded into a temporary directory, read into memory and the directory removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentiment_export import Vocabulary
from sentiment_export.data import MalformedLines
from sentiment_export.data.encoded import ID_DTYPE, EncodedRows
from sentiment_export.fileio import atomic_write_text, sha256_file

if TYPE_CHECKING:
    from .distributed import DistContext
from .encoding import SPLITS, EncodingSettings, encode_files

logger = logging.getLogger(__name__)

ENV_VAR = "SENTIMENT_EXPORT_DATA_CACHE"
"""Where the cache lives when ``--data-cache`` is not given."""
DEFAULT_CACHE_DIR = Path("~/.cache/sentiment_export/data")
CACHE_FORMAT = 1
"""Bumped whenever an entry's layout or the encoding changes, so older entries are never read."""
_META = "meta.json"


def default_cache_dir() -> Path:
    """``$SENTIMENT_EXPORT_DATA_CACHE``, else ``~/.cache/sentiment_export/data``."""
    configured = os.environ.get(ENV_VAR, "").strip()
    return Path(configured or DEFAULT_CACHE_DIR).expanduser()


@dataclass
class EncodedSplit:
    """One file, encoded: its rows, labels (int8), what was skipped, and its sha256."""

    rows: EncodedRows
    labels: np.ndarray
    malformed: MalformedLines
    sha256: str


@dataclass
class EncodedData:
    """Both files encoded with one vocabulary; ``cache_entry`` is the entry read (``None`` without a cache)."""

    splits: dict[str, EncodedSplit]
    vocabulary: list[str]
    cache_entry: Path | None
    cache_hit: bool


def cache_key(sha256s: dict[str, str], settings: EncodingSettings, vocabulary: list[str] | None) -> str:
    """The entry name: sha256 of the files' sha256, the settings and (when given, on resume) the vocabulary."""
    inputs: dict[str, Any] = {"format": CACHE_FORMAT, "files": sha256s, "settings": settings.to_dict()}
    if vocabulary is not None:
        inputs["vocabulary"] = hashlib.sha256("\n".join(vocabulary).encode("utf-8")).hexdigest()
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()


def _malformed(report: dict[str, Any]) -> MalformedLines:
    lines = MalformedLines()
    lines.counts.update(report["counts"])
    lines.examples.update({reason: list(numbers) for reason, numbers in report["examples"].items()})
    return lines


def _load(entry: Path, settings: EncodingSettings, *, memory_map: bool) -> tuple[dict[str, EncodedSplit], list[str]]:
    """The splits and vocabulary of an entry; ``ValueError``/``OSError`` when it is not a complete, consistent one."""
    meta = json.loads((entry / _META).read_text(encoding="utf-8"))
    if meta.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {meta.get('format')!r}, expected {CACHE_FORMAT}")
    vocabulary = Vocabulary.load(entry / "vocab.txt", settings.spec).tokens
    splits = {}
    for split in SPLITS:
        ids = np.load(entry / f"{split}_ids.npy", mmap_mode="r" if memory_map else None, allow_pickle=False)
        offsets = np.load(entry / f"{split}_offsets.npy", allow_pickle=False)
        labels = np.load(entry / f"{split}_labels.npy", allow_pickle=False)
        if ids.dtype != ID_DTYPE or ids.ndim != 1 or len(labels) != len(offsets) - 1:
            raise ValueError(f"{split}: arrays of inconsistent shapes or types")
        rows = EncodedRows.from_offsets(ids, offsets)
        splits[split] = EncodedSplit(rows, labels, _malformed(meta["malformed"][split]), meta["sha256"][split])
    return splits, vocabulary


def _build(
    paths: dict[str, Path], settings: EncodingSettings, target: Path, sha256s: dict[str, str],
    vocabulary: list[str] | None, progress: bool,
) -> None:
    """Encode into a fresh temporary directory beside ``target``, then rename it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name[:16]}-", dir=target.parent))
    try:
        result = encode_files(paths, settings, scratch, vocabulary=vocabulary, progress=progress)
        meta = {"format": CACHE_FORMAT, "sha256": sha256s, "settings": settings.to_dict(),
                "malformed": result["malformed"], "tokenizer": result["backend"]}
        atomic_write_text(scratch / _META, json.dumps(meta, indent=2, sort_keys=True))
        try:
            os.rename(scratch, target)
        except OSError:  # another run renamed the same entry first: keep that one
            if not (target / _META).is_file():
                raise
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _entry(
    paths: dict[str, Path], settings: EncodingSettings, cache_dir: Path | None, vocabulary: list[str] | None,
    progress: bool,
) -> tuple[Path, bool]:
    """(the directory holding the encoded data, whether it was in the cache already); builds it when needed."""
    sha256s = {split: sha256_file(paths[split]) for split in SPLITS}
    if cache_dir is None:
        target = Path(tempfile.mkdtemp(prefix="sentiment_export-data-")) / "entry"
        try:
            _build(paths, settings, target, sha256s, vocabulary, progress)
        except BaseException:
            shutil.rmtree(target.parent, ignore_errors=True)
            raise
        return target, False
    keys = [cache_key(sha256s, settings, None)]
    if vocabulary is not None:  # a resumed run: its vocabulary, whether or not it is the counted one
        keys.append(cache_key(sha256s, settings, vocabulary))
    for key in keys:
        entry = cache_dir / key
        if (entry / _META).is_file():
            try:
                _, cached = _load(entry, settings, memory_map=True)
            except (OSError, ValueError) as error:
                logger.warning("data cache entry %s is unreadable (%s); encoding again", entry, error)
                shutil.rmtree(entry, ignore_errors=True)
                continue
            if vocabulary is None or cached == vocabulary:
                logger.info("data cache: reusing %s", entry)
                return entry, True
    entry = cache_dir / keys[-1]
    logger.info("data cache: encoding into %s", entry)
    _build(paths, settings, entry, sha256s, vocabulary, progress)
    return entry, False


def prepare_encoded(
    paths: dict[str, Path],
    settings: EncodingSettings,
    context: DistContext,
    *,
    cache_dir: Path | None,
    vocabulary: list[str] | None = None,
    progress: bool = False,
) -> EncodedData:
    """Both files encoded: from the cache (``cache_dir``), or encoded now; every process gets the same arrays.

    ``vocabulary`` (a resumed run's) is kept as it is. The main process finds
    or builds the entry; the others wait for it, then all read it (memory-mapped
    from the cache, into memory without one). A failure on the main process is
    raised on every process.
    """
    if context.is_main:
        try:
            entry, hit = _entry(paths, settings, cache_dir, vocabulary, progress)
        except BaseException as error:
            context.broadcast_object(("error", f"{type(error).__name__}: {error}"))
            raise
        context.broadcast_object(("ok", (str(entry), hit)))
    else:
        status, value = context.broadcast_object(None)
        if status == "error":
            raise RuntimeError(f"the main process failed to prepare the data: {value}")
        entry, hit = Path(value[0]), value[1]
    try:
        splits, tokens = _load(Path(entry), settings, memory_map=cache_dir is not None)
    finally:
        if cache_dir is None:
            context.barrier()
            if context.is_main:
                shutil.rmtree(Path(entry).parent, ignore_errors=True)
    return EncodedData(splits, tokens, Path(entry) if cache_dir is not None else None, hit)

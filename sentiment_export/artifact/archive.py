"""Packing an artifact into one archive, and unpacking one without trusting it.

Unpacking refuses, before anything is written, members with absolute paths,
``..`` or drives, links and device files, members that collide (a name twice,
a file below a file, a directory over a file), encrypted zip members and zip
compression methods Python cannot read, and archives whose totals exceed
:data:`MAX_UNPACKED_BYTES` or :data:`MAX_MEMBERS` (decompression bombs).
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import ArtifactError
from .layout import FILE_MODE

PACK_FORMATS = ("tar.gz", "zip")

_COPY_CHUNK = 1 << 20

MAX_UNPACKED_BYTES = 4 << 30
"""An archive whose members add up to more is refused before anything is written (a
decompression bomb fills the disk otherwise); far above any artifact measured (benchmarks/README.md)."""

MAX_MEMBERS = 256
"""Likewise for the number of members; an artifact holds a dozen files."""


def pack_artifact(directory: str | os.PathLike[str], fmt: str) -> Path:
    """Pack an artifact directory into ``<directory>.tar.gz`` or ``.zip`` (one top-level folder).

    Written to a temporary name first and renamed, so a crash leaves no half archive; readable by
    all like the directory's files (:data:`~sentiment_export.artifact.layout.FILE_MODE`).
    """
    directory = Path(directory)
    if fmt not in PACK_FORMATS:
        raise ValueError(f"pack format must be one of {PACK_FORMATS}, got {fmt!r}")
    target = directory.with_name(f"{directory.name}.{fmt}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory.parent)
    os.close(fd)
    members = sorted(child for child in directory.iterdir() if child.is_file())
    try:
        if fmt == "tar.gz":
            with tarfile.open(tmp_name, "w:gz") as archive:
                for member in members:
                    archive.add(member, arcname=f"{directory.name}/{member.name}", recursive=False)
        else:
            with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for member in members:
                    archive.write(member, arcname=f"{directory.name}/{member.name}")
        os.chmod(tmp_name, FILE_MODE)  # mkstemp made it private (0600)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _safe_member_path(archive: Path, name: str) -> PurePosixPath:
    """The member's relative path, or ArtifactError if it could land outside the target."""
    pure = PurePosixPath(name)
    if not name or "\\" in name or pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise ArtifactError(
            f"archive {archive} has the member {name!r}, which would be written outside the target "
            "directory (absolute path, '..' or a drive); refusing to unpack it"
        )
    return pure


def unpack_archive(archive: Path, extract_to: str | os.PathLike[str] | None) -> Path:
    name = archive.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        unpack_into = _unpack_tar
    elif name.endswith(".zip"):
        unpack_into = _unpack_zip
    else:
        raise ArtifactError(
            f"artifact {archive} is a file but not a .tar.gz, .tgz or .zip archive; "
            "pass the artifact directory or an archive made with --pack"
        )
    if extract_to is None:
        target = Path(tempfile.mkdtemp(prefix="sentiment-artifact-"))
        atexit.register(shutil.rmtree, target, ignore_errors=True)
    else:
        target = Path(extract_to)
        target.mkdir(parents=True, exist_ok=True)
        if any(target.iterdir()):
            raise ArtifactError(f"cannot unpack {archive} into {target}: the directory is not empty")
    try:
        unpack_into(archive, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise ArtifactError(f"archive {archive} is truncated or not a valid archive ({error}); copy it again") from error
    return target


def _check_layout(archive: Path, members: list[tuple[PurePosixPath, bool]]) -> None:
    """ArtifactError before any write when members collide: the same file twice, a member below a
    file (``zz`` then ``zz/inner``), or a directory entry with a file's name. ``members``: (path, is_dir)."""
    files = {path for path, is_dir in members if not is_dir}
    seen: set[PurePosixPath] = set()
    for path, is_dir in members:
        over_file = next((parent for parent in path.parents if parent in files), None)
        if over_file is not None:
            problem = f"the member {str(path)!r} lies below {str(over_file)!r}, which is a file"
        elif is_dir and path in files:
            problem = f"the directory entry {str(path)!r} has the name of a file member"
        elif not is_dir and path in seen:
            problem = f"the member {str(path)!r} appears twice"
        else:
            seen.add(path)
            continue
        raise ArtifactError(f"archive {archive}: {problem}; an artifact archive holds each file once, refusing to unpack it")


def _check_totals(archive: Path, sizes: list[int]) -> None:
    """ArtifactError before any write when the members are too many or would unpack too large.

    The sizes are the headers' own; both readers yield exactly that many bytes
    per member, so the check bounds what is written.
    """
    if len(sizes) > MAX_MEMBERS:
        raise ArtifactError(
            f"archive {archive} has {len(sizes)} members, more than an artifact's {MAX_MEMBERS} at most; "
            "refusing to unpack it (not an artifact made with --pack?)"
        )
    total = sum(sizes)
    if total > MAX_UNPACKED_BYTES:
        raise ArtifactError(
            f"archive {archive} would unpack to {total:,} bytes, more than the {MAX_UNPACKED_BYTES:,} allowed; "
            "refusing to unpack it (a damaged or hostile archive; unpack a trusted one yourself and pass the directory)"
        )


def _refuse_special(archive: Path, name: str, is_link: bool) -> None:
    kind = "link" if is_link else "device, fifo or other special file"
    raise ArtifactError(
        f"archive {archive} has the member {name!r}, a {kind}; artifacts hold plain files only, refusing to unpack it"
    )


def _write_member(archive: Path, target: Path, relative: PurePosixPath, stream: IO[bytes] | None) -> None:
    """Write one checked member below ``target``; ``stream`` None is a directory."""
    destination = target.joinpath(*relative.parts)
    if stream is None:
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    with stream, open(destination, "xb") as handle:  # "x": never over a file (_check_layout refused collisions)
        shutil.copyfileobj(stream, handle, _COPY_CHUNK)


def _unpack_tar(archive: Path, target: Path) -> None:
    """Check every member's name and type first, then write them (no tarfile.extractall)."""
    with tarfile.open(archive, "r:gz") as tar:
        checked = []
        for info in tar.getmembers():
            relative = _safe_member_path(archive, info.name)
            if not (info.isfile() or info.isdir()):
                _refuse_special(archive, info.name, info.issym() or info.islnk())
            checked.append((relative, info))
        _check_layout(archive, [(relative, info.isdir()) for relative, info in checked])
        _check_totals(archive, [info.size for _, info in checked])
        for relative, info in checked:
            _write_member(archive, target, relative, None if info.isdir() else tar.extractfile(info))


_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
"""The compression methods :mod:`zipfile` reads (``--pack zip`` writes deflate)."""


def _check_zip_readable(archive: Path, info: zipfile.ZipInfo) -> None:
    """ArtifactError for a member zipfile cannot read: encrypted (flag bit 0), or an unknown compression method."""
    if info.flag_bits & 0x1:
        raise ArtifactError(
            f"archive {archive} has the member {info.filename!r} encrypted; artifact archives are not encrypted, "
            "refusing to unpack it (decrypt it yourself and pass the directory)"
        )
    if info.compress_type not in _ZIP_METHODS:
        raise ArtifactError(
            f"archive {archive} has the member {info.filename!r} compressed with method {info.compress_type}, "
            f"which this reader does not know (it reads {', '.join(_ZIP_METHODS.values())}); repack it with --pack zip"
        )


def _unpack_zip(archive: Path, target: Path) -> None:
    """Check every member's name and type (Unix mode in external_attr) first, then write them."""
    with zipfile.ZipFile(archive) as zipped:
        checked = []
        for info in zipped.infolist():
            relative = _safe_member_path(archive, info.filename)
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip records no Unix type
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                _refuse_special(archive, info.filename, file_type == stat.S_IFLNK)
            _check_zip_readable(archive, info)
            checked.append((relative, info))
        _check_layout(archive, [(relative, info.is_dir()) for relative, info in checked])
        _check_totals(archive, [info.file_size for _, info in checked])
        for relative, info in checked:
            _write_member(archive, target, relative, None if info.is_dir() else zipped.open(info))

"""The artifact format: one directory (or one archive of it) that serving trusts.

Layout of ``<name>-<version>/``::

    manifest.json          what it is, where it came from, and a sha256 + size for every other file
    model.pt               TorchScript (spec.json, vocab.txt, manifest.json embedded as extra files)
    model.pt2              optional: torch.export + AOTInductor package (the same three files embedded)
    model.onnx             ONNX fp32
    model.int8.onnx        ONNX, weights dynamically quantized to int8
    weights.safetensors    the eager PyTorch weights (model config in the manifest)
    spec.json, vocab.txt   the preprocessing spec and vocabulary (TextEncoder)
    curves.json, curves.png training curves
    verification.json      the texts the parity gate checked, with eager PyTorch's probabilities
    MODEL_CARD.md          for people

:func:`load_artifact` is the only reader. It checks the format version, every
listed file's presence, size and sha256, and that nothing unlisted lies
beside them; packed archives are unpacked member by member, refusing absolute
paths, ``..``, links and device files.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from .encoder import TextEncoder
from .errors import ArtifactError, SpecError, VocabularyError
from .fileio import sha256_file

if TYPE_CHECKING:  # torch is imported only by the methods that need it, so serving never loads it
    from .model import SentimentNet, SentimentNetConfig

ARTIFACT_FORMAT_VERSION = 1
"""Bumped whenever a reader of the previous version would misread an artifact."""

MANIFEST_FILENAME = "manifest.json"

ROLE_FILENAMES: dict[str, str] = {
    "torchscript": "model.pt",
    "pt2": "model.pt2",
    "onnx": "model.onnx",
    "onnx_int8": "model.int8.onnx",
    "weights": "weights.safetensors",
    "spec": "spec.json",
    "vocab": "vocab.txt",
    "manifest": MANIFEST_FILENAME,
    "model_card": "MODEL_CARD.md",
    "curves_data": "curves.json",
    "curves_plot": "curves.png",
    "verification": "verification.json",
}
"""Role -> file name inside the artifact; every role is required except the OPTIONAL_ROLES."""

OPTIONAL_ROLES = frozenset({"pt2"})
"""Roles an artifact may lack (``model.pt2`` is skipped by ``export --no-pt2``)."""

PACK_FORMATS = ("tar.gz", "zip")

_COPY_CHUNK = 1 << 20

MAX_UNPACKED_BYTES = 4 << 30
"""An archive whose members add up to more is refused before anything is written (a
decompression bomb fills the disk otherwise); the largest artifact measured is ~125 MB."""

MAX_MEMBERS = 256
"""Likewise for the number of members; an artifact holds a dozen files."""


class Artifact:
    """A loaded and verified artifact; construct it with :func:`load_artifact`."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Artifact({self.manifest.get('name')!r}, {self.manifest.get('version')!r}, root={str(self.root)!r})"

    def file(self, role: str) -> Path:
        """Path of the file playing ``role`` (see :data:`ROLE_FILENAMES`)."""
        if role not in ROLE_FILENAMES:
            raise ArtifactError(f"unknown artifact file role {role!r}; known roles: {', '.join(ROLE_FILENAMES)}")
        return self.root / ROLE_FILENAMES[role]

    def encoder(self) -> TextEncoder:
        """The TextEncoder rebuilt from the artifact's own spec.json and vocab.txt."""
        try:
            return TextEncoder.from_texts(
                self.file("spec").read_text(encoding="utf-8"), self.file("vocab").read_text(encoding="utf-8")
            )
        except (SpecError, VocabularyError, UnicodeDecodeError) as error:
            raise ArtifactError(
                f"artifact {self.root}: spec.json/vocab.txt do not make a valid encoder: {error} "
                "(re-export the artifact with this sentiment_export)"
            ) from error

    def model_config(self) -> SentimentNetConfig:
        """The network's hyper-parameters, as recorded in the manifest."""
        from .model import SentimentNetConfig

        try:
            return SentimentNetConfig.from_dict(self.manifest["model"]["config"])
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(
                f"artifact {self.root}: manifest.json has no valid model.config ({error}); re-export the artifact"
            ) from error

    def build_model(self) -> SentimentNet:
        """Eager PyTorch SentimentNet from weights.safetensors, in eval mode."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from .model import SentimentNet

        model = SentimentNet(self.model_config())
        try:
            model.load_state_dict(load_file(self.file("weights")))
        except (SafetensorError, RuntimeError) as error:
            first_line = str(error).splitlines()[0]
            raise ArtifactError(
                f"artifact {self.root}: weights.safetensors does not fit the manifest's model config: "
                f"{first_line} (re-export the artifact)"
            ) from error
        return model.eval()


def load_artifact(path: str | os.PathLike[str], *, extract_to: str | os.PathLike[str] | None = None) -> Artifact:
    """Open and verify an artifact directory, ``.tar.gz`` or ``.zip``.

    Verifies the format version, that every file the manifest lists is
    present with its recorded size and sha256, and that no unlisted file lies
    beside them. An archive is unpacked into ``extract_to`` (a new or empty
    directory) or, by default, into a temporary directory removed when the
    interpreter exits; members with absolute paths, ``..``, links or special
    files are refused before anything is written.

    Raises :class:`ArtifactError` naming the file and the problem.
    """
    path = Path(path)
    if path.is_dir():
        root = path
    elif path.is_file():
        root = _find_root(_unpack(path, extract_to))
    else:
        raise ArtifactError(
            f"artifact {path} does not exist (expected a directory from `python -m sentiment_export export` "
            "or a .tar.gz/.zip made with --pack)"
        )
    manifest = _read_manifest(root)
    _check_format_version(root, manifest)
    _check_files(root, manifest)
    return Artifact(root, manifest)


def _read_manifest(root: Path) -> dict[str, Any]:
    manifest_path = root / MANIFEST_FILENAME
    if not manifest_path.is_file():
        raise ArtifactError(
            f"artifact {root} has no {MANIFEST_FILENAME}; is this an artifact directory? "
            "(export one with `python -m sentiment_export export --checkpoint CKPT`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(
            f"artifact {root}: {MANIFEST_FILENAME} is not valid JSON ({error}); the file is corrupted, re-export"
        ) from error
    if not isinstance(manifest, dict):
        raise ArtifactError(f"artifact {root}: {MANIFEST_FILENAME} must hold a JSON object")
    return manifest


def _check_format_version(root: Path, manifest: dict[str, Any]) -> None:
    found = manifest.get("format_version")
    if found == ARTIFACT_FORMAT_VERSION:
        return
    if isinstance(found, int) and found > ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"artifact {root} has format version {found}, newer than the version this sentiment_export "
            f"reads ({ARTIFACT_FORMAT_VERSION}); upgrade sentiment_export to load it"
        )
    raise ArtifactError(
        f"artifact {root} has format version {found!r}; this sentiment_export reads format version "
        f"{ARTIFACT_FORMAT_VERSION} only (re-export the artifact with this sentiment_export)"
    )


def _check_files(root: Path, manifest: dict[str, Any]) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"artifact {root}: {MANIFEST_FILENAME} has no 'files' table; re-export the artifact")
    listed_roles = {entry.get("role") for entry in files.values() if isinstance(entry, dict)}
    missing_roles = [role for role in ROLE_FILENAMES if role not in {"manifest", *OPTIONAL_ROLES} and role not in listed_roles]
    if missing_roles:
        raise ArtifactError(
            f"artifact {root}: {MANIFEST_FILENAME} lists no file for the roles {missing_roles}; re-export the artifact"
        )
    for name, entry in files.items():
        expected_name = ROLE_FILENAMES.get(entry.get("role")) if isinstance(entry, dict) else None
        if expected_name != name:
            raise ArtifactError(
                f"artifact {root}: {MANIFEST_FILENAME} lists {name!r} with role "
                f"{entry.get('role') if isinstance(entry, dict) else entry!r}, which is not a file of this format"
            )
        _check_file(root, name, entry)
    unlisted = sorted(
        child.name
        for child in root.iterdir()
        if child.name != MANIFEST_FILENAME and child.name not in files and not child.name.startswith(".")
    )
    if unlisted:
        raise ArtifactError(
            f"artifact {root} holds {unlisted}, not listed in {MANIFEST_FILENAME}; an artifact holds only "
            "its listed files (remove them, or re-export)"
        )


def _check_file(root: Path, name: str, entry: dict[str, Any]) -> None:
    path = root / name
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ArtifactError(f"artifact {root}: {name} is a link or not a regular file; artifacts hold plain files only")
    if not path.is_file():
        raise ArtifactError(
            f"artifact {root}: {name} ({entry['role']}) is missing; copy the whole artifact directory, or re-export"
        )
    size = path.stat().st_size
    if size != entry.get("size"):
        raise ArtifactError(
            f"artifact {root}: {name} has {size} bytes, the manifest says {entry.get('size')} "
            "(truncated or modified); copy the artifact again, or re-export"
        )
    digest = sha256_file(path)
    if digest != entry.get("sha256"):
        raise ArtifactError(
            f"artifact {root}: {name} has sha256 {digest}, the manifest says {entry.get('sha256')} "
            "(corrupted or tampered with); copy the artifact again, or re-export"
        )


def _find_root(unpacked: Path) -> Path:
    """The unpacked directory holding manifest.json: the top level or its single sub-directory."""
    if (unpacked / MANIFEST_FILENAME).exists():
        return unpacked
    children = list(unpacked.iterdir())
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    raise ArtifactError(
        f"archive unpacked into {unpacked} holds no {MANIFEST_FILENAME} at its top level or in a single "
        "top-level directory; pack artifacts with `python -m sentiment_export export --pack`"
    )


# --- packing and safe unpacking -------------------------------------------------------------


def pack_artifact(directory: str | os.PathLike[str], fmt: str) -> Path:
    """Pack an artifact directory into ``<directory>.tar.gz`` or ``.zip`` (one top-level folder).

    Written to a temporary name first and renamed, so a crash leaves no half archive.
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


def _unpack(archive: Path, extract_to: str | os.PathLike[str] | None) -> Path:
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
    try:
        with stream, open(destination, "xb") as handle:
            shutil.copyfileobj(stream, handle, _COPY_CHUNK)
    except FileExistsError as error:
        raise ArtifactError(f"archive {archive} has the member {relative} twice; refusing to unpack it") from error


def _unpack_tar(archive: Path, target: Path) -> None:
    """Check every member's name and type first, then write them (no tarfile.extractall)."""
    with tarfile.open(archive, "r:gz") as tar:
        checked = []
        for info in tar.getmembers():
            relative = _safe_member_path(archive, info.name)
            if not (info.isfile() or info.isdir()):
                _refuse_special(archive, info.name, info.issym() or info.islnk())
            checked.append((relative, info))
        _check_totals(archive, [info.size for _, info in checked])
        for relative, info in checked:
            _write_member(archive, target, relative, None if info.isdir() else tar.extractfile(info))


def _unpack_zip(archive: Path, target: Path) -> None:
    """Check every member's name and type (Unix mode in external_attr) first, then write them."""
    with zipfile.ZipFile(archive) as zipped:
        checked = []
        for info in zipped.infolist():
            relative = _safe_member_path(archive, info.filename)
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip records no Unix type
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                _refuse_special(archive, info.filename, file_type == stat.S_IFLNK)
            checked.append((relative, info))
        _check_totals(archive, [info.file_size for _, info in checked])
        for relative, info in checked:
            _write_member(archive, target, relative, None if info.is_dir() else zipped.open(info))

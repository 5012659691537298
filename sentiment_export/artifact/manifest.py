"""What an artifact's manifest.json records about where the artifact came from.

Validation of the name and semantic version, the software versions, the git
commit and the per-file table; :mod:`sentiment_export.export.build` assembles the
whole manifest from these.
"""

from __future__ import annotations

import platform
import re
import subprocess
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from ..fileio import sha256_file

# semver.org's recommended pattern (2.0.0), anchored.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_SOFTWARE = ("torch", "onnx", "onnxruntime", "onnxscript", "numpy", "safetensors", "nltk", "sentiment_export")


def validate_version(version: str) -> str:
    """``version`` if it is a semantic version (``MAJOR.MINOR.PATCH[-pre][+build]``), else ValueError."""
    if not isinstance(version, str) or not _SEMVER.match(version):
        raise ValueError(
            f"model version {version!r} is not a semantic version; expected MAJOR.MINOR.PATCH such as "
            "'1.0.0' or '1.2.0-rc.1' (see semver.org)"
        )
    return version


def validate_name(name: str) -> str:
    """``name`` if it is safe as a directory name (letters, digits, '.', '_', '-'; <= 64), else ValueError."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(
            f"artifact name {name!r} is not usable as a directory name; use 1-64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, such as 'sentiment-seed'"
        )
    return name


def utc_now() -> str:
    """Creation time as ISO 8601 UTC, to the second (``2026-11-28T16:20:14Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def software_versions() -> dict[str, str | None]:
    """Python and the installed versions of the packages that wrote (and must read) the artifact."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _SOFTWARE:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_state() -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout holding this package, or None outside git."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def file_table(directory: Path, roles: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``{file name: {"role", "sha256", "size"}}`` for ``roles`` (role -> file name) in ``directory``."""
    table = {}
    for role, name in sorted(roles.items(), key=lambda item: item[1]):
        path = directory / name
        table[name] = {"role": role, "sha256": sha256_file(path), "size": path.stat().st_size}
    return table

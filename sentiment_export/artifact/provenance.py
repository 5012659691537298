"""Where an artifact came from: its creation time, the software that wrote it and the git commit."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

_SOFTWARE = ("torch", "onnx", "onnxruntime", "onnxscript", "numpy", "safetensors", "nltk", "sentiment_export")
RUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu")
"""The pip distributions that install the ``onnxruntime`` module: the CPU build and the CUDA build."""
_DISTRIBUTIONS = {"onnxruntime": RUNTIME_DISTRIBUTIONS}
"""Packages more than one distribution installs: the module onnxruntime comes from the CPU or the CUDA build."""


def utc_now() -> str:
    """Creation time as ISO 8601 UTC, to the second (``2026-11-28T16:20:14Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def software_versions() -> dict[str, str | None]:
    """Python and the installed versions of the packages that wrote (and must read) the artifact."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _SOFTWARE:
        found = (distribution_version(name) for name in _DISTRIBUTIONS.get(package, (package,)))
        versions[package] = next((version for version in found if version is not None), None)
    return versions


def distribution_version(name: str) -> str | None:
    """The installed version of the pip distribution ``name``, or None when it is not installed."""
    try:
        return package_metadata.version(name)
    except package_metadata.PackageNotFoundError:
        return None


BUILD_COMMIT_FILE = Path(__file__).resolve().parents[1] / "build_commit.json"
"""Written into an installed (non-editable) package by its build (cpp_demo/CMakeLists.txt): the commit built."""


def git_state() -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` this package was built from (:data:`BUILD_COMMIT_FILE`), else that of the git
    checkout holding it; None when neither says (or the build record is unreadable)."""
    try:
        recorded = json.loads(BUILD_COMMIT_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _checkout_state()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    valid = (isinstance(recorded, dict) and set(recorded) == {"commit", "dirty"}
             and isinstance(recorded["commit"], str) and isinstance(recorded["dirty"], bool))
    return recorded if valid else None


def _checkout_state() -> dict[str, Any] | None:
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

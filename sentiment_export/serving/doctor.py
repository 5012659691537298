"""What this install has, on one screen: ``python -m sentiment_export doctor`` (``--json`` for machines).

Each fact is measured, not assumed: the execution provider is the one a real
session on a tiny ONNX model (``identity.onnx``, one Identity node) gets, and
the native encoder is the library that really loads. Versions come from the
installed distributions' metadata, so torch is never imported (this layer
never imports it: pyproject.toml's import-linter contracts).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..artifact.provenance import git_state, software_versions
from ..errors import ArtifactError, DeviceError
from ..text import native
from .providers import CUDA, create_session, cuda_in_build, installed_runtimes, ort, session_options

IDENTITY_MODEL = Path(__file__).with_name("identity.onnx")
REQUIREMENTS = ("native", "cuda")
_NVIDIA_SMI_TIMEOUT_S = 10


@dataclass
class Report:
    """The facts (``facts``, JSON-ready) and which of the asked requirements are missing (``missing``)."""

    facts: dict[str, Any]
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({**self.facts, "missing": self.missing}, indent=2)


def _session_on(device: str) -> dict[str, Any]:
    """The providers a session on ``device`` really gets, or the error that refused it."""
    try:
        session = create_session(IDENTITY_MODEL, device=device, options=session_options(intra_op_threads=1))
    except (DeviceError, ArtifactError) as error:
        return {"providers": None, "error": str(error)}
    return {"providers": session.get_providers(), "error": None}


def _onnxruntime() -> dict[str, Any]:
    sessions = {"auto": _session_on("auto")}
    if cuda_in_build():
        sessions["cuda"] = _session_on("cuda")
    return {
        "version": ort.__version__,
        "distributions": installed_runtimes(),
        "providers_available": ort.get_available_providers(),
        "session_gets": sessions["auto"]["providers"][0] if sessions["auto"]["providers"] else None,
        "sessions": sessions,
    }


def _native_encoder() -> dict[str, Any]:
    path = native.library_path()
    info = native.build_info()
    return {
        "built": info is not None,
        "path": str(path),
        "from": f"${native.ENV_VAR}" if native.configured_path() else "the package",
        "build_info": info,
    }


def _libtorch() -> dict[str, Any]:
    """The libtorch inside the torch wheel (what cpp_demo builds against), found without importing torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return {"found": False, "version": None, "cmake_prefix_path": None}
    prefix = Path(next(iter(spec.submodule_search_locations))) / "share" / "cmake"
    found = (prefix / "Torch" / "TorchConfig.cmake").is_file()
    return {
        "found": found,
        "version": importlib.metadata.version("torch") if found else None,
        "cmake_prefix_path": str(prefix) if found else None,
    }


def _gpus() -> list[dict[str, str]] | None:
    """``[{"name", "driver"}]`` from nvidia-smi, or None when there is no nvidia-smi (or it fails)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=_NVIDIA_SMI_TIMEOUT_S, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [dict(zip(("name", "driver"), (part.strip() for part in line.split(",", 1)))) for line in out.splitlines() if line.strip()]


def diagnose(require: tuple[str, ...] = ()) -> Report:
    """Everything :mod:`doctor <sentiment_export.serving.doctor>` shows, and which of ``require`` is missing.

    ``require``: any of :data:`REQUIREMENTS`; ``"native"`` is met when the
    native encoder library loads, ``"cuda"`` when a session really gets the
    CUDA provider. Raises ``ValueError`` for an unknown requirement.
    """
    unknown = [name for name in require if name not in REQUIREMENTS]
    if unknown:
        raise ValueError(f"unknown requirement {unknown[0]!r}: choose from {', '.join(REQUIREMENTS)}")
    versions = software_versions()
    runtime = _onnxruntime()
    facts = {
        "sentiment_export": {"version": versions["sentiment_export"], "git": git_state(), "location": str(Path(__file__).parents[1])},
        "python": {"version": versions["python"], "executable": sys.executable},
        "torch": versions["torch"],
        "onnx": versions["onnx"],
        "onnxruntime": runtime,
        "native_encoder": _native_encoder(),
        "libtorch": _libtorch(),
        "gpus": _gpus(),
    }
    cuda_session = runtime["sessions"].get("cuda", {}).get("providers") or []
    met = {"native": facts["native_encoder"]["built"], "cuda": CUDA in cuda_session}
    return Report(facts, [name for name in require if not met[name]])


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def format_report(report: Report) -> str:
    """The one-screen text form of a :class:`Report`."""
    facts = report.facts
    package, runtime, encoder, libtorch = facts["sentiment_export"], facts["onnxruntime"], facts["native_encoder"], facts["libtorch"]
    git = package["git"]
    commit = f"{git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else "unknown (no git checkout, no build record)"
    lines = [
        f"sentiment_export {package['version']}  commit {commit}  at {package['location']}",
        f"python           {facts['python']['version']}  ({facts['python']['executable']})",
        f"torch            {facts['torch']}    onnx {facts['onnx']}",
        f"onnxruntime      {runtime['version']}  from {', '.join(f'{n} {v}' for n, v in runtime['distributions'].items()) or 'no distribution metadata'}",
        f"  providers      {', '.join(runtime['providers_available'])}",
        f"  session gets   {runtime['session_gets'] or 'none: ' + str(runtime['sessions']['auto']['error'])}",
    ]
    if "cuda" in runtime["sessions"]:
        cuda = runtime["sessions"]["cuda"]
        lines.append(f"  device=cuda    {', '.join(cuda['providers']) if cuda['providers'] else cuda['error']}")
    if encoder["built"]:
        info = encoder["build_info"]
        lines.append(f"native encoder   yes: {encoder['path']} (from {encoder['from']})")
        lines.append(
            f"  ABI {info['abi']}, PCRE2 {info['pcre2']} (JIT {_yes_no(info['pcre2_jit'])}), "
            f"Unicode {info['unicode_version']}, ICU {info['icu']}"
        )
    else:
        lines.append(f"native encoder   no: nothing loads at {encoder['path']} (the Python encoder runs)")
    lines.append(
        f"libtorch (C++)   {'yes: ' + libtorch['version'] + ' at ' + libtorch['cmake_prefix_path'] if libtorch['found'] else 'no (install torch)'}"
    )
    gpus = facts["gpus"]
    lines.append("GPU              " + ("; ".join(f"{g['name']} (driver {g.get('driver', '?')})" for g in gpus) if gpus else "none (no nvidia-smi)"))
    if report.missing:
        lines.append(f"MISSING          {', '.join(report.missing)}")
    return "\n".join(lines)

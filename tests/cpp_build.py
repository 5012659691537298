"""Building cpp_demo/ for the tests: one CMake configure per session, each target built when first needed.

tests/conftest.py turns this into the session fixtures ``demo_build`` (the
sentiment_demo program, tests/test_cpp_demo.py) and ``native_library``
(libsentiment_encoder.so, tests/test_native_encoder.py); both come from the
same build directory, so the encoder sources compile once.

Without cmake, a compiler, PCRE2, ICU or nlohmann/json the tests that need a
build skip with the reason, except when the environment variable CI is set:
then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

CPP_DEMO = Path(__file__).resolve().parents[1] / "cpp_demo"

# (what, Debian package, how to check it is there)
_TOOLS = (("cmake", "cmake"), ("pkg-config", "pkg-config"))
_PKG_CONFIG_MODULES = (("libpcre2-8", "libpcre2-dev"), ("icu-uc", "libicu-dev"), ("nlohmann_json", "nlohmann-json3-dev"))


def ci_requested(environ: Mapping[str, str]) -> bool:
    """CI is set (CI=true, CI=1, ...); CI="", "0", "false" or "no" count as not set."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_prerequisites(
    which: Callable[[str], str | None] = shutil.which,
    has_module: Callable[[str], bool] | None = None,
) -> list[str]:
    """What the C++ build needs and does not find, each with the Debian package that brings it."""
    missing = [f"{tool} (apt-get install {package})" for tool, package in _TOOLS if which(tool) is None]
    if not any(which(compiler) for compiler in ("c++", "g++", "clang++")):
        missing.append("a C++17 compiler (apt-get install g++)")
    if has_module is None and which("pkg-config") is not None:

        def has_module(module: str) -> bool:
            return subprocess.run(["pkg-config", "--exists", module], check=False).returncode == 0

    if has_module is not None:
        missing += [f"{module} (apt-get install {package})" for module, package in _PKG_CONFIG_MODULES if not has_module(module)]
    return missing


def skip_or_fail(missing: Sequence[str], *, ci: bool, what: str = "build cpp_demo", needed_by: str = "the C++ parity test") -> None:
    """Skip with the reason when something is missing; under CI a missing prerequisite is a failure."""
    if not missing:
        return
    reason = f"cannot {what}, missing: " + "; ".join(missing)
    if ci:
        pytest.fail(reason + f" (CI is set, so {needed_by} must run; install .ci/apt-packages.txt)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class DemoBuild:
    binary: Path
    seconds: float  # configure + build of the demo target


@dataclass(frozen=True)
class NativeLibrary:
    path: Path
    seconds: float  # configure + build of the library target


class CppBuild:
    """cpp_demo configured (Release, against the installed torch's libtorch) in ``directory``."""

    def __init__(self, directory: Path) -> None:
        import torch

        skip_or_fail(missing_prerequisites(), ci=ci_requested(os.environ))
        self.directory = directory
        started = time.perf_counter()
        _check_call(["cmake", "-S", str(CPP_DEMO), "-B", str(directory), "-DCMAKE_BUILD_TYPE=Release",
                     f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}"])
        self.configure_seconds = time.perf_counter() - started

    def build(self, target: str) -> float:
        """Builds ``target`` (and what it needs, unless built already); returns the seconds it took."""
        started = time.perf_counter()
        _check_call(["cmake", "--build", str(self.directory), "--target", target, "-j", str(max(1, min(os.cpu_count() or 1, 4)))])
        return time.perf_counter() - started


def _check_call(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}", pytrace=False)

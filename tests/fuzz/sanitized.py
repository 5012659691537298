"""The encoder library built with AddressSanitizer and UBSan (cpp_demo -DSENTIMENT_SANITIZE=ON), and the
environment a Python process needs to load it.

An ASan library can be loaded only into a process whose first library is
the ASan runtime: the process is started with LD_PRELOAD of the compiler's
libasan.so (and libstdc++.so, which ASan must find at start-up). Python's own allocations are never freed at exit, so leak
detection is off; any other ASan report, and any UBSan report (the build
has -fno-sanitize-recover), ends the process with a nonzero status.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

CPP_DEMO = Path(__file__).resolve().parents[2] / "cpp_demo"
SANITIZER_REPORTS = ("AddressSanitizer:", "runtime error:", "LeakSanitizer:", "UndefinedBehaviorSanitizer:")
"""Lines that only a sanitizer prints: any of them in a process's output is a failure."""


def _compiler_file(name: str) -> Path | None:
    try:
        found = subprocess.run(["c++", f"-print-file-name={name}"], capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        return None
    path = Path(found)
    return path.resolve() if path.is_absolute() and path.exists() else None  # without it, c++ echoes the bare name


def asan_runtime() -> list[Path] | None:
    """What to preload: the C++ compiler's libasan.so, then its libstdc++.so (ASan must see the C++ runtime
    at start-up to intercept exceptions thrown in the library), or None when either is missing."""
    paths = [_compiler_file("libasan.so"), _compiler_file("libstdc++.so")]
    return None if None in paths else paths


def build_library(directory: Path, *, demo: bool = False, jobs: int = 2) -> Path:
    """Configures and builds the sanitized libsentiment_encoder.so (and sentiment_demo when ``demo``) in ``directory``.

    Raises RuntimeError with the build's output when CMake fails.
    """
    configure = ["cmake", "-S", str(CPP_DEMO), "-B", str(directory), "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DSENTIMENT_SANITIZE=ON",
                 f"-DSENTIMENT_BUILD_DEMO={'ON' if demo else 'OFF'}"]
    if demo:
        import torch

        configure.append(f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}")
    targets = ["sentiment_encoder", *(["sentiment_demo"] if demo else [])]
    for command in (configure, ["cmake", "--build", str(directory), "--target", *targets, "-j", str(jobs)]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return directory / "libsentiment_encoder.so"


def environment(base: Mapping[str, str], runtime: list[Path]) -> dict[str, str]:
    """``base`` with the ASan runtime (:func:`asan_runtime`) preloaded and the sanitizers set to stop at the first report."""
    preload = " ".join(filter(None, [*map(str, runtime), base.get("LD_PRELOAD", "")]))
    return {
        **base,
        "LD_PRELOAD": preload,
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:strict_string_checks=1:check_initialization_order=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "PYTHONMALLOC": "malloc",  # ASan sees every Python allocation, not pymalloc's arenas
    }


def sanitizer_report(output: str) -> str | None:
    """The first sanitizer line of a process's output, or None."""
    return next((line for line in output.splitlines() if any(marker in line for marker in SANITIZER_REPORTS)), None)

"""`pip wheel .` makes a wheel that works elsewhere: installed into a new venv it loads its own native encoder
(no environment variable, no checkout), which needs no libpcre2 / libicu / libstdc++ shared object and gives
the Python encoder's ids on the golden hard cases; the installed package knows the commit it was built from.

Bounded: the wheel is built without build isolation (scikit-build-core comes with the [test] extra) in a
persistent build directory (build/wheel-test, reused by the next run), and the new venv reuses this
environment's site-packages for numpy and friends instead of installing anything.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from cpp_build import ci_requested, missing_prerequisites, skip_or_fail

REPO = Path(__file__).resolve().parents[1]
GOLDEN_PATH = REPO / "tests" / "golden" / "hard_cases.jsonl"
BUILD_DIR = REPO / "build" / "wheel-test"
_LIBRARY_IN_WHEEL = "sentiment_export/text/libsentiment_encoder.so"

pytestmark = pytest.mark.slow

_CHECK = """
import json, sys
from pathlib import Path
import sentiment_export
from sentiment_export.artifact.provenance import git_state
from sentiment_export.text import native
from sentiment_export.text.encoder import TextEncoder
from sentiment_export.text.spec import PreprocessingSpec
from sentiment_export.text.vocabulary import Vocabulary

texts = [json.loads(line)["text"] for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()]
spec = PreprocessingSpec()
tokenizer = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python").tokenizer
vocabulary = Vocabulary.from_tokens(sorted({t for text in texts[::2] for t in tokenizer.tokenize(text)}), spec)
fast, reference = (TextEncoder(spec, vocabulary, backend=b) for b in ("native", "python"))
print(json.dumps({
    "package": sentiment_export.__file__, "library": str(native.library_path()), "backend": fast.backend,
    "texts": len(texts), "same_ids": fast.encode_ids_batch(texts) == reference.encode_ids_batch(texts),
    "git": git_state(),
}))
"""


def _needed(library: Path) -> list[str]:
    dynamic = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]


def test_wheel_installs_into_a_new_venv_and_runs_native(tmp_path: Path) -> None:
    missing = missing_prerequisites()
    if importlib.util.find_spec("scikit_build_core") is None:
        missing.append("scikit-build-core (pip install -e '.[test]')")
    if shutil.which("readelf") is None:
        missing.append("readelf (apt-get install binutils)")
    skip_or_fail(missing, ci=ci_requested(os.environ), what="build the wheel", needed_by="the wheel test")

    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         f"--config-settings=build-dir={BUILD_DIR}"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "SENTIMENT_EXPORT_REQUIRE_NATIVE": "1"},
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    (wheel,) = wheels.glob("*.whl")
    assert "-py3-none-linux_" in wheel.name, wheel.name  # one wheel for every Python 3: the library is loaded with ctypes

    with zipfile.ZipFile(wheel) as archive:
        archive.extract(_LIBRARY_IN_WHEEL, tmp_path / "unpacked")
    needed = _needed(tmp_path / "unpacked" / _LIBRARY_IN_WHEEL)
    assert not [name for name in needed if name.startswith(("libpcre2", "libicu", "libstdc++"))], needed

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    target = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr[-4000:]
    # numpy and the rest from this environment, after the venv's own site-packages (plain path lines: this
    # environment's .pth files, an editable install's among them, are not processed)
    dependencies = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    (target / "zz_test_dependencies.pth").write_text("\n".join(dict.fromkeys(dependencies)) + "\n")

    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "SENTIMENT_EXPORT_NATIVE_ENCODER")}
    checked = subprocess.run([str(python), "-c", _CHECK, str(GOLDEN_PATH)], capture_output=True, text=True,
                             timeout=300, cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-4000:]
    report = json.loads(checked.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(target), report
    assert report["library"] == str(target / _LIBRARY_IN_WHEEL) and report["backend"] == "native", report
    assert report["texts"] > 20 and report["same_ids"], report
    # the installed copy is no git checkout: the commit it was built from is recorded by the build
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=60)
    if head.returncode == 0:
        assert report["git"] is not None and report["git"]["commit"] == head.stdout.strip(), report

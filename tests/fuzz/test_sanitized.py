"""The encoder library under AddressSanitizer and UBSan: the corpus replayed and a short fuzzing run.

Builds libsentiment_encoder.so with -DSENTIMENT_SANITIZE=ON (about 30 s on an
idle 2-core box), then runs ``python -m tests.fuzz.run`` for a fixed number of
inputs: any sanitizer report, crash or difference fails the test. Skipped with
the reason without the toolchain or the ASan runtime; under CI that is a
failure, as for the other C++ tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_export.text import native

from cpp_build import ci_requested, missing_prerequisites, skip_or_fail
from tests.fuzz import sanitized

REPO = Path(__file__).resolve().parents[2]
FUZZ_RUNS = 200

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sanitized_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    runtime = sanitized.asan_runtime()
    missing = missing_prerequisites() + ([] if runtime else ["the ASan runtime libasan.so (apt-get install g++)"])
    skip_or_fail(missing, ci=ci_requested(os.environ), what="build the sanitized encoder library", needed_by="the sanitizer test")
    try:
        return sanitized.build_library(tmp_path_factory.mktemp("sanitized")), runtime
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


def test_corpus_and_fuzzed_inputs_pass_the_sanitizers(sanitized_library: tuple[Path, list[Path]], tmp_path: Path) -> None:
    library, _ = sanitized_library
    done = subprocess.run([sys.executable, "-m", "tests.fuzz.run", "--library", str(library), "--runs", str(FUZZ_RUNS), "--work", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["sanitized"] and summary["clean"] and summary["seed_inputs"] > 150 and summary["executions"] >= FUZZ_RUNS


def test_a_read_past_the_callers_buffer_is_reported(sanitized_library: tuple[Path, list[Path]]) -> None:
    """The sanitizers are live in that process: offsets past the end of the data stop it with ASan's report."""
    library, runtime = sanitized_library
    script = (
        "import ctypes, numpy as np\n"
        "from sentiment_export import PreprocessingSpec\n"
        "from sentiment_export.text import native\n"
        f"lib = native._load_library({str(library)!r})\n"
        "spec = PreprocessingSpec().to_json().encode()\n"
        "error = ctypes.create_string_buffer(256)\n"
        "handle = lib.se_encoder_create(spec, len(spec), b'_PAD\\n_UNK\\n', 10, 1, error, 256)\n"
        "data = ctypes.create_string_buffer(b'short', 5)\n"
        "offsets = np.array([0, 4096], dtype=np.uint64)\n"
        "ids, lengths, failed = np.empty(200, dtype=np.int64), np.empty(1, dtype=np.int64), np.zeros(1, dtype=np.uint8)\n"
        "lib.se_encoder_encode_batch(handle, data, offsets.ctypes.data, 1, ids.ctypes.data, 200, lengths.ctypes.data, failed.ctypes.data, error, 256)\n"
    )
    environment = sanitized.environment({**os.environ, native.ENV_VAR: str(library)}, runtime)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert "heap-buffer-overflow" in (sanitized.sanitizer_report(done.stderr) or "") + done.stderr

"""`sentiment-export doctor`: what the install has, measured; `--require` turns a missing piece into exit 1.
Also the onnxruntime distribution checks doctor and SentimentModel share (serving/providers.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_export.cli.main import main
from sentiment_export.serving import doctor, providers
from sentiment_export.text import native

from cpp_build import ci_requested

REPO = Path(__file__).resolve().parents[1]


def test_identity_model_is_the_one_onnx_builds() -> None:
    """The 88-byte model doctor opens a session on is exactly this graph (rebuild it with this code)."""
    import onnx
    from onnx import TensorProto, helper

    tensor = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1])  # noqa: E731
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "doctor", [tensor("x")], [tensor("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="sentiment_export")
    assert doctor.IDENTITY_MODEL.read_bytes() == model.SerializeToString()


def test_json_report_says_what_a_session_gets(capsys: pytest.CaptureFixture) -> None:
    assert main(["doctor", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    runtime = facts["onnxruntime"]
    assert runtime["session_gets"] == runtime["sessions"]["auto"]["providers"][0]
    assert runtime["session_gets"] in runtime["providers_available"]
    assert set(runtime["distributions"]) <= set(providers.RUNTIME_DISTRIBUTIONS) and runtime["distributions"]
    assert facts["python"]["executable"] == sys.executable and facts["missing"] == []
    assert facts["libtorch"]["found"] and facts["libtorch"]["version"] == facts["torch"]


def test_native_is_reported_with_its_build_info(capsys: pytest.CaptureFixture) -> None:
    """Under CI the package build must have built the library (SENTIMENT_EXPORT_REQUIRE_NATIVE): doctor says native."""
    if os.environ.get(native.ENV_VAR) is None and not native.DEFAULT_LIBRARY.is_file() and not ci_requested(os.environ):
        pytest.skip(f"no native encoder library installed at {native.DEFAULT_LIBRARY} (the package build did not build it)")
    assert main(["doctor", "--require", "native"]) == 0
    out = capsys.readouterr().out
    assert "native encoder   yes:" in out and "JIT" in out and "Unicode" in out


def test_require_native_without_the_library_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv(native.ENV_VAR, raising=False)
    monkeypatch.setattr(native, "DEFAULT_LIBRARY", tmp_path / "absent.so")
    assert main(["doctor", "--require", "native"]) == 1
    out = capsys.readouterr().out
    assert "native encoder   no:" in out and "MISSING          native" in out


def test_require_cuda_without_a_cuda_session_exits_1(capsys: pytest.CaptureFixture) -> None:
    if providers.cuda_in_build() and providers.nvidia_driver_present():
        pytest.skip("a CUDA provider may really start here")
    assert main(["doctor", "--json", "--require", "cuda"]) == 1
    assert json.loads(capsys.readouterr().out)["missing"] == ["cuda"]


def test_unknown_requirement_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--require", "tpu"])
    assert exited.value.code == 2 and "invalid choice: 'tpu'" in capsys.readouterr().err


def test_module_form_prints_one_screen() -> None:
    """`python -m sentiment_export doctor` in its own process: the text report fits one screen."""
    result = subprocess.run([sys.executable, "-m", "sentiment_export", "doctor"], capture_output=True, text=True,
                            timeout=120, cwd=REPO, check=True)
    assert result.stdout.startswith("sentiment_export ") and len(result.stdout.splitlines()) <= 24


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly() -> None:
    """`doctor | head -1`: the closed pipe is no traceback, and the status says what happened."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        result = subprocess.run([sys.executable, "-m", "sentiment_export", "doctor"], stdout=write, stderr=subprocess.PIPE,
                                text=True, timeout=120, cwd=REPO, check=False)
    finally:
        os.close(write)
    assert result.returncode == 141 and result.stderr == ""


def test_both_runtimes_installed_warns_once_with_the_fix(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(providers, "installed_runtimes", lambda: {"onnxruntime": "1.32.0", "onnxruntime-gpu": "1.31.1"})
    providers.warn_if_both_runtimes.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="sentiment_export.serving.providers"):
            for _ in range(3):
                providers.create_session(doctor.IDENTITY_MODEL, device="cpu", options=providers.session_options())
    finally:
        providers.warn_if_both_runtimes.cache_clear()
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "pip uninstall -y onnxruntime onnxruntime-gpu" in warnings[0]


def test_one_runtime_installed_says_nothing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(providers, "installed_runtimes", lambda: {"onnxruntime": "1.32.0"})
    providers.warn_if_both_runtimes.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="sentiment_export.serving.providers"):
            providers.create_session(doctor.IDENTITY_MODEL, device="cpu", options=providers.session_options())
    finally:
        providers.warn_if_both_runtimes.cache_clear()
    assert caplog.records == []

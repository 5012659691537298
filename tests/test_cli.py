"""``python -m sentiment_export``: export, info and verify, with their exit codes."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from sentiment_export import load_artifact
from sentiment_export.cli.main import build_parser, main
from sentiment_export.artifact.manifest import file_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small LSTMs on a shared 2-core box


@pytest.fixture
def artifact_copy(exported_artifact: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported_artifact, tmp_path / exported_artifact.name))


def test_info_prints_the_manifest_readably(exported_artifact: Path, capsys) -> None:
    assert main(["info", str(exported_artifact)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny 1.0.0  (artifact format 1)")
    for fragment in ("signature:     inputs input_ids int64 (batch, sequence)", "opset 17", "fp32 accuracy", "model.int8.onnx"):
        assert fragment in out


def test_info_json_is_the_manifest(exported_artifact: Path, capsys) -> None:
    assert main(["info", "--json", str(exported_artifact)]) == 0
    assert json.loads(capsys.readouterr().out) == load_artifact(exported_artifact).manifest.to_dict()


def test_verify_passes_on_a_good_artifact(exported_artifact: Path, capsys) -> None:
    assert main(["verify", "--torch-threads", "1", str(exported_artifact)]) == 0
    out = capsys.readouterr().out
    assert "checksums ok" in out and "parity passed" in out and out.rstrip().endswith("verify: OK")


def test_verify_fails_on_a_tampered_file(artifact_copy: Path, capsys) -> None:
    path = artifact_copy / "model.int8.onnx"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert main(["verify", str(artifact_copy)]) == 1
    assert "error: " in (err := capsys.readouterr().err) and "model.int8.onnx has sha256" in err


def test_verify_fails_when_a_model_disagrees_even_with_consistent_checksums(artifact_copy: Path, capsys) -> None:
    path = artifact_copy / "model.onnx"
    model = onnx.load(str(path))
    bias = next(init for init in model.graph.initializer if init.name.endswith("fc.bias"))
    bias.raw_data = (onnx.numpy_helper.to_array(bias) + 0.05).astype("float32").tobytes()
    onnx.save(model, str(path))
    manifest = json.loads((artifact_copy / "manifest.json").read_text(encoding="utf-8"))
    roles = {name: entry["role"] for name, entry in manifest["files"].items()}
    table = file_table(artifact_copy, {role: name for name, role in roles.items()})
    manifest["files"] = {name: dataclasses.asdict(entry) for name, entry in table.items()}
    (artifact_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["verify", str(artifact_copy)]) == 1
    out = capsys.readouterr().out
    assert "onnx (fp32): max abs diff" in out and "-> FAIL" in out and out.rstrip().endswith("verify: FAILED (the exported models disagree with eager PyTorch)")


def test_export_force_pack_and_run_curves(small_checkpoint: Path, small_test_file: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    checkpoint = Path(shutil.copy(small_checkpoint, run / "checkpoint.pt"))
    (run / "history.json").write_text('[{"step": 1, "train_loss": 0.7, "val_loss": 0.7, "val_accuracy": 0.5}]\n')
    (run / "curves.png").write_bytes(b"\x89PNG from training")
    stale = tmp_path / "out" / "cli-2.1.0"
    stale.mkdir(parents=True)
    (stale / "old-file").write_text("old")
    argv = ["export", "--checkpoint", str(checkpoint), "--artifacts-dir", str(tmp_path / "out"), "--artifact-name", "cli", "--artifact-version", "2.1.0"]
    argv += ["--test-file", str(small_test_file), "--pack", "zip", "--no-pt2"]
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err and (stale / "old-file").exists()

    assert main([*argv, "--overwrite-artifact"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == str(stale) and out[-2] == f"archive: {stale}.zip" and out[0].startswith("exported cli 2.1.0 in ")
    assert not (stale / "old-file").exists()
    artifact = load_artifact(stale)
    assert artifact.file("curves_data").read_text() == (run / "history.json").read_text()
    assert artifact.file("curves_plot").read_bytes() == b"\x89PNG from training"
    assert artifact.manifest.to_dict()["metrics"]["test"]["examples"] == 300
    assert load_artifact(f"{stale}.zip").manifest.to_dict() == artifact.manifest.to_dict()
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["cli-2.1.0", "cli-2.1.0.zip"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--artifact-version", "2"], r"model version '2' is not a semantic version"),
        (["--artifact-name", "../x"], r"artifact name '\.\./x' is not usable as a directory name"),
        (["--checkpoint", "missing.pt"], r"checkpoint missing\.pt does not exist"),
    ],
)
def test_export_input_errors_are_one_line_and_exit_2(small_checkpoint: Path, tmp_path: Path, capsys, extra, message) -> None:
    argv = ["export", "--checkpoint", str(small_checkpoint), "--artifacts-dir", str(tmp_path), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err)


def test_out_of_range_threads_are_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--checkpoint", "x.pt", "--torch-threads", "0"])
    assert exit_info.value.code == 2 and "--torch-threads: must be between 1 and 256, got 0" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export"])
    assert exit_info.value.code == 2 and "--checkpoint" in capsys.readouterr().err


def test_predict_is_a_subcommand() -> None:
    assert build_parser().parse_args(["predict", "--artifact", "a", "good"]).command == "predict"


def test_python_dash_m_entry_point(exported_artifact: Path, tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "sentiment_export", "info", str(exported_artifact)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("tiny 1.0.0")
    missing = subprocess.run([sys.executable, "-m", "sentiment_export", "verify", str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr.startswith("error: artifact ") and "does not exist" in missing.stderr


def test_info_describes_a_manifest_whose_model_config_has_only_the_required_keys(exported_artifact: Path) -> None:
    """The schema requires only vocab_size of the config: what loads, ``info`` describes (no KeyError)."""
    from sentiment_export.artifact.describe import describe_manifest

    manifest = load_artifact(exported_artifact).manifest
    bare = dataclasses.replace(manifest, model=dataclasses.replace(manifest.model, config={"vocab_size": 9}),
                               training={}, training_metrics={}, parity=None)
    text = describe_manifest(bare)
    assert "SentimentNet (its config lacks embedding_dim, num_layers, hidden_dim; it has vocab_size)" in text
    assert "preset n/a" in text and "parity:" not in text
    two_branch = dataclasses.replace(manifest.model, config={"vocab_size": 9, "embedding_dim": 4, "num_layers": 1, "hidden_dim": 4, "ngram_dim": 2})
    assert "n/a hashed bigram buckets" in describe_manifest(dataclasses.replace(manifest, model=two_branch))

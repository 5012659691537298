"""Export: TorchScript + ONNX + int8, the parity gate, and the artifact it writes (or does not)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from sentiment_export import (
    ArtifactError,
    ParityError,
    ProbabilityModel,
    SentimentNet,
    SentimentNetConfig,
    check_parity,
    export_artifact,
    load_artifact,
    load_checkpoint,
)
from sentiment_export.text.spec import SPEC_VERSION
from sentiment_export.artifact import signature
from sentiment_export.export import build as build_module
from sentiment_export.export import exporters as export_module
from sentiment_export import artifact_model_config, load_eager_model
from sentiment_export.export.parity import (
    eager_runner,
    onnx_runner,
    read_verification_texts,
    select_verification_texts,
    torchscript_runner,
)

ROLES = ("torchscript", "onnx", "onnx_int8", "weights", "spec", "vocab", "manifest", "model_card", "curves_data", "curves_plot")

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small LSTMs on a shared 2-core box


@pytest.fixture(scope="module")
def artifact(exported_artifact: Path):
    return load_artifact(exported_artifact)


@pytest.fixture(scope="module")
def verification_texts(artifact) -> list[str]:
    return read_verification_texts(artifact.file("verification"))


def _files(artifact) -> dict[str, Path]:
    return {"torchscript": artifact.file("torchscript"), "onnx": artifact.file("onnx"), "onnx_int8": artifact.file("onnx_int8")}


# --- what a good export writes -----------------------------------------------------------------


def test_artifact_holds_every_file_with_checksums(artifact) -> None:
    assert artifact.root.name == "tiny-1.0.0"
    listed = artifact.manifest.to_dict()["files"]
    for role in ROLES:
        assert artifact.file(role).stat().st_size > 0
        if role != "manifest":
            entry = listed[artifact.file(role).name]
            assert entry["role"] == role
            assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) and entry["size"] == artifact.file(role).stat().st_size


def test_manifest_records_origin_signature_data_and_metrics(artifact, small_checkpoint: Path) -> None:
    manifest = artifact.manifest.to_dict()
    assert manifest["format_version"] == 1 and manifest["name"] == "tiny" and manifest["version"] == "1.0.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_utc"])
    assert manifest["git"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git"]["commit"])
    assert {"python", "torch", "onnx", "onnxruntime", "nltk"} <= set(manifest["software"])
    assert manifest["software"]["torch"] == torch.__version__
    assert manifest["signature"] == json.loads(json.dumps(signature.as_manifest()))
    assert manifest["onnx"]["opset"] == 17 and "dynamo=False" in manifest["onnx"]["exporter"]
    assert manifest["preprocessing"]["spec_version"] == SPEC_VERSION
    assert manifest["model"]["config"]["hidden_dim"] == 16
    training = manifest["training"]
    assert training["preset"] == "tiny-test" and training["hyperparameters"]["batch_size"] == 32
    assert training["data"]["train"]["examples"] == 10446 and training["data"]["train"]["malformed"] == {}
    assert "history" not in training  # it is in curves.json
    test = manifest["metrics"]["test"]
    assert test["examples"] == 2611 and test["file"] == "test.ft.txt.bz2"
    assert 0.6 < test["fp32"]["accuracy"] <= 1 and 0.6 < test["int8"]["accuracy"] <= 1
    assert test["int8_accuracy_delta"] == pytest.approx(test["int8"]["accuracy"] - test["fp32"]["accuracy"])
    assert test["int8_label_agreement"] >= 0.99
    parity = manifest["metrics"]["parity"]
    assert parity["passed"] and parity["batch_sizes"] == [1, 7, 64]
    assert parity["backends"]["torchscript"]["max_abs_diff"] <= 1e-5
    assert parity["backends"]["onnx"]["max_abs_diff"] <= 1e-5
    assert parity["backends"]["onnx_int8"]["decisive_label_agreement"] >= 0.99
    assert parity["backends"]["onnx_int8"]["max_abs_diff"] <= parity["int8_atol"]
    assert manifest["export"]["seconds"] > 0
    history = json.loads(artifact.file("curves_data").read_text(encoding="utf-8"))
    assert history and history == load_checkpoint(small_checkpoint).metadata["history"]
    assert artifact.file("curves_plot").read_bytes().startswith(b"\x89PNG")


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_file_alone_carries_spec_vocab_and_manifest(artifact) -> None:
    extra = {name: "" for name in signature.TORCHSCRIPT_EXTRA_FILES}
    torch.jit.load(str(artifact.file("torchscript")), map_location="cpu", _extra_files=extra)  # fills in bytes
    assert extra["spec.json"] == artifact.file("spec").read_bytes()
    assert extra["vocab.txt"] == artifact.file("vocab").read_bytes()
    embedded = json.loads(extra["manifest.json"])
    assert (embedded["name"], embedded["version"], embedded["signature"]) == ("tiny", "1.0.0", artifact.manifest.to_dict()["signature"])
    assert "files" not in embedded  # a file cannot hold its own checksum


@pytest.mark.parametrize("role", ["onnx", "onnx_int8"])
def test_onnx_models_have_named_dynamic_axes_metadata_and_pass_the_checker(artifact, role: str) -> None:
    model = onnx.load(str(artifact.file(role)))
    onnx.checker.check_model(model)
    assert {prop.key: prop.value for prop in model.metadata_props}.items() >= {"name": "tiny", "version": "1.0.0"}.items()
    assert next(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) == 17
    dims = {value.name: [d.dim_param for d in value.type.tensor_type.shape.dim] for value in (*model.graph.input, *model.graph.output)}
    assert dims == {"input_ids": ["batch", "sequence"], "probability": ["batch"]}


def test_model_card_tells_a_person_what_and_how(artifact) -> None:
    card = artifact.file("model_card").read_text(encoding="utf-8")
    for heading in ("# Model card: tiny 1.0.0", "## Data", "## Metrics", "## Intended use", "## Limitations", "## How to load it"):
        assert heading in card
    assert "SentimentModel.load" in card and "torch::jit::load" in card
    assert f"{artifact.manifest.to_dict()['metrics']['test']['int8']['accuracy']:.2%}" in card


# --- the exported files at shapes other than the trace example's (3, 11) -------------------------


def _random_ids(batch: int, width: int, vocab_size: int, seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    ids = generator.integers(2, vocab_size, size=(batch, width), dtype=np.int64)
    lengths = generator.integers(1, width + 1, size=batch)
    lengths[0] = width  # at least one full row
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    return ids


@pytest.mark.parametrize(
    ("batch", "width"),
    [(1, 1), (1, 250), (2, 200), (5, 37), (64, 3), (129, 230)],
    ids=["one-token", "one-longer-than-max_length", "max_length", "odd", "large-short", "large-longer-than-max_length"],
)
def test_exported_fp32_models_match_eager_pytorch_at_other_shapes(artifact, batch: int, width: int) -> None:
    ids = _random_ids(batch, width, artifact_model_config(artifact).vocab_size, seed=batch * 1000 + width)
    expected = eager_runner(load_eager_model(artifact))(ids)
    for got in (torchscript_runner(artifact.file("torchscript"))(ids), onnx_runner(artifact.file("onnx"))[0](ids)):
        assert got.shape == (batch,) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bidirectional": True},
        {"bidirectional": True, "pooling": "mean_max"},
        {"pooling": "mean_max", "num_layers": 1},
        {"bidirectional": True, "pooling": "mean_max", "recurrent_steps": 20, "ngram_dim": 3, "ngram_buckets": 97},
        {"bidirectional": True, "pooling": "mean_max", "num_layers": 2},
    ],
    ids=["article", "bidirectional-last", "bidirectional-mean_max", "mean_max", "bag-of-ngrams", "bidirectional-2-layers"],
)
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_every_architecture_exports_with_dynamic_shapes(tmp_path: Path, options: dict) -> None:
    torch.manual_seed(0)
    model = SentimentNet(SentimentNetConfig(vocab_size=50, embedding_dim=8, hidden_dim=8, **options)).eval()
    extra = {name: "{}" for name in signature.TORCHSCRIPT_EXTRA_FILES}
    torchscript = export_module.export_torchscript(model, tmp_path / "m.pt", extra_files=extra)
    # a device the trace recorded as a constant would pin model.pt to the CPU it was traced on
    graph = str(torch.jit.load(str(torchscript), map_location="cpu").inlined_graph)
    assert "Device = prim::Constant" not in graph
    runners = [torchscript_runner(torchscript), onnx_runner(export_module.export_onnx(model, tmp_path / "m.onnx"))[0]]
    for batch, width in [(1, 1), (5, 37), (64, 230)]:
        ids = _random_ids(batch, width, 50, seed=width)
        expected = eager_runner(model)(ids)
        for run in runners:
            np.testing.assert_allclose(run(ids), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_a_bidirectional_layer_is_one_onnx_lstm_reading_each_rows_length(tmp_path: Path, num_layers: int) -> None:
    # eager runs two LSTMs and reverses within lengths; the graph gets ONNX's own op, with sequence_lens
    torch.manual_seed(0)
    config = SentimentNetConfig(
        vocab_size=50, embedding_dim=8, hidden_dim=8, num_layers=num_layers, bidirectional=True, pooling="mean_max"
    )
    graph = onnx.load(str(export_module.export_onnx(SentimentNet(config).eval(), tmp_path / "m.onnx"))).graph
    lstms = [node for node in graph.node if node.op_type == "LSTM"]
    assert len(lstms) == num_layers
    for node in lstms:
        attributes = {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}
        assert attributes["direction"] == b"bidirectional"
        assert node.input[4], "no sequence_lens: the reverse direction would start at the padding"
    assert not [node for node in graph.node if node.op_type == "GatherElements"]  # no reversing within lengths


# --- the gate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_sizes", [(1,), (3,), (203,), (1, 9, 64)], ids=["one", "odd", "all", "mixed"])
def test_gate_passes_at_each_batch_size_including_texts_past_max_length(artifact, verification_texts, batch_sizes) -> None:
    encoder = artifact.encoder()
    assert "" in verification_texts
    assert any(len(encoder.tokenize(text)) > encoder.spec.max_length for text in verification_texts)
    report = check_parity(load_eager_model(artifact), encoder, verification_texts, batch_sizes=batch_sizes, **_files(artifact))
    assert report.passed, report.describe()
    widths = [shape[1] for shape in report.shapes]
    assert min(widths) >= 1 and encoder.spec.max_length in widths and max(widths) > encoder.spec.max_length
    assert {min(size, len(verification_texts)) for size in batch_sizes} <= {shape[0] for shape in report.shapes}
    assert report.backends["onnx_int8"].texts == len(verification_texts)


def test_non_finite_eager_scores_fail_the_gate_naming_the_text(artifact, verification_texts) -> None:
    """NaN compares false with every tolerance: the gate must fail on it, not pass it."""
    poisoned = copy.deepcopy(load_eager_model(artifact))
    with torch.no_grad():
        poisoned.fc.bias.fill_(float("nan"))
    report = check_parity(poisoned, artifact.encoder(), verification_texts[:10], batch_sizes=(1, 5), **_files(artifact))
    assert not report.passed
    for name in ("torchscript", "onnx", "onnx_int8"):
        assert any(re.match(r"\d+ scores are not finite \(NaN or inf\): text \d+ \(batch size \d+\): eager nan", failure)
                   for failure in report.backends[name].failures), report.backends[name].failures


def test_gate_reports_int8_label_disagreements_with_worst_cases(artifact, verification_texts, tmp_path: Path) -> None:
    shifted = copy.deepcopy(load_eager_model(artifact))
    with torch.no_grad():
        shifted.fc.bias += 0.5  # flips the texts whose logit lies within 0.5 of the boundary
    with export_module._known_exporter_warnings():
        onnx_path = export_module.export_onnx(shifted, tmp_path / "shifted.onnx")
    int8_path = export_module.quantize_onnx(onnx_path, tmp_path / "shifted.int8.onnx")
    files = {**_files(artifact), "onnx_int8": int8_path}
    report = check_parity(
        load_eager_model(artifact), artifact.encoder(), verification_texts, int8_min_label_agreement=1.0, **files
    )
    assert not report.passed
    assert report.backends["torchscript"].passed and report.backends["onnx"].passed
    int8 = report.backends["onnx_int8"]
    assert int8.worst and all((case["eager"] >= 0.5) != (case["exported"] >= 0.5) for case in int8.worst)
    with pytest.raises(ParityError, match=r"(?s)onnx_int8 \(int8\).*label agreement \d+\.\d\d% < 100%.*text \d+ \(batch size \d+\): eager"):
        report.raise_for_failures()


def test_gate_catches_an_onnx_export_with_frozen_shapes(artifact, verification_texts, tmp_path: Path) -> None:
    frozen = tmp_path / "frozen.onnx"
    with export_module._known_exporter_warnings():
        torch.onnx.export(  # no dynamic_axes: batch and sequence frozen at the example's (3, 11)
            ProbabilityModel(load_eager_model(artifact)).eval(),
            (export_module._trace_example(artifact_model_config(artifact).vocab_size),),
            str(frozen),
            dynamo=False,
            opset_version=17,
            input_names=signature.input_names(),
            output_names=signature.output_names(),
        )
    files = _files(artifact) | {"onnx": frozen}
    report = check_parity(load_eager_model(artifact), artifact.encoder(), verification_texts[:20], batch_sizes=(1, 5), **files)
    failures = report.backends["onnx"].failures
    assert any("fixed dimensions [3, 11]" in failure for failure in failures)
    assert any(re.search(r"fails on input shape \[1, \d+\]: ", failure) for failure in failures)
    assert report.backends["torchscript"].passed


def _perturbed_onnx(model: SentimentNet, path: Path, **options) -> Path:
    """export_onnx, but of a copy whose output bias is off by 0.05: the kind of bug the gate is for."""
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.fc.bias += 0.05
    return ORIGINAL_EXPORT_ONNX(broken, path, **options)


ORIGINAL_EXPORT_ONNX = export_module.export_onnx


def _dropout_on(model: SentimentNet) -> ProbabilityModel:
    """The trap: tracing in train mode keeps dropout in the TorchScript graph."""
    return ProbabilityModel(copy.deepcopy(model)).train()


@pytest.mark.parametrize(
    ("module", "attribute", "replacement", "message"),
    [
        (build_module, "export_onnx", _perturbed_onnx, r"(?s)onnx \(fp32\): max abs diff .* -> FAIL.*max abs diff \S+ > tolerance 1e-05"),
        (export_module, "_probability_model", _dropout_on, r"(?s)torchscript \(fp32\): max abs diff .* -> FAIL.*text \d+ \(batch size"),
    ],
    ids=["onnx-weights-differ", "torchscript-dropout-left-on"],
)
def test_broken_export_fails_the_gate_and_writes_nothing(
    small_checkpoint: Path, small_test_file: Path, tmp_path: Path, monkeypatch, module, attribute, replacement, message
) -> None:
    monkeypatch.setattr(module, attribute, replacement)
    out = tmp_path / "artifacts"
    with pytest.raises(ParityError, match=message):
        export_artifact(small_checkpoint, out_dir=out, name="broken", test_file=small_test_file, pack="zip", pt2=False)
    assert list(out.iterdir()) == []  # no artifact, no archive, no half-built temp directory


# --- refusals before any work ------------------------------------------------------------------


def test_existing_version_is_never_overwritten_without_force(exported_artifact: Path, small_checkpoint: Path) -> None:
    before = (exported_artifact / "manifest.json").read_bytes()
    with pytest.raises(ArtifactError, match=r"tiny-1\.0\.0 already exists; .* pass a new --artifact-version, or --overwrite-artifact"):
        export_artifact(small_checkpoint, out_dir=exported_artifact.parent, name="tiny", version="1.0.0")
    assert (exported_artifact / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0-", ""])
def test_version_must_be_semantic(small_checkpoint: Path, tmp_path: Path, version: str) -> None:
    with pytest.raises(ValueError, match=r"is not a semantic version; expected MAJOR\.MINOR\.PATCH"):
        export_artifact(small_checkpoint, out_dir=tmp_path, version=version)


@pytest.mark.parametrize("name", ["../up", "a b", ".hidden", "x" * 65])
def test_name_must_be_a_safe_directory_name(small_checkpoint: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"is not usable as a directory name"):
        export_artifact(small_checkpoint, out_dir=tmp_path, name=name)


def test_missing_test_file_is_named(small_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"test file .*nope\.txt .* does not exist; pass test_file="):
        export_artifact(small_checkpoint, out_dir=tmp_path, test_file=tmp_path / "nope.txt")
    assert list(tmp_path.iterdir()) == []


def test_torchscript_export_takes_exactly_the_declared_extra_files(tmp_path: Path) -> None:
    model = SentimentNet(SentimentNetConfig(vocab_size=10, embedding_dim=4, hidden_dim=4, num_layers=1))
    with pytest.raises(ValueError, match=r"extra_files must be exactly \['spec\.json', 'vocab\.txt', 'manifest\.json'\]"):
        export_module.export_torchscript(model, tmp_path / "m.pt", extra_files={"spec.json": "{}"})


def test_exporters_leave_the_callers_model_as_it_was(tmp_path: Path) -> None:
    model = SentimentNet(SentimentNetConfig(vocab_size=10, embedding_dim=4, hidden_dim=4, num_layers=1)).train()
    export_module.export_onnx(model, tmp_path / "m.onnx")
    assert model.training


def test_verification_texts_mix_lengths_and_add_the_edge_cases(artifact) -> None:
    encoder = artifact.encoder()
    texts = select_verification_texts(["  ", "a b c", "fine"] * 3, encoder, count=4)
    assert len(texts) == 4 + 3 and "" in texts and "good" in texts
    assert max(len(encoder.tokenize(text)) for text in texts) > encoder.spec.max_length
    assert max(len(encoder.tokenize(text)) for text in select_verification_texts(["   "], encoder)) > encoder.spec.max_length


@pytest.mark.parametrize(
    ("exported", "passes"),
    [
        ([0.49, 0.90, 0.10], True),  # a flip of a score within int8_atol of 0.5 is within the tolerance
        ([0.51, 0.80, 0.10], False),  # no flip, but a score moved by more than int8_atol
        ([0.51, 0.90, 0.55], False),  # a decisive score (0.10) flipped
    ],
)
def test_int8_gate_bounds_the_score_and_counts_only_decisive_flips(exported: list[float], passes: bool) -> None:
    from sentiment_export.export.parity import BackendReport, _compare

    eager = np.array([0.51, 0.90, 0.10], dtype=np.float32)
    report = BackendReport("onnx_int8", "int8")
    batches = [(3, [0, 1, 2], np.zeros((3, 4), dtype=np.int64))]
    _compare(report, lambda ids: np.array(exported, dtype=np.float32), batches, [eager],
             fp32_atol=1e-5, int8_atol=0.05, int8_min_label_agreement=0.99)
    assert report.passed is passes, report.failures

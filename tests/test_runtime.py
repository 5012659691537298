"""SentimentModel: same scores as eager PyTorch, whatever the batching; honest devices; clear input errors."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from sentiment_export import ArtifactError, DeviceError, Prediction, SentimentModel
from sentiment_export import load_eager_model
from sentiment_export.serving import providers as providers_module
from sentiment_export.serving.runtime import PADDED_IDS_PER_TEXT
from sentiment_export.data.amazon import read_reviews

REPO = Path(__file__).resolve().parents[1]
SNIPPETS_TEST = REPO / "training" / "default_data" / "test.ft.txt.bz2"
IMDB_TEST = REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2"
IMDB_LIMIT = 250  # long reviews: enough for the parity claim, small enough for a 2-core CI box
FP32_ATOL = 1e-5


# --- helpers -------------------------------------------------------------------------------------


@torch.no_grad()
def eager_scores(model: SentimentModel, texts: list[str]) -> np.ndarray:
    """Reference: eager PyTorch on the artifact's own weights, one text at a time, no padding."""
    net = load_eager_model(model.artifact)
    encoder = model.artifact.encoder()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one tiny row at a time: extra threads only add overhead (benchmarks/README.md)
    try:
        return np.array(
            [torch.sigmoid(net(torch.from_numpy(encoder.pad([encoder.encode_ids(text)])))).item() for text in texts],
            dtype=np.float64,
        )
    finally:
        torch.set_num_threads(threads)


def mixed_length_texts(texts: list[str]) -> list[str]:
    """Real texts plus the edge lengths: empty, whitespace, one word, past max_length, in mixed order."""
    longest = " ".join(texts[:60])  # far more than max_length tokens
    extra = ["", "   \t\n", "great", "awful!", longest, longest[: len(longest) // 3]]
    mixed = list(texts)
    for index, text in enumerate(extra):
        mixed.insert((index * 37) % (len(mixed) + 1), text)
    return mixed


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fp32(exported_artifact: Path) -> SentimentModel:
    return SentimentModel.load(exported_artifact, device="cpu")


@pytest.fixture(scope="module")
def int8(exported_artifact: Path) -> SentimentModel:
    return SentimentModel.load(exported_artifact, device="cpu", precision="int8")


@pytest.fixture(scope="module")
def snippets() -> list[str]:
    reviews, _ = read_reviews(SNIPPETS_TEST)
    return mixed_length_texts([review.text for review in reviews])


@pytest.fixture(scope="module")
def snippets_reference(fp32: SentimentModel, snippets: list[str]) -> np.ndarray:
    return eager_scores(fp32, snippets)


# --- parity with eager PyTorch -------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_fp32_matches_eager_pytorch_on_the_snippets_test_set(
    fp32: SentimentModel, snippets: list[str], snippets_reference: np.ndarray, batch_size: int
) -> None:
    fp32.batch_size = batch_size
    scores = fp32.predict_proba(snippets)
    assert scores.shape == (len(snippets),) and scores.dtype == np.float32
    worst = int(np.abs(scores - snippets_reference).argmax())
    assert abs(scores[worst] - snippets_reference[worst]) <= FP32_ATOL, (
        f"text {worst} ({snippets[worst][:60]!r}): runtime {scores[worst]}, eager {snippets_reference[worst]}"
    )


@pytest.mark.parametrize("batch_size", [7, 256])
def test_int8_labels_agree_with_eager_pytorch(
    int8: SentimentModel, snippets: list[str], snippets_reference: np.ndarray, batch_size: int
) -> None:
    int8.batch_size = batch_size
    agreement = np.mean((int8.predict_proba(snippets) >= 0.5) == (snippets_reference >= 0.5))
    assert agreement >= 0.99, f"int8 labels agree with eager fp32 on only {agreement:.2%} of the texts"


@pytest.mark.skipif(not IMDB_TEST.is_file(), reason=f"optional real-data check: {IMDB_TEST} is not present")
def test_fp32_and_int8_match_eager_pytorch_on_imdb_reviews(fp32: SentimentModel, int8: SentimentModel) -> None:
    reviews, _ = read_reviews(IMDB_TEST)
    texts = mixed_length_texts([review.text for review in reviews[:IMDB_LIMIT]])
    reference = eager_scores(fp32, texts)
    for batch_size in (1, 7, 256):
        fp32.batch_size = batch_size
        assert np.abs(fp32.predict_proba(texts) - reference).max() <= FP32_ATOL
    int8.batch_size = 256
    assert np.mean((int8.predict_proba(texts) >= 0.5) == (reference >= 0.5)) >= 0.99


def test_a_score_does_not_depend_on_batch_mates_or_order(fp32: SentimentModel, snippets: list[str]) -> None:
    texts = snippets[:50]
    fp32.batch_size = 1
    alone = fp32.predict_proba(texts)
    rng = np.random.default_rng(0)
    for batch_size in (3, 16, 256):
        fp32.batch_size = batch_size
        permutation = rng.permutation(len(texts))
        shuffled = fp32.predict_proba([texts[i] for i in permutation])
        np.testing.assert_allclose(shuffled, alone[permutation], rtol=0, atol=FP32_ATOL)


def test_each_batch_is_padded_only_to_its_own_longest_text(fp32: SentimentModel, monkeypatch) -> None:
    widths: list[tuple[int, int]] = []
    run = fp32._run
    monkeypatch.setattr(fp32, "_run", lambda ids: widths.append(ids.shape) or run(ids))
    fp32.batch_size = 2
    fp32.predict_proba(["one", "a b c d e f g h", "two words", "a b c d e f g h i j k l", "x"])
    assert sorted(widths) == [(1, 12), (2, 1), (2, 8)]  # sorted by length: [1,1] [2,8] [12]


def test_on_the_cpu_a_small_call_is_split_and_long_texts_get_smaller_batches(fp32: SentimentModel, snippets: list[str], monkeypatch) -> None:
    shapes: list[tuple[int, int]] = []
    run = fp32._run
    monkeypatch.setattr(fp32, "_run", lambda ids: shapes.append(ids.shape) or run(ids))
    fp32.batch_size = 32
    fp32.predict_proba(snippets[:32])
    assert [rows for rows, _ in shapes] == [8, 8, 8, 8]  # MIN_BATCHES_PER_CALL: one batch would leave cores idle
    shapes.clear()
    long_text = " ".join(["word"] * 150)
    fp32.predict_proba(snippets[:200] + [long_text] * 40)
    assert max(rows * width for rows, width in shapes) <= 32 * PADDED_IDS_PER_TEXT
    assert sum(rows for rows, _ in shapes) == 240 and max(rows for rows, _ in shapes) == 32


# --- outputs -------------------------------------------------------------------------------------


def test_predict_returns_labels_and_scores_in_input_order(fp32: SentimentModel, snippets: list[str]) -> None:
    texts = snippets[:20]
    predictions = fp32.predict(texts)
    scores = fp32.predict_proba(texts)
    assert [p.score for p in predictions] == pytest.approx(scores.tolist(), abs=0)
    for prediction in predictions:
        assert isinstance(prediction, Prediction)
        assert prediction.label == ("positive" if prediction.score >= 0.5 else "negative")
        assert json.loads(json.dumps(prediction.to_dict())) == {"label": prediction.label, "score": prediction.score}


def test_a_single_string_is_one_text(fp32: SentimentModel) -> None:
    (prediction,) = fp32.predict("I love it")
    assert prediction.score == pytest.approx(float(fp32.predict_proba(["I love it"])[0]), abs=0)
    assert fp32.predict_proba([]).shape == (0,)
    assert fp32.predict([]) == []


def test_utf8_bytes_are_decoded(fp32: SentimentModel) -> None:
    text = "Très bon produit, naïve café ☕"
    np.testing.assert_array_equal(
        fp32.predict_proba([text.encode("utf-8"), bytearray(text.encode("utf-8"))]), fp32.predict_proba([text, text])
    )


@pytest.mark.parametrize("text", ["", " ", "   \t\n  ", "\u3000\u00a0"])
def test_text_without_tokens_gets_the_models_no_evidence_score(fp32: SentimentModel, text: str) -> None:
    """Documented: a token-less text is one PAD step; its score is the model's own output for that."""
    assert fp32.encoder.encode_ids(text) == []
    eager = eager_scores(fp32, [""])[0]
    assert fp32.empty_score == pytest.approx(eager, abs=FP32_ATOL)
    (prediction,) = fp32.predict([text])
    assert prediction.score == pytest.approx(fp32.empty_score, abs=0)
    assert math.isfinite(prediction.score)


def test_a_megabyte_text_is_truncated_by_the_spec_in_bounded_memory(fp32: SentimentModel) -> None:
    text = "This blender is great, but the lid cracked after 3 weeks. " * 18_000  # ~1 MB
    max_length = fp32.encoder.spec.max_length
    head = " ".join(text.split()[: max_length * 2])
    tracemalloc.start()
    try:
        score = fp32.predict_proba([text])[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fp32.encoder.encode_ids(text) == fp32.encoder.encode_ids(head)[:max_length]
    assert score == pytest.approx(eager_scores(fp32, [head])[0], abs=FP32_ATOL)
    # Tokenizing is linear in the text: a few copies of it, never anything quadratic.
    assert peak < 40 * len(text), f"peak {peak / 1e6:.0f} MB for a {len(text) / 1e6:.1f} MB text"


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        (None, TypeError, r"texts must be a str or an ordered sequence of str, got None"),
        (42, TypeError, r"got int"),
        ({"a", "b"}, TypeError, r"got set; .*use a list rather than a set or dict"),
        ({"text": "good"}, TypeError, r"got dict"),
        (["good", None], TypeError, r"texts\[1\] is None"),
        (["good", 3.5, "bad", 7], TypeError, r"texts\[1\] is float 3.5; texts\[3\] is int 7; 2 of 4 items"),
        ([["nested", "list"]], TypeError, r"texts\[0\] is a nested list \(pass a flat sequence of strings\)"),
        (["ok", ("a",)], TypeError, r"texts\[1\] is a nested tuple"),
        ([np.float64(0.5)], TypeError, r"texts\[0\] is float64"),
        (["ok", b"caf\xe9 au lait"], ValueError, r"texts\[1\] is bytes that are not valid UTF-8 \(invalid contin"),
        (b"\xff\xfe", ValueError, r"texts is bytes that are not valid UTF-8"),
    ],
    ids=[
        "none", "number", "set", "dict", "none-item", "mixed", "nested-list", "nested-tuple",
        "numpy-number", "latin1-bytes", "bad-bytes-alone",
    ],
)  # fmt: skip
def test_bad_input_is_rejected_naming_the_index(fp32: SentimentModel, texts, error, match) -> None:
    with pytest.raises(error, match=match):
        fp32.predict(texts)
    with pytest.raises(error, match=match):
        fp32.predict_proba(texts)


def test_more_than_five_bad_items_are_summarised(fp32: SentimentModel) -> None:
    with pytest.raises(TypeError, match=r"texts\[5\] is None \(and 3 more\); 8 of 9 items are not text"):
        fp32.predict(["ok"] + [None] * 8)


def test_iterables_of_strings_are_accepted(fp32: SentimentModel) -> None:
    texts = ["good", "bad", "meh"]
    expected = fp32.predict_proba(texts)
    np.testing.assert_array_equal(fp32.predict_proba(tuple(texts)), expected)
    np.testing.assert_array_equal(fp32.predict_proba(text for text in texts), expected)
    np.testing.assert_array_equal(fp32.predict_proba(np.array(texts)), expected)


# --- loading, options and devices ----------------------------------------------------------------


def test_load_reports_the_providers_it_really_got(exported_artifact: Path, capfd) -> None:
    model = SentimentModel.load(exported_artifact)  # device="auto"
    assert model.providers == model.session.get_providers()
    if not (providers_module.cuda_in_build() and providers_module.nvidia_driver_present()):
        assert model.providers == ["CPUExecutionProvider"] and model.device == "cpu"
        assert capfd.readouterr().err == ""  # no CUDA error noise on a CPU-only machine


def test_cuda_without_a_cuda_provider_is_an_error_not_a_fallback(exported_artifact: Path) -> None:
    if providers_module.cuda_in_build():
        pytest.skip("this onnxruntime has the CUDA provider; see test_cuda_provider_failing_to_start_is_an_error")
    with pytest.raises(DeviceError, match=r"device='cuda' was requested but this onnxruntime .* has no CUDA provider") as raised:
        SentimentModel.load(exported_artifact, device="cuda")
    assert providers_module.GPU_INSTALL in str(raised.value)  # the fix, as a command


def test_cuda_provider_failing_to_start_is_an_error_and_auto_says_cpu(exported_artifact: Path, monkeypatch) -> None:
    """A build that lists CUDA but whose session does not get it (driver or libraries missing)."""
    if providers_module.cuda_in_build() and providers_module.nvidia_driver_present():
        pytest.skip("a working CUDA provider is here: its failure to start cannot be simulated this way")
    available = ort.get_available_providers()
    monkeypatch.setattr(providers_module, "cuda_in_build", lambda: True)
    monkeypatch.setattr(providers_module, "nvidia_driver_present", lambda: True)
    monkeypatch.setattr(providers_module.ort, "get_available_providers", lambda: [*available, "CUDAExecutionProvider"])
    preloads = []  # serving imports no torch: the CUDA libraries of the nvidia-* wheels are loaded first
    monkeypatch.setattr(providers_module.ort, "preload_dlls", lambda: preloads.append(True))
    with pytest.warns(UserWarning, match="CUDAExecutionProvider"):  # onnxruntime's own notice on this CPU build
        with pytest.raises(DeviceError, match=r"could not start its CUDA provider"):
            SentimentModel.load(exported_artifact, device="cuda")
    assert preloads
    with pytest.warns(UserWarning, match="CUDAExecutionProvider"):
        model = SentimentModel.load(exported_artifact, device="auto")
    assert model.providers == ["CPUExecutionProvider"] and model.device == "cpu"


def test_int8_on_cuda_warns_that_fp32_is_faster_there(exported_artifact: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(SentimentModel, "device", property(lambda self: "cuda"))  # as a CUDA session reports it
    with caplog.at_level("WARNING", logger="sentiment_export.serving.runtime"):
        SentimentModel.load(exported_artifact, device="cpu", precision="fp32")
        assert not caplog.records
        SentimentModel.load(exported_artifact, device="cpu", precision="int8")
    assert "int8 on CUDA is slower than fp32" in caplog.text


def test_threads_and_session_options_are_settable(exported_artifact: Path, fp32: SentimentModel) -> None:
    texts = ["good value", "never again"]
    one_thread = SentimentModel.load(exported_artifact, device="cpu", intra_op_threads=1)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    custom = SentimentModel.load(exported_artifact, device="cpu", session_options=options, batch_size=1)
    assert custom.session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for model in (one_thread, custom):
        np.testing.assert_allclose(model.predict_proba(texts), fp32.predict_proba(texts), rtol=0, atol=FP32_ATOL)
    assert one_thread.concurrent_batches == custom.concurrent_batches == 1  # the caller sized the session
    assert 1 <= providers_module.default_intra_op_threads() <= 4


def test_by_default_a_cpu_model_scores_its_batches_concurrently_one_thread_each(fp32: SentimentModel) -> None:
    cpus = providers_module.default_intra_op_threads()
    assert fp32.concurrent_batches == cpus
    assert fp32.session.get_session_options().intra_op_num_threads == (1 if cpus > 1 else cpus)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_concurrent_batches_give_the_scores_of_batches_run_one_by_one(
    exported_artifact: Path, snippets: list[str], precision: str
) -> None:
    # the same batches either way (the batch plan does not depend on the concurrency), each run on one
    # thread: equal to the bit, int8 included; small calls too, which the plan splits
    one_by_one, concurrent = (
        SentimentModel.load(
            exported_artifact, device="cpu", precision=precision, intra_op_threads=1, concurrent_batches=count,
        )
        for count in (1, 3)
    )
    for texts in (snippets[:300], snippets[:20], mixed_length_texts(snippets[:64])):
        assert np.array_equal(concurrent.predict_proba(texts), one_by_one.predict_proba(texts))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"device": "gpu"}, ValueError, r"device must be one of \('auto', 'cpu', 'cuda'\), got 'gpu'"),
        ({"precision": "fp16"}, ValueError, r"precision must be one of \('fp32', 'int8'\), got 'fp16'"),
        ({"batch_size": 0}, ValueError, r"batch_size must be between 1 and 4096, got 0"),
        ({"batch_size": 1_000_000}, ValueError, r"batch_size must be between 1 and 4096, got 1000000"),
        ({"batch_size": 2.5}, TypeError, r"batch_size must be an int, got float 2.5"),
        ({"intra_op_threads": 0}, ValueError, r"intra_op_threads must be an integer between 1 and 256, got 0"),
        ({"intra_op_threads": 100_000}, ValueError, r"intra_op_threads must be an integer between 1 and 256, got 100000"),
        ({"session_options": {"threads": 2}}, TypeError, r"session_options must be an onnxruntime.SessionOptions"),
        ({"concurrent_batches": 0}, ValueError, r"concurrent_batches must be between 1 and 64, got 0"),
        ({"concurrent_batches": 65}, ValueError, r"concurrent_batches must be between 1 and 64, got 65"),
        ({"concurrent_batches": 2.0}, TypeError, r"concurrent_batches must be an int, got float 2.0"),
    ],
)
def test_bad_options_are_rejected(exported_artifact: Path, options, error, match) -> None:
    with pytest.raises(error, match=match):
        SentimentModel.load(exported_artifact, **options)


def test_a_missing_or_damaged_artifact_is_an_artifact_error(exported_artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        SentimentModel.load(tmp_path / "nowhere")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for child in exported_artifact.iterdir():
        (damaged / child.name).write_bytes(child.read_bytes())
    onnx_file = damaged / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match=r"model.onnx has \d+ bytes, the manifest says"):
        SentimentModel.load(damaged)


def test_packed_artifacts_load_too(exported_artifact: Path, fp32: SentimentModel, tmp_path: Path) -> None:
    from sentiment_export.artifact.archive import pack_artifact

    copy = tmp_path / exported_artifact.name
    copy.mkdir()
    for child in exported_artifact.iterdir():
        (copy / child.name).write_bytes(child.read_bytes())
    packed = SentimentModel.load(pack_artifact(copy, "tar.gz"), device="cpu")
    texts = ["solid", "flimsy"]
    np.testing.assert_array_equal(packed.predict_proba(texts), fp32.predict_proba(texts))


# --- GPU -----------------------------------------------------------------------------------------

_NO_GPU = (
    "needs an NVIDIA GPU with onnxruntime-gpu: "
    + ("no NVIDIA driver here" if not providers_module.nvidia_driver_present() else "onnxruntime has no CUDA provider")
)


@pytest.mark.gpu
@pytest.mark.skipif(
    not (providers_module.nvidia_driver_present() and providers_module.cuda_in_build()), reason=_NO_GPU
)
def test_cuda_matches_cpu(exported_artifact: Path, fp32: SentimentModel, snippets: list[str]) -> None:
    gpu = SentimentModel.load(exported_artifact, device="cuda")
    assert gpu.providers[0] == "CUDAExecutionProvider" and gpu.device == "cuda"
    fp32.batch_size = gpu.batch_size
    np.testing.assert_allclose(gpu.predict_proba(snippets), fp32.predict_proba(snippets), rtol=0, atol=FP32_ATOL)


@pytest.mark.skipif(providers_module.nvidia_driver_present(), reason="an NVIDIA driver is here: the script runs")
def test_gpu_check_says_why_it_checked_nothing_without_a_gpu(exported_artifact: Path, capsys) -> None:
    from benchmarks import gpu_check

    assert gpu_check.main(["--artifact", str(exported_artifact)]) == gpu_check.EXIT_NO_GPU
    assert "gpu_check: nothing checked: no NVIDIA driver on this machine" in capsys.readouterr().err


def _arg(name: str, type_: str, shape: list) -> object:
    import types

    return types.SimpleNamespace(name=name, type=type_, shape=shape)


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ([_arg("ids", "tensor(int64)", ["batch", "sequence"])], "has no input named 'input_ids'"),
        ([_arg("input_ids", "tensor(int32)", ["batch", "sequence"])], "input 'input_ids' has type tensor(int32), expected tensor(int64)"),
        ([_arg("input_ids", "tensor(int64)", [1, "sequence"])], "input 'input_ids' has fixed dimensions [1, 'sequence']"),
    ],
)
def test_one_signature_check_names_what_a_session_gets_wrong(inputs, problem) -> None:
    """The runtime and the parity gate share this check (names, element types, dynamic dimensions)."""
    import types

    from sentiment_export.artifact.signature import session_problems

    good_output = [_arg("probability", "tensor(float)", ["batch"])]
    session = types.SimpleNamespace(get_inputs=lambda: inputs, get_outputs=lambda: good_output)
    assert any(problem in found for found in session_problems(session)), session_problems(session)
    fine = types.SimpleNamespace(get_inputs=lambda: [_arg("input_ids", "tensor(int64)", ["b", "s"])], get_outputs=lambda: good_output)
    assert session_problems(fine) == []

"""The HTTP server (`sentiment-export serve`): real server processes on 127.0.0.1, driven by httpx.

Every server listens on loopback with an ephemeral port; every load loop is
bounded in request count and time. Needs the [serve] extra plus httpx and
tritonclient[http] ([test]): skipped without them, a failure under CI.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cpp_build import ci_requested

_REPO = Path(__file__).resolve().parents[1]
_SNIPPETS = _REPO / "training" / "default_data" / "test.ft.txt.bz2"
_START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 30

try:
    import httpx
    import prometheus_client  # noqa: F401
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as missing:  # pragma: no cover - depends on the environment
    if ci_requested(os.environ):
        raise RuntimeError(f"CI is set, so the serve tests must run: {missing}; pip install -e '.[test]'") from missing
    pytest.skip(f"the [serve]/[test] extras are not installed ({missing.name})", allow_module_level=True)


def _snippets(count: int) -> list[str]:
    """The first ``count`` review texts of the embedded snippets test file (real text)."""
    from sentiment_export.data.amazon import ReviewFile

    return [review.text for review in itertools.islice(ReviewFile(_SNIPPETS), count)]


class Server:
    """A `python -m sentiment_export serve` subprocess; ``url`` once it printed "listening on URL"."""

    def __init__(self, artifacts: list[Path], *options: str, log_dir: Path) -> None:
        self.stderr_path = log_dir / f"serve-{time.monotonic_ns()}.err"
        env = {**os.environ, "PYTHONPATH": f"{_REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sentiment_export", "serve", *map(str, artifacts), "--host", "127.0.0.1", "--port", "0", *options],
            stdout=subprocess.PIPE, stderr=self.stderr_path.open("wb"), env=env, text=True,
        )
        self.terminated = False
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + _START_TIMEOUT_S
        line = self.process.stdout.readline()  # the server prints exactly this line once ready
        if not line.startswith("listening on ") or time.monotonic() > deadline:
            self.process.kill()
            raise AssertionError(f"server did not start: {line!r}; stderr: {self.stderr()}")
        return line.split()[-1]

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> None:
        """Send SIGTERM once: a second one during the drain may end the process abruptly, as it should."""
        if not self.terminated and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.terminated = True

    def stop(self) -> int:
        """SIGTERM (once), then the exit status (killed and failed after a bounded wait)."""
        self.terminate()
        try:
            return self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"server did not exit within {_STOP_TIMEOUT_S} s of SIGTERM")


@pytest.fixture(scope="module")
def two_versions(exported_artifact: Path, small_checkpoint: Path, small_test_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The session artifact (tiny 1.0.0) and the same checkpoint exported again as tiny 1.1.0 (a manifest
    edited by hand would be refused: model.pt embeds the manifest it was exported with)."""
    from conftest import _torch_threads

    from sentiment_export import export_artifact

    with _torch_threads(1):
        again = export_artifact(small_checkpoint, out_dir=tmp_path_factory.mktemp("served"), name="tiny", version="1.1.0", test_file=small_test_file, pt2=False)
    return exported_artifact, again.root


@pytest.fixture(scope="module")
def model(exported_artifact: Path):
    """The in-process model: the reference every served score is compared with."""
    from sentiment_export import SentimentModel

    return SentimentModel.load(exported_artifact, device="cpu")


@pytest.fixture(scope="module")
def server(two_versions, tmp_path_factory):
    """One server for both versions, with a small body limit so that 413 is cheap to provoke."""
    process = Server(list(two_versions), "--body-limit", "200000", "--max-delay-ms", "5", log_dir=tmp_path_factory.mktemp("logs"))
    yield process
    assert process.stop() == 0, process.stderr()


def _infer_body(texts, **overrides):
    tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}
    tensor.update(overrides)
    return {"inputs": [tensor]}


# --- protocol ---------------------------------------------------------------------------------------


def test_health_and_metadata_routes(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/v2").json()["name"] == "sentiment_export"
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").json() == {"ready": True}
        metadata = client.get("/v2/models/tiny").json()
        assert metadata["versions"] == ["1.0.0", "1.1.0"]
        assert metadata["platform"] == "onnxruntime_onnx"
        assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        assert [output["name"] for output in metadata["outputs"]] == ["score", "label"]
        assert client.get("/v2/models/tiny/versions/1.0.0").json()["versions"] == ["1.0.0"]
        assert client.get("/v2/models/tiny/ready").status_code == 200
        assert client.get("/v2/models/tiny/versions/1.1.0/ready").json() == {"name": "tiny", "ready": True}
        document = client.get("/openapi.json").json()
        assert document["openapi"].startswith("3.")
        assert "/v2/models/{name}/versions/{version}/infer" in document["paths"]


@pytest.mark.parametrize(
    ("path", "version"),
    [("/v2/models/tiny/infer", "1.1.0"), ("/v2/models/tiny/versions/1.0.0/infer", "1.0.0")],
    ids=["unversioned-goes-to-highest", "versioned"],
)
def test_infer_returns_in_process_scores(server, model, path, version):
    texts = _snippets(20) + ["", "naïve café — ünïcödé ✓"]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.post(path, json={"id": "req-7", **_infer_body(texts)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("tiny", version, "req-7")
    score, label = body["outputs"]
    assert (score["name"], score["datatype"], score["shape"]) == ("score", "FP32", [len(texts)])
    assert (label["name"], label["datatype"]) == ("label", "BYTES")
    expected = model.predict_proba(texts)
    np.testing.assert_allclose(score["data"], expected, rtol=0, atol=1e-6)
    assert label["data"] == [p.label for p in model.predict(texts)]


def test_infer_returns_only_requested_outputs_and_accepts_n_by_1(server, model):
    texts = _snippets(3)
    body = {
        "inputs": [{"name": "text", "shape": [3, 1], "datatype": "BYTES", "data": [[text] for text in texts]}],
        "outputs": [{"name": "label"}],
    }
    with httpx.Client(base_url=server.url, timeout=10) as client:
        outputs = client.post("/v2/models/tiny/infer", json=body).json()["outputs"]
    assert [output["name"] for output in outputs] == ["label"]
    assert outputs[0]["data"] == [p.label for p in model.predict(texts)]


def test_predict_returns_the_cli_objects(server, model):
    texts = _snippets(5)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        body = client.post("/predict", json={"texts": texts, "version": "1.0.0"}).json()
    assert (body["model_name"], body["model_version"]) == ("tiny", "1.0.0")
    expected = model.predict(texts)
    assert [p["index"] for p in body["predictions"]] == list(range(len(texts)))
    assert [p["label"] for p in body["predictions"]] == [p.label for p in expected]
    np.testing.assert_allclose([p["score"] for p in body["predictions"]], [p.score for p in expected], rtol=0, atol=1e-6)


def test_tritonclient_speaks_to_the_server(server, model):
    """A third-party Open Inference Protocol client (Triton's HTTP client) infers through the server."""
    import tritonclient.http as triton

    texts = _snippets(4)
    client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("tiny", "1.0.0")
        assert client.get_model_metadata("tiny")["versions"] == ["1.0.0", "1.1.0"]
        text = triton.InferInput("text", [len(texts)], "BYTES")
        text.set_data_from_numpy(np.array(texts, dtype=object), binary_data=False)
        outputs = [triton.InferRequestedOutput(name, binary_data=False) for name in ("score", "label")]
        result = client.infer("tiny", [text], model_version="1.0.0", outputs=outputs)
    finally:
        client.close()
    np.testing.assert_allclose(result.as_numpy("score"), model.predict_proba(texts), rtol=0, atol=1e-6)
    assert [label.decode() if isinstance(label, bytes) else label for label in result.as_numpy("label")] == [
        p.label for p in model.predict(texts)
    ]


# --- bad input ----------------------------------------------------------------------------------------

_TEXTS = ["good", "bad", "ugly"]
_BAD_REQUESTS = {
    "malformed-json": ("/v2/models/tiny/infer", b'{"inputs": [', 400, "not valid JSON"),
    "not-utf8": ("/predict", b'{"texts": ["caf\xe9"]}', 400, "not valid UTF-8"),
    "not-an-object": ("/v2/models/tiny/infer", b"[1, 2]", 400, "JSON object"),
    "wrong-datatype": ("/v2/models/tiny/infer", _infer_body(_TEXTS, datatype="FP32"), 400, "inputs[0].datatype must be 'BYTES'"),
    "wrong-input-name": ("/v2/models/tiny/infer", _infer_body(_TEXTS, name="input_ids"), 400, "inputs[0].name must be 'text'"),
    "shape-mismatch": ("/v2/models/tiny/infer", _infer_body(_TEXTS, shape=[4]), 400, "inputs[0].shape [4] holds 4 texts"),
    "bad-shape": ("/v2/models/tiny/infer", _infer_body(_TEXTS, shape=[3, 2]), 400, "inputs[0].shape must be"),
    "non-string-item": ("/v2/models/tiny/infer", _infer_body(["a", 5, "c"]), 400, "inputs[0].data[1] must be a string"),
    "lone-surrogate": ("/predict", b'{"texts": ["ok", "\\udc80"]}', 400, "texts[1] is not valid Unicode"),
    "empty-infer": ("/v2/models/tiny/infer", _infer_body([]), 400, "inputs[0].data is empty"),
    "empty-predict": ("/predict", {"texts": []}, 400, "texts is empty"),
    "predict-null-item": ("/predict", {"texts": ["a", None]}, 400, "texts[1] must be a string, got null"),
    "predict-unknown-field": ("/predict", {"texts": ["a"], "modle": "tiny"}, 400, "unknown field(s) modle"),
    "unknown-output": ("/v2/models/tiny/infer", {**_infer_body(_TEXTS), "outputs": [{"name": "logits"}]}, 400, "outputs[0].name"),
    "two-inputs": ("/v2/models/tiny/infer", {"inputs": [_infer_body(_TEXTS)["inputs"][0]] * 2}, 400, "exactly one input"),
    "unknown-model": ("/v2/models/nope/infer", _infer_body(_TEXTS), 404, "no model named 'nope'; served models: tiny"),
    "unknown-version": ("/v2/models/tiny/versions/9.9.9/infer", _infer_body(_TEXTS), 404, "served versions: 1.0.0, 1.1.0"),
    "predict-unknown-model": ("/predict", {"texts": ["a"], "model": "nope"}, 404, "no model named 'nope'"),
    "too-large": ("/predict", {"texts": ["x" * 250_000]}, 413, "over the 200,000-byte limit"),
}


@pytest.mark.parametrize(("path", "body", "status", "message"), list(_BAD_REQUESTS.values()), ids=list(_BAD_REQUESTS))
def test_bad_requests_get_their_status_and_a_message_naming_the_problem(server, path, body, status, message):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        if isinstance(body, bytes):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_binary_tensor_extension_and_wrong_methods_are_refused(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        binary = client.post(
            "/v2/models/tiny/infer", content=b"{}", headers={"Inference-Header-Content-Length": "2"}
        )
        assert binary.status_code == 400 and "binary_data=False" in binary.json()["error"]
        wrong_method = client.get("/v2/models/tiny/infer")
        assert wrong_method.status_code == 405 and "GET is not allowed" in wrong_method.json()["error"]
        assert client.get("/v3").status_code == 404


# --- batching and concurrency ---------------------------------------------------------------------------


async def _post_all(url: str, bodies: list, *, path: str, concurrency: int, timeout: float = 30):
    """POST every body (at most ``concurrency`` at once, one connection each); the responses in order."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:

        async def post(body):
            async with gate:
                return await client.post(path, json=body)

        return await asyncio.wait_for(asyncio.gather(*(post(body) for body in bodies)), timeout)


def _metric(text: str, name: str) -> float:
    """Sum of a metric's samples in a Prometheus text exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_concurrent_single_text_requests_get_their_own_scores_batched(server, model):
    texts = _snippets(300)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        before = client.get("/metrics").text
    responses = asyncio.run(
        _post_all(server.url, [_infer_body([text]) for text in texts], path="/v2/models/tiny/versions/1.0.0/infer", concurrency=64)
    )
    assert [response.status_code for response in responses] == [200] * len(texts)
    served = [response.json()["outputs"][0]["data"][0] for response in responses]
    np.testing.assert_allclose(served, model.predict_proba(texts), rtol=0, atol=1e-6)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        after = client.get("/metrics").text
    batches = _metric(after, "sentiment_batch_size_texts_count") - _metric(before, "sentiment_batch_size_texts_count")
    scored = _metric(after, "sentiment_batch_size_texts_sum") - _metric(before, "sentiment_batch_size_texts_sum")
    assert scored == len(texts)
    assert batches < len(texts), "64 concurrent requests were never batched together"


def test_the_model_is_batch_invariant(model):
    """A text's fp32 score does not depend on its batch-mates: the premise of serving batched requests."""
    texts = _snippets(64) + ["", "a " * 500]
    alone = np.array([model.predict_proba([text])[0] for text in texts])
    for size in (3, 17, 66):
        batched = np.concatenate([model.predict_proba(texts[start:start + size]) for start in range(0, len(texts), size)])
        np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-6)


def test_batcher_gives_each_request_its_own_slice_within_the_size_limit():
    """The batcher on a fake scorer: whole requests per batch, <= max_batch_size texts, own order, own results."""
    from sentiment_export.serving.http.batcher import MicroBatcher

    batches = []

    def score(texts):
        batches.append(len(texts))
        time.sleep(0.002)  # a busy worker lets requests accumulate
        return np.array([float(text.split("-")[1]) for text in texts], dtype=np.float32)

    async def main(max_batch_size):
        batcher = MicroBatcher(score, max_batch_size=max_batch_size, max_delay_s=0.002, queue_limit=1000, concurrency=1)
        batcher.start()
        requests = [[f"r{r}-{r * 10 + i}" for i in range(1 + r % 3)] for r in range(60)]
        results = await asyncio.gather(*(batcher.submit(texts, timeout_s=10) for texts in requests))
        await batcher.close()
        return requests, results

    for max_batch_size in (1, 8):
        batches.clear()
        requests, results = asyncio.run(main(max_batch_size))
        for texts, result in zip(requests, results):
            assert list(result) == [float(text.split("-")[1]) for text in texts]
        assert sum(batches) == sum(map(len, requests))
        if max_batch_size == 1:
            assert len(batches) == len(requests)  # batching off: one request per inference
        else:
            assert max(batches) <= max_batch_size and len(batches) < len(requests)


# --- overload, deadlines, lifecycle ----------------------------------------------------------------------


def test_overload_gets_503_with_retry_after_and_the_server_stays_healthy(exported_artifact, tmp_path, model):
    server = Server([exported_artifact], "--queue-limit", "2", "--max-batch-size", "1", "--no-access-log", log_dir=tmp_path)
    try:
        texts = _snippets(200)
        responses = asyncio.run(_post_all(server.url, [{"texts": texts}] * 40, path="/predict", concurrency=40))
        codes = [response.status_code for response in responses]
        assert set(codes) <= {200, 503}
        refused = [response for response in responses if response.status_code == 503]
        assert refused, f"40 concurrent requests on a queue of 2 were never refused: {codes}"
        assert all(response.headers["retry-after"] == "1" for response in refused)
        assert "queue is full" in refused[0].json()["error"]
        expected = model.predict_proba(texts)
        for response in responses:
            if response.status_code == 200:
                np.testing.assert_allclose([p["score"] for p in response.json()["predictions"]], expected, rtol=0, atol=1e-6)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/v2/health/ready").status_code == 200
            assert client.post("/predict", json={"texts": ["still fine"]}).status_code == 200
    finally:
        assert server.stop() == 0, server.stderr()


def test_a_request_past_its_deadline_gets_504(exported_artifact, tmp_path):
    server = Server([exported_artifact], "--timeout", "0.001", "--no-access-log", log_dir=tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            response = client.post("/predict", json={"texts": _snippets(1000)})
            assert response.status_code == 504
            assert "0.001 s deadline (--timeout)" in response.json()["error"]
            assert client.get("/v2/health/ready").status_code == 200
    finally:
        assert server.stop() == 0, server.stderr()


def test_sigterm_during_load_answers_every_accepted_request_and_exits_0(exported_artifact, tmp_path, model):
    # a generous deadline: this checks the drain, not --timeout, on a box that may be busy
    server = Server([exported_artifact], "--max-batch-size", "1", "--timeout", "120", "--no-access-log", log_dir=tmp_path)
    texts = [text * 8 for text in _snippets(100)]  # long texts, so that the requests are still queued at SIGTERM
    expected = model.predict_proba(texts)

    async def load_then_terminate():
        task = asyncio.ensure_future(
            _post_all(server.url, [{"texts": texts}] * 40, path="/predict", concurrency=40, timeout=150)
        )
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            for _ in range(500):  # until most requests are in flight (bounded: 5 s)
                if _metric((await client.get("/metrics")).text, "sentiment_http_requests_in_flight") >= 20:
                    break
                await asyncio.sleep(0.01)
        server.terminate()
        return await task

    try:
        responses = asyncio.run(load_then_terminate())
    finally:
        code = server.stop()
    assert [response.status_code for response in responses] == [200] * 40
    for response in responses:
        np.testing.assert_allclose([p["score"] for p in response.json()["predictions"]], expected, rtol=0, atol=1e-6)
    assert code == 0, server.stderr()
    assert "Traceback" not in server.stderr()


def test_two_worker_processes_share_the_port_and_the_metrics(exported_artifact, tmp_path, model):
    server = Server([exported_artifact], "--workers", "2", "--no-access-log", log_dir=tmp_path)
    try:
        texts = _snippets(8)
        responses = asyncio.run(_post_all(server.url, [{"texts": [text]} for text in texts] * 4, path="/predict", concurrency=8))
        assert [response.status_code for response in responses] == [200] * 32
        np.testing.assert_allclose(
            [response.json()["predictions"][0]["score"] for response in responses],
            np.tile(model.predict_proba(texts), 4), rtol=0, atol=1e-6,
        )
        with httpx.Client(base_url=server.url, timeout=10) as client:
            metrics = client.get("/metrics").text
        assert _metric(metrics, 'sentiment_http_requests_total{method="POST",route="/predict",status="200"}') == 32
    finally:
        assert server.stop() == 0, server.stderr()


def test_metrics_and_access_log(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/predict", json={"texts": ["fine"]})
        client.post("/v2/models/nope/infer", json=_infer_body(["x"]))
        metrics = client.get("/metrics").text
    assert 'sentiment_http_requests_total{method="POST",route="/v2/models/{name}/infer",status="404"}' in metrics
    assert 'sentiment_http_request_duration_seconds_bucket{le="0.005",route="/predict"}' in metrics
    assert 'sentiment_batch_size_texts_count{model="tiny",precision="fp32",version="1.1.0"}' in metrics
    assert 'sentiment_queue_depth{model="tiny",precision="fp32",version="1.0.0"} 0.0' in metrics
    assert "sentiment_http_requests_in_flight 1.0" in metrics  # this very request
    assert 'sentiment_model_info{device="cpu",model="tiny",precision="fp32",version="1.1.0"} 1.0' in metrics
    lines = [json.loads(line) for line in server.stderr().splitlines() if line.startswith("{")]
    refused = [line for line in lines if line["path"] == "/v2/models/nope/infer"]
    assert refused and {"status": 404, "route": "/v2/models/{name}/infer", "method": "POST"}.items() <= refused[-1].items()
    assert {"status": 200, "route": "/predict", "model": "tiny:1.1.0", "texts": 1}.items() <= lines[lines.index(refused[-1]) - 1].items()


# --- startup ---------------------------------------------------------------------------------------------


def _serve_once(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{_REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "sentiment_export", "serve", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_startup_failures_are_one_line_and_a_nonzero_exit(exported_artifact, tmp_path):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(exported_artifact, corrupt)
    with (corrupt / "vocab.txt").open("a", encoding="utf-8") as vocab:
        vocab.write("tampered\n")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        cases = {
            "cannot serve": _serve_once(str(corrupt), "--port", "0"),
            "address already in use; choose another --port": _serve_once(
                str(exported_artifact), "--port", str(taken.getsockname()[1])
            ),
            "--max-batch-size must be between 1 and 4096, got 0": _serve_once(
                str(exported_artifact), "--max-batch-size", "0"
            ),
            "two artifacts are tiny 1.0.0": _serve_once(str(exported_artifact), str(exported_artifact), "--port", "0"),
        }
    finally:
        taken.close()
    for message, result in cases.items():
        assert result.returncode == 2, (message, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message.lower() in lines[0].lower(), result.stderr


def test_serving_a_request_never_imports_torch(exported_artifact):
    """The serving layer stays torch-free: a fresh interpreter builds the app, serves a request, has no torch."""
    script = f"""
import sys
from starlette.testclient import TestClient
from sentiment_export.serving.http.options import ServeOptions
from sentiment_export.serving.http.registry import load_models
from sentiment_export.serving.http.app import create_app
import sentiment_export.serving.http.server, sentiment_export.cli.serve, sentiment_export.cli
registry = load_models([{str(exported_artifact)!r}], device="cpu", precision="fp32", threads=1)
with TestClient(create_app(registry, ServeOptions())) as client:
    assert client.post("/predict", json={{"texts": ["fine"]}}).status_code == 200
print("torch" in sys.modules)
"""
    env = {**os.environ, "PYTHONPATH": str(_REPO)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_serve_with_a_public_key_refuses_an_unsigned_artifact_and_serves_a_signed_one(exported_artifact, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from sentiment_export import sign_artifact

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "key.pem", tmp_path / "key.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    unsigned = _serve_once(str(exported_artifact), "--port", "0", "--public-key", str(public))
    assert unsigned.returncode == 2 and "is not signed" in unsigned.stderr, unsigned.stderr

    signed = Path(shutil.copytree(exported_artifact, tmp_path / exported_artifact.name))
    sign_artifact(signed, private_key=private)
    server = Server([signed], "--public-key", str(public), log_dir=tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/v2/health/ready").status_code == 200
    finally:
        assert server.stop() == 0


def test_the_load_benchmark_prints_its_table(exported_artifact) -> None:
    """benchmarks/serve_bench.py runs end to end (tiny counts; the figures themselves are not checked)."""
    env = {**os.environ, "PYTHONPATH": f"{_REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.serve_bench", "--artifact", str(exported_artifact), "--requests", "10",
         "--texts", "10", "--concurrency", "2", "--imdb", str(_REPO / "no-such-file")],
        capture_output=True, text=True, timeout=180, cwd=_REPO, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "| data | concurrency | batched req/s |" in result.stdout and "| snippets | 2 |" in result.stdout

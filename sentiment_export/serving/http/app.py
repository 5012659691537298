"""The ASGI app (Starlette): Open Inference Protocol v2 routes, ``/predict``, ``/metrics``, ``/openapi.json``.

Every refusal is a JSON ``{"error": message}`` with the status of its
:class:`RequestError`; an unexpected failure is a 500 that is logged, and the
server stays up. One structured access-log line (JSON, logger
``sentiment_export.serving.access``) is written per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from importlib import metadata
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import oip
from .batcher import MicroBatcher
from .errors import BadRequest, DeadlineExceeded, InternalError, NotReady, PayloadTooLarge, RequestError
from .metrics import ServerMetrics
from .openapi import openapi_document
from .options import ServeOptions
from .registry import ModelRegistry, ServedModel

logger = logging.getLogger(__name__)
ACCESS_LOGGER = "sentiment_export.serving.access"
access_logger = logging.getLogger(ACCESS_LOGGER)

SERVER_NAME = "sentiment_export"


def _package_version() -> str:
    try:
        return metadata.version("sentiment_export")
    except metadata.PackageNotFoundError:
        return "unknown"


class ServerState:
    """What the routes share: the models, the options, the metrics and whether the server takes requests."""

    def __init__(self, registry: ModelRegistry, options: ServeOptions, metrics: ServerMetrics) -> None:
        self.registry = registry
        self.options = options
        self.metrics = metrics
        self.ready = False

    def start(self) -> None:
        """Start one batcher per model on the running loop; the server is ready after this."""
        for served in self.registry.models:
            labels = (served.name, served.version, served.precision)
            self.metrics.model_info.labels(*labels, served.device).set(1)
            batch_size = self.metrics.batch_size.labels(*labels)
            texts = self.metrics.texts.labels(*labels)
            queue = self.metrics.queue_depth.labels(*labels)

            def on_batch(size: int, batch_size=batch_size, texts=texts) -> None:
                batch_size.observe(size)
                texts.inc(size)

            served.batcher = MicroBatcher(
                served.model.predict,
                max_batch_size=self.options.max_batch_size,
                max_delay_s=self.options.max_delay_s,
                queue_limit=self.options.queue_limit,
                concurrency=self.options.concurrency,
                on_batch=on_batch,
                on_queue=queue.set,
            )
            served.batcher.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for served in self.registry.models:
            if served.batcher is not None:
                await served.batcher.close()


def _state(request: Request) -> ServerState:
    return request.app.state.server


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _request_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestError)
    return _error(error.status, str(error), error.headers)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = f"no route {request.method} {request.url.path}; see GET /openapi.json"
    elif error.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see GET /openapi.json"
    else:
        message = str(error.detail)
    return _error(error.status_code, message, dict(error.headers or {}))


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it is known to be over ``limit`` bytes."""
    length = request.headers.get("content-length")
    too_large = f"request body is over the {limit:,}-byte limit (--body-limit); send fewer or shorter texts per request"
    if length is not None:
        if not length.isdigit():
            raise BadRequest(f"Content-Length header {length!r} is not a byte count")
        if int(length) > limit:
            raise PayloadTooLarge(too_large)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _check_ready(state: ServerState, served: ServedModel) -> MicroBatcher:
    if not state.ready or served.batcher is None:
        raise NotReady("the server is not ready (starting or shutting down); retry shortly")
    return served.batcher


async def _read_json(request: Request, batcher: MicroBatcher) -> Any:
    """The decoded body, read while ``batcher`` knows a request is coming (so a forming batch may wait for it)."""
    with batcher.expecting():
        return oip.decode_json(await _read_body(request, _state(request).options.body_limit))


async def _submit(request: Request, served: ServedModel, texts: list[str], deadline: float) -> list:
    """Predictions of ``texts`` from ``served``'s batcher, by ``deadline`` (event-loop time)."""
    request.state.model = f"{served.name}:{served.version}"
    request.state.texts = len(texts)
    state = _state(request)
    batcher = _check_ready(state, served)
    try:
        return await batcher.submit(texts, timeout_s=max(deadline - asyncio.get_running_loop().time(), 0.0))
    except DeadlineExceeded:
        raise DeadlineExceeded(
            f"not answered within the {state.options.timeout_s:g} s deadline (--timeout): the server is "
            "overloaded or the texts are long; retry later or send fewer texts per request"
        ) from None
    except RequestError:
        raise
    except Exception as error:  # a scoring failure is the server's, not the client's
        raise InternalError(f"scoring failed: {type(error).__name__}: {error}") from error


def _deadline(state: ServerState) -> float:
    return asyncio.get_running_loop().time() + state.options.timeout_s


async def infer(request: Request) -> Response:
    """``POST /v2/models/{name}[/versions/{version}]/infer``."""
    state = _state(request)
    deadline = _deadline(state)
    served = state.registry.get(request.path_params["name"], request.path_params.get("version"))
    if oip.BINARY_HEADER in request.headers:
        raise BadRequest(
            "the binary tensor extension (Inference-Header-Content-Length) is not supported; "
            "send the texts as JSON data (tritonclient: binary_data=False)"
        )
    parsed = oip.parse_infer_request(await _read_json(request, _check_ready(state, served)))
    predictions = await _submit(request, served, parsed.texts, deadline)
    return JSONResponse(
        oip.infer_response(
            parsed,
            [prediction.score for prediction in predictions],
            [prediction.label for prediction in predictions],
            name=served.name,
            version=served.version,
        )
    )


_PREDICT_FIELDS = ("texts", "model", "version")


async def predict(request: Request) -> Response:
    """``POST /predict`` with ``{"texts": [...]}`` (optional ``model``, ``version``): the CLI's JSON objects."""
    state = _state(request)
    deadline = _deadline(state)
    default = state.registry.default
    payload = await _read_json(request, _check_ready(state, default))
    if not isinstance(payload, dict) or "texts" not in payload:
        raise BadRequest('request body must be a JSON object {"texts": [...]} (optional "model", "version")')
    unknown = sorted(set(payload) - set(_PREDICT_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; expected texts and optionally model, version")
    for key in ("model", "version"):
        if key in payload and not isinstance(payload[key], str):
            raise BadRequest(f"{key} must be a string, got {json.dumps(payload[key])[:40]}")
    texts = oip.check_texts(payload["texts"], "texts")
    served = state.registry.get(payload.get("model", default.name), payload.get("version"))
    predictions = await _submit(request, served, texts, deadline)
    return JSONResponse(
        {
            "model_name": served.name,
            "model_version": served.version,
            "predictions": [{"index": index, **prediction.to_dict()} for index, prediction in enumerate(predictions)],
        }
    )


async def server_metadata(request: Request) -> Response:
    """``GET /v2``."""
    return JSONResponse({"name": SERVER_NAME, "version": _package_version(), "extensions": []})


async def live(request: Request) -> Response:
    """``GET /v2/health/live``: the process answers."""
    return JSONResponse({"live": True})


async def ready(request: Request) -> Response:
    """``GET /v2/health/ready``: every model verified and warmed up, and not draining."""
    is_ready = _state(request).ready
    return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


async def model_metadata(request: Request) -> Response:
    """``GET /v2/models/{name}[/versions/{version}]``."""
    registry = _state(request).registry
    served = registry.get(request.path_params["name"], request.path_params.get("version"))
    versions = registry.versions(served.name) if "version" not in request.path_params else [served.version]
    return JSONResponse(oip.model_metadata(served.name, versions))


async def model_ready(request: Request) -> Response:
    """``GET /v2/models/{name}[/versions/{version}]/ready``."""
    state = _state(request)
    served = state.registry.get(request.path_params["name"], request.path_params.get("version"))
    is_ready = state.ready and served.batcher is not None
    return JSONResponse({"name": served.name, "ready": is_ready}, status_code=200 if is_ready else 503)


async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus text format."""
    body, content_type = _state(request).metrics.exposition()
    return Response(body, media_type=content_type)


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``."""
    return JSONResponse(openapi_document(_package_version()))


class _Observe:
    """ASGI middleware: request counts, latency and in-flight gauges, and one JSON access-log line per request."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, *, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if self.access_log and access_logger.isEnabledFor(logging.INFO):
                extra = scope.get("state", {})
                access_logger.info(
                    json.dumps(
                        {
                            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "client": "%s:%s" % tuple(scope["client"]) if scope.get("client") else None,
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": route,
                            "status": status,
                            "ms": round(elapsed * 1000, 3),
                            "model": extra.get("model"),
                            "texts": extra.get("texts"),
                        }
                    )
                )


def _routes() -> list[Route]:
    routes = [
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
    ]
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [
            Route(prefix, model_metadata, methods=["GET"]),
            Route(f"{prefix}/ready", model_ready, methods=["GET"]),
            Route(f"{prefix}/infer", infer, methods=["POST"]),
        ]
    return routes + [
        Route("/predict", predict, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def create_app(registry: ModelRegistry, options: ServeOptions, *, metrics: ServerMetrics | None = None) -> Starlette:
    """The app serving ``registry``'s models; batchers start with the app's lifespan and drain at its end."""
    state = ServerState(registry, options, metrics or ServerMetrics())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            await state.stop()

    app = Starlette(
        routes=_routes(),
        exception_handlers={RequestError: _request_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.server = state
    app.add_middleware(_Observe, metrics=state.metrics, access_log=options.access_log)
    return app

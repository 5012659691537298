"""The server's lifecycle: bind, load and warm up, serve with uvicorn, drain on SIGTERM, exit.

- The port is bound first (``--port 0`` picks a free one), so a taken port is
  one clear :class:`ServeError` before any model is loaded.
- Every artifact is verified (checksums) and warmed up before the socket
  accepts a connection; ``/v2/health/ready`` is 200 from the first request on.
- ``SIGTERM`` (or ``SIGINT``): readiness turns 503, the socket stops
  accepting, every request already accepted is answered (the batcher runs
  until its queue is empty), then :func:`serve` returns 0.
- ``workers > 1``: that many processes share the bound socket, each with its
  own models and batcher; ``/metrics`` sums over them. A signal to the parent
  is passed on to every worker, and the parent returns 0 when all exited 0.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import signal
import socket
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from .errors import ServeError
from .app import ACCESS_LOGGER, ServerState, create_app
from .metrics import MULTIPROCESS_ENV
from .options import ServeOptions
from .registry import load_models

logger = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_WORKER_START_TIMEOUT_S = 300.0


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening); :class:`ServeError` when that is impossible."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}; pass an address such as 127.0.0.1") from error
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        hint = "choose another --port or stop the process holding it" if error.errno == errno.EADDRINUSE else "check --host and --port"
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}; {hint}") from error
    sock.set_inheritable(True)
    return sock


def configure_access_log(enabled: bool) -> None:
    """Access-log lines (one JSON object per request) go to stderr as they are, whatever the log level."""
    access = logging.getLogger(ACCESS_LOGGER)
    access.propagate = False
    access.setLevel(logging.INFO if enabled else logging.WARNING)
    if enabled and not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, turning readiness off the moment a stop signal arrives and reporting when it listens."""

    def __init__(self, config: uvicorn.Config, state: ServerState, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._state = state
        self._on_started = on_started

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._state.ready = False
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def _ignore_signal(signum: int, frame: Any) -> None:
    """Installed under uvicorn's own handlers: uvicorn re-raises the stop signal after a graceful shutdown."""


def _run_one(artifacts: Sequence[str], options: ServeOptions, sock: socket.socket, on_started: Callable[[], None]) -> int:
    """Load, serve on ``sock`` until a stop signal, drain; 0 after a clean shutdown."""
    registry = load_models(
        artifacts, device=options.device, precision=options.precision, threads=options.threads, public_key=options.public_key,
        trust_custom_rules=options.trust_custom_rules,
    )
    app = create_app(registry, options)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # the app writes its own structured access log
        lifespan="on",
        timeout_graceful_shutdown=None,  # every accepted request is answered; --timeout bounds each one
        server_header=False,
    )
    server = _Server(config, app.state.server, on_started)
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _ignore_signal)
    server.run(sockets=[sock])
    if not server.started:
        raise ServeError("the server did not start; see the log above")
    return 0


def _worker_main(artifacts: Sequence[str], options: ServeOptions, sock: socket.socket, events: Any) -> None:
    """A worker process: serve, and tell the parent when it listens or why it could not start."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    configure_access_log(options.access_log)
    try:
        code = _run_one(artifacts, options, sock, lambda: events.put(("ready", os.getpid())))
    except ServeError as error:
        events.put(("failed", str(error)))
        code = 1
    raise SystemExit(code)


def _serve_workers(artifacts: Sequence[str], options: ServeOptions, sock: socket.socket, on_ready: Callable[[str], None]) -> int:
    from prometheus_client import multiprocess

    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    with tempfile.TemporaryDirectory(prefix="sentiment-serve-metrics-") as metrics_dir:
        previous = os.environ.get(MULTIPROCESS_ENV)
        metrics_dir = previous or metrics_dir
        os.environ[MULTIPROCESS_ENV] = metrics_dir  # inherited by the workers, read when they import prometheus_client
        try:
            workers = [
                context.Process(target=_worker_main, args=(list(artifacts), options, sock, events), name=f"serve-{index}")
                for index in range(options.workers)
            ]
            for worker in workers:
                worker.start()
        finally:
            if previous is None:
                os.environ.pop(MULTIPROCESS_ENV, None)

        def forward(signum: int, frame: Any) -> None:
            for worker in workers:
                if worker.is_alive():
                    os.kill(worker.pid, signal.SIGTERM)

        for signum in _STOP_SIGNALS:
            signal.signal(signum, forward)
        ready = 0
        failure = None
        while ready < len(workers) and failure is None:
            try:
                kind, detail = events.get(timeout=_WORKER_START_TIMEOUT_S)
            except Exception:  # queue.Empty: a worker hung while loading
                failure = f"workers did not start within {_WORKER_START_TIMEOUT_S:g} s"
                break
            if kind == "ready":
                ready += 1
            else:
                failure = detail
        if failure is not None:
            forward(signal.SIGTERM, None)
        else:
            on_ready(url_of(sock))
        for worker in workers:
            worker.join()
            multiprocess.mark_process_dead(worker.pid, path=metrics_dir)
        if failure is not None:
            raise ServeError(failure)
        bad = [f"{worker.name} exit {worker.exitcode}" for worker in workers if worker.exitcode != 0]
        if bad:
            raise ServeError(f"worker processes failed: {', '.join(bad)}")
        return 0


def serve(artifacts: Sequence[str], options: ServeOptions, *, on_ready: Callable[[str], None] | None = None) -> int:
    """Serve ``artifacts`` until SIGTERM/SIGINT; returns 0 after a clean drain.

    ``on_ready(url)`` is called once the socket accepts requests and every model
    is verified and warmed up. Raises :class:`ServeError` (one line) when the
    address cannot be bound, an artifact cannot be served, or a worker fails.
    """
    if not artifacts:
        raise ServeError("no artifact to serve; give at least one ARTIFACT path")
    sock = bind(options.host, options.port)
    report = on_ready or (lambda url: logger.info("serving on %s", url))
    try:
        if options.workers == 1:
            return _run_one(artifacts, options, sock, lambda: report(url_of(sock)))
        return _serve_workers(artifacts, options, sock, report)
    finally:
        sock.close()

"""The ``serve`` subcommand: an HTTP inference server (Open Inference Protocol v2 and ``/predict``).

Thin on purpose: argparse maps onto :class:`~sentiment_export.serving.http.options.ServeOptions`
and :func:`~sentiment_export.serving.http.server.serve`. Needs the ``[serve]`` extra;
without it the command says which packages to install.
"""

from __future__ import annotations

import argparse
import sys

from .options import EXIT_USAGE, add_public_key_option, add_trust_custom_rules_option


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand to the ``sentiment_export`` CLI's subparsers."""
    parser = subparsers.add_parser(
        "serve",
        help="serve artifacts over HTTP (Open Inference Protocol v2, adaptive batching)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=(
            "Serve one or more artifacts over HTTP: the Open Inference Protocol v2 (KServe/Triton REST: "
            "/v2/health/*, /v2/models/NAME[/versions/VERSION][/ready|/infer]), POST /predict with "
            '{"texts": [...]}, GET /metrics (Prometheus) and GET /openapi.json. Concurrent requests are '
            "batched together. Prints 'listening on URL' on stdout once every artifact is verified and "
            "warmed up; SIGTERM drains (every accepted request is answered) and exits 0."
        ),
    )
    parser.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="artifact directories or archives (name and version come from each manifest)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one (printed)")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32", help="which ONNX model of each artifact")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto",
        help="auto = CUDA when it really works, else CPU; cuda fails rather than fall back",
    )
    parser.add_argument(
        "--ort-threads", dest="threads", type=int, default=None, metavar="N",
        help="onnxruntime intra-op threads per session (default: the runtime's, at most 4)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port, each with its own models")
    parser.add_argument("--concurrency", type=int, default=1, help="batches scored at once per process (worker threads)")
    parser.add_argument("--max-batch-size", type=int, default=64, help="most texts scored in one batch; 1 turns batching off")
    parser.add_argument(
        "--max-delay-ms", type=float, default=2.0,
        help="longest a queued request waits for batch-mates, and only while more requests are arriving",
    )
    parser.add_argument("--queue-limit", type=int, default=256, help="requests waiting per model before new ones get 503 (Retry-After: 1)")
    parser.add_argument("--body-limit", type=int, default=1 << 20, help="largest request body in bytes (413 above)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request from arrival to answer (504 past it)")
    parser.add_argument("--no-access-log", action="store_true", help="no JSON access-log line per request on stderr")
    add_public_key_option(parser)
    add_trust_custom_rules_option(parser)
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Handler of ``serve``: one line on stderr and exit 1 for an error, 0 after a clean shutdown."""
    try:
        from ..serving.http.options import ServeOptions
        from ..serving.http.server import configure_access_log, serve
    except ImportError as error:
        sys.stderr.write(f"error: serve needs the [serve] extra ({error.name} is missing): pip install 'sentiment_export[serve]'\n")
        return EXIT_USAGE
    options = ServeOptions(
        host=args.host, port=args.port, precision=args.precision, device=args.device, threads=args.threads,
        workers=args.workers, concurrency=args.concurrency, max_batch_size=args.max_batch_size,
        max_delay_ms=args.max_delay_ms, queue_limit=args.queue_limit, body_limit=args.body_limit,
        timeout_s=args.timeout, access_log=not args.no_access_log, public_key=args.public_key,
        trust_custom_rules=args.trust_custom_rules,
    )
    configure_access_log(options.access_log)

    def announce(url: str) -> None:
        sys.stdout.write(f"listening on {url}\n")
        sys.stdout.flush()

    return serve(args.artifacts, options, on_ready=announce)

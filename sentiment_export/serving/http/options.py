"""The server's settings, one dataclass, each option bounded and checked once (the CLI maps onto it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from .errors import ServeError

PRECISIONS = ("fp32", "int8")
DEVICES = ("auto", "cpu", "cuda")

# option -> (lowest, highest) accepted value
BOUNDS: dict[str, tuple[float, float]] = {
    "port": (0, 65535),
    "threads": (1, 64),
    "workers": (1, 64),
    "concurrency": (1, 64),
    "max_batch_size": (1, 4096),
    "max_delay_ms": (0.0, 1000.0),
    "queue_limit": (1, 1_000_000),
    "body_limit": (256, 1 << 30),
    "timeout_s": (0.001, 3600.0),
}


@dataclass(frozen=True)
class ServeOptions:
    """How the server listens, runs the model and batches; see ``sentiment-export serve --help``.

    ``threads``: onnxruntime intra-op threads per session (None: the runtime's
    default). ``workers``: server processes sharing the port, each with its own
    copy of every model. ``concurrency``: batches scored at once per process
    (worker threads). ``max_batch_size`` (texts) and ``max_delay_ms``: the
    batcher's limits (1 = batching off). ``queue_limit``: requests waiting per
    model before 503. ``body_limit``: bytes per request body before 413.
    ``timeout_s``: the per-request deadline before 504. ``public_key``: a PEM
    public key every artifact must be signed by (checked before the server is ready).
    ``trust_custom_rules``: serve artifacts whose spec rules are not a shipped rule set
    (:func:`~sentiment_export.artifact.loader.load_artifact`).
    """

    host: str = "127.0.0.1"
    port: int = 8080
    precision: str = "fp32"
    device: str = "auto"
    threads: int | None = None
    workers: int = 1
    concurrency: int = 1
    max_batch_size: int = 64
    max_delay_ms: float = 2.0
    queue_limit: int = 256
    body_limit: int = 1 << 20
    timeout_s: float = 10.0
    access_log: bool = True
    public_key: str | None = None
    trust_custom_rules: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ServeError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device not in DEVICES:
            raise ServeError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        for option in fields(self):
            if option.name not in BOUNDS:
                continue
            value = getattr(self, option.name)
            if value is None and option.name == "threads":
                continue
            low, high = BOUNDS[option.name]
            flag = "--ort-threads" if option.name == "threads" else "--" + option.name.replace("_", "-").removesuffix("-s")
            integral = isinstance(low, int)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (integral and not isinstance(value, int)):
                raise ServeError(f"{flag} must be {'an integer' if integral else 'a number'}, got {value!r}")
            if not low <= value <= high:
                raise ServeError(f"{flag} must be between {low:g} and {high:g}, got {value:g}")
        if self.workers > (os.cpu_count() or 1) * 4:
            raise ServeError(
                f"--workers {self.workers} is more than 4 per CPU ({os.cpu_count()} CPUs); each worker holds "
                "every model and scores on the same cores"
            )

    @property
    def max_delay_s(self) -> float:
        return self.max_delay_ms / 1000.0

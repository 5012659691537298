"""Load test of `sentiment-export serve`: adaptive batching vs batching off vs the in-process ceiling.

    python -m benchmarks.serve_bench --artifact artifacts/sentiment-default-1.0.0 [--requests 2000] \\
        [--concurrency 1 8 64 256] [--imdb ../shared/data/imdb/test.ft.txt.bz2]

For each data set (the embedded snippets; imdb reviews when the file is
there) and each concurrency, a bounded asyncio client (one keep-alive
connection per concurrent caller, raw HTTP/1.1, so the client costs little
CPU) sends one-text OIP ``infer`` requests of real texts to two servers
started from the same artifact in the same run: adaptive batching (the
defaults) and batching off (``--max-batch-size 1``: one request per
inference). It reports requests/s, p50/p99 latency and errors (a non-200 or a
score that differs from the in-process one by more than 1e-6), and the
ceiling: ``SentimentModel.predict_proba`` over the same texts in one process,
in batches of its default size. Client, servers and ceiling share the machine;
run it on a quiet one and compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from sentiment_export.data.amazon import ReviewFile
from sentiment_export.cli.options import bounded_int

from . import MAX_TEXTS

MAX_CLIENTS = 4096
"""Concurrent client connections at most (each is an open socket and a task)."""

_REPO = Path(__file__).resolve().parents[1]
_SNIPPETS = _REPO / "training" / "default_data" / "test.ft.txt.bz2"
_IMDB = _REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2"
_MAX_REQUESTS = 100_000
_MAX_CELL_S = 120.0
_TOLERANCE = 1e-6


def read_texts(path: Path, count: int) -> list[str]:
    """The first ``count`` review texts of an Amazon-polarity-format file, read by the package's reader."""
    return [review.text for review in itertools.islice(ReviewFile(path), count)]


class Server:
    """A server subprocess on 127.0.0.1 with an ephemeral port."""

    def __init__(self, artifact: str, options: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": f"{_REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sentiment_export", "serve", artifact, "--host", "127.0.0.1", "--port", "0", *options],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.process.kill()
            raise SystemExit(f"server did not start ({line!r}); run it by hand to see why")
        self.host, port = line.split()[-1].removeprefix("http://").rsplit(":", 1)
        self.port = int(port)

    def batches(self) -> tuple[float, float]:
        """(texts, batches) scored so far, from the server's /metrics."""
        with urllib.request.urlopen(f"http://{self.host}:{self.port}/metrics", timeout=30) as response:
            text = response.read().decode()
        total = {"sum": 0.0, "count": 0.0}
        for line in text.splitlines():
            for kind in total:
                if line.startswith(f"sentiment_batch_size_texts_{kind}"):
                    total[kind] += float(line.rsplit(" ", 1)[1])
        return total["sum"], total["count"]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


async def _caller(host: str, port: int, path: str, bodies: list[bytes], next_index, latencies: list, results: dict,
                  stop_at: float) -> None:
    """One keep-alive connection sending requests until the shared counter runs out or time is up."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            index = next(next_index, None)
            if index is None:
                return
            body = bodies[index % len(bodies)]
            start = time.perf_counter()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            )
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            results[index] = (status, payload)
    finally:
        writer.close()


async def _load(host: str, port: int, path: str, bodies: list[bytes], *, requests: int, concurrency: int):
    next_index = iter(range(requests))
    latencies: list[float] = []
    results: dict[int, tuple[int, bytes]] = {}
    start = time.perf_counter()
    await asyncio.gather(*(
        _caller(host, port, path, bodies, next_index, latencies, results, start + _MAX_CELL_S) for _ in range(concurrency)
    ))
    return time.perf_counter() - start, latencies, results


def measure(server: Server, name: str, texts: list[str], expected: np.ndarray, *, requests: int, concurrency: int) -> dict:
    """Requests/s, latency percentiles and errors of one (server, data, concurrency) cell."""
    path = f"/v2/models/{name}/infer"
    bodies = [
        json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}).encode()
        for text in texts
    ]
    texts_before, batches_before = server.batches()
    elapsed, latencies, results = asyncio.run(
        _load(server.host, server.port, path, bodies, requests=requests, concurrency=concurrency)
    )
    texts_after, batches_after = server.batches()
    errors = 0
    for index, (status, payload) in results.items():
        if status != 200:
            errors += 1
            continue
        score = json.loads(payload)["outputs"][0]["data"][0]
        errors += abs(score - float(expected[index % len(texts)])) > _TOLERANCE
    milliseconds = np.array(latencies) * 1000
    return {
        "rps": len(results) / elapsed,
        "p50": float(np.percentile(milliseconds, 50)),
        "p99": float(np.percentile(milliseconds, 99)),
        "errors": errors,
        "done": len(results),
        "mean_batch": (texts_after - texts_before) / max(batches_after - batches_before, 1),
    }


def ceiling(model, texts: list[str], *, repeats: int = 3) -> float:
    """In-process texts/s of ``predict_proba`` over all texts (its default batching), best of ``repeats``."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(texts)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", default=str(_REPO / "artifacts" / "sentiment-default-1.0.0"))
    parser.add_argument("--requests", type=bounded_int(1, MAX_TEXTS), default=2000, help="requests per cell (each also stops after 120 s)")
    parser.add_argument("--texts", type=bounded_int(1, MAX_TEXTS), default=1000, help="distinct texts per data set, sent round-robin")
    parser.add_argument("--concurrency", type=bounded_int(1, MAX_CLIENTS), nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--imdb", type=Path, default=_IMDB, help="imdb reviews file (skipped when absent)")
    parser.add_argument("--server-option", action="append", default=[], metavar="OPT",
                        help="extra option for both servers, e.g. --server-option=--ort-threads=1 (repeatable)")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= _MAX_REQUESTS:
        parser.error(f"--requests must be between 1 and {_MAX_REQUESTS}, got {args.requests}")
    if not 1 <= args.texts <= 100_000:
        parser.error(f"--texts must be between 1 and 100000, got {args.texts}")
    if not all(1 <= c <= 1024 for c in args.concurrency):
        parser.error("every --concurrency must be between 1 and 1024")

    from sentiment_export import SentimentModel

    model = SentimentModel.load(args.artifact, device="cpu")
    name = model.artifact.manifest.name
    datasets = {"snippets": read_texts(_SNIPPETS, args.texts)}
    if args.imdb.exists():
        datasets["imdb"] = read_texts(args.imdb, args.texts)
    else:
        print(f"(imdb skipped: {args.imdb} not found)")
    expected = {data: model.predict_proba(texts) for data, texts in datasets.items()}

    modes = {"batched": [], "off": ["--max-batch-size", "1"]}
    servers = {mode: Server(args.artifact, ["--no-access-log", *options, *args.server_option]) for mode, options in modes.items()}
    cells: dict[tuple[str, str, int], dict] = {}
    ceilings: dict[str, float] = {}
    try:
        for data, texts in datasets.items():
            ceilings[data] = ceiling(model, texts)
            for mode, server in servers.items():  # warm-up
                measure(server, name, texts, expected[data], requests=min(200, args.requests), concurrency=8)
            for concurrency in args.concurrency:
                for mode, server in servers.items():  # side by side, so that a change of load hits both
                    cells[(mode, data, concurrency)] = measure(
                        server, name, texts, expected[data], requests=args.requests, concurrency=concurrency
                    )
    finally:
        codes = {mode: server.stop() for mode, server in servers.items()}
    for mode, code in codes.items():
        if code != 0:
            print(f"warning: the {mode} server exited {code} after SIGTERM")

    print(f"artifact {args.artifact}, {args.requests} one-text OIP infer requests per cell, servers: "
          f"{' '.join(args.server_option) or 'defaults'} (+ --no-access-log)")
    header = ("| data | concurrency | batched req/s | p50 ms | p99 ms | errors | mean batch | batching off req/s | p50 ms | p99 ms | "
              "errors | batched / off | in-process ceiling texts/s | batched / ceiling |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for data in datasets:
        for concurrency in args.concurrency:
            on, off = cells[("batched", data, concurrency)], cells[("off", data, concurrency)]
            print(
                f"| {data} | {concurrency} | {on['rps']:,.0f} | {on['p50']:.1f} | {on['p99']:.1f} | {on['errors']} | "
                f"{on['mean_batch']:.1f} | "
                f"{off['rps']:,.0f} | {off['p50']:.1f} | {off['p99']:.1f} | {off['errors']} | "
                f"{on['rps'] / off['rps']:.2f}x | {ceilings[data]:,.0f} | {on['rps'] / ceilings[data]:.0%} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

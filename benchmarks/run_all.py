"""The benchmark suite: one command, one table, every row measured in this run on the same artifact and data.

    python -m benchmarks.run_all --artifact A [--seed-artifact B] [--quick]

Rows (per artifact, per data set: the snippets test set and the imdb test set):
end-to-end raw text -> score (texts/s, single-text latency p50/p99, accuracy)
for the article's way (benchmarks/article_baseline.py; "not run", with the
reason, for a network it cannot run faithfully), eager PyTorch through our
encoder, TorchScript, the onnxruntime runtime fp32 and int8; the encoder alone
(benchmarks/encoder_bench.py); training throughput of ``training.loop`` vs
the article's loop; cold start and peak RSS of the runtime in a fresh
process; useful FLOP rate vs this machine's fp32 matmul rate. Then the
performance targets, each met or not. ``--quick`` shrinks every input for a
smoke test (seconds on a tiny artifact); its figures mean nothing. See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiment_export import (
    Artifact,
    ProbabilityModel,
    SentimentModel,
    SentimentNet,
    SentimentNetConfig,
    TextEncoder,
    artifact_model_config,
    load_artifact,
    load_eager_model,
)
from sentiment_export.data.amazon import read_reviews
from sentiment_export.serving.providers import default_intra_op_threads
from sentiment_export.cli.options import MAX_THREADS, bounded_int
from sentiment_export.serving.runtime import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, batch_plan
from training.presets import MAX_BATCH_SIZE as MAX_TRAIN_BATCH_SIZE

from . import MAX_TEXTS

from .article_baseline import ArticleNet, article_scores, left_padded, train_article_loop, unsupported_reason
from .encoder_bench import measure_encoders

REPO = Path(__file__).resolve().parents[1]
SNIPPETS = REPO / "training" / "default_data" / "test.ft.txt.bz2"
IMDB = REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2"
Scorer = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Row:
    artifact: str
    section: str
    name: str
    data: str
    value: str
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)  # "artifact|data|key" -> number, for the targets

    def add(self, artifact: str, section: str, name: str, data: str, value: str, note: str = "") -> None:
        self.rows.append(Row(artifact, section, name, data, value, note))
        print(f"  [{artifact}] {section} / {name} / {data}: {value} {note}", file=sys.stderr, flush=True)


def recorded_facts(artifact: Artifact) -> tuple[str, dict[str, Any]]:
    """The artifact's name and its recorded training hyper-parameters: the suite's only manifest reads."""
    manifest = artifact.manifest
    return manifest.name, manifest.training.get("hyperparameters", {})


# -- model arithmetic ---------------------------------------------------------------------------------


def flops_per_review(config: SentimentNetConfig, length: int) -> float:
    """Useful FLOPs for one review of ``length`` real tokens (matmuls only; the formula is in the README).

    Per real step, each LSTM layer and direction does ``8 H (I + H)`` FLOPs
    (four gates, ``x W_ih`` and ``h W_hh``, one multiply-add = 2 FLOPs), with
    ``I`` = embedding_dim for layer 1 and ``D H`` above; the Linear layer does
    ``2 F`` once per review. Elementwise gate math (~``20 H`` per step) and the
    embedding lookup are left out. A two-branch network's LSTM runs over at most
    ``recurrent_steps`` tokens; its bag of n-grams adds only lookups and sums
    (left out) and a ``2 ngram_dim`` Linear.
    """
    directions = 2 if config.bidirectional else 1
    hidden = config.hidden_dim
    per_step = 0
    for layer in range(config.num_layers):
        size_in = config.embedding_dim if layer == 0 else directions * hidden
        per_step += directions * 8 * hidden * (size_in + hidden)
    features = directions * hidden * (2 if config.pooling == "mean_max" else 1) + config.ngram_dim
    steps = max(1, length) if not config.recurrent_steps else min(max(1, length), config.recurrent_steps)
    return float(steps * per_step + 2 * features)


def matmul_gflops(*, size: int, repeats: int, threads: int, device: str = "cpu") -> float:
    """The fp32 ``torch.mm`` rate (GFLOP/s, best of ``repeats``) on ``threads`` threads or on the GPU.

    On CUDA the caller turns TF32 off first, so the ceiling is real fp32 like the models' arithmetic.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        _synchronize(device)
        started = time.perf_counter()
        torch.mm(a, b)
        _synchronize(device)
        best = min(best, time.perf_counter() - started)
    torch.set_num_threads(previous)
    return 2 * size**3 / best / 1e9


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def flop_fractions(results: Results, ceiling: float) -> None:
    """One row per artifact and data set: each way's useful FLOP rate as a fraction of the mm ceiling."""
    f = results.figures
    ways: dict[tuple[str, str], list[str]] = {}  # (artifact, data) -> the ways measured, in order
    for key in [k for k in f if k.endswith("|useful_gflops")]:
        tag, data, way = key.split("|")[:3]
        ways.setdefault((tag, data), []).append(way)
    for (tag, data), names in ways.items():
        parts = []
        for way in names:
            rate = f[f"{tag}|{data}|{way}|useful_gflops"]
            f[f"{tag}|{data}|{way}|flop_fraction"] = rate / ceiling
            parts.append(f"{way} {rate / ceiling:.1%}")
        results.add(tag, "arithmetic", "useful FLOP/s as a fraction of fp32 mm", data, "; ".join(parts),
                    f"ceiling {ceiling:.1f} GFLOP/s")


# -- end to end -------------------------------------------------------------------------------------


def sorted_batches_scorer(model: torch.nn.Module, encoder: TextEncoder, batch_size: int, device: str = "cpu") -> Scorer:
    """A torch model (ids -> P(positive)) batched the runtime's way (:meth:`TextEncoder.score_length_sorted`
    with :func:`~sentiment_export.serving.runtime.batch_plan`)."""
    plan = batch_plan(batch_size, on_gpu=device == "cuda")

    def run(ids: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(ids).to(device)).cpu().numpy()

    def score(texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            return encoder.score_length_sorted(encoder.encode_ids_batch(texts), run, **plan)

    return score


def scorers_for(artifact: Artifact, batch_size: int, threads: int | None, device: str = "cpu") -> dict[str, Scorer]:
    """The end-to-end table's ways (article, eager, torchscript, ort fp32, ort int8) on ``device`` ("cpu" or "cuda").

    Without "article" when the article's way cannot run the artifact's network
    faithfully (:func:`benchmarks.article_baseline.unsupported_reason`).
    """
    encoder = artifact.encoder()
    net = load_eager_model(artifact).to(device)
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: TorchScript is what the artifact ships
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(artifact.file("torchscript")), map_location=device).eval()
    scorers: dict[str, Scorer] = {}
    if unsupported_reason(net.config) is None:
        article = ArticleNet(net).eval()
        scorers["article"] = lambda texts: article_scores(texts, article, encoder.vocabulary, batch_size=batch_size,
                                                          device=device)
    return scorers | {
        "eager": sorted_batches_scorer(ProbabilityModel(net).eval(), encoder, batch_size, device),
        "torchscript": sorted_batches_scorer(scripted, encoder, batch_size, device),
        "ort fp32": _runtime_scorer(artifact, "fp32", batch_size, threads, device),
        "ort int8": _runtime_scorer(artifact, "int8", batch_size, threads, device),
    }


def _runtime_scorer(artifact: Artifact, precision: str, batch_size: int, threads: int | None, device: str) -> Scorer:
    """``SentimentModel.predict_proba``, the session made at the first call (the warm-up, untimed).

    Lazily, so that a precision one device cannot load (int8 on a GPU, say)
    fails that way's first call alone, not every way. ``threads`` ``None``:
    the runtime's defaults (on the CPU, concurrent batches on one thread each).
    """
    runtime: list[SentimentModel] = []

    def score(texts: Sequence[str]) -> np.ndarray:
        if not runtime:
            runtime.append(SentimentModel.load(
                artifact.root, device=device, precision=precision, batch_size=batch_size, intra_op_threads=threads
            ))
        return runtime[0].predict_proba(texts)

    return score


def bench_end_to_end(
    results: Results, tag: str, artifact: Artifact, data: dict[str, tuple[list[str], np.ndarray]],
    *, scorers: dict[str, Scorer], batch_size: int, latency_texts: int,
) -> dict[str, dict[str, np.ndarray]]:
    """Every scorer on every data set, interleaved; one row each. Returns data name -> way -> scores.

    ``scorers`` holds at least "ort fp32" (int8's agreement is against it);
    "article", when there, is the base of the speed ratios, and when it is not,
    its row says why.
    """
    scored = {}
    config = artifact_model_config(artifact)
    encoder = artifact.encoder()
    for data_name, (texts, labels) in data.items():
        if "article" not in scorers:
            results.add(tag, "end-to-end", "article", data_name, "not run",
                        unsupported_reason(config) or "no article scorer given")
        lengths = [len(row) for row in encoder.encode_ids_batch(texts)]
        useful = sum(flops_per_review(config, n) for n in lengths)
        results.add(tag, "model", "useful GFLOP per review (mean; real tokens)", data_name,
                    f"{useful / len(texts) / 1e9:.4f}", f"{len(texts)} texts, mean {np.mean(lengths):.0f} tokens, "
                    f"{np.mean(np.array(lengths) >= 200):.0%} at 200; our encoder backend: {encoder.backend}")
        picks = np.random.default_rng(0).choice(len(texts), size=min(latency_texts, len(texts)), replace=False)
        seconds, scores, latencies, alone = _interleaved(scorers, texts, [texts[i] for i in picks], chunk=4 * batch_size)
        scored[data_name] = scores
        for way in scorers:
            rate = len(texts) / seconds[way]
            p50, p99 = np.percentile(np.array(latencies[way]) * 1e3, [50, 99])
            predicted = (scores[way] >= 0.5).astype(np.int64)
            accuracy = float(np.mean(predicted == labels))
            batch_mates = float(np.abs(np.array(alone[way]) - scores[way][picks]).max())
            key = f"{tag}|{data_name}|{way}"
            results.figures.update({f"{key}|rate": rate, f"{key}|accuracy": accuracy,
                                    f"{key}|useful_gflops": useful / seconds[way] / 1e9,
                                    f"{key}|alone_vs_batched": batch_mates})
            base = len(texts) / seconds["article"] if "article" in seconds else None
            note = (f"{rate / base:.1f}x article; " if base else "") + f"useful {useful / seconds[way] / 1e9:.1f} GFLOP/s"
            if way == "ort int8":
                agreement = float(np.mean(predicted == (scores["ort fp32"] >= 0.5)))
                results.figures[f"{key}|agreement"] = agreement
                note += f"; labels = fp32 on {agreement:.2%}"
            note += f"; alone vs in batch max abs diff {batch_mates:.1e}"
            results.add(tag, "end-to-end", way, data_name,
                        f"{rate:.0f} texts/s; 1 text p50 {p50:.2f} ms p99 {p99:.2f} ms; acc {accuracy:.2%}", note)
    return scored


def _interleaved(
    scorers: dict[str, Scorer], texts: Sequence[str], singles: Sequence[str], *, chunk: int
) -> tuple[dict[str, float], dict[str, np.ndarray], dict[str, list[float]], dict[str, list[float]]]:
    """Every way on the same chunk of texts in turn (rotating order), so load changes hit all ways alike.

    Returns seconds per way over all chunks, each way's scores in input order, and each way's
    single-text call times and scores (``singles`` scored alone, in order).
    """
    names = list(scorers)
    for score in scorers.values():
        score(texts[:2])  # warm-up (allocations, first-call paths)
    seconds = dict.fromkeys(names, 0.0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for number, start in enumerate(range(0, len(texts), chunk)):
        part = texts[start : start + chunk]
        for name in names[number % len(names) :] + names[: number % len(names)]:
            started = time.perf_counter()
            parts[name].append(scorers[name](part))
            seconds[name] += time.perf_counter() - started
    latencies: dict[str, list[float]] = {name: [] for name in names}
    alone: dict[str, list[float]] = {name: [] for name in names}
    for number, text in enumerate(singles):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            started = time.perf_counter()
            score = scorers[name]([text])
            latencies[name].append(time.perf_counter() - started)
            alone[name].append(float(score[0]))
    return seconds, {name: np.concatenate(parts[name]) for name in names}, latencies, alone


# -- encoder ----------------------------------------------------------------------------------------


def bench_encoder(results: Results, tag: str, data: dict[str, tuple[list[str], np.ndarray]]) -> None:
    """:func:`benchmarks.encoder_bench.measure_encoders` on each data set, one row per figure."""
    for data_name, (texts, _) in data.items():
        measured = measure_encoders(texts)
        for key, value in measured.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            results.add(tag, "encoder", str(key), data_name, shown)
            if isinstance(value, (int, float)):
                results.figures[f"{tag}|{data_name}|encoder|{key}"] = float(value)


# -- training ---------------------------------------------------------------------------------------


def _subset_file(source: Path, count: int, directory: Path) -> Path:
    import bz2

    with bz2.open(source, "rb") as handle:
        lines = [next(handle) for _ in range(count)]
    path = directory / f"{source.name.split('.')[0]}-{count}.ft.txt"
    path.write_bytes(b"".join(lines))
    return path


def bench_training(
    results: Results, tag: str, artifact: Artifact, *, steps: int, batch_size: int | None, quick: bool, workdir: Path
) -> None:
    """Our training loop (training.loop.train, max_steps) vs the article's loop, same model config and data.

    The article's loop is left out (its row says why) for a network the article's way cannot run faithfully.
    """
    from sentiment_export import load_checkpoint
    from training.data import read_labelled_file, split_validation
    from training.loop import TrainConfig, train
    from training.presets import PRESETS, Hyperparameters

    recorded = recorded_facts(artifact)[1]
    known = {name: recorded[name] for name in Hyperparameters.__dataclass_fields__ if name in recorded}
    # the artifact's recorded hyper-parameters (the preset's, when recorded; else the random-embedding bilstm
    # preset's), its network, one evaluation at the end
    hp = PRESETS["bilstm"].with_overrides(**{**known, **_network_fields(artifact_model_config(artifact))})
    hp = hp.with_overrides(epochs=1, eval_every=steps, patience=0, batch_size=batch_size)
    workdir.mkdir(parents=True, exist_ok=True)
    train_file, test_file = (REPO / "training" / "default_data" / f"{s}.ft.txt.bz2" for s in ("train", "test"))
    if quick:
        train_file, test_file = _subset_file(train_file, 300, workdir), _subset_file(test_file, 30, workdir)
    config = TrainConfig(preset="benchmark", hyperparameters=hp, train_file=train_file, test_file=test_file,
                         device="cpu", runs_root=workdir / "runs", max_steps=steps, progress=False)
    ours = train(config)
    our_rate = ours.metrics["reviews_per_second"]
    ours_value = f"{our_rate:.0f} reviews/s; val loss {ours.metrics['best_val_loss']:.4f}"
    article_row = ("training", "article loop (200 left-padded, shuffled)", "snippets")
    checkpoint = load_checkpoint(ours.last_checkpoint)
    reason = unsupported_reason(checkpoint.model_config)
    if reason is not None:
        results.add(tag, *article_row, "not run", reason)
        results.add(tag, "training", "training.loop (length-bucketed)", "snippets", ours_value)
        return
    encoder = checkpoint.build_encoder()
    reviews = read_labelled_file(train_file).reviews
    train_index, val_index = split_validation(len(reviews), fraction=config.val_fraction, seed=config.val_seed)
    labels = np.array([review.label for review in reviews], dtype=np.int64)

    def article_inputs(index: np.ndarray) -> np.ndarray:
        return left_padded(encoder.encode_ids_batch([reviews[i].text for i in index]))  # our ids, its padding

    torch.manual_seed(config.seed)  # the loop's own initial weights
    net = SentimentNet(checkpoint.model_config)
    article = train_article_loop(
        net, article_inputs(train_index), labels[train_index], article_inputs(val_index), labels[val_index],
        steps=steps, batch_size=hp.batch_size, learning_rate=hp.learning_rate, grad_clip=hp.grad_clip,
        seed=config.seed,
    )
    results.figures[f"{tag}|train|ratio"] = our_rate / article.reviews_per_second
    what = f"{steps} steps x {hp.batch_size} reviews, snippets train"
    results.add(tag, *article_row, f"{article.reviews_per_second:.0f} reviews/s; val loss {article.val_loss:.4f}",
                what)
    results.add(tag, "training", "training.loop (length-bucketed)", "snippets", ours_value,
                f"{our_rate / article.reviews_per_second:.1f}x article")


def _network_fields(config: SentimentNetConfig) -> dict:
    return {name: value for name, value in config.to_dict().items() if name != "vocab_size"}


# -- cold start -------------------------------------------------------------------------------------


def bench_cold_start(results: Results, tag: str, artifact: Artifact, texts: Sequence[str], *, threads: int,
                     workdir: Path) -> None:
    """Fresh interpreter per precision: import, load to first prediction, peak RSS after scoring ``texts``."""
    text_file = workdir / "cold-start-texts.txt"
    text_file.write_text("\n".join(text.replace("\n", " ") for text in texts) + "\n", encoding="utf-8")
    for precision in ("fp32", "int8"):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.cold_start", str(artifact.root), precision, str(threads), str(text_file)],
            capture_output=True, text=True, check=True, cwd=REPO,
        )
        wall = time.perf_counter() - started
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        with_import = figures["import_s"] + figures["load_to_first_s"]
        results.figures[f"{tag}|cold|{precision}|load"] = figures["load_to_first_s"]
        results.figures[f"{tag}|cold|{precision}|with_import"] = with_import
        results.add(tag, "cold start", f"runtime {precision}", "-",
                    f"load->first {figures['load_to_first_s']:.2f} s; with import {with_import:.2f} s; "
                    f"peak RSS {figures['peak_rss_mb']:.0f} MB; torch imported: {figures['torch_imported']}",
                    f"process wall incl. interpreter and {len(texts)} imdb texts {wall:.1f} s")


# -- targets and output -----------------------------------------------------------------------------


SPEED_TARGETS = (("snippets", "ort fp32", 8), ("snippets", "ort int8", 10), ("imdb", "ort fp32", 2.5), ("imdb", "ort int8", 3))
"""(data, way, least speed-up over the article's way in the same run) that the packaged install is held to."""


def targets(results: Results, tag: str) -> list[str]:
    f = results.figures
    lines = []

    def check(name: str, value: float | None, goal: float, shown: str) -> None:
        if value is None:
            lines.append(f"| {tag} | {name} | not measured | |")
            return
        lines.append(f"| {tag} | {name} | {shown} | {'met' if value >= goal else 'GAP'} |")

    def ratio(data: str, way: str) -> float | None:
        if f"{tag}|{data}|{way}|rate" not in f or f"{tag}|{data}|article|rate" not in f:
            return None
        return f[f"{tag}|{data}|{way}|rate"] / f[f"{tag}|{data}|article|rate"]

    for data, way, goal in SPEED_TARGETS:
        value = ratio(data, way)
        check(f"{data}: {way} >= {goal}x article", value, goal, f"{value:.1f}x" if value else "")
    fraction = f.get(f"{tag}|imdb|ort fp32|flop_fraction")
    check("imdb: fp32 useful FLOP/s >= 80% of mm", fraction, 0.8, f"{fraction:.0%}" if fraction else "")
    for data in ("snippets", "imdb"):
        agreement = f.get(f"{tag}|{data}|ort int8|agreement")
        check(f"{data}: int8 labels = fp32 >= 99.5%", agreement, 0.995, f"{agreement:.2%}" if agreement else "")
        if f"{tag}|{data}|ort int8|accuracy" in f:
            gap = abs(f[f"{tag}|{data}|ort int8|accuracy"] - f[f"{tag}|{data}|ort fp32|accuracy"]) * 100
            check(f"{data}: abs(int8 - fp32 accuracy) <= 0.3 pt", 0.3 - gap, 0.0, f"{gap:.2f} pt")
    train_ratio = f.get(f"{tag}|train|ratio")
    check("training >= 2x article loop", train_ratio, 2.0, f"{train_ratio:.1f}x" if train_ratio else "")
    cold = f.get(f"{tag}|cold|fp32|load")
    if cold is not None:
        with_import = f[f"{tag}|cold|fp32|with_import"]
        check("cold start fp32 < 1.5 s (load->first; with import)", 1.5 - with_import, 0.0,
              f"{cold:.2f} s; {with_import:.2f} s")
    return lines


def render(results: Results) -> str:
    lines = ["| artifact | section | row | data | measured | note |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.artifact} | {r.section} | {r.name} | {r.data} | {r.value} | {r.note} |" for r in results.rows]
    return "\n".join(lines)


def read_texts(path: Path, limit: int | None) -> tuple[list[str], np.ndarray]:
    """The texts and labels (0/1) of the first ``limit`` reviews of an Amazon-format file (all: None)."""
    reviews = read_reviews(path)[0][:limit]
    return [review.text for review in reviews], np.array([review.label for review in reviews], dtype=np.int64)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def run(argv: Sequence[str] | None = None) -> Results:
    """Parse ``argv``, measure everything, print the table and the targets; return the results (for tests)."""
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, help="artifact directory (e.g. the default preset's)")
    parser.add_argument("--seed-artifact", help="a seed-preset artifact, measured the same way")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke test, figures meaningless")
    parser.add_argument("--snippets", type=Path, default=SNIPPETS)
    parser.add_argument("--imdb", type=Path, default=IMDB)
    parser.add_argument("--snippets-texts", type=bounded_int(1, MAX_TEXTS), help="texts from the head of the snippets test set (default 1000; quick 24)")
    parser.add_argument("--imdb-texts", type=bounded_int(1, MAX_TEXTS), help="texts from the head of the imdb test set (default 300; quick 8)")
    parser.add_argument("--latency-texts", type=bounded_int(1, MAX_TEXTS), help="single-text calls per row (default 60; quick 3)")
    parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH_SIZE), default=DEFAULT_BATCH_SIZE,
                        help=f"texts per batch, every way (default: the runtime's, {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--threads", type=bounded_int(1, MAX_THREADS),
                        help="onnxruntime intra-op threads, one batch at a time (default: the runtime's defaults, "
                             "on the CPU one batch per usable CPU at once, one thread each); torch's for the matmul "
                             "ceiling and the cold start's session get this many, or the usable CPUs (at most 4)")
    parser.add_argument("--torch-threads", type=bounded_int(1, MAX_THREADS), default=1,
                        help="torch threads for the article, eager, TorchScript and training rows (default 1: "
                             "faster for these LSTMs on a small shared CPU; benchmarks/README.md, Decisions)")
    parser.add_argument("--train-steps", type=bounded_int(1, MAX_TEXTS), help="optimizer steps per training loop (default by model size)")
    parser.add_argument("--train-batch-size", type=bounded_int(1, MAX_TRAIN_BATCH_SIZE),
                        help="reviews per training step, both loops (default: the artifact's preset's; 64 for a "
                             "seed-size model, whose article loop needs minutes per 400-review step here)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    quick = args.quick
    started = time.perf_counter()
    cpu_threads = args.threads or default_intra_op_threads()
    ort_threads = args.threads or f"the runtime's defaults ({cpu_threads} concurrent batches, 1 thread each)"
    print(f"machine: {os.cpu_count()} CPUs ({_cpu_model()}); onnxruntime threads {ort_threads}, torch threads "
          f"{args.torch_threads}; batch size {args.batch_size}; "
          f"{_load()} at start; torch {torch.__version__}")
    data = {
        "snippets": read_texts(args.snippets, args.snippets_texts or (24 if quick else 1000)),
        "imdb": read_texts(args.imdb, args.imdb_texts or (8 if quick else 300)),
    }
    mm = matmul_gflops(size=256 if quick else 2048, repeats=2 if quick else 5, threads=cpu_threads)
    results = Results()
    results.add("-", "machine", "fp32 torch.mm rate at the start", "-", f"{mm:.1f} GFLOP/s",
                f"{cpu_threads} threads, 2048x2048, best of 5")
    torch.set_num_threads(args.torch_threads)
    artifacts = [("default", args.artifact)] + ([("seed", args.seed_artifact)] if args.seed_artifact else [])
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        for tag, path in artifacts:
            artifact = load_artifact(path)
            tag = f"{tag}:{recorded_facts(artifact)[0]}"
            big = flops_per_review(artifact_model_config(artifact), 200) > 2e8
            steps = args.train_steps or (2 if quick else (4 if big else 60))
            train_batch = args.train_batch_size or (64 if big else None)
            bench_end_to_end(results, tag, artifact, data, scorers=scorers_for(artifact, args.batch_size, args.threads),
                             batch_size=args.batch_size, latency_texts=args.latency_texts or (3 if quick else 60))
            bench_encoder(results, tag, data)
            bench_training(results, tag, artifact, steps=steps, batch_size=train_batch, quick=quick,
                           workdir=workdir / tag)
            bench_cold_start(results, tag, artifact, data["imdb"][0], threads=cpu_threads, workdir=workdir)
        mm_end = matmul_gflops(size=256 if quick else 2048, repeats=2 if quick else 5, threads=cpu_threads)
    ceiling = max(mm, mm_end)
    results.add("-", "machine", "fp32 torch.mm rate at the end", "-", f"{mm_end:.1f} GFLOP/s",
                f"ceiling used below: the higher of the two, {ceiling:.1f} GFLOP/s")
    flop_fractions(results, ceiling)
    print()
    print(render(results))
    print()
    print("| artifact | target | measured | |\n|---|---|---|---|")
    for tag in dict.fromkeys(row.artifact for row in results.rows if row.artifact != "-"):
        print("\n".join(targets(results, tag)))
    print(f"\n{_load()} at the end; total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results.figures, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    run()

"""The benchmark suite (``python -m benchmarks.run_all --quick``) on the tiny exported artifact, and its baseline.

No timing thresholds: it checks that every row of the suite's table is
produced, that the arithmetic behind the FLOP-rate row is the documented
formula, and that the article's way runs a network with all of its weights
or refuses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import gpu_check, run_all
from benchmarks.article_baseline import (
    SEQ_LEN,
    ArticleBaselineError,
    ArticleNet,
    article_scores,
    left_padded,
    train_article_loop,
)
from sentiment_export import ProbabilityModel, SentimentModel, SentimentNet, SentimentNetConfig, load_artifact


def test_quick_run_produces_every_row(exported_artifact: Path, small_test_file: Path, tmp_path: Path, capsys):
    results = run_all.run([
        "--artifact", str(exported_artifact), "--quick", "--threads", "1",
        "--snippets", str(small_test_file), "--imdb", str(small_test_file),
        "--snippets-texts", "12", "--imdb-texts", "4", "--latency-texts", "2", "--train-steps", "1",
        "--json", str(tmp_path / "figures.json"),
    ])
    rows = {(row.section, row.name, row.data) for row in results.rows}
    for data in ("snippets", "imdb"):
        for way in ("article", "eager", "torchscript", "ort fp32", "ort int8"):
            assert ("end-to-end", way, data) in rows
    sections = {row.section for row in results.rows}
    assert {"machine", "model", "encoder", "training", "cold start"} <= sections
    assert ("cold start", "runtime fp32", "-") in rows
    assert ("training", "training.loop (length-bucketed)", "snippets") in rows
    assert results.figures["default:tiny|snippets|ort fp32|alone_vs_batched"] <= 1e-5  # fp32 ignores batch-mates
    # the tiny model has a bag-of-n-grams branch: the article's rows say why they were not run, never score in part
    refused = [row for row in results.rows if "article" in row.name]
    assert len(refused) == 3 and all(row.value == "not run" and "bag-of-n-grams" in row.note for row in refused)
    printed = capsys.readouterr().out
    assert "| artifact | target | measured |" in printed
    assert "snippets: ort fp32 >= 8x article | not measured" in printed
    assert "training >= 2x article loop | not measured" in printed
    assert (tmp_path / "figures.json").exists()


def _lstm_only(**options) -> SentimentNet:
    torch.manual_seed(0)
    config = dict(vocab_size=30, embedding_dim=6, hidden_dim=5, num_layers=2, dropout=0.0) | options
    return SentimentNet(SentimentNetConfig(**config)).eval()


@pytest.mark.parametrize("options, reason", [
    ({"ngram_dim": 3, "ngram_buckets": 50}, "bag-of-n-grams branch .ngram_dim=3. and a fitted blend"),
    ({"recurrent_steps": 30}, "last 30 tokens"),
])
def test_the_article_way_refuses_a_network_it_cannot_run_with_all_its_weights(options, reason) -> None:
    with pytest.raises(ArticleBaselineError, match=reason):
        ArticleNet(_lstm_only(**options))
    with pytest.raises(ArticleBaselineError, match="LSTM-only model"):
        train_article_loop(_lstm_only(**options), np.ones((4, SEQ_LEN), dtype=np.int64), np.zeros(4), np.ones((2, SEQ_LEN),
                           dtype=np.int64), np.zeros(2), steps=1, batch_size=2, learning_rate=0.01, grad_clip=5.0)


@pytest.mark.parametrize("options", [{}, {"bidirectional": True, "pooling": "mean_max"}])
def test_the_article_way_runs_the_networks_own_weights(options, one_torch_thread) -> None:
    # a review of exactly 200 ids needs no padding, so the article's way must give the network's own score
    net = _lstm_only(**options)
    ids = torch.randint(2, 30, (3, SEQ_LEN))
    with torch.inference_mode():
        assert torch.allclose(ArticleNet(net)(ids), ProbabilityModel(net)(ids), atol=1e-6)


def test_left_padding_keeps_the_first_200_ids() -> None:
    padded = left_padded([[5, 6, 7], list(range(1, 301)), []])
    assert padded.shape == (3, SEQ_LEN) and padded.dtype == np.int64
    assert padded[0, -3:].tolist() == [5, 6, 7] and not padded[0, :-3].any()
    assert padded[1].tolist() == list(range(1, 201))
    assert not padded[2].any()


def test_the_article_loop_trains_on_left_padded_ids(one_torch_thread) -> None:
    rng = np.random.default_rng(0)
    ids = left_padded([rng.integers(2, 30, size=rng.integers(1, 40)).tolist() for _ in range(12)])
    labels = rng.integers(0, 2, size=12)
    result = train_article_loop(_lstm_only(), ids[:8], labels[:8], ids[8:], labels[8:], steps=3, batch_size=4,
                                learning_rate=0.01, grad_clip=5.0)
    assert result.steps == 3 and result.reviews_per_second > 0 and np.isfinite(result.val_loss)


def test_flops_formula():
    # seed model: 200 steps x (8*512*(400+512) + 8*512*(512+512)) + 2*512 = 1.59 GFLOP per 200-token review
    seed = SentimentNetConfig(vocab_size=10)
    assert run_all.flops_per_review(seed, 200) == 200 * (8 * 512 * 912 + 8 * 512 * 1024) + 2 * 512
    bidirectional = SentimentNetConfig(vocab_size=10, embedding_dim=64, hidden_dim=128, num_layers=1,
                                       bidirectional=True, pooling="mean_max")
    assert run_all.flops_per_review(bidirectional, 10) == 10 * 2 * 8 * 128 * (64 + 128) + 2 * 512
    assert run_all.flops_per_review(bidirectional, 0) == run_all.flops_per_review(bidirectional, 1)
    two_branch = SentimentNetConfig(vocab_size=10, embedding_dim=64, hidden_dim=128, num_layers=1, bidirectional=True,
                                    pooling="mean_max", recurrent_steps=256, ngram_dim=4, ngram_buckets=100)
    per_step = 2 * 8 * 128 * (64 + 128)
    assert run_all.flops_per_review(two_branch, 800) == 256 * per_step + 2 * (512 + 4)
    assert run_all.flops_per_review(two_branch, 100) == 100 * per_step + 2 * (512 + 4)


def test_gpu_table_holds_ways_to_the_cpu_reference_and_catches_a_drift(exported_artifact: Path,
                                                                       small_test_file: Path) -> None:
    # the GPU script's table and parity logic, run with CPU sessions (same code path but the device)
    artifact = load_artifact(exported_artifact)
    texts, labels = run_all.read_texts(small_test_file, 10)
    scorers = run_all.scorers_for(artifact, 4, 1, device="cpu")
    assert "article" not in scorers  # the tiny model has a bag branch (see the refusal tests above)
    # an LSTM-only network over the artifact's vocabulary stands in for the article's way: the ratios' base
    article = ArticleNet(_lstm_only(vocab_size=len(artifact.encoder().vocabulary)))
    scorers["article"] = lambda batch: article_scores(batch, article, artifact.encoder().vocabulary, batch_size=4)
    scorers[gpu_check.REFERENCE] = SentimentModel.load(artifact.root, batch_size=4, intra_op_threads=1).predict_proba
    eager = scorers["eager"]
    scorers["eager"] = lambda batch: eager(batch) + 1e-3  # a device that drifts
    scorers["broken"] = lambda batch: 1 / 0
    results = run_all.Results()
    working = gpu_check.working_scorers(scorers, texts, results, "tiny")
    assert "broken" not in working and ("end-to-end", "broken", "failed") in {(r.section, r.name, r.value) for r in results.rows}
    scored = run_all.bench_end_to_end(results, "tiny", artifact, {"snippets": (texts, labels)}, scorers=working,
                                      batch_size=4, latency_texts=1)
    assert gpu_check.parity_rows(results, "tiny", scored, atol=1e-5) == 1  # eager's drift; the others hold
    notes = {row.name: row.note for row in results.rows if row.section.startswith("parity")}
    assert notes["eager"].endswith("FAIL") and notes["torchscript"].endswith("ok") and notes["ort fp32"].endswith("ok")
    speed = {row.name: row.note for row in results.rows if row.section == "end-to-end"}
    assert speed["ort fp32"].split(";")[0].endswith("x article")


def test_batch_sweep_prints_the_plan_beside_fixed_batches(exported_artifact: Path, small_test_file: Path, capsys) -> None:
    from benchmarks import batch_sweep

    batch_sweep.main(["--artifact", str(exported_artifact), "--snippets", str(small_test_file), "--imdb", "/nonexistent",
                      "--snippets-texts", "40", "--batch-sizes", "4,8", "--call-sizes", "16,100", "--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| data | precision | texts per call | plan 4 | fixed 4 | plan 8 | fixed 8 |"
    rows = [line.split(" | ") for line in lines[2:]]
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("| snippets", precision, calls) for precision in ("fp32", "int8") for calls in ("16", "40")
    ]
    for row in rows:  # texts/s and the ratio to the row's fastest, which is 1.00 once
        ratios = [float(cell.split("(")[1].rstrip(") |")) for cell in row[3:]]
        assert max(ratios) == 1.0 and all(0 < ratio <= 1 for ratio in ratios)


@pytest.mark.parametrize(
    ("entry", "argv", "flag"),
    [
        ("run_all.run", ["--artifact", "a", "--threads", "100000"], "--threads"),
        ("run_all.run", ["--artifact", "a", "--batch-size", "0"], "--batch-size"),
        ("gpu_check.main", ["--artifact", "a", "--snippets-texts", "-1"], "--snippets-texts"),
        ("encoder_bench.main", ["--limit", "0"], "--limit"),
        ("pt2_bench._parse", ["--artifact", "a", "--repeats", "100000"], "--repeats"),
        ("serve_bench.main", ["--concurrency", "1", "100000"], "--concurrency"),
        ("data_scale.main", ["--sizes", "1000,0"], "--sizes"),
        ("batch_sweep.main", ["--artifact", "a", "--batch-sizes", "16,5000"], "--batch-sizes"),
        ("batch_sweep.main", ["--artifact", "a", "--repeats", "0"], "--repeats"),
    ],
)
def test_every_numeric_benchmark_option_is_bounded(capsys, entry: str, argv: list[str], flag: str) -> None:
    import importlib

    module, function = entry.split(".")
    with pytest.raises(SystemExit) as exit_info:
        getattr(importlib.import_module(f"benchmarks.{module}"), function)(argv)
    assert exit_info.value.code == 2 and f"argument {flag}: must be between" in capsys.readouterr().err

"""Smoke test of the benchmark suite (benchmarks/run_all.py --quick) on the tiny exported artifact.

No timing thresholds: it checks that every row of the issue's table is
produced and that the arithmetic behind the FLOP-rate row is the documented
formula.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from sentiment_export import SentimentNetConfig

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run_all():
    sys.path.insert(0, str(BENCHMARKS))
    yield importlib.import_module("run_all")
    sys.path.remove(str(BENCHMARKS))


def test_quick_run_produces_every_row(run_all, exported_artifact: Path, small_test_file: Path, tmp_path: Path, capsys):
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
    printed = capsys.readouterr().out
    assert "| artifact | target | measured |" in printed
    assert "training >= 2x article loop" in printed
    assert (tmp_path / "figures.json").exists()


def test_flops_formula(run_all):
    # seed model: 200 steps x (8*512*(400+512) + 8*512*(512+512)) + 2*512 = the issue's ~1.6 GFLOP per review
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


@pytest.fixture(scope="module")
def gpu_check(run_all):  # run_all first: gpu_check imports it from benchmarks/
    sys.path.insert(0, str(BENCHMARKS))
    yield importlib.import_module("gpu_check")
    sys.path.remove(str(BENCHMARKS))


def test_gpu_table_holds_ways_to_the_cpu_reference_and_catches_a_drift(gpu_check, run_all, exported_artifact: Path,
                                                                       small_test_file: Path) -> None:
    # the GPU script's table and parity logic, run with CPU sessions (same code path but the device)
    from sentiment_export import SentimentModel
    from sentiment_export.artifact.loader import load_artifact

    artifact = load_artifact(exported_artifact)
    texts, labels = run_all._read(small_test_file, 10)
    scorers = run_all.scorers_for(artifact, 4, 1, device="cpu")
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

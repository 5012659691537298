"""DistributedDataParallel through torchrun: 2 gloo processes on CPU, on a small real subset of the snippets.

Each torchrun start costs a few seconds, so the runs are shared between the
checks through module-scoped fixtures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sentiment_export import load_checkpoint
from sentiment_export import load_eager_model
from training import PRESETS, TrainConfig, resume, train

pytestmark = pytest.mark.slow  # four torchrun jobs and one export

# --standalone: a private rendezvous on a free port, so parallel test runs do not collide.
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
SETTINGS = ["--preset", "bilstm", "--embedding-dim", "32", "--hidden-dim", "32", "--no-bidirectional", "--batch-size", "32",
            "--learning-rate", "0.005", "--epochs", "3", "--eval-every", "20", "--patience", "0",
            "--device", "cpu", "--no-progress", "--no-export"]
HYPERPARAMETERS = PRESETS["bilstm"].with_overrides(
    embedding_dim=32, hidden_dim=32, bidirectional=False, batch_size=32, learning_rate=0.005, epochs=3,
    eval_every=20, patience=0,
)
RUN_FILES = {"best.pt", "last.pt", "history.json", "curves.png", "metadata.json"}


def _start(*args: str) -> subprocess.Popen[str]:
    """torchrun in its own process group, so that a hung job can be ended with all its workers."""
    return subprocess.Popen([*TORCHRUN, "-m", "training", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)


def _end(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _torchrun(*args: str, timeout: float = 240) -> str:
    """Run a torchrun job to the end; returns its stdout."""
    process = _start(*args)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        _end(process)
    assert process.returncode == 0, stdout + stderr
    return stdout


def _data_args(data: tuple[Path, Path]) -> list[str]:
    return ["--train", str(data[0]), "--test", str(data[1])]


@pytest.fixture(scope="module")
def data(snippets_subset: tuple[Path, Path]) -> tuple[Path, Path]:
    """4,000 training and 800 test snippets."""
    return snippets_subset


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory, data: tuple[Path, Path]) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("ddp") / "run"
    cache = run_dir.parent / "cache"
    return run_dir, _torchrun(*_data_args(data), *SETTINGS, "--run-dir", str(run_dir), "--data-cache", str(cache))


def test_two_processes_share_the_work_and_only_rank0_writes(ddp_run: tuple[Path, str]) -> None:
    run_dir, stdout = ddp_run
    assert {path.name for path in run_dir.iterdir()} == RUN_FILES  # no per-rank copies, no temp files
    assert len(list((run_dir.parent / "cache").iterdir())) == 1  # rank 0 encoded once; both ranks mapped it
    assert stdout.count("run directory:") == 1  # only rank 0 reports
    last = load_checkpoint(run_dir / "last.pt")
    state = last.training_state
    assert state["world_size"] == 2 and len(state["rng_states"]) == 2
    by_rank = state["reviews_by_rank"]
    assert all(count > 0 for count in by_rank), by_rank  # both ranks trained
    assert sum(by_rank) == state["progress"]["reviews_trained"] == 3 * 3600  # each review once per epoch
    assert abs(by_rank[0] - by_rank[1]) <= 0.02 * sum(by_rank)
    assert last.metadata["hyperparameters"]["world_size"] == 2


def test_accuracy_in_line_with_a_single_process(
    ddp_run: tuple[Path, str], data: tuple[Path, Path], tmp_path: Path, one_torch_thread: None
) -> None:
    single = train(TrainConfig(hyperparameters=HYPERPARAMETERS, train_file=data[0], test_file=data[1],
                               run_dir=tmp_path / "single", device="cpu", progress=False))
    distributed = load_checkpoint(ddp_run[0] / "best.pt").metadata["metrics"]
    # Same global batches and the same mean gradient; only dropout masks differ per process.
    assert distributed["test_accuracy"] > 0.62 and single.metrics["test_accuracy"] > 0.62, (distributed, single.metrics)
    assert abs(distributed["test_accuracy"] - single.metrics["test_accuracy"]) < 0.05, (distributed, single.metrics)
    assert abs(distributed["best_val_loss"] - single.metrics["best_val_loss"]) < 0.05


def test_distributed_resume_ends_with_identical_weights(
    ddp_run: tuple[Path, str], data: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir = tmp_path / "resumed"
    _torchrun(*_data_args(data), *SETTINGS, "--run-dir", str(run_dir), "--max-steps", "70")
    assert load_checkpoint(run_dir / "last.pt").training_state["progress"]["step"] == 70
    _torchrun("--resume", str(run_dir), "--no-export", "--no-progress", "--device", "cpu")
    for name in ("best.pt", "last.pt"):
        expected, got = load_checkpoint(ddp_run[0] / name).model_state, load_checkpoint(run_dir / name).model_state
        for key, tensor in expected.items():
            assert torch.equal(tensor, got[key]), f"{name}: {key} differs after a distributed resume"


def test_a_dying_rank_ends_the_job_and_keeps_the_last_checkpoint(
    data: tuple[Path, Path], tmp_path: Path, one_torch_thread: None
) -> None:
    run_dir = tmp_path / "dies"
    settings = [*SETTINGS]
    settings[settings.index("--epochs") + 1] = "50"  # long enough to be killed while training
    settings[settings.index("--eval-every") + 1] = "5"
    process = _start(*_data_args(data), *settings, "--run-dir", str(run_dir))
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert (run_dir / "last.pt").exists(), "the distributed run wrote no checkpoint"
        workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[-1]), signal.SIGKILL)  # one rank dies without a word
        _, stderr = process.communicate(timeout=120)
    finally:
        _end(process)
    assert process.returncode != 0
    assert "Signal 9 (SIGKILL)" in stderr or "ChildFailedError" in stderr, stderr[-3000:]
    checkpoint = load_checkpoint(run_dir / "last.pt")  # intact: written atomically
    step = checkpoint.training_state["progress"]["step"]
    assert step >= 5 and checkpoint.training_state["world_size"] == 2

    # The distributed run's checkpoint resumes in a single process like any other.
    continued = resume(run_dir, max_steps=step + 10, device="cpu", progress=False)
    assert not continued.finished and continued.history[-1]["step"] == step + 10
    state = load_checkpoint(run_dir / "last.pt").training_state
    assert state["world_size"] == 1 and state["progress"]["step"] == step + 10


def test_distributed_checkpoint_exports_and_loads(ddp_run: tuple[Path, str], tmp_path: Path, small_test_file: Path) -> None:
    from sentiment_export.artifact.loader import load_artifact
    from sentiment_export.export.build import export_artifact

    best = ddp_run[0] / "best.pt"
    # A 300-review test file keeps the exporter's evaluation short (the metrics do not matter here).
    exported = export_artifact(best, out_dir=tmp_path, name="ddp", version="1.0.0", test_file=small_test_file, pt2=False)
    artifact = load_artifact(exported.root)
    assert artifact.manifest.to_dict()["training"]["hyperparameters"]["world_size"] == 2
    model, encoder = load_eager_model(artifact), artifact.encoder()
    expected = load_checkpoint(best).build_model()
    ids = torch.from_numpy(encoder.encode(["great fun, loved it", "dull and far too long"]))
    assert torch.equal(model(ids), expected(ids))

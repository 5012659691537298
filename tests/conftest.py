"""Shared pytest fixtures."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

@pytest.fixture(scope="session", autouse=True)
def data_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Runs through the CLI (and their torchrun workers) keep their data cache in the session's temp dir, not ~/.cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SENTIMENT_EXPORT_DATA_CACHE", str(tmp_path_factory.mktemp("data-cache")))
    yield
    patch.undo()


# --- export fixtures: a small trained checkpoint and one artifact exported from it -----------------


@contextlib.contextmanager
def _torch_threads(count: int):
    """Run a block with ``count`` torch intra-op threads, then restore the previous number.

    Tiny LSTMs on a small shared CPU run many times faster on one thread, because
    idle-spinning threads fight the other processes for the cores (figures:
    benchmarks/README.md, "Torch threads").
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = _REPO / "training" / "default_data"


def _train_small_checkpoint(run_dir: Path) -> Path:
    """A tiny SentimentNet (2-layer LSTM, 16 wide, reading the last 30 tokens, beside a bag of hashed
    n-grams) trained for two epochs on the embedded snippets.

    Trained by the training package itself (one loop, no copy of it here): a
    real trained model whose scores are spread away from 0.5, so the int8
    label-agreement check means something. Deterministic (seeded, one thread).
    """
    from training.loop import TrainConfig, train
    from training.presets import Hyperparameters

    tiny = Hyperparameters(
        embedding_dim=16, hidden_dim=16, num_layers=2, dropout=0.1, min_freq=3, batch_size=32,
        learning_rate=0.02, epochs=2, recurrent_steps=30, ngram_dim=4, ngram_buckets=5000,
    )
    with _torch_threads(1):
        result = train(TrainConfig(preset="tiny-test", hyperparameters=tiny, run_dir=run_dir, progress=False))
    return result.best_checkpoint


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a small trained checkpoint (see ``_train_small_checkpoint``); read-only for tests."""
    return _train_small_checkpoint(tmp_path_factory.mktemp("checkpoint") / "run")


@pytest.fixture(scope="session")
def exported_artifact(small_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact directory exported from ``small_checkpoint`` once per session, without model.pt2
    (its compile adds 20-30 s, minutes on a busy box; ``pt2_artifact`` has one); never modify it (copy it with
    ``shutil.copytree`` first)."""
    from sentiment_export.export.build import export_artifact

    with _torch_threads(1):
        return export_artifact(small_checkpoint, out_dir=tmp_path_factory.mktemp("artifacts"), name="tiny", version="1.0.0",
                               test_file=_DEFAULT_DATA / "test.ft.txt.bz2", pt2=False).root  # what the checkpoint was tested on


@pytest.fixture(scope="session")
def pt2_artifact(small_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact exported from ``small_checkpoint`` with the defaults (model.pt2 included) once per
    session; never modify it."""
    from sentiment_export.export.build import export_artifact

    with _torch_threads(1):
        return export_artifact(small_checkpoint, out_dir=tmp_path_factory.mktemp("artifacts-pt2"), name="tiny", version="1.0.0",
                               test_file=_DEFAULT_DATA / "test.ft.txt.bz2").root


@pytest.fixture(scope="session")
def small_test_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 reviews of the embedded test file: for exports whose metrics do not matter (fast)."""
    import bz2

    lines = bz2.open(_DEFAULT_DATA / "test.ft.txt.bz2", "rt", encoding="utf-8").read().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("data") / "test-300.ft.txt"
    path.write_text("".join(lines[:300]), encoding="utf-8")
    return path


# --- training fixtures: a real subset of the embedded snippets, as plain files --------------------


@pytest.fixture(scope="session")
def snippets_subset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(train, test) plain-text files: the first 4,000 training and 800 test snippets (real data, fast to train)."""
    import bz2

    directory = tmp_path_factory.mktemp("snippets-subset")
    paths = []
    for split, count in (("train", 4000), ("test", 800)):
        lines = bz2.open(_DEFAULT_DATA / f"{split}.ft.txt.bz2", "rb").read().splitlines(keepends=True)
        path = directory / f"{split}.ft.txt"
        path.write_bytes(b"".join(lines[:count]))
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: small LSTMs on a shared 2-core machine are many times slower with two."""
    with _torch_threads(1):
        yield


# --- C++ builds: cpp_demo configured once, each target built when first needed --------------------


@pytest.fixture(scope="session")
def cpp_build(tmp_path_factory: pytest.TempPathFactory):
    """cpp_demo configured in a temporary directory (see tests/cpp_build.py); skips or fails without a toolchain."""
    from cpp_build import CppBuild

    return CppBuild(tmp_path_factory.mktemp("cpp_demo_build"))


@pytest.fixture(scope="session")
def demo_build(cpp_build):
    """The sentiment_demo program, built once per session."""
    from cpp_build import DemoBuild

    seconds = cpp_build.build("sentiment_demo")
    return DemoBuild(cpp_build.directory / "sentiment_demo", cpp_build.configure_seconds + seconds)


@pytest.fixture(scope="session")
def native_library(cpp_build):
    """libsentiment_encoder.so (the encoder's C ABI), built once per session."""
    from cpp_build import NativeLibrary

    seconds = cpp_build.build("sentiment_encoder")
    return NativeLibrary(cpp_build.directory / "libsentiment_encoder.so", cpp_build.configure_seconds + seconds)

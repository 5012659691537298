"""Shared pytest fixtures."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

# --- export fixtures (issue 3): a small trained checkpoint and one artifact exported from it ------

import contextlib


@contextlib.contextmanager
def _torch_threads(count: int):
    """Run a block with ``count`` torch intra-op threads, then restore the previous number.

    Tiny LSTMs on a shared 2-core box: one thread measured 28x faster than two
    (1.6 s against 46 s for a whole export), because idle-spinning threads fight
    the other processes for the cores.
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


def _train_small_checkpoint(path: Path) -> None:
    """A tiny SentimentNet (2-layer LSTM, 16 wide) trained for 400 steps on the embedded snippets.

    About 5 s on one core, ~70% test accuracy: a real trained model whose
    scores are spread away from 0.5, so the int8 label-agreement check means
    something. Deterministic (seeded, one thread).
    """
    import numpy as np
    import torch

    from sentiment_export import (
        Checkpoint,
        PreprocessingSpec,
        SentimentNet,
        SentimentNetConfig,
        TextEncoder,
        Vocabulary,
        save_checkpoint,
    )
    from sentiment_export.fileio import sha256_file
    from sentiment_export.reviews import read_reviews

    spec = PreprocessingSpec()
    train_path, test_path = _DEFAULT_DATA / "train.ft.txt.bz2", _DEFAULT_DATA / "test.ft.txt.bz2"
    reviews, malformed = read_reviews(train_path)
    tokenizer = TextEncoder(spec, Vocabulary.from_tokens([], spec))
    tokens = [tokenizer.tokenize(review.text) for review in reviews]
    counts = collections.Counter(token for row in tokens for token in row)
    vocabulary = Vocabulary.from_tokens([word for word, count in counts.most_common() if count >= 3], spec)
    encoder = TextEncoder(spec, vocabulary)
    rows = [encoder.encode_tokens(row) for row in tokens]
    labels = torch.tensor([review.label for review in reviews], dtype=torch.float32)
    order = sorted(range(len(rows)), key=lambda index: len(rows[index]))
    batches = [order[start : start + 32] for start in range(0, len(order), 32)]

    with _torch_threads(1):
        torch.manual_seed(0)
        config = SentimentNetConfig(vocab_size=len(vocabulary), embedding_dim=16, hidden_dim=16, num_layers=2, dropout=0.1)
        net = SentimentNet(config).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        picks = np.random.default_rng(0).integers(len(batches), size=400)
        history = []
        for step, pick in enumerate(picks, start=1):
            batch = batches[pick]
            optimizer.zero_grad()
            loss = loss_fn(net(torch.from_numpy(encoder.pad([rows[i] for i in batch]))), labels[batch])
            loss.backward()
            optimizer.step()
            if step % 100 == 0:
                history.append({"step": step, "epoch": 1, "train_loss": loss.item()})

    def describe(data_path: Path, examples: int, bad: dict) -> dict:
        return {"file": data_path.name, "path": str(data_path), "sha256": sha256_file(data_path), "examples": examples, "malformed": bad}

    test_reviews, test_malformed = read_reviews(test_path)
    metadata = {
        "preset": "tiny-test",
        "hyperparameters": {"steps": 400, "batch_size": 32, "lr": 0.02, "seed": 0, "min_count": 3},
        "data": {
            "train": describe(train_path, len(reviews), malformed.to_dict()),
            "validation": describe(train_path, 0, {}),  # no held-out split: the fixture trains on all of train
            "test": describe(test_path, len(test_reviews), test_malformed.to_dict()),
        },
        "metrics": {"train_loss": history[-1]["train_loss"]},
        "history": history,
    }
    state = {name: tensor.detach().clone() for name, tensor in net.state_dict().items()}
    save_checkpoint(path, Checkpoint(config, state, spec, vocabulary.tokens, metadata))


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a small trained checkpoint (see ``_train_small_checkpoint``); read-only for tests."""
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.pt"
    _train_small_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def exported_artifact(small_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact directory exported from ``small_checkpoint`` once per session; never modify it
    (copy it with ``shutil.copytree`` first)."""
    from sentiment_export.export import export_artifact

    with _torch_threads(1):
        return export_artifact(small_checkpoint, out_dir=tmp_path_factory.mktemp("artifacts"), name="tiny", version="1.0.0")


@pytest.fixture(scope="session")
def small_test_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 reviews of the embedded test file: for exports whose metrics do not matter (fast)."""
    import bz2

    lines = bz2.open(_DEFAULT_DATA / "test.ft.txt.bz2", "rt", encoding="utf-8").read().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("data") / "test-300.ft.txt"
    path.write_text("".join(lines[:300]), encoding="utf-8")
    return path


# --- training fixtures (issue 2): a real subset of the embedded snippets, as plain files ----------


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
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- C++ builds (issues 5 and 6): cpp_demo configured once, each target built when first needed ----


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

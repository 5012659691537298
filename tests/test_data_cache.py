"""Compact encoded data and the data cache: the same ids as the reference path, reuse, invalidation, bounded memory."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import training.data_cache
from benchmarks.data_scale import generate_reviews
from sentiment_export import PreprocessingSpec, TextEncoder, load_checkpoint
from sentiment_export.data import DataFormat, read_labelled_file
from sentiment_export.data.encoded import EncodedRows
from sentiment_export.text.parallel import ParallelTokenizer
from sentiment_export.text.tokenizer import Tokenizer
from training import PRESETS, TrainConfig, resume, split_validation, train
from training.data_cache import prepare_encoded
from training.distributed import DistContext
from training.encoding import EncodingSettings
from training.vocab import vocabulary_from_counts

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = PRESETS["bilstm"].with_overrides(
    embedding_dim=16, hidden_dim=16, bidirectional=False, pooling="last", dropout=0.3,
    embedding_dropout=0.1, batch_size=16, epochs=1, eval_every=5, patience=0, learning_rate=0.01,
)


def _settings(spec: PreprocessingSpec | None = None, **changes) -> EncodingSettings:
    values = dict(spec=spec or PreprocessingSpec(max_length=30), min_freq=2, max_vocab_size=0, val_fraction=0.1,
                  val_seed=0, formats={"train": DataFormat(), "test": DataFormat()}, strict=False)
    values.update(changes)
    return EncodingSettings(**values)


@pytest.fixture
def files(snippets_subset: tuple[Path, Path], tmp_path: Path) -> dict[str, Path]:
    """600 + 150 real reviews with a few malformed lines among them."""
    train_lines = snippets_subset[0].read_bytes().splitlines(keepends=True)[:600]
    train_lines[10:10] = [b"no label here\n", b"__label__3 unknown label\n", b"\n"]
    (tmp_path / "train.ft.txt").write_bytes(b"".join(train_lines))
    (tmp_path / "test.ft.txt").write_bytes(b"".join(snippets_subset[1].read_bytes().splitlines(keepends=True)[:150]))
    return {"train": tmp_path / "train.ft.txt", "test": tmp_path / "test.ft.txt"}


def _reference(files: dict[str, Path], settings: EncodingSettings) -> tuple[list[str], dict[str, list[list[int]]]]:
    """The vocabulary and ids by the per-review Python objects way: tokenize, count the training split, encode."""
    spec, tokenizer = settings.spec, Tokenizer(settings.spec)
    read = {split: read_labelled_file(files[split]) for split in files}
    tokens = {split: [tokenizer.tokenize(review.text) for review in read[split].reviews] for split in files}
    train_index, _ = split_validation(len(tokens["train"]), fraction=settings.val_fraction, seed=settings.val_seed)
    counts = Counter(token for i in train_index for token in tokens["train"][i])
    vocabulary = vocabulary_from_counts(counts, spec, min_freq=settings.min_freq, max_vocab_size=settings.max_vocab_size)
    encoder = TextEncoder(spec, vocabulary, backend="python")
    return vocabulary.tokens, {split: [encoder.encode_tokens(t) for t in tokens[split]] for split in files}


@pytest.mark.parametrize("truncation_side", ["right", "left"])
def test_encoded_ids_are_the_reference_ids(files: dict[str, Path], truncation_side: str) -> None:
    settings = _settings(PreprocessingSpec(max_length=12, truncation_side=truncation_side))
    vocabulary, expected = _reference(files, settings)
    data = prepare_encoded(files, settings, DistContext(), cache_dir=None)
    assert data.vocabulary == vocabulary and data.cache_entry is None
    for split in files:
        assert data.splits[split].rows.to_lists() == expected[split]
        assert data.splits[split].labels.tolist() == [r.label for r in read_labelled_file(files[split]).reviews]
    assert data.splits["train"].malformed.to_dict() == {"empty line": 1, "no label": 1, "unknown label": 1}
    assert data.splits["train"].rows.ids.dtype == np.int32


def test_the_cache_is_reused_and_a_changed_file_or_setting_invalidates_it(files: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = prepare_encoded(files, _settings(), DistContext(), cache_dir=cache)
    again = prepare_encoded(files, _settings(), DistContext(), cache_dir=cache)
    assert not first.cache_hit and again.cache_hit and first.cache_entry == again.cache_entry
    assert isinstance(again.splits["train"].rows.ids, np.memmap)
    for split in files:
        assert again.splits[split].rows.to_lists() == first.splits[split].rows.to_lists()
    assert again.splits["train"].malformed.describe() == first.splits["train"].malformed.describe()
    assert not list(cache.glob(".*")), "no temporary directory is left behind"

    for changed in (_settings(PreprocessingSpec(max_length=31)), _settings(min_freq=1), _settings(val_seed=1)):
        assert not prepare_encoded(files, changed, DistContext(), cache_dir=cache).cache_hit
    with files["test"].open("ab") as handle:
        handle.write(b"__label__2 one more review\n")
    changed_file = prepare_encoded(files, _settings(), DistContext(), cache_dir=cache)
    assert not changed_file.cache_hit and len(changed_file.splits["test"].rows) == 151
    assert len(list(cache.iterdir())) == 5


def test_a_failed_encoding_leaves_no_entry_and_a_damaged_entry_is_rebuilt(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    real = training.data_cache.encode_files

    def failing(paths, settings, directory, **options):
        real(paths, settings, directory, **options)
        raise KeyboardInterrupt  # killed after writing every array, before the entry is complete

    monkeypatch.setattr(training.data_cache, "encode_files", failing)
    with pytest.raises(KeyboardInterrupt):
        prepare_encoded(files, _settings(), DistContext(), cache_dir=cache)
    assert list(cache.iterdir()) == []
    monkeypatch.setattr(training.data_cache, "encode_files", real)

    entry = prepare_encoded(files, _settings(), DistContext(), cache_dir=cache).cache_entry
    np.save(entry / "train_offsets.npy", np.array([0, 5]))  # offsets that do not match the ids
    rebuilt = prepare_encoded(files, _settings(), DistContext(), cache_dir=cache)
    assert not rebuilt.cache_hit and len(rebuilt.splits["train"].rows) == 600


def test_an_entry_holding_pickles_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    entry = prepare_encoded(files, _settings(), DistContext(), cache_dir=cache).cache_entry
    np.save(entry / "train_labels.npy", np.array([object()] * 600, dtype=object), allow_pickle=True)
    assert not prepare_encoded(files, _settings(), DistContext(), cache_dir=cache).cache_hit


@pytest.mark.parametrize("url_token", ["<url>", "<u r l>"], ids=["joined", "url-token-with-spaces"])
def test_python_worker_processes_give_the_tokens_of_one_process(files: dict[str, Path], url_token: str) -> None:
    texts = [review.text for review in read_labelled_file(files["train"]).reviews]
    texts += ["", "see https://example.com/a now", "   "]
    spec = PreprocessingSpec(url_token=url_token)
    with ParallelTokenizer(spec, backend="python", workers=2) as parallel:
        assert parallel.backend == "python"
        assert parallel.tokenize_batch(texts) == [Tokenizer(spec).tokenize(text) for text in texts]
    with pytest.raises(ValueError, match="workers must be in"):
        ParallelTokenizer(spec, workers=0)
    assert url_token in Tokenizer(spec).tokenize("see https://example.com/a now")  # a whole token, spaces or not


def test_native_threads_give_the_same_encoded_data(files: dict[str, Path], native_library, monkeypatch) -> None:
    python = prepare_encoded(files, _settings(), DistContext(), cache_dir=None)
    monkeypatch.setenv("SENTIMENT_EXPORT_NATIVE_ENCODER", str(native_library.path))
    with ParallelTokenizer(PreprocessingSpec()) as parallel:
        assert parallel.backend == "native"
    native = prepare_encoded(files, _settings(), DistContext(), cache_dir=None)
    assert native.vocabulary == python.vocabulary
    for split in files:
        assert native.splits[split].rows.to_lists() == python.splits[split].rows.to_lists()


def test_encoded_rows_subsets_share_the_flat_ids() -> None:
    rows = EncodedRows.from_lists([[5, 6], [], [7, 8, 9]])
    subset = rows[np.array([2, 0])]
    assert subset.ids is rows.ids and subset.to_lists() == [[7, 8, 9], [5, 6]]
    assert rows[1:].to_lists() == [[], [7, 8, 9]] and rows[2].tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="offsets must run from 0"):
        EncodedRows.from_offsets(np.zeros(3, dtype=np.int32), np.array([0, 2]))


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "last.pt").model_state


def test_cached_and_uncached_runs_train_identical_weights_and_resume_reads_the_cache(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def config(name: str, cache: Path | None, **changes) -> TrainConfig:
        return TrainConfig(hyperparameters=TINY, train_file=files["train"], test_file=files["test"],
                           run_dir=tmp_path / name, device="cpu", progress=False, data_cache=cache, **changes)

    cache = tmp_path / "cache"
    uncached = train(config("uncached", None, max_steps=6))
    filling = train(config("filling", cache, max_steps=6))
    cached = train(config("cached", cache, max_steps=6))
    assert len(list(cache.iterdir())) == 1
    for run in (filling, cached):
        for key, tensor in _weights(uncached.run_dir).items():
            assert torch.equal(tensor, _weights(run.run_dir)[key]), key
    assert json.loads((tmp_path / "uncached" / "history.json").read_text()) == json.loads(
        (tmp_path / "cached" / "history.json").read_text())

    whole = train(config("whole", None))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="training.data_cache"):
        resumed = resume(cached.run_dir)
    assert resumed.finished and "data cache: reusing" in caplog.text
    for name in ("last.pt", "best.pt"):
        expected, got = load_checkpoint(whole.run_dir / name), load_checkpoint(resumed.run_dir / name)
        for key, tensor in expected.model_state.items():
            assert torch.equal(tensor, got.model_state[key]), f"{name}: {key}"
    assert load_checkpoint(resumed.run_dir / "last.pt").metadata["data"] == load_checkpoint(
        whole.run_dir / "last.pt").metadata["data"]


_DATA_STAGE = """
import json, sys
from pathlib import Path
from training.data_cache import prepare_encoded
from training.distributed import DistContext
from training.encoding import EncodingSettings
from sentiment_export import PreprocessingSpec
from sentiment_export.data import DataFormat
import numpy as np  # the baseline includes what the data stage imports
import training.encoding
# small chunks and passes: their constant share settles at a small N
training.encoding.TEXTS_PER_CHUNK = training.encoding.ROWS_PER_PASS = int(sys.argv[3])
train_file, test_file = map(Path, sys.argv[1:3])
with open("/proc/self/statm") as handle:
    baseline = int(handle.read().split()[1]) * 4096
settings = EncodingSettings(spec=PreprocessingSpec(), min_freq=2, max_vocab_size=0, val_fraction=0.1, val_seed=0,
                            formats={"train": DataFormat(), "test": DataFormat()}, strict=False)
data = prepare_encoded({"train": train_file, "test": test_file}, settings, DistContext(), cache_dir=Path(sys.argv[4]))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would start at the forking test process's RSS
with open("/proc/self/status") as handle:
    peak = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))
print(json.dumps({"reviews": len(data.splits["train"].rows) + len(data.splits["test"].rows), "peak": peak,
                  "baseline": baseline}))
"""


def _peak_above_baseline(train_file: Path, test_file: Path, cache: Path) -> tuple[int, int]:
    """(reviews, peak RSS above the baseline) of the data stage in a fresh process, filling the cache ``cache``."""
    done = subprocess.run([sys.executable, "-c", _DATA_STAGE, str(train_file), str(test_file), "256", str(cache)],
                          capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    return figures["reviews"], figures["peak"] - figures["baseline"]


def test_memory_per_review_is_tens_of_bytes(tmp_path: Path) -> None:
    """The slope of the data stage's peak RSS over reviews between two generated sets (a ratio, not a time).

    Both sets repeat the same 2,000 generated reviews (5 and 20 times), so they
    share one vocabulary and the slope is the cost of a review alone: its
    length, label, offsets and split bookkeeping (measured: 78 bytes); the ids go to
    the cache and are memory-mapped. The per-review Python objects this
    replaced cost some 6,200 bytes a review.
    """
    base = generate_reviews(tmp_path / "base.txt", 2000, seed=0).read_bytes()
    test_file = generate_reviews(tmp_path / "test.txt", 200, seed=1)
    sizes = []
    for repeats in (5, 20):
        train_file = tmp_path / f"train-{repeats}.txt"
        train_file.write_bytes(base * repeats)
        sizes.append(_peak_above_baseline(train_file, test_file, tmp_path / f"cache-{repeats}"))
    (small, small_peak), (large, large_peak) = sizes
    slope = (large_peak - small_peak) / (large - small)
    assert slope < 300, f"peak RSS grows {slope:.0f} bytes per review"


def test_generated_files_are_deterministic(tmp_path: Path) -> None:
    first = generate_reviews(tmp_path / "a.txt", 500, seed=0).read_bytes()
    assert first == generate_reviews(tmp_path / "b.txt", 500, seed=0).read_bytes()
    assert first != generate_reviews(tmp_path / "c.txt", 500, seed=1).read_bytes()
    assert first.count(b"\n") == 500 and all(line.startswith(b"__label__") for line in first.splitlines())

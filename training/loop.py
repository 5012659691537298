"""The training loop: :func:`train` starts a run, :func:`resume` continues one from its ``last.pt``.

A run directory holds ``last.pt`` (weights plus everything needed to resume:
optimizer and RNG states, position within the epoch, best validation loss,
patience counter, history), ``best.pt`` (the weights with the lowest
validation loss, what export reads), ``history.json``, ``curves.png`` and, once
finished, ``metadata.json``. A run that fails before its first checkpoint
removes the directory it created. On CPU with the same seed, a run that is stopped
and resumed ends with exactly the weights of an uninterrupted one: the data
order is a pure function of (seed, epoch) and every other source of
randomness is saved in ``last.pt``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sentiment_export import (
    Checkpoint,
    CheckpointError,
    SentimentNet,
    TextEncoder,
    Vocabulary,
    load_checkpoint,
    save_checkpoint,
)
from sentiment_export.fileio import atomic_write_text

from sentiment_export.data import DataFormat
from sentiment_export.data.labelled import describe_file
from sentiment_export.data.encoded import EncodedRows

from . import distributed
from .batching import collate, epoch_batches, rank_share
from .config import TrainConfig
from .curves import save_curves
from .data import split_validation
from .data_cache import prepare_encoded
from .distributed import DistContext
from .evaluate import Evaluation, evaluate
from .naive_bayes import initialise_bag_from_naive_bayes
from .pretrained import glove_embedding_matrix, require_pretrained_vectors
from .presets import Hyperparameters
from .encoding import SPLITS, EncodingSettings

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
METADATA_FILENAME = "metadata.json"


@dataclass
class TrainResult:
    """Where a run wrote its files and how it went."""

    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    test_file: Path  # the file the final evaluation read (export evaluates on it too)
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    finished: bool  # False when stopped by max_steps (resume it to continue)
    stopped_early: bool  # True when patience ran out before the last epoch


@dataclass
class _Data:
    encoder: TextEncoder
    train_rows: EncodedRows
    train_labels: np.ndarray
    val_rows: EncodedRows
    val_labels: np.ndarray
    test_rows: EncodedRows
    test_labels: np.ndarray
    description: dict[str, Any]  # metadata["data"]: file names, sha256, formats, counts (no directories)
    paths: dict[str, Path]  # where this machine read the files (metadata["local_paths"])


@dataclass
class _Progress:
    """The resumable position and bookkeeping of a run (saved in ``last.pt``)."""

    epoch: int = 0  # the epoch in progress (0-based)
    batch_in_epoch: int = 0  # batches of that epoch already trained
    step: int = 0  # optimizer steps so far
    best_val_loss: float | None = None
    best_val_accuracy: float | None = None
    evals_without_improvement: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0  # wall time of training and validation
    step_seconds: float = 0.0  # time in optimizer steps only
    reviews_trained: int = 0  # over all processes
    local_reviews_trained: int = 0  # by this process (restored per rank on resume)
    interval_loss: float = 0.0  # this process's summed train loss since the last evaluation
    interval_reviews: int = 0


def _prepare_data(config: TrainConfig, context: DistContext, resumed: Checkpoint | None) -> _Data:
    """Encode both files (or read them from the data cache), then carve the validation split.

    A resumed run keeps its checkpoint's spec and vocabulary, so a newer
    default spec never changes how a run in progress encodes its data.
    """
    hp = config.hyperparameters
    paths = {split: path.resolve() for split, path in config.data_paths().items()}
    formats = {split: DataFormat.for_path(paths[split], csv_options=config.csv_options) for split in SPLITS}
    settings = EncodingSettings(
        spec=resumed.spec if resumed is not None else hp.spec(), min_freq=hp.min_freq,
        max_vocab_size=hp.max_vocab_size, val_fraction=config.val_fraction, val_seed=config.val_seed,
        formats=formats, strict=config.strict,
    )
    encoded = prepare_encoded(
        paths, settings, context, cache_dir=config.data_cache,
        vocabulary=None if resumed is None else list(resumed.vocabulary), progress=config.progress,
    )
    train, test = encoded.splits["train"], encoded.splits["test"]
    train_index, val_index = split_validation(len(train.rows), fraction=config.val_fraction, seed=config.val_seed)

    def describe(split: str) -> dict[str, Any]:
        part = encoded.splits[split]
        return describe_file(paths[split], part.sha256, formats[split], len(part.rows), part.malformed)

    return _Data(
        encoder=TextEncoder(settings.spec, Vocabulary(encoded.vocabulary, settings.spec)),
        train_rows=train.rows[train_index],
        train_labels=train.labels[train_index],
        val_rows=train.rows[val_index],
        val_labels=train.labels[val_index],
        test_rows=test.rows,
        test_labels=test.labels,
        description={
            "train": describe("train"),
            "validation": {"examples": int(len(val_index)), "fraction": config.val_fraction, "seed": config.val_seed},
            "test": describe("test"),
        },
        paths=paths,
    )


def _check_run_dir(config: TrainConfig, context: DistContext) -> None:
    """Refuse a ``config.run_dir`` that already holds a run, before any data is read."""
    if context.is_main and config.run_dir is not None and (Path(config.run_dir) / LAST_CHECKPOINT).exists():
        raise ValueError(
            f"run directory {config.run_dir} already holds a run ({LAST_CHECKPOINT}); continue it with "
            "--resume, or choose another --run-dir"
        )


def _make_run_dir(config: TrainConfig, context: DistContext) -> tuple[Path, bool]:
    """(the run directory, whether this call created it): ``config.run_dir``, or a fresh
    ``<runs_root>/<preset>-<timestamp>``. Made once the data is read, so that bad data leaves none behind."""
    created = False
    if context.is_main:
        if config.run_dir is not None:
            run_dir = Path(config.run_dir)
        else:
            stem = Path(config.runs_root) / f"{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
            run_dir, suffix = stem, 1
            while run_dir.exists():
                suffix += 1
                run_dir = stem.with_name(f"{stem.name}-{suffix}")
        created = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = None
    return Path(context.broadcast_object(str(run_dir) if run_dir else None)), created


def _remove_unfinished_run_dir(run_dir: Path) -> None:
    """Remove a run directory this run created when it holds no checkpoint yet (nothing to resume or export)."""
    if not any((run_dir / name).exists() for name in (LAST_CHECKPOINT, BEST_CHECKPOINT)):
        shutil.rmtree(run_dir, ignore_errors=True)
        logger.info("removed %s: the run failed before its first checkpoint", run_dir)


def _rng_state(context: DistContext) -> dict[str, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(context.device) if context.device.type == "cuda" else None
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def _set_rng_state(state: dict[str, torch.Tensor | None], context: DistContext) -> None:
    torch.set_rng_state(state["cpu"])
    if state["cuda"] is not None and context.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], context.device)


def _adam(model: SentimentNet, hp: Hyperparameters) -> torch.optim.Adam:
    """Adam; the bag-of-n-grams branch (vectors and its Linear layer) gets its own learning rate when one is set.

    Each n-gram vector's gradient is divided by the review's n-gram count (the
    bag is a mean), so the bag learns at the LSTM's rate far more slowly than
    the LSTM does; a larger rate for it alone was measured to help (README).
    """
    bag = model.bag_of_ngrams_parameters()
    if not bag or not hp.ngram_learning_rate:
        return torch.optim.Adam(model.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)
    in_bag = {id(parameter) for parameter in bag}
    rest = [parameter for parameter in model.parameters() if id(parameter) not in in_bag]
    groups = [{"params": rest}, {"params": bag, "lr": hp.ngram_learning_rate}]
    return torch.optim.Adam(groups, lr=hp.learning_rate, weight_decay=hp.weight_decay)


class _Run:
    """One training run's moving parts; ``train``/``resume`` build it, ``run`` trains it."""

    def __init__(
        self,
        config: TrainConfig,
        context: DistContext,
        run_dir: Path,
        data: _Data,
        resume_from: Checkpoint | None,
    ) -> None:
        self.config = config
        self.context = context
        self.run_dir = run_dir
        self.data = data
        hp = config.hyperparameters
        self.hp = hp
        self.model_config = hp.model_config(len(data.encoder.vocabulary))
        torch.manual_seed(config.seed)  # same initial weights on every process
        self.model = SentimentNet(self.model_config)
        if hp.pretrained_embeddings and resume_from is None:
            table, _ = glove_embedding_matrix(data.encoder.vocabulary, hp.embedding_dim, seed=config.seed)
            self.model.embedding.weight.data.copy_(torch.from_numpy(table))
        if hp.ngram_init == "naive_bayes" and resume_from is None:
            initialise_bag_from_naive_bayes(self.model, data.train_rows, data.train_labels)
        self.model.to(context.device)
        if context.rank:
            torch.manual_seed(config.seed + context.rank)  # different dropout masks per process
        self.optimizer = _adam(self.model, hp)
        self.base_learning_rates = [group["lr"] for group in self.optimizer.param_groups]
        self.progress = _Progress()
        self.best_state = {name: t.detach().clone() for name, t in self.model.state_dict().items()}
        if resume_from is not None:
            self._restore(resume_from)
        self.network: nn.Module = self.model
        if context.distributed:
            device_ids = [context.device.index] if context.device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        self.loss_function = nn.BCEWithLogitsLoss(reduction="sum")
        self.train_lengths = data.train_rows.lengths
        steps_per_epoch = len(epoch_batches(self.train_lengths, batch_size=hp.batch_size, seed=config.seed, epoch=0))
        self.total_steps = hp.epochs * steps_per_epoch

    # -- state ------------------------------------------------------------------------------------

    def _restore(self, checkpoint: Checkpoint) -> None:
        state = checkpoint.training_state
        self.model.load_state_dict(checkpoint.model_state)
        self.optimizer.load_state_dict(state["optimizer"])
        progress = dict(state["progress"])
        self.progress = _Progress(**progress)
        best_path = self.run_dir / BEST_CHECKPOINT
        if best_path.exists():
            self.best_state = {k: v.to(self.context.device) for k, v in load_checkpoint(best_path).model_state.items()}
        rng_states = state["rng_states"]
        if len(rng_states) == self.context.world_size:
            _set_rng_state(rng_states[self.context.rank], self.context)
            self.progress.local_reviews_trained = state["reviews_by_rank"][self.context.rank]
        else:
            logger.warning(
                "this run was saved by %d process(es) and resumes on %d: dropout masks are reseeded, so the "
                "result will not be bit-identical to an uninterrupted run",
                len(rng_states),
                self.context.world_size,
            )
            torch.manual_seed(self.config.seed + 7919 * self.progress.step + self.context.rank)
            self.progress.local_reviews_trained = 0

    def _metrics(self, test: Evaluation | None = None) -> dict[str, Any]:
        p = self.progress
        return {
            "best_val_loss": p.best_val_loss,
            "best_val_accuracy": p.best_val_accuracy,
            "test_loss": test.loss if test else None,
            "test_accuracy": test.accuracy if test else None,
            "train_seconds": round(p.train_seconds, 3),
            "reviews_per_second": round(p.reviews_trained / p.step_seconds, 1) if p.step_seconds else None,
            "epochs_run": round(p.reviews_trained / max(1, len(self.data.train_rows)), 3),
        }

    def _metadata(self, test: Evaluation | None = None) -> dict[str, Any]:
        hyperparameters = {
            **self.hp.to_dict(),
            "seed": self.config.seed,
            "val_fraction": self.config.val_fraction,
            "val_seed": self.config.val_seed,
            "device": self.context.device.type,
            "world_size": self.context.world_size,
            "vocab_size": self.model_config.vocab_size,
        }
        return {
            "preset": self.config.preset,
            "hyperparameters": hyperparameters,
            "data": self.data.description,
            # where this machine read the data: lets export find the test file again; never part of an artifact
            "local_paths": {split: str(path) for split, path in self.data.paths.items()},
            "metrics": self._metrics(test),
            "history": list(self.progress.history),
        }

    def _checkpoint(
        self, model_state: dict[str, torch.Tensor], metadata: dict[str, Any], training_state: dict[str, Any]
    ) -> Checkpoint:
        return Checkpoint(
            model_config=self.model_config,
            model_state=model_state,
            spec=self.data.encoder.spec,
            vocabulary=self.data.encoder.vocabulary.tokens,
            metadata=metadata,
            training_state=training_state,
        )

    def _save_last(self, *, finished: bool = False, test: Evaluation | None = None) -> None:
        """Write ``last.pt`` (main process; every process must call it: RNG states are gathered)."""
        rng_states = self.context.gather_objects(_rng_state(self.context))
        reviews_by_rank = self.context.gather_objects(self.progress.local_reviews_trained)
        if not self.context.is_main:
            return
        progress = asdict(self.progress)
        training_state = {
            "config": self.config.to_dict(),
            "progress": progress,
            "optimizer": self.optimizer.state_dict(),
            "rng_states": rng_states,
            "world_size": self.context.world_size,
            "reviews_by_rank": reviews_by_rank,
            "finished": finished,
        }
        save_checkpoint(
            self.run_dir / LAST_CHECKPOINT,
            self._checkpoint(self.model.state_dict(), self._metadata(test), training_state),
        )

    def _save_best(self, test: Evaluation | None = None) -> None:
        if self.context.is_main:
            save_checkpoint(self.run_dir / BEST_CHECKPOINT, self._checkpoint(self.best_state, self._metadata(test), {}))

    # -- training ---------------------------------------------------------------------------------

    def _validate(self, epochs_done: float) -> None:
        """Evaluate on the validation split, record history, keep the best weights, count patience."""
        p = self.progress
        loss_sum, reviews = self.context.sum([p.interval_loss, float(p.interval_reviews)])
        result = evaluate(
            self.model, self.data.encoder, self.data.val_rows, self.data.val_labels,
            batch_size=self.hp.batch_size, context=self.context, fit_blend=True,
        )
        entry = {
            "epoch": round(epochs_done, 4),
            "step": p.step,
            "train_loss": loss_sum / reviews if reviews else None,
            "val_loss": result.loss,
            "val_accuracy": result.accuracy,
        }
        p.history.append(entry)
        p.interval_loss, p.interval_reviews = 0.0, 0
        improved = p.best_val_loss is None or result.loss < p.best_val_loss
        if improved:
            p.best_val_loss, p.best_val_accuracy = result.loss, result.accuracy
            p.evals_without_improvement = 0
            self.best_state = {name: t.detach().clone() for name, t in self.model.state_dict().items()}
            self._save_best()
        else:
            p.evals_without_improvement += 1
            out_of_patience = self.hp.patience and p.evals_without_improvement >= self.hp.patience
            if out_of_patience and epochs_done < self.hp.epochs:
                p.stopped_early = True
        if self.context.is_main:
            train_loss = "n/a" if entry["train_loss"] is None else f"{entry['train_loss']:.4f}"
            logger.info(
                "epoch %.2f step %d: train loss %s, val loss %.4f, val accuracy %.2f%%%s",
                epochs_done, p.step, train_loss, result.loss, 100 * result.accuracy,
                " (best)" if improved else f" (no improvement for {p.evals_without_improvement})",
            )
            save_curves(p.history, self.run_dir, title=f"{self.config.preset}: {self.run_dir.name}")
        self._save_last()

    def _schedule_learning_rate(self) -> None:
        """Set this step's rates from the step count alone, so a resumed run follows the same schedule."""
        if self.hp.lr_schedule == "linear":
            factor = max(0.0, 1.0 - self.progress.step / self.total_steps)
            for group, base in zip(self.optimizer.param_groups, self.base_learning_rates):
                group["lr"] = base * factor

    def _step(self, batch: np.ndarray) -> float:
        """One optimizer step on a global batch; returns this process's summed loss per branch."""
        local = rank_share(batch, rank=self.context.rank, world_size=self.context.world_size)
        self.network.train()
        if len(local):
            data = self.data
            ids, targets = collate(data.encoder, data.train_rows, data.train_labels, local, self.context.device)
        else:  # fewer reviews than processes: a zero-weight dummy row keeps the collectives in step
            ids = torch.zeros((1, 1), dtype=torch.int64, device=self.context.device)
            targets = torch.zeros(1, device=self.context.device)
        logits = self.network(ids, per_branch=True)  # (B, branches): each branch fits the labels on its own
        loss_sum = self.loss_function(logits, targets.unsqueeze(1).expand_as(logits)) * (1.0 if len(local) else 0.0)
        # DDP averages gradients over processes; scaling by world/len(batch) makes the
        # result the mean over the whole global batch, as in a single process.
        loss = loss_sum * (self.context.world_size / len(batch))
        self._schedule_learning_rate()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.hp.grad_clip:
            # per parameter group: a two-branch network's LSTM gradients must not shrink the bag's
            for group in self.optimizer.param_groups:
                nn.utils.clip_grad_norm_(group["params"], self.hp.grad_clip)
        self.optimizer.step()
        return loss_sum.item() / logits.shape[1]  # per branch, comparable with the validation loss

    def run(self) -> TrainResult:
        p, hp = self.progress, self.hp
        started = time.perf_counter()
        seconds_before = p.train_seconds
        finished = True
        while p.epoch < hp.epochs and not p.stopped_early:
            batches = epoch_batches(self.train_lengths, batch_size=hp.batch_size, seed=self.config.seed, epoch=p.epoch)
            bar = tqdm(
                total=len(batches), initial=p.batch_in_epoch, desc=f"epoch {p.epoch + 1}/{hp.epochs}",
                unit="batch", disable=not (self.config.progress and self.context.is_main), dynamic_ncols=True,
            )
            while p.batch_in_epoch < len(batches):
                if self.config.max_steps and p.step >= self.config.max_steps:
                    finished = False
                    break
                batch = batches[p.batch_in_epoch]
                step_started = time.perf_counter()
                p.interval_loss += self._step(batch)
                p.step_seconds += time.perf_counter() - step_started
                local_reviews = len(rank_share(batch, rank=self.context.rank, world_size=self.context.world_size))
                p.interval_reviews += local_reviews
                p.local_reviews_trained += local_reviews
                p.reviews_trained += len(batch)
                p.step += 1
                p.batch_in_epoch += 1
                p.train_seconds = seconds_before + time.perf_counter() - started
                bar.update(1)
                if self.context.is_main and p.step_seconds:
                    bar.set_postfix(
                        loss=f"{p.interval_loss / max(1, p.interval_reviews):.4f}",
                        reviews_s=f"{p.reviews_trained / p.step_seconds:.0f}", refresh=False,
                    )
                if hp.eval_every and p.step % hp.eval_every == 0 and p.batch_in_epoch < len(batches):
                    self._validate(p.epoch + p.batch_in_epoch / len(batches))
                    if p.stopped_early:
                        break
            bar.close()
            if not finished:
                break
            if p.batch_in_epoch >= len(batches):
                p.epoch, p.batch_in_epoch = p.epoch + 1, 0
                p.train_seconds = seconds_before + time.perf_counter() - started
                self._validate(float(p.epoch))
        p.train_seconds = seconds_before + time.perf_counter() - started
        if not finished:
            self._save_last()
            logger.info("stopped after %d steps (max_steps); continue with --resume %s", p.step, self.run_dir)
            return self._result(finished=False)
        return self._finish()

    def _finish(self) -> TrainResult:
        """Evaluate the best weights on the test file once, and write the final files."""
        self.model.load_state_dict(self.best_state)
        test = evaluate(
            self.model, self.data.encoder, self.data.test_rows, self.data.test_labels,
            batch_size=self.hp.batch_size, context=self.context,
        )
        if self.context.is_main:
            logger.info("test (best weights): loss %.4f, accuracy %.2f%%", test.loss, 100 * test.accuracy)
        self._save_best(test)
        self._save_last(finished=True, test=test)
        if self.context.is_main:
            atomic_write_text(self.run_dir / METADATA_FILENAME, json.dumps(self._metadata(test), indent=2) + "\n")
            if self.progress.history:
                save_curves(self.progress.history, self.run_dir, title=f"{self.config.preset}: {self.run_dir.name}")
        self.context.barrier()
        return self._result(finished=True, test=test)

    def _result(self, *, finished: bool, test: Evaluation | None = None) -> TrainResult:
        return TrainResult(
            run_dir=self.run_dir,
            best_checkpoint=self.run_dir / BEST_CHECKPOINT,
            last_checkpoint=self.run_dir / LAST_CHECKPOINT,
            test_file=self.data.paths["test"],
            metrics=self._metrics(test),
            history=list(self.progress.history),
            finished=finished,
            stopped_early=self.progress.stopped_early,
        )


def train(config: TrainConfig, *, context: DistContext | None = None) -> TrainResult:
    """Train a new run as ``config`` says and evaluate its best weights on the test file.

    Under torchrun pass the context from :func:`training.distributed.setup`
    (every process calls ``train``; only the main one writes). Every check
    that needs no data runs before the run directory is made or any data is
    read; the directory is made once the data is read, and removed again
    when the run fails before its first checkpoint. Raises ``ValueError``
    for bad settings, :class:`OptionalDependencyError` when the
    hyper-parameters need an extra that is not installed,
    ``FileNotFoundError`` for missing data, :class:`DataFormatError` for
    malformed data with ``strict``.
    """
    require_pretrained_vectors(config.hyperparameters.pretrained_embeddings)
    context = context or distributed.setup(config.device)
    _check_run_dir(config, context)
    data = _prepare_data(config, context, resumed=None)
    run_dir, created = _make_run_dir(config, context)
    try:
        return _Run(config, context, run_dir, data, None).run()
    except BaseException:
        if created and context.is_main:
            _remove_unfinished_run_dir(run_dir)
        raise


def resume(
    run_dir: str | os.PathLike[str],
    *,
    max_steps: int | None = None,
    device: str | None = None,
    progress: bool | None = None,
    data_cache: Path | None | bool = False,
    context: DistContext | None = None,
) -> TrainResult:
    """Continue the run in ``run_dir`` from its ``last.pt`` with its own settings.

    Only ``max_steps`` (a new total; ``None`` = run to the end), ``device``,
    ``progress`` and ``data_cache`` (a directory, or ``None`` for no cache;
    ``False`` keeps the run's own) may change. Raises
    :class:`CheckpointError` when there is nothing to resume or the data files
    changed since the run started.
    """
    run_dir = Path(run_dir)
    checkpoint = load_checkpoint(run_dir / LAST_CHECKPOINT)
    state = checkpoint.training_state
    if "config" not in state:
        raise CheckpointError(f"{run_dir / LAST_CHECKPOINT} has no training state to resume from")
    if state.get("finished"):
        raise CheckpointError(f"the run in {run_dir} has finished already; there is nothing to resume")
    saved = TrainConfig.from_dict(state["config"])
    changes: dict[str, Any] = {"run_dir": run_dir, "max_steps": max_steps or 0}  # the old limit does not carry over
    for name, value in (("device", device), ("progress", progress)):
        if value is not None:
            changes[name] = value
    if data_cache is not False:
        changes["data_cache"] = None if data_cache is None else str(data_cache)
    config = TrainConfig.from_dict({**saved.to_dict(), **changes})
    context = context or distributed.setup(config.device)
    data = _prepare_data(config, context, resumed=checkpoint)
    for split in ("train", "test"):
        expected, found = checkpoint.metadata["data"][split]["sha256"], data.description[split]["sha256"]
        if expected != found:
            raise CheckpointError(
                f"the {split} file {data.paths[split]} changed since the run in {run_dir} "
                f"started (sha256 {found[:12]}..., the run used {expected[:12]}...); resume needs the same data"
            )
    if context.is_main:
        logger.info("resuming %s at step %d (epoch %d)", run_dir, checkpoint.training_state["progress"]["step"],
                    checkpoint.training_state["progress"]["epoch"] + 1)
    return _Run(config, context, run_dir, data, checkpoint).run()


__all__ = ["TrainConfig", "TrainResult", "resume", "train"]

"""``python -m training`` / ``sentiment-train``: train, evaluate and export SentimentNet.

A thin layer over :func:`training.train` and :func:`training.resume`; every
hyper-parameter flag is derived from :class:`training.presets.Hyperparameters`
(and its ``choices`` from :data:`training.presets.CHOICES`). The whole
configuration is built, and so checked, before a run directory exists or any
data is read. Flags that name what ``python -m sentiment_export export`` names
are spelled the same (``--artifacts-dir``, ``--overwrite-artifact``,
``--artifact-name``, ``--artifact-version``, ``--pack``, ``--torch-threads``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentiment_export.data import CsvOptions
from sentiment_export.errors import ParityError, SentimentExportError

# torch-free: every flag is checked before torch is imported (the loop, in main, imports it)
from .config import DEVICES, TrainConfig
from .data import data_files
from .data_cache import DEFAULT_CACHE_DIR, ENV_VAR, default_cache_dir
from .presets import CHOICES, PRESETS, Hyperparameters

if TYPE_CHECKING:
    from .loop import TrainResult

from sentiment_export.cli.options import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    MAX_THREADS,
    add_artifact_output_options,
    bounded_int,
)

_MAX_SEED = 2**32 - 1
"""Seeds are 32-bit (NumPy's default_rng and torch.manual_seed accept them all)."""

_MAX_STEPS = 10**9

_DESCRIPTION = """\
Train the LSTM SentimentNet on labelled reviews, evaluate it on the test file,
and export it as an artifact. With no arguments: the 'default' preset on the
embedded review snippets (a few minutes on 2 CPU cores).

Data: the Amazon Reviews polarity format ('__label__1 <text>' negative,
'__label__2 <text>' positive; plain or .bz2) or CSV files (*.csv, *.csv.bz2).
The validation split is carved from the training file; the test file is used
once, for the final evaluation.

Distributed: torchrun --nproc_per_node=N -m training ... (gloo on CPU, NCCL on
GPUs); --batch-size is then the global batch, shared by the processes.
"""

_EPILOG = """Exit status: 0 ok; 1 a check failed (the exported models disagree with eager
PyTorch) or a distributed job lost a process; 2 a usage or input error (bad
flag or value, missing or malformed data, missing optional extra), with one
message on stderr. Bad flags, values and missing extras are refused before a
run directory is made or any data is read.
"""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _preset_values(name: str) -> str:
    return ", ".join(f"{preset}={getattr(values, name)}" for preset, values in PRESETS.items())


def _add_hyperparameter_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "hyper-parameters", "each overrides the preset's value (shown in brackets for every preset)"
    )
    for spec in fields(Hyperparameters):
        help_text = f"{spec.metadata['help']} [{_preset_values(spec.name)}]"
        if spec.type == "bool":
            group.add_argument(_flag(spec.name), action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        kind = {"int": int, "float": float, "str": str}[spec.type]  # annotations are strings here
        if spec.name in CHOICES:
            group.add_argument(_flag(spec.name), type=kind, default=None, choices=CHOICES[spec.name], help=help_text)
            continue
        group.add_argument(_flag(spec.name), type=kind, default=None, metavar=spec.name.upper(), help=help_text)


class _DeprecatedAlias(argparse.Action):
    """An old spelling of a flag: still accepted (hidden from --help), with a warning naming the new one."""

    def __init__(self, *args: Any, new_flag: str, **kwargs: Any) -> None:
        self.new_flag = new_flag
        super().__init__(*args, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is deprecated; use {self.new_flag}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so that tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="python -m training", usage="%(prog)s [options]  (--help lists them)",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default",
                        help="named hyper-parameters: 'seed' = the article's, 'default' = CPU-friendly GloVe-started "
                        "BiLSTM + bag of n-grams, 'bilstm' = a BiLSTM with random embeddings, 'glove' = bilstm "
                        "started from GloVe vectors, 'imdb' = for long reviews: BiLSTM over the last 256 tokens "
                        "+ bag of hashed n-grams over 800 (default: default)")

    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", type=Path, metavar="DIR",
                      help="directory holding train.ft.txt[.bz2] and test.ft.txt[.bz2] "
                      "(default: the embedded snippets)")
    data.add_argument("--train", type=Path, metavar="FILE", help="training file (with --test; instead of --data-dir)")
    data.add_argument("--test", type=Path, metavar="FILE", help="test file, used only for the final evaluation")
    data.add_argument("--strict", action="store_true",
                      help="fail at the first malformed line instead of skipping and counting it")
    data.add_argument("--val-fraction", type=float, default=0.1,
                      help="fraction of the training file held out for validation (default: 0.1)")
    data.add_argument("--val-seed", type=bounded_int(0, _MAX_SEED), default=0,
                      help="seed of the validation split, independent of --seed (default: 0)")
    defaults = CsvOptions()
    data.add_argument("--csv-text-column", default=defaults.text_column,
                      help=f"CSV files: column holding the review text (default: {defaults.text_column})")
    data.add_argument("--csv-label-column", default=defaults.label_column,
                      help=f"CSV files: column holding the label (default: {defaults.label_column})")
    data.add_argument("--csv-negative-label", default=defaults.negative_label,
                      help=f"CSV files: label value meaning negative (default: {defaults.negative_label})")
    data.add_argument("--csv-positive-label", default=defaults.positive_label,
                      help=f"CSV files: label value meaning positive (default: {defaults.positive_label})")

    _add_hyperparameter_flags(parser)

    cache = data.add_mutually_exclusive_group()
    cache.add_argument("--data-cache", type=Path, metavar="DIR",
                       help=f"where encoded data sets are kept for the next run on the same files and settings "
                            f"(default: ${ENV_VAR}, else {DEFAULT_CACHE_DIR})")
    cache.add_argument("--no-data-cache", action="store_true",
                       help="encode the data for this run only (it is held in memory instead of memory-mapped)")

    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=bounded_int(0, _MAX_SEED), default=0,
                     help="seed of weight initialisation, data order and dropout; same seed on CPU = same "
                     "weights (default: 0)")
    run.add_argument("--device", choices=DEVICES, default="auto",
                     help="auto = CUDA when available, else CPU; cuda without a GPU is an error (default: auto)")
    run.add_argument("--torch-threads", type=bounded_int(1, MAX_THREADS), metavar="N",
                     help="torch intra-op CPU threads (torch.set_num_threads; default: torch's choice)")
    run.add_argument("--threads", type=bounded_int(1, MAX_THREADS), dest="torch_threads", action=_DeprecatedAlias,
                     new_flag="--torch-threads", help=argparse.SUPPRESS)
    run.add_argument("--run-dir", type=Path, metavar="DIR",
                     help="where to write checkpoints, history and plots (default: RUNS_ROOT/<preset>-<timestamp>)")
    run.add_argument("--runs-root", type=Path, default=Path("runs"), metavar="RUNS_ROOT",
                     help="parent of generated run directories (default: runs)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue the run in RUN_DIR from its last.pt, with its own settings and data")
    run.add_argument("--max-steps", type=bounded_int(0, _MAX_STEPS), metavar="N",
                     help="stop after N optimizer steps in total, as if interrupted (last.pt is written; "
                     "--resume continues)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")

    export = parser.add_argument_group("export (after training, from best.pt)")
    export.add_argument("--no-export", action="store_true", help="do not export an artifact at the end")
    add_artifact_output_options(export)
    return parser


def _hyperparameter_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = [spec.name for spec in fields(Hyperparameters)]
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.data_dir and (args.train or args.test):
        parser.error("give either --data-dir or --train/--test, not both")
    if bool(args.train) != bool(args.test):
        parser.error("--train and --test go together (the test file is used for the final evaluation)")
    if args.resume:
        changed = sorted(_flag(name) for name in _hyperparameter_overrides(args))
        for flag, value, default in (
            ("--preset", args.preset, "default"), ("--data-dir", args.data_dir, None), ("--train", args.train, None),
            ("--seed", args.seed, 0), ("--run-dir", args.run_dir, None), ("--val-fraction", args.val_fraction, 0.1),
            ("--val-seed", args.val_seed, 0), ("--strict", args.strict, False),
        ):
            if value != default:
                changed.append(flag)
        if changed:
            parser.error(f"--resume continues a run with its own settings and data; drop {', '.join(changed)}")


def _data_cache(args: argparse.Namespace) -> Path | None:
    """The data cache directory the flags and the environment choose; ``None`` for --no-data-cache."""
    if args.no_data_cache:
        return None
    return args.data_cache.expanduser() if args.data_cache else default_cache_dir()


def _config(args: argparse.Namespace) -> TrainConfig:
    """The run's whole configuration; building it checks every value (``ValueError`` naming the first bad one)."""
    if args.data_dir:
        train_file, test_file = data_files(args.data_dir)
    else:
        train_file, test_file = args.train, args.test
    return TrainConfig(
        preset=args.preset,
        hyperparameters=PRESETS[args.preset].with_overrides(**_hyperparameter_overrides(args)),
        train_file=train_file,
        test_file=test_file,
        csv_options=CsvOptions(
            args.csv_text_column, args.csv_label_column, args.csv_negative_label, args.csv_positive_label
        ),
        strict=args.strict,
        val_fraction=args.val_fraction,
        val_seed=args.val_seed,
        seed=args.seed,
        device=args.device,
        run_dir=args.run_dir,
        runs_root=args.runs_root,
        max_steps=args.max_steps or 0,
        progress=not args.no_progress,
        data_cache=_data_cache(args),
    )


def _report(result: TrainResult) -> None:
    metrics = result.metrics
    print(f"run directory: {result.run_dir}")
    if not result.finished:
        print(f"stopped at --max-steps; continue with: python -m training --resume {result.run_dir}")
        return
    print(
        f"best validation: loss {metrics['best_val_loss']:.4f}, accuracy {100 * metrics['best_val_accuracy']:.2f}%"
        f"{' (stopped early)' if result.stopped_early else ''}"
    )
    print(f"test: loss {metrics['test_loss']:.4f}, accuracy {100 * metrics['test_accuracy']:.2f}%")
    print(
        f"training: {metrics['train_seconds']:.1f} s, {metrics['reviews_per_second']} reviews/s, "
        f"{metrics['epochs_run']} epochs"
    )
    print(f"best checkpoint: {result.best_checkpoint}")


def _export(result: TrainResult, args: argparse.Namespace) -> int:
    """Export best.pt as the export flags say; returns the exit status (the model stays in best.pt either way)."""
    from sentiment_export.export.build import export_artifact

    try:
        artifact = export_artifact(
            result.best_checkpoint,
            out_dir=args.artifacts_dir,
            name=args.artifact_name,
            version=args.artifact_version,
            force=args.overwrite_artifact,
            pack=args.pack,
            test_file=result.test_file,
            pt2=not args.no_pt2,
        )
    except SentimentExportError as error:
        print(
            f"error: {error}\nThe trained model is kept in {result.best_checkpoint}; export it again with "
            f"`python -m sentiment_export export --checkpoint {result.best_checkpoint}`",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED if isinstance(error, ParityError) else EXIT_USAGE
    print(f"artifact: {artifact.root}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a failed check or distributed job, 2 bad arguments or data)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_combinations(parser, args)
    config = None
    if not args.resume:
        try:
            config = _config(args)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except ValueError as error:  # a bad hyper-parameter or option value: a usage error
            parser.error(str(error))
    import torch  # only now: a bad flag is refused without the seconds torch takes to import

    from . import distributed
    from .loop import resume, train

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s {f'[rank {rank}] ' if 'WORLD_SIZE' in os.environ else ''}%(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    context = None
    try:
        context = distributed.setup(args.device)
        if args.resume:
            result = resume(args.resume, max_steps=args.max_steps, device=args.device,
                            progress=not args.no_progress, data_cache=_data_cache(args), context=context)
        else:
            result = train(config, context=context)
        if context.is_main:
            _report(result)
            if result.finished and not args.no_export:
                return _export(result, args)
    except (SentimentExportError, ValueError, FileNotFoundError) as error:
        where = f"rank {context.rank}: " if context is not None and context.distributed else ""
        print(f"error: {where}{error}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as error:
        if context is None or not context.distributed:
            raise
        # A collective failed: another process of the job died (its own error is reported by torchrun).
        print(
            f"error: rank {context.rank}: lost contact with the other processes ({str(error).splitlines()[0]}); "
            "the job stops. Checkpoints are written atomically, so the run directory's last.pt is intact: "
            "continue with `torchrun ... -m training --resume RUN_DIR`",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    finally:
        if context is not None:
            distributed.teardown(context)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

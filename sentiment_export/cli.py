"""``python -m sentiment_export`` / ``sentiment-export``: export, info, verify (and predict).

Thin on purpose: each subcommand maps its arguments onto one library
function (:func:`export_artifact`, :func:`load_artifact`,
:func:`verify_artifact`), so the CLI and the Python API share one code path.
Exit status: 0 success, 1 a failed check or an error the library reports
(message on stderr, no traceback), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from .errors import SentimentExportError
from .model_card import describe_split

EXIT_OK, EXIT_FAILED = 0, 1


def _run_export(args: argparse.Namespace) -> int:
    from .artifact import load_artifact
    from .export import export_artifact

    directory = export_artifact(
        args.checkpoint,
        out_dir=args.out,
        name=args.name,
        version=args.version,
        force=args.force,
        pack=args.pack,
        test_file=args.test_file,
    )
    manifest = load_artifact(directory).manifest
    print(_summary(manifest))
    if args.pack:
        print(f"archive: {directory.with_name(f'{directory.name}.{args.pack}')}")
    print(directory)
    return EXIT_OK


def _run_info(args: argparse.Namespace) -> int:
    from .artifact import load_artifact

    manifest = load_artifact(args.artifact).manifest
    print(json.dumps(manifest, indent=2, ensure_ascii=False) if args.json else _describe(manifest))
    return EXIT_OK


def _run_verify(args: argparse.Namespace) -> int:
    from .parity import verify_artifact

    report = verify_artifact(args.artifact)
    print(f"checksums ok: every file of {args.artifact} matches manifest.json")
    print(report.describe())
    print("verify: OK" if report.passed else "verify: FAILED (the exported models disagree with eager PyTorch)")
    return EXIT_OK if report.passed else EXIT_FAILED


def _summary(manifest: dict[str, Any]) -> str:
    test = manifest["metrics"]["test"]
    backends = manifest["metrics"]["parity"]["backends"]
    return (
        f"exported {manifest['name']} {manifest['version']} in {manifest['export']['seconds']:.1f} s: "
        f"test accuracy fp32 {test['fp32']['accuracy']:.2%}, int8 {test['int8']['accuracy']:.2%}; "
        f"max abs diff vs eager: TorchScript {backends['torchscript']['max_abs_diff']:.2g}, "
        f"ONNX {backends['onnx']['max_abs_diff']:.2g}; int8 label agreement "
        f"{backends['onnx_int8']['label_agreement']:.2%}"
    )


def _describe(manifest: dict[str, Any]) -> str:
    """The manifest as readable lines (``info --json`` prints all of it)."""
    git = manifest.get("git")
    software = ", ".join(f"{name} {version}" for name, version in manifest["software"].items() if version)
    signature = manifest["signature"]
    test = manifest["metrics"]["test"]
    parity = manifest["metrics"]["parity"]
    lines = [
        f"{manifest['name']} {manifest['version']}  (artifact format {manifest['format_version']})",
        f"created:       {manifest['created_utc']}"
        + (f" from git {git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else ""),
        f"software:      {software}",
        "signature:     "
        + "; ".join(
            f"{kind} {spec['name']} {spec['dtype']} ({', '.join(map(str, spec['dims']))})"
            for kind in ("inputs", "outputs")
            for spec in signature[kind]
        ),
        f"model:         SentimentNet {json.dumps(manifest['model']['config'])}, "
        f"{manifest['model']['parameters']:,} parameters",
        f"preprocessing: spec version {manifest['preprocessing']['spec_version']}, "
        f"{manifest['preprocessing']['tokenizer']}, max_length {manifest['preprocessing']['max_length']}",
        f"onnx:          opset {manifest['onnx']['opset']}, {manifest['onnx']['exporter']}",
        f"training:      preset {manifest['training'].get('preset', 'n/a')}, "
        f"hyper-parameters {json.dumps(manifest['training'].get('hyperparameters', {}))}",
    ]
    for split, entry in manifest["training"].get("data", {}).items():
        if isinstance(entry, dict):
            lines.append(f"  {split + ':':<12} {describe_split(entry)}")
    lines += [
        f"test metrics:  {test['file']} ({test['examples']} reviews): fp32 accuracy {test['fp32']['accuracy']:.2%} "
        f"loss {test['fp32']['loss']:.4f}; int8 accuracy {test['int8']['accuracy']:.2%} loss {test['int8']['loss']:.4f}; "
        f"int8 agrees with fp32 on {test['int8_label_agreement']:.2%}",
        f"parity:        {'passed' if parity['passed'] else 'FAILED'} on {parity['texts']} texts, batch sizes "
        f"{parity['batch_sizes']}: "
        + ", ".join(
            f"{name} max abs diff {backend['max_abs_diff']:.2g} / labels {backend['label_agreement']:.2%}"
            for name, backend in parity["backends"].items()
        ),
        "files:",
    ]
    for name, entry in manifest["files"].items():
        lines.append(f"  {name:<22} {entry['size']:>12,} bytes  {entry['role']:<13} sha256 {entry['sha256'][:16]}...")
    return "\n".join(lines)


def _add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        dest="torch_threads",
        type=int,
        default=None,
        metavar="N",
        help="torch intra-op threads (default: torch's choice). On a small shared machine 1 can be many "
        "times faster for these small LSTMs (measured 28x on a busy 2-core box)",
    )


def _set_threads(args: argparse.Namespace) -> None:
    threads = getattr(args, "torch_threads", None)
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (``predict`` comes from :mod:`cli_predict`)."""
    from .cli_predict import register as register_predict
    from .cli_score import register as register_score

    parser = argparse.ArgumentParser(
        prog="sentiment-export",
        description="Export a trained SentimentNet checkpoint to a verified artifact, inspect, verify and use it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO) on stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = subparsers.add_parser(
        "export",
        help="export a checkpoint to a verified artifact directory",
        description="TorchScript + ONNX + int8 ONNX, checked against eager PyTorch (the parity gate) before "
        "anything is written to OUT/NAME-VERSION/. Prints the artifact's path last.",
    )
    export.add_argument("--checkpoint", required=True, metavar="CKPT", help="checkpoint file from `python -m training`")
    export.add_argument("--name", default=None, help="artifact name (default: sentiment-<preset>)")
    export.add_argument("--version", default="1.0.0", help="semantic model version (default: 1.0.0)")
    export.add_argument("--out", default="artifacts", metavar="DIR", help="parent directory (default: artifacts)")
    export.add_argument("--force", action="store_true", help="replace an existing artifact of this name and version")
    export.add_argument("--pack", choices=("tar.gz", "zip"), default=None, help="also write one archive of the artifact")
    export.add_argument("--test-file", default=None, metavar="FILE", help="reviews to evaluate on (default: the checkpoint's test file)")
    _add_threads_option(export)
    export.set_defaults(handler=_run_export)

    info = subparsers.add_parser("info", help="print an artifact's manifest", description="Verify checksums and print the manifest.")
    info.add_argument("artifact", metavar="ARTIFACT", help="artifact directory, .tar.gz or .zip")
    info.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    info.set_defaults(handler=_run_info)

    verify = subparsers.add_parser(
        "verify",
        help="re-check checksums and re-run the parity gate (exit 0/1)",
        description="Check every file's sha256, then compare TorchScript, ONNX and int8 ONNX with eager "
        "PyTorch on the artifact's verification texts. Exit status 0 when all pass, 1 otherwise.",
    )
    verify.add_argument("artifact", metavar="ARTIFACT", help="artifact directory, .tar.gz or .zip")
    _add_threads_option(verify)
    verify.set_defaults(handler=_run_verify)

    register_predict(subparsers)
    register_score(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (errors the library raises on purpose print one line, exit 1)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        _set_threads(args)
        return args.handler(args)
    except (SentimentExportError, ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_FAILED

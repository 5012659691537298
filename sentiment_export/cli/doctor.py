"""``sentiment-export doctor``: what this install has (see :mod:`sentiment_export.serving.doctor`)."""

from __future__ import annotations

import argparse

from .options import EXIT_CHECK_FAILED, EXIT_OK


def _run_doctor(args: argparse.Namespace) -> int:
    from ..serving.doctor import diagnose, format_report

    report = diagnose(tuple(args.require))
    print(report.to_json() if args.json else format_report(report))
    return EXIT_CHECK_FAILED if report.missing else EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` subcommand to the ``sentiment_export`` CLI's subparsers."""
    from ..serving.doctor import REQUIREMENTS

    parser = subparsers.add_parser(
        "doctor",
        help="show what this install has: versions, onnxruntime providers, the native encoder, GPU",
        description=(
            "One screen of what this install has: package version and commit, Python, torch / onnx / onnxruntime "
            "(and which onnxruntime distribution), the execution provider a real session gets, the native encoder "
            "library (where, ABI, PCRE2, Unicode, JIT), libtorch for the C++ demo, and the GPU (nvidia-smi). "
            "Exit status 1 when something asked for with --require is missing."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the facts as one JSON object")
    parser.add_argument(
        "--require", action="append", default=[], choices=REQUIREMENTS,
        help="exit 1 unless this is there: 'native' (the native encoder loads), 'cuda' (a session gets the CUDA provider); repeatable",
    )
    parser.set_defaults(handler=_run_doctor)

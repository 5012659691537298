"""The one flag vocabulary of both CLIs (``python -m sentiment_export`` and ``python -m training``):
the same name for the same thing, each bounded, and the same exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_SKIPPED, EXIT_BROKEN_PIPE = 0, 1, 2, 3, 141
"""0 success; 1 a check failed (parity, checksums, signature, known answers); 2 bad usage or bad input;
3 (``predict``, as the C++ demo) some texts were not valid UTF-8 and were reported, the others scored;
141 the output's reader closed the pipe (128 + SIGPIPE, what a shell reports for tools killed by it)."""

MAX_THREADS = 256

PACK_CHOICES = ("tar.gz", "zip")


def bounded_int(low: int, high: int):
    """An argparse ``type`` accepting integers in [low, high] and naming the bounds otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def add_artifact_output_options(parser: argparse.ArgumentParser) -> None:
    """Where and as what an export writes its artifact (the same flags after training and for ``export``)."""
    parser.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), metavar="DIR", help="parent directory of artifacts: writes DIR/<name>-<version>/ (default: artifacts)")
    parser.add_argument("--artifact-name", default=None, metavar="NAME", help="artifact name (default: sentiment-<preset>)")
    parser.add_argument("--artifact-version", default="1.0.0", metavar="X.Y.Z", help="semantic model version (default: 1.0.0)")
    parser.add_argument("--overwrite-artifact", action="store_true", help="replace an existing artifact of this name and version")
    parser.add_argument("--pack", choices=PACK_CHOICES, default=None, help="also write one archive of the artifact")
    parser.add_argument(
        "--no-pt2", action="store_true", help="skip model.pt2 (torch.export + AOTInductor; needs a C++ compiler, adds a 20-30 s compile)"
    )


def add_torch_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--torch-threads",
        type=bounded_int(1, MAX_THREADS),
        default=None,
        metavar="N",
        help="torch intra-op threads (default: torch's choice). On a small shared machine 1 can be many "
        "times faster for these small LSTMs (benchmarks/README.md)",
    )


def add_public_key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-key",
        default=None,
        metavar="KEY.pub",
        help="PEM public key: the artifact must be signed by its private half, every file unchanged since (`sign`)",
    )


def add_trust_custom_rules_option(parser: argparse.ArgumentParser) -> None:
    """``--trust-custom-rules``: the CLI face of ``load_artifact(..., trust_custom_rules=True)``."""
    parser.add_argument(
        "--trust-custom-rules",
        action="store_true",
        help="accept an artifact whose spec rules (regular expressions) are not a rule set sentiment_export ships; "
        "Python's re has no time limit, so only for artifacts from a source you trust",
    )


def set_torch_threads(args: argparse.Namespace) -> None:
    """Apply ``--torch-threads`` if the subcommand has it and it was given (imports torch only then)."""
    threads = getattr(args, "torch_threads", None)
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)

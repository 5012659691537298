"""The ``predict`` subcommand: score texts with an artifact and print JSON lines.

Thin on purpose: argparse maps onto :meth:`SentimentModel.load` and
:meth:`SentimentModel.predict`, so the CLI and the Python API share one code
path. Texts come from the command line, from ``--input FILE`` or from stdin,
one text per line (UTF-8; a trailing ``\\r`` is dropped, an empty line is the
empty text). Each result is one JSON line ``{"index", "label", "score"}`` on
stdout, where ``index`` is the position of the text among the arguments, or
the 0-based line number for a file or stdin (so a skipped line leaves a gap).
A line that is not valid UTF-8 is reported on stderr with its line number and
skipped, or, with ``--strict``, ends the run with exit status 2 before any
result is printed. An argument that is not valid UTF-8 (it arrives with
surrogate escapes) is handled as the C++ demo handles one: reported on stderr
and as ``{"index", "error"}`` on stdout, the other arguments still scored, and
exit status 3. An ``--input`` that is a directory or cannot be read is bad
usage (exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from ..data import in_chunks
from .options import EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, MAX_THREADS, add_trust_custom_rules_option, bounded_int

_CHUNK_TEXTS = 4096
"""Lines scored per call, so that a file of any size streams in bounded memory."""



@dataclass(frozen=True)
class _Line:
    index: int  # 0-based line number
    text: str | None  # None when the line is not valid UTF-8
    error: str = ""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` subcommand to the ``sentiment_export`` CLI's subparsers."""
    parser = subparsers.add_parser(
        "predict",
        help="score texts with an exported artifact (JSON lines out)",
        description=(
            "Score texts with an exported artifact through onnxruntime. Texts come from the "
            "arguments, or one per line from --input FILE or stdin. Prints one JSON line "
            '{"index", "label", "score"} per text on stdout and a summary on stderr.'
        ),
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score (default: read lines)")
    parser.add_argument("--artifact", required=True, help="artifact directory, .tar.gz or .zip")
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="UTF-8 file with one text per line ('-' = stdin; the default when no TEXT is given)",
    )
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto = CUDA when it really works, else CPU; cuda fails rather than fall back",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="texts per onnxruntime run")
    parser.add_argument(
        "--ort-threads", type=bounded_int(1, MAX_THREADS), default=None, metavar="N", help="onnxruntime intra-op threads"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 on a line that is not valid UTF-8 instead of skipping it",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_trust_custom_rules_option(parser)
    parser.set_defaults(handler=run_predict)


def _decode_lines(stream: BinaryIO) -> Iterator[_Line]:
    for index, raw in enumerate(stream):
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        try:
            yield _Line(index, raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            yield _Line(index, None, f"line {index + 1} is not valid UTF-8 ({error.reason} at byte {error.start})")


def _decode_arguments(texts: list[str]) -> list[_Line]:
    """Arguments as lines: one that was not UTF-8 (decoded by Python with surrogate escapes) is an error."""
    lines = []
    for index, text in enumerate(texts):
        try:
            text.encode("utf-8")
            lines.append(_Line(index, text))
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogateescape")
            try:
                raw.decode("utf-8")
                reason = "lone surrogate code points"
            except UnicodeDecodeError as error:
                reason = f"{error.reason} at byte {error.start}"
            lines.append(_Line(index, None, f"argument {index + 1} is not valid UTF-8 ({reason})"))
    return lines


def _count_lines(path: str) -> int | None:
    """Number of lines of a regular file, for the progress bar's total (None if unknown)."""
    try:
        with open(path, "rb") as stream:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    except OSError:
        return None


def _emit(out: TextIO, index: int, prediction) -> None:
    out.write(json.dumps({"index": index, **prediction.to_dict()}) + "\n")


def _score_lines(
    model, lines: Iterator[_Line], *, progress, out: TextIO, err: TextIO, errors_on_stdout: bool = False
) -> tuple[int, int]:
    """Score the lines chunk by chunk, reporting undecodable ones on stderr (and, with ``errors_on_stdout``,
    as ``{"index", "error"}`` lines, as the C++ demo does); returns (scored, skipped)."""
    scored = skipped = 0
    for chunk in in_chunks(lines, _CHUNK_TEXTS):
        good = [line for line in chunk if line.text is not None]
        for line in chunk:
            if line.text is None:
                message = f"skipped: {line.error}"
                if progress is None:
                    err.write(message + "\n")
                else:
                    progress.write(message, file=err)  # above the bar, not through it
                if errors_on_stdout:
                    out.write(json.dumps({"index": line.index, "error": line.error}) + "\n")
                skipped += 1
        for line, prediction in zip(good, model.predict([line.text for line in good])):
            _emit(out, line.index, prediction)
        scored += len(good)
        if progress is not None:
            progress.update(len(chunk))
    return scored, skipped


def _strict_lines(stream: BinaryIO) -> list[_Line]:
    """With --strict every line is decoded before anything is scored; a bad one raises ValueError."""
    lines = list(_decode_lines(stream))
    bad = [line.error for line in lines if line.text is None]
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ValueError("; ".join(bad[:5]) + more)
    return lines


def _open_input(name: str | None) -> contextlib.AbstractContextManager[BinaryIO]:
    if name in (None, "-"):
        return contextlib.nullcontext(sys.stdin.buffer)
    return open(name, "rb")


def run_predict(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Handler of ``predict``: load the model once, score every text, print the summary on stderr."""
    from ..serving.runtime import SentimentModel  # imported here so that other subcommands do not load onnxruntime

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if args.texts and args.input is not None:
        err.write("error: give texts as arguments or with --input, not both\n")
        return EXIT_USAGE
    options = {"device": args.device, "precision": args.precision, "trust_custom_rules": args.trust_custom_rules}
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.ort_threads is not None:
        options["intra_op_threads"] = args.ort_threads

    if args.texts:
        model = SentimentModel.load(args.artifact, **options)
        start = time.perf_counter()
        scored, skipped = _score_lines(
            model, iter(_decode_arguments(args.texts)), progress=None, out=out, err=err, errors_on_stdout=True
        )
    else:
        try:
            source = _open_input(args.input)
        except OSError as error:  # a directory, no permission, ...
            err.write(f"error: --input {args.input}: cannot read it ({error.strerror}); give a file with one text per line\n")
            return EXIT_USAGE
        with source as stream:
            try:
                lines = iter(_strict_lines(stream)) if args.strict else _decode_lines(stream)
            except ValueError as error:
                err.write(f"error: {error}; nothing was scored (drop --strict to skip such lines)\n")
                return EXIT_USAGE
            model = SentimentModel.load(args.artifact, **options)
            start = time.perf_counter()
            progress = None
            if not args.no_progress:
                from tqdm import tqdm

                total = None if args.input in (None, "-") else _count_lines(args.input)
                progress = tqdm(total=total, unit="text", file=err, desc="predict")
            try:
                scored, skipped = _score_lines(model, lines, progress=progress, out=out, err=err)
            finally:
                if progress is not None:
                    progress.close()
    rate = scored / max(time.perf_counter() - start, 1e-9)
    unit = "argument" if args.texts else "line"
    skipped_note = f", {skipped} {unit}{'s' * (skipped != 1)} skipped" if skipped else ""
    err.write(
        f"{scored} text{'s' * (scored != 1)}{skipped_note}, providers {', '.join(model.providers)}, "
        f"{rate:.1f} texts/s\n"
    )
    return EXIT_SKIPPED if skipped and args.texts else EXIT_OK

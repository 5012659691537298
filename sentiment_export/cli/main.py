"""``python -m sentiment_export`` / ``sentiment-export``: export, info, verify, sign, predict, serve, score and doctor.

Thin on purpose: each subcommand maps its arguments onto one library
function (:func:`export_artifact`, :func:`load_artifact`,
:func:`verify_artifact`, :func:`sign_artifact`), so the CLI and the Python
API share one code path. Flags name the same things as ``python -m
training``'s (:mod:`sentiment_export.cli.options`); exit status: 0 success, 1 a
check failed (parity, checksums, signature, known answers), 2 bad usage or
bad input (message on stderr, no traceback), 3 (``predict``) some texts were not UTF-8.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..artifact.describe import describe_manifest, export_summary
from ..errors import ArtifactError, ParityError, SentimentExportError
from .options import (
    EXIT_BROKEN_PIPE,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_artifact_output_options,
    add_public_key_option,
    add_torch_threads_option,
    add_trust_custom_rules_option,
    set_torch_threads,
)


def _run_export(args: argparse.Namespace) -> int:
    from ..artifact.archive import pack_artifact
    from ..artifact.signing import load_private_key
    from ..export.build import export_artifact

    if args.sign_with:
        load_private_key(args.sign_with)  # a bad key fails before the export, not after it
    artifact = export_artifact(
        args.checkpoint,
        out_dir=args.artifacts_dir,
        name=args.artifact_name,
        version=args.artifact_version,
        force=args.overwrite_artifact,
        pack=args.pack,
        test_file=args.test_file,
        pt2=not args.no_pt2,
    )
    if args.sign_with:  # the last step: sign the finished directory, then pack the signed one
        _sign_checked(artifact.root, args.sign_with)
        if args.pack:
            pack_artifact(artifact.root, args.pack)
    print(export_summary(artifact.manifest))
    if args.pack:
        print(f"archive: {artifact.root.with_name(f'{artifact.root.name}.{args.pack}')}")
    print(artifact.root)
    return EXIT_OK


def _sign_checked(path: str | Path, private_key: str, *, trust_custom_rules: bool = False) -> Path:
    """Sign after the known-answer check, so that only an artifact that still gives its answers is signed."""
    from ..artifact.signing import sign_artifact
    from ..serving.known_answer import check_known_answers

    return sign_artifact(
        path,
        private_key=private_key,
        check=lambda artifact: check_known_answers(artifact).raise_for_failures(),
        trust_custom_rules=trust_custom_rules,
    )


def _run_sign(args: argparse.Namespace) -> int:
    from ..artifact.signing import key_sha256, load_private_key

    written = _sign_checked(args.artifact, args.private_key, trust_custom_rules=args.trust_custom_rules)
    print(f"signed by key sha256 {key_sha256(load_private_key(args.private_key).public_key())}")
    print(written)
    return EXIT_OK


def _run_info(args: argparse.Namespace) -> int:
    from ..artifact.loader import load_artifact
    from ..artifact.signing import signed_by

    artifact = load_artifact(args.artifact, public_key=args.public_key, trust_custom_rules=args.trust_custom_rules)
    if args.json:
        print(artifact.manifest.to_json().rstrip())
        return EXIT_OK
    print(describe_manifest(artifact.manifest))
    key = signed_by(artifact.root)
    checked = "verified with --public-key" if args.public_key else "not verified: pass --public-key"
    print(f"signed:        yes, by key sha256 {key[:16]}... ({checked})" if key else "signed:        no")
    return EXIT_OK


def _run_verify(args: argparse.Namespace) -> int:
    from ..artifact.loader import load_artifact
    from ..artifact.signing import signed_by
    from ..export.parity import verify_artifact
    from ..serving.known_answer import check_known_answers

    artifact = load_artifact(args.artifact, public_key=args.public_key, trust_custom_rules=args.trust_custom_rules)
    print(f"checksums ok: every file of {args.artifact} matches manifest.json")
    key = signed_by(artifact.root)
    if args.public_key:
        print(f"signature ok: every file, manifest.json included, is as signed by {args.public_key} (key sha256 {key[:16]}...)")
    else:
        print(f"signature: not checked (no --public-key); the artifact is {'signed' if key else 'unsigned'}")
    holders = "model.pt's and model.pt2's" if artifact.manifest.pt2 is not None else "model.pt's"
    print(f"embedded copies ok: {holders} spec.json, vocab.txt and manifest.json equal the directory's")
    known = check_known_answers(artifact)
    print(known.describe())
    report = verify_artifact(artifact.root, trust_custom_rules=args.trust_custom_rules)
    print(report.describe())
    if not report.passed:
        print("verify: FAILED (the exported models disagree with eager PyTorch)")
    elif not known.passed:
        print("verify: FAILED (model.onnx through the artifact's encoder no longer gives verification.json's probabilities)")
    else:
        print("verify: OK")
    return EXIT_OK if report.passed and known.passed else EXIT_CHECK_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (``predict`` comes from :mod:`sentiment_export.cli.predict`)."""
    from .doctor import register as register_doctor
    from .predict import register as register_predict
    from .score import register as register_score
    from .serve import register as register_serve

    parser = argparse.ArgumentParser(
        prog="sentiment-export",
        description="Export a trained SentimentNet checkpoint to a verified artifact, inspect, verify, sign and use it. "
        "Exit status: 0 ok, 1 a check failed, 2 bad usage or input, 3 (predict) some texts were not UTF-8.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO) on stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = subparsers.add_parser(
        "export",
        help="export a checkpoint to a verified artifact directory",
        description="TorchScript + ONNX + int8 ONNX, checked against eager PyTorch (the parity gate) before "
        "anything is written to ARTIFACTS_DIR/NAME-VERSION/. Prints the artifact's path last.",
    )
    export.add_argument("--checkpoint", required=True, metavar="CKPT", help="checkpoint file from `python -m training`")
    add_artifact_output_options(export)
    export.add_argument("--test-file", default=None, metavar="FILE", help="reviews to evaluate on (default: the checkpoint's test file)")
    export.add_argument("--sign-with", default=None, metavar="KEY.pem", help="sign the artifact (and the archive) with this private key, last")
    add_torch_threads_option(export)
    export.set_defaults(handler=_run_export)

    info = subparsers.add_parser("info", help="print an artifact's manifest", description="Verify checksums and print the manifest.")
    info.add_argument("artifact", metavar="ARTIFACT", help="artifact directory, .tar.gz or .zip")
    info.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    add_public_key_option(info)
    add_trust_custom_rules_option(info)
    info.set_defaults(handler=_run_info)

    verify = subparsers.add_parser(
        "verify",
        help="re-check checksums, signature, known answers and the parity gate (exit 0/1)",
        description="Check every file's sha256, the copies embedded in model.pt and model.pt2 and (with --public-key) the "
        "signature; score verification.json's texts with the artifact's encoder and model.onnx against the stored "
        "probabilities; then compare TorchScript, ONNX and int8 ONNX with eager PyTorch on those texts. "
        "Exit status 0 when all pass, 1 otherwise.",
    )
    verify.add_argument("artifact", metavar="ARTIFACT", help="artifact directory, .tar.gz or .zip")
    add_public_key_option(verify)
    add_trust_custom_rules_option(verify)
    add_torch_threads_option(verify)
    verify.set_defaults(handler=_run_verify, check_command=True)

    sign = subparsers.add_parser(
        "sign",
        help="sign an artifact with a private key (model.sig, covering every file)",
        description=(
            "Check the artifact (checksums, the copies embedded in model.pt and model.pt2, the known answers of "
            "verification.json), then write model.sig into it: an OpenSSF model-signing bundle over every file, "
            "manifest.json included, made with an elliptic-curve private key (P-256: `openssl ecparam -name "
            "prime256v1 -genkey -noout -out key.pem`). An archive is signed inside and packed again. "
            "No network is used. Signing again replaces the signature (key rotation)."
        ),
    )
    sign.add_argument("artifact", metavar="ARTIFACT", help="artifact directory, .tar.gz or .zip")
    sign.add_argument("--private-key", required=True, metavar="KEY.pem", help="PEM elliptic-curve private key (unencrypted)")
    add_trust_custom_rules_option(sign)
    sign.set_defaults(handler=_run_sign)

    register_predict(subparsers)
    register_serve(subparsers)
    register_score(subparsers)
    register_doctor(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (errors the library raises on purpose print one line)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        set_torch_threads(args)
        return args.handler(args)
    except ParityError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_CHECK_FAILED
    except ArtifactError as error:  # a tampered or corrupted artifact: a failed check for `verify`, bad input otherwise
        sys.stderr.write(f"error: {error}\n")
        return EXIT_CHECK_FAILED if getattr(args, "check_command", False) else EXIT_USAGE
    except (SentimentExportError, ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return EXIT_BROKEN_PIPE

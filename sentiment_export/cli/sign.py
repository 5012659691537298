"""The ``sign`` subcommand: sign an artifact (directory or packed archive) with a private key.

Thin on purpose: argparse maps onto :func:`sentiment_export.signing.sign_artifact`.
Verify with ``verify ARTIFACT --public-key KEY.pub`` or load with
``SentimentModel.load(path, public_key=...)``.
"""

from __future__ import annotations

import argparse

EXIT_OK = 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sign`` subcommand to the ``sentiment_export`` CLI's subparsers."""
    parser = subparsers.add_parser(
        "sign",
        help="sign an artifact with a private key (model.sig, covering every file)",
        description=(
            "Check the artifact (checksums, the copies embedded in model.pt, the known answers of "
            "verification.json), then write model.sig into it: an OpenSSF model-signing bundle over every file, "
            "manifest.json included, made with an elliptic-curve private key (P-256: `openssl ecparam -name "
            "prime256v1 -genkey -noout -out key.pem`). An archive is signed inside and packed again. "
            "No network is used. Signing again replaces the signature (key rotation)."
        ),
    )
    parser.add_argument("artifact", metavar="ARTIFACT", help="artifact directory, .tar.gz or .zip")
    parser.add_argument("--private-key", required=True, metavar="KEY.pem", help="PEM elliptic-curve private key (unencrypted)")
    parser.set_defaults(handler=run_sign)


def run_sign(args: argparse.Namespace) -> int:
    """Handler of ``sign``: prints the signature's path (or the archive's) and the signing key's sha256."""
    from .signing import key_sha256, load_private_key, sign_artifact

    written = sign_artifact(args.artifact, private_key=args.private_key)
    print(f"signed by key sha256 {key_sha256(load_private_key(args.private_key).public_key())}")
    print(written)
    return EXIT_OK

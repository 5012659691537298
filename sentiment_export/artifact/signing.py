"""Signed artifacts: a key-checked signature over every file, so a rewritten manifest is caught too.

The sha256 table in ``manifest.json`` catches corruption, not a deliberate
change: whoever can rewrite a file can rewrite its hash as well. A signature
made with a private key that the rewriter does not hold closes that gap.

Format: the OpenSSF model-signing specification, through the ``model-signing``
library (``pip install 'sentiment_export[sign]'``) with plain elliptic-curve
keys (P-256, P-384 or P-521; PEM, from ``openssl`` or ``cryptography``). The
artifact directory is hashed file by file (sha256) into an in-toto statement,
signed as a DSSE envelope and written as a Sigstore bundle to
:data:`~sentiment_export.artifact.layout.SIGNATURE_FILENAME` inside the artifact; the
statement covers every file, ``manifest.json`` included, except the bundle
itself. Key-based signing and verifying are local computations: no
transparency log, no certificate authority, no network call (tested with the
socket layer disabled).

Only the ``model_signing`` import (~1.4 s, measured in
``benchmarks/signing_cost.py``) is slow; it happens on the first signed load
or sign, never for a load without a key. No torch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import SignatureError, SigningKeyError
from ..fileio import atomic_write_bytes, sha256_file
from .archive import pack_artifact
from .layout import FILE_MODE, MANIFEST_FILENAME, SIGNATURE_FILENAME
from .loader import Artifact, load_artifact

SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")
"""The curves model-signing's key signer accepts (NIST P-256, P-384, P-521)."""

_ARCHIVE_FORMATS = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".zip": "zip"}


@dataclass(frozen=True)
class SignatureCheck:
    """What a successful :func:`verify_signature` established."""

    signature: Path
    key_sha256: str  # sha256 of the public key (PEM SubjectPublicKeyInfo), as the bundle's key hint records it
    files: tuple[str, ...]  # every file the signature covers, sorted


def _model_signing() -> tuple[ModuleType, ModuleType, ModuleType]:
    """model_signing's hashing, signing and verifying modules, or SignatureError naming the extra to install."""
    try:
        from model_signing import hashing, signing, verifying
    except ImportError as error:
        raise SignatureError(
            f"signing and key-checked loading need the model-signing library, which cannot be imported ({error}); "
            "install it with `pip install 'sentiment_export[sign]'`"
        ) from error
    return hashing, signing, verifying


def _hashing_config(hashing: ModuleType) -> Any:
    """Every file of the directory but the signature bundle; git paths are not exempt (an artifact has none)."""
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILENAME], ignore_git_paths=False)


def _read_key_file(path: Path, kind: str) -> bytes:
    if not path.is_file():
        raise SigningKeyError(f"{kind} key {path} does not exist or is not a file; pass a PEM file (see README: signing)")
    return path.read_bytes()


def _check_curve(key: Any, path: Path, kind: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        raise SigningKeyError(
            f"{kind} key {path} is a {type(key).__name__}, not an elliptic-curve key; make a P-256 key pair with "
            "`openssl ecparam -name prime256v1 -genkey -noout -out key.pem` and "
            "`openssl ec -in key.pem -pubout -out key.pub`"
        )
    if key.curve.name not in SUPPORTED_CURVES:
        raise SigningKeyError(f"{kind} key {path} is on the curve {key.curve.name}; use one of {', '.join(SUPPORTED_CURVES)} (P-256 recommended)")


def load_private_key(path: str | os.PathLike[str], *, password: bytes | None = None) -> Any:
    """The elliptic-curve private key in the PEM file ``path`` (checked before a long export starts).

    Raises :class:`SigningKeyError` for a missing file, a file that is not a
    PEM private key, a wrong or missing password, or an unsupported curve.
    """
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    data = _read_key_file(path, "private")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as error:  # encrypted without a password, or a password for a plain key
        raise SigningKeyError(f"private key {path}: {error}; pass the key's password (or none for an unencrypted key)") from error
    except ValueError as error:
        raise SigningKeyError(
            f"private key {path} is not a PEM private key, or its password is wrong ({error}); "
            "pass the private half of the key pair (BEGIN PRIVATE KEY / BEGIN EC PRIVATE KEY)"
        ) from error
    _check_curve(key, path, "private")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """The elliptic-curve public key in the PEM file ``path``; :class:`SigningKeyError` as for the private key."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    data = _read_key_file(path, "public")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as error:
        hint = " (this is a private key: pass its public half, `openssl ec -in KEY.pem -pubout`)" if b"PRIVATE KEY" in data else ""
        raise SigningKeyError(f"public key {path} is not a PEM public key{hint}: {error}") from error
    _check_curve(key, path, "public")
    return key


def key_sha256(public_key: Any) -> str:
    """sha256 of a public key's PEM SubjectPublicKeyInfo: the key hint a bundle records, and the name of a key."""
    from cryptography.hazmat.primitives import serialization

    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def _read_bundle(path: Path) -> dict[str, Any]:
    """The bundle JSON; SignatureError when it is unreadable (nothing read here is trusted before verification)."""
    if path.is_symlink() or not path.is_file():
        raise SignatureError(f"{path} is a link or not a regular file; a signature bundle is a plain file")
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SignatureError(f"signature {path} is not a JSON Sigstore bundle ({error}); sign the artifact again") from error
    if not isinstance(bundle, dict):
        raise SignatureError(f"signature {path} is not a JSON Sigstore bundle; sign the artifact again")
    return bundle


def signed_by(root: str | os.PathLike[str]) -> str | None:
    """The key sha256 recorded in the artifact directory's signature bundle, or None when it has none.

    Not a verification: anyone can write a bundle. It tells which public key
    to verify with (see :func:`key_sha256`), for ``info`` and key rotation.
    """
    path = Path(root) / SIGNATURE_FILENAME
    if not path.exists():
        return None
    hint = _read_bundle(path).get("verificationMaterial", {}).get("publicKey", {}).get("hint")
    return hint if isinstance(hint, str) else "unknown"


def _statement(bundle: dict[str, Any], path: Path) -> dict[str, Any]:
    """The in-toto statement of a bundle whose signature has been verified."""
    try:
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        return statement if isinstance(statement, dict) else {}
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise SignatureError(f"signature {path} holds no readable in-toto statement ({error}); sign the artifact again") from error


def _signed_digests(statement: dict[str, Any]) -> dict[str, str]:
    resources = statement.get("predicate", {}).get("resources", [])
    return {item["name"]: item["digest"] for item in resources if isinstance(item, dict) and "name" in item and "digest" in item}


def verify_signature(root: str | os.PathLike[str], *, public_key: str | os.PathLike[str]) -> SignatureCheck:
    """Check the signature of the artifact directory ``root`` with the PEM ``public_key``.

    Passes only when the directory holds a signature bundle, the bundle was
    signed by ``public_key``'s private half, every file now in the directory
    has the digest the signed statement records, and the statement covers
    ``manifest.json`` and every file the manifest lists. Call it on a
    directory that :func:`load_artifact` has checked (``load_artifact(path,
    public_key=...)`` does both).

    Raises :class:`SignatureError` naming what failed: not signed, signed by
    another key (with both keys' sha256), the bundle altered, or which files
    changed, appeared or disappeared after signing; :class:`SigningKeyError`
    for an unusable key file.
    """
    root = Path(root)
    key = load_public_key(public_key)
    expected_key = key_sha256(key)
    path = root / SIGNATURE_FILENAME
    if not path.exists():
        raise SignatureError(
            f"artifact {root} is not signed (no {SIGNATURE_FILENAME}), but a public key was given; sign it with "
            f"`python -m sentiment_export sign {root} --private-key KEY.pem`, or load it without a public key"
        )
    bundle = _read_bundle(path)
    hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
    if hint != expected_key:
        signer = f"sha256 {hint[:16]}..." if isinstance(hint, str) else "not named in the bundle"
        raise SignatureError(
            f"artifact {root} is signed by another key ({signer}), not by {public_key} "
            f"(sha256 {expected_key[:16]}...); verify with the key it was signed with, or re-sign it"
        )
    hashing, _, verifying = _model_signing()
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=Path(public_key)).set_hashing_config(
            _hashing_config(hashing)
        ).verify(root, path)
    except Exception as error:  # noqa: BLE001 -- the library raises ValueError, InvalidSignature, KeyError, ...: all mean "refused"
        raise _refusal(root, path, bundle, public_key, error) from error
    digests = _signed_digests(_statement(bundle, path))
    listed = {MANIFEST_FILENAME, *_listed_files(root)}
    uncovered = sorted(listed - set(digests))
    if uncovered:
        raise SignatureError(f"artifact {root}: the signature does not cover {uncovered}; sign the whole artifact again")
    return SignatureCheck(path, expected_key, tuple(sorted(digests)))


def _listed_files(root: Path) -> list[str]:
    """The file names the artifact's manifest lists (the loader has checked it)."""
    return list(json.loads((root / MANIFEST_FILENAME).read_text(encoding="utf-8")).get("files", {}))


def _refusal(root: Path, path: Path, bundle: dict[str, Any], public_key: str | os.PathLike[str], error: Exception) -> SignatureError:
    """The SignatureError for a failed library verification: which files changed, or that the bundle is bad."""
    message = str(error)
    if not message.startswith("Signature mismatch"):  # the envelope itself did not verify
        return SignatureError(
            f"artifact {root}: {SIGNATURE_FILENAME} does not verify with {public_key} "
            f"({type(error).__name__}: {message.splitlines()[0] if message else 'invalid signature'}); "
            "the signature bundle was altered or made with another key: sign the artifact again"
        )
    # The envelope verified, so its statement is authentic: compare it with the files.
    signed = _signed_digests(_statement(bundle, path))
    present = {child.name: child for child in root.iterdir() if child.is_file() and child.name != SIGNATURE_FILENAME}
    changed = sorted(name for name in signed.keys() & present.keys() if sha256_file(present[name]) != signed[name])
    added, removed = sorted(present.keys() - signed.keys()), sorted(signed.keys() - present.keys())
    parts = [f"changed {changed}" if changed else "", f"added {added}" if added else "", f"removed {removed}" if removed else ""]
    return SignatureError(
        f"artifact {root} was modified after signing: {'; '.join(p for p in parts if p) or message}; "
        "it is not the artifact that was signed (copy the signed artifact again, or re-export and re-sign)"
    )


def _archive_format(path: Path) -> str | None:
    name = path.name.lower()
    return next((fmt for suffix, fmt in _ARCHIVE_FORMATS.items() if name.endswith(suffix)), None)


def sign_artifact(
    path: str | os.PathLike[str],
    *,
    private_key: str | os.PathLike[str],
    password: bytes | None = None,
    check: Callable[[Artifact], None] | None = None,
    trust_custom_rules: bool = False,
) -> Path:
    """Sign the artifact at ``path`` (directory, ``.tar.gz``/``.tgz`` or ``.zip``) with the PEM ``private_key``.

    The artifact is first checked as a load would (every sha256, the copies
    embedded in ``model.pt``) and then by ``check`` (the CLI passes the
    known-answer check of :mod:`sentiment_export.serving.known_answer`, which
    needs onnxruntime and so lives above this layer), so only a consistent
    artifact is signed. A directory gets
    :data:`~sentiment_export.artifact.layout.SIGNATURE_FILENAME` (an existing one is
    replaced: re-signing with a new key is how keys rotate); an archive is
    unpacked, signed and packed again in place (atomically). Returns the
    signature file, or the archive. ``trust_custom_rules`` as for :func:`load_artifact`.

    Raises :class:`SigningKeyError` for an unusable key, :class:`ArtifactError`
    for an artifact that does not load or fails the known-answer check.
    """
    path = Path(path)
    load_private_key(private_key, password=password)  # clear errors before any work
    fmt = _archive_format(path) if path.is_file() else None
    if fmt is None:
        artifact = load_artifact(path, trust_custom_rules=trust_custom_rules)
        if check is not None:
            check(artifact)
        return _sign_directory(artifact.root, private_key, password)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.signing-", dir=path.parent))
    try:
        artifact = load_artifact(path, extract_to=scratch / "unpacked", trust_custom_rules=trust_custom_rules)
        if check is not None:
            check(artifact)
        _sign_directory(artifact.root, private_key, password)
        os.replace(pack_artifact(artifact.root, fmt), path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path


def _sign_directory(root: Path, private_key: str | os.PathLike[str], password: bytes | None) -> Path:
    """Write the bundle for ``root``; it is made outside the directory (it must not be hashed), then moved in."""
    hashing, signing, _ = _model_signing()
    target = root / SIGNATURE_FILENAME  # an old one is replaced only once the new one exists
    with tempfile.TemporaryDirectory(prefix="sentiment-signature-") as scratch:
        bundle = Path(scratch) / SIGNATURE_FILENAME
        signing.Config().use_elliptic_key_signer(
            private_key=Path(private_key), password=password
        ).set_hashing_config(_hashing_config(hashing)).sign(root, bundle)
        atomic_write_bytes(target, bundle.read_bytes())
    target.chmod(FILE_MODE)
    return target

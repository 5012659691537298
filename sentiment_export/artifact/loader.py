"""The artifact format: one directory (or one archive of it) that serving trusts.

Layout of ``<name>-<version>/``::

    manifest.json          what it is, where it came from, and a sha256 + size for every other file
    model.pt               TorchScript (spec.json, vocab.txt, manifest.json embedded as extra files)
    model.pt2              optional: torch.export + AOTInductor package (the same three files embedded)
    model.onnx             ONNX fp32
    model.int8.onnx        ONNX, weights dynamically quantized to int8
    weights.safetensors    the eager PyTorch weights (model config in the manifest)
    spec.json, vocab.txt   the preprocessing spec and vocabulary (TextEncoder)
    curves.json, curves.png training curves
    verification.json      the texts the parity gate checked, with eager PyTorch's probabilities
    MODEL_CARD.md          for people
    model.sig              optional: a signature over every other file (sentiment_export.artifact.signing)

:func:`load_artifact` is the only reader. It checks the manifest against its
schema, every listed file's presence, size and sha256, that nothing unlisted
but the signature lies beside them, and that the copies embedded in model.pt
and model.pt2 match (and, given a public key, the signature); packed archives
are unpacked member by member, refusing absolute paths, ``..``, links and
device files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ArtifactError, SpecError, VocabularyError
from ..fileio import sha256_file
from ..text.encoder import TextEncoder
from ..text.rules import untrusted_rules_problem
from .archive import unpack_archive
from .embedded import check_embedded_copies
from .layout import MANIFEST_FILENAME, OPTIONAL_ROLES, ROLE_FILENAMES, SIGNATURE_FILENAME
from .manifest import FileEntry, Manifest


class Artifact:
    """A loaded and verified artifact; construct it with :func:`load_artifact`."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Artifact({self.manifest.name!r}, {self.manifest.version!r}, root={str(self.root)!r})"

    def file(self, role: str) -> Path:
        """Path of the file playing ``role`` (see :data:`ROLE_FILENAMES`)."""
        if role not in ROLE_FILENAMES:
            raise ArtifactError(f"unknown artifact file role {role!r}; known roles: {', '.join(ROLE_FILENAMES)}")
        return self.root / ROLE_FILENAMES[role]

    def encoder(self, *, backend: str = "auto", native_threads: int = 1) -> TextEncoder:
        """The TextEncoder rebuilt from the artifact's own spec.json and vocab.txt, on ``backend``."""
        try:
            return TextEncoder.from_texts(
                self.file("spec").read_text(encoding="utf-8"),
                self.file("vocab").read_text(encoding="utf-8"),
                backend=backend,
                native_threads=native_threads,
            )
        except (SpecError, VocabularyError, UnicodeDecodeError) as error:
            raise ArtifactError(
                f"artifact {self.root}: spec.json/vocab.txt do not make a valid encoder: {error} "
                "(re-export the artifact with this sentiment_export)"
            ) from error


def load_artifact(
    path: str | os.PathLike[str],
    *,
    extract_to: str | os.PathLike[str] | None = None,
    public_key: str | os.PathLike[str] | None = None,
    trust_custom_rules: bool = False,
) -> Artifact:
    """Open and verify an artifact directory, ``.tar.gz`` or ``.zip``.

    Verifies the manifest (format version and schema), that every file it
    lists is present with its recorded size and sha256, that no unlisted file
    lies beside them, and that the copies embedded in ``model.pt`` (and ``model.pt2``) equal the
    directory's spec.json, vocab.txt and manifest
    (:func:`sentiment_export.artifact.embedded.check_embedded_copies`). With
    ``public_key`` (a PEM file) the artifact must also carry a signature by
    that key over every file (:func:`sentiment_export.artifact.signing.verify_signature`,
    raising :class:`SignatureError`). An archive is unpacked into ``extract_to`` (a new or empty
    directory) or, by default, into a temporary directory removed when the
    interpreter exits; members with absolute paths, ``..``, links or special
    files are refused before anything is written.

    The spec's rules (its regular expressions) must be a rule set this
    sentiment_export ships (:mod:`sentiment_export.text.rules`, by
    fingerprint): Python's ``re`` has no time bound, so rules from an unknown
    source could make scoring hang. ``trust_custom_rules=True`` accepts any
    rules; pass it only for artifacts from a source you trust.

    Raises :class:`ArtifactError` naming the file and the problem.
    """
    path = Path(path)
    if path.is_dir():
        root = path
    elif path.is_file():
        root = _find_root(unpack_archive(path, extract_to))
    else:
        raise ArtifactError(
            f"artifact {path} does not exist (expected a directory from `python -m sentiment_export export` "
            "or a .tar.gz/.zip made with --pack)"
        )
    manifest = _read_manifest(root)
    _check_files(root, manifest)
    if not trust_custom_rules:
        _check_rules(root)
    artifact = Artifact(root, manifest)
    if public_key is not None:
        from .signing import verify_signature  # imports model-signing (the [sign] extra) only when asked

        verify_signature(root, public_key=public_key)
    check_embedded_copies(artifact)
    return artifact


def _read_manifest(root: Path) -> Manifest:
    manifest_path = root / MANIFEST_FILENAME
    if not manifest_path.is_file():
        raise ArtifactError(
            f"artifact {root} has no {MANIFEST_FILENAME}; is this an artifact directory? "
            "(export one with `python -m sentiment_export export --checkpoint CKPT`)"
        )
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ArtifactError(f"artifact {root}: {MANIFEST_FILENAME} is not UTF-8 ({error}); the file is corrupted, re-export") from error
    return Manifest.from_json(text, source=f"artifact {root}: {MANIFEST_FILENAME}")


def _check_files(root: Path, manifest: Manifest) -> None:
    files = manifest.files
    if not files:
        raise ArtifactError(f"artifact {root}: {MANIFEST_FILENAME} has no 'files' table; re-export the artifact")
    listed_roles = {entry.role for entry in files.values()}
    missing_roles = [role for role in ROLE_FILENAMES if role not in {"manifest", *OPTIONAL_ROLES} and role not in listed_roles]
    if missing_roles:
        raise ArtifactError(
            f"artifact {root}: {MANIFEST_FILENAME} lists no file for the roles {missing_roles}; re-export the artifact"
        )
    for name, entry in files.items():
        if ROLE_FILENAMES.get(entry.role) != name:
            raise ArtifactError(
                f"artifact {root}: {MANIFEST_FILENAME} lists {name!r} with role {entry.role!r}, "
                "which is not a file of this format"
            )
        _check_file(root, name, entry)
    unlisted = sorted(
        child.name
        for child in root.iterdir()
        if child.name not in (MANIFEST_FILENAME, SIGNATURE_FILENAME) and child.name not in files
    )  # hidden files too: nothing in an artifact is exempt from the manifest
    if unlisted:
        raise ArtifactError(
            f"artifact {root} holds {unlisted}, not listed in {MANIFEST_FILENAME}; an artifact holds only "
            "its listed files (remove them, or re-export)"
        )


def _check_rules(root: Path) -> None:
    """ArtifactError when spec.json's rules are not a trusted rule set (a spec that is not
    a JSON object is left to :meth:`Artifact.encoder`, which names what is wrong with it)."""
    try:
        spec = json.loads((root / ROLE_FILENAMES["spec"]).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return
    problem = untrusted_rules_problem(spec) if isinstance(spec, dict) else None
    if problem:
        raise ArtifactError(
            f"artifact {root}: spec.json: {problem}. Python's re has no time limit, so rules from an unknown "
            "source can make scoring hang; if you trust whoever made this artifact, load it with "
            "trust_custom_rules=True (CLI: --trust-custom-rules), else re-export it with this sentiment_export"
        )


def _check_file(root: Path, name: str, entry: FileEntry) -> None:
    path = root / name
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ArtifactError(f"artifact {root}: {name} is a link or not a regular file; artifacts hold plain files only")
    if not path.is_file():
        raise ArtifactError(
            f"artifact {root}: {name} ({entry.role}) is missing; copy the whole artifact directory, or re-export"
        )
    size = path.stat().st_size
    if size != entry.size:
        raise ArtifactError(
            f"artifact {root}: {name} has {size} bytes, the manifest says {entry.size} "
            "(truncated or modified); copy the artifact again, or re-export"
        )
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ArtifactError(
            f"artifact {root}: {name} has sha256 {digest}, the manifest says {entry.sha256} "
            "(corrupted or tampered with); copy the artifact again, or re-export"
        )


def _find_root(unpacked: Path) -> Path:
    """The unpacked directory holding manifest.json: the top level or its single sub-directory."""
    if (unpacked / MANIFEST_FILENAME).exists():
        return unpacked
    children = list(unpacked.iterdir())
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    raise ArtifactError(
        f"archive unpacked into {unpacked} holds no {MANIFEST_FILENAME} at its top level or in a single "
        "top-level directory; pack artifacts with `python -m sentiment_export export --pack`"
    )

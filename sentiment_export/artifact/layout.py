"""The artifact's file names, by role: the one place that names them."""

from __future__ import annotations

MANIFEST_FILENAME = "manifest.json"

SIGNATURE_FILENAME = "model.sig"
"""The optional signature bundle (:mod:`sentiment_export.artifact.signing`); it covers every other file,
so it is the one file the manifest does not list."""

ROLE_FILENAMES: dict[str, str] = {
    "torchscript": "model.pt",
    "pt2": "model.pt2",
    "onnx": "model.onnx",
    "onnx_int8": "model.int8.onnx",
    "weights": "weights.safetensors",
    "spec": "spec.json",
    "vocab": "vocab.txt",
    "manifest": MANIFEST_FILENAME,
    "model_card": "MODEL_CARD.md",
    "curves_data": "curves.json",
    "curves_plot": "curves.png",
    "verification": "verification.json",
}
"""Role -> file name inside the artifact; every role is required except the :data:`OPTIONAL_ROLES`."""

FILE_MODE, DIRECTORY_MODE = 0o644, 0o755
"""Permissions of an artifact's files (and of a packed archive) and of its directory: meant to be shared
and read (the temporary files they are written through are created private, 0600/0700)."""

OPTIONAL_ROLES = frozenset({"pt2"})
"""Roles an artifact may lack (``model.pt2`` is skipped by ``export --no-pt2``)."""

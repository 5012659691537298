"""Tests' way to change the files embedded in a model.pt as a careful attacker would: the record table rewritten too."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from sentiment_export.artifact.signature import TORCHSCRIPT_EXTRA_FILES

def reembed(path: Path, change: Callable[[dict[str, str]], dict[str, str]], *, target: Path | None = None) -> dict[str, str]:
    """Write ``target`` (default: ``path`` itself) as ``path``'s module with its embedded files replaced by
    ``change(files)`` and a record table that matches them; returns that table (for manifest.json)."""
    import torch

    from sentiment_export.export.records import save_with_record_table

    extra = dict.fromkeys(TORCHSCRIPT_EXTRA_FILES, "")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.(load|save)` is deprecated", category=DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        files = {name: content.decode("utf-8") if isinstance(content, bytes) else content for name, content in extra.items()}
        out = target or path
        return save_with_record_table(
            lambda changed: torch.jit.save(module, str(out), _extra_files=dict(changed)), out, change(files), section="torchscript"
        )

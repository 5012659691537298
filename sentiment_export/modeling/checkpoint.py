"""Checkpoint files: what training writes and export reads.

One ``torch.save`` file holding only tensors and plain containers, read back
with ``torch.load(weights_only=True)`` so that opening a checkpoint can never
run code from it. Written atomically (temp file, then rename).
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..text.encoder import TextEncoder
from ..errors import CheckpointError
from ..fileio import atomic_write_bytes
from .config import SentimentNetConfig
from .net import SentimentNet
from ..text.spec import PreprocessingSpec
from ..text.vocabulary import Vocabulary

CHECKPOINT_FORMAT = 1


@dataclass
class Checkpoint:
    """A trained (or training) model with everything needed to rebuild and resume it.

    ``metadata`` is JSON-able and travels into the artifact manifest
    (hyper-parameters, data description, metrics, history); ``training_state``
    is only for ``--resume`` (optimizer state, RNG state, epoch and step).
    """

    model_config: SentimentNetConfig
    model_state: dict[str, torch.Tensor]
    spec: PreprocessingSpec
    vocabulary: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    training_state: dict[str, Any] = field(default_factory=dict)

    def build_model(self) -> SentimentNet:
        """The network with these weights, in eval mode."""
        model = SentimentNet(self.model_config)
        model.load_state_dict(self.model_state)
        return model.eval()

    def build_encoder(self) -> TextEncoder:
        return TextEncoder(self.spec, Vocabulary(self.vocabulary, self.spec))


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_config": checkpoint.model_config.to_dict(),
        "model_state": {name: tensor.detach().cpu() for name, tensor in checkpoint.model_state.items()},
        "spec": checkpoint.spec.to_dict(),
        "vocabulary": list(checkpoint.vocabulary),
        "metadata": checkpoint.metadata,
        "training_state": checkpoint.training_state,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint safely; raises :class:`CheckpointError` naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (train one with `python -m training`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise CheckpointError(
            f"{path} is not a readable sentiment_export checkpoint (truncated, corrupted, or holding "
            f"objects other than tensors and plain data): {str(error).splitlines()[0]}"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{path} has checkpoint format {found!r}; this sentiment_export reads format {CHECKPOINT_FORMAT}"
        )
    try:
        return Checkpoint(
            model_config=SentimentNetConfig.from_dict(payload["model_config"]),
            model_state=payload["model_state"],
            spec=PreprocessingSpec.from_dict(payload["spec"]),
            vocabulary=payload["vocabulary"],
            metadata=payload["metadata"],
            training_state=payload["training_state"],
        )
    except KeyError as error:
        raise CheckpointError(f"checkpoint {path} lacks the field {error.args[0]!r}") from error

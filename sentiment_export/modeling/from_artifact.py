"""The eager PyTorch network of an artifact, rebuilt from its manifest and ``weights.safetensors``.

Lives in the torch layer so that :class:`~sentiment_export.artifact.loader.Artifact`
itself never imports torch: serving reads the same artifact without it.
"""

from __future__ import annotations

from safetensors import SafetensorError
from safetensors.torch import load_file

from ..artifact.loader import Artifact
from ..errors import ArtifactError
from .config import SentimentNetConfig
from .net import SentimentNet


def artifact_model_config(artifact: Artifact) -> SentimentNetConfig:
    """The network's hyper-parameters, as recorded in the artifact's manifest."""
    try:
        return SentimentNetConfig.from_dict(artifact.manifest.model.config)
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(
            f"artifact {artifact.root}: manifest.json has no valid model.config ({error}); re-export the artifact"
        ) from error


def load_eager_model(artifact: Artifact) -> SentimentNet:
    """Eager SentimentNet from the artifact's weights.safetensors, in eval mode.

    Raises :class:`ArtifactError` when the weights do not fit the manifest's config.
    """
    model = SentimentNet(artifact_model_config(artifact))
    try:
        model.load_state_dict(load_file(artifact.file("weights")))
    except (SafetensorError, RuntimeError) as error:
        first_line = str(error).splitlines()[0]
        raise ArtifactError(
            f"artifact {artifact.root}: weights.safetensors does not fit the manifest's model config: "
            f"{first_line} (re-export the artifact)"
        ) from error
    return model.eval()

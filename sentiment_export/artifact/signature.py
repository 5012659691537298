"""The exported model's signature, declared once; exporters and the manifest derive from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    dims: tuple[str | int, ...]  # a str is a named dynamic dimension

    def dynamic_axes(self) -> dict[int, str]:
        return {axis: dim for axis, dim in enumerate(self.dims) if isinstance(dim, str)}


INPUTS: tuple[TensorSpec, ...] = (TensorSpec("input_ids", "int64", ("batch", "sequence")),)
OUTPUTS: tuple[TensorSpec, ...] = (TensorSpec("probability", "float32", ("batch",)),)

# Names of the files embedded in the TorchScript archive (``_extra_files``), so
# the ``.pt`` alone is enough for a C++ program.
TORCHSCRIPT_EXTRA_FILES: tuple[str, ...] = ("spec.json", "vocab.txt", "manifest.json")


def input_names() -> list[str]:
    return [spec.name for spec in INPUTS]


def output_names() -> list[str]:
    return [spec.name for spec in OUTPUTS]


def dynamic_axes() -> dict[str, dict[int, str]]:
    """The ``dynamic_axes`` argument of ``torch.onnx.export``."""
    return {spec.name: spec.dynamic_axes() for spec in (*INPUTS, *OUTPUTS)}


def as_manifest() -> dict[str, Any]:
    """The signature as JSON-able data for the manifest."""
    return {
        "inputs": [asdict(spec) for spec in INPUTS],
        "outputs": [asdict(spec) for spec in OUTPUTS],
    }

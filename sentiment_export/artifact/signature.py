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


def session_problems(session: Any) -> list[str]:
    """How an onnxruntime session's inputs and outputs differ from the declared signature (names, element
    types, dynamic dimensions); empty when they match. Duck-typed on ``get_inputs``/``get_outputs``, so this
    layer needs no onnxruntime import."""
    onnx_types = {"int64": "tensor(int64)", "float32": "tensor(float)"}
    declared = [*((spec, "input") for spec in INPUTS), *((spec, "output") for spec in OUTPUTS)]
    found = {
        **{("input", arg.name): arg for arg in session.get_inputs()},
        **{("output", arg.name): arg for arg in session.get_outputs()},
    }
    problems = []
    for spec, kind in declared:
        arg = found.get((kind, spec.name))
        if arg is None:
            names = [name for k, name in found if k == kind]
            problems.append(f"has no {kind} named {spec.name!r} (it has {names})")
        elif arg.type != onnx_types[spec.dtype]:
            problems.append(f"{kind} {spec.name!r} has type {arg.type}, expected {onnx_types[spec.dtype]}")
        elif any(isinstance(dim, int) for dim in arg.shape):
            problems.append(f"{kind} {spec.name!r} has fixed dimensions {arg.shape}; expected dynamic {list(spec.dims)}")
    return problems

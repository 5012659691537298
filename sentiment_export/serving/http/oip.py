"""Open Inference Protocol v2 (KServe / Triton, HTTP/REST JSON): request parsing and response shapes.

One input, ``text`` (``BYTES``, shape ``[N]`` or ``[N, 1]``, the raw texts as
JSON strings), two outputs, ``score`` (``FP32``, P(positive)) and ``label``
(``BYTES``, ``"positive"``/``"negative"``). A request is checked field by
field and refused with :class:`BadRequest` naming the field and index
(``inputs[0].data[3]``), so a client never gets a silently wrong answer.
The binary tensor extension (``Inference-Header-Content-Length``) is not
supported: the request is refused with a message saying to send JSON data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest

INPUT_NAME = "text"
SCORE_OUTPUT = "score"
LABEL_OUTPUT = "label"
OUTPUTS = (SCORE_OUTPUT, LABEL_OUTPUT)
PLATFORM = "onnxruntime_onnx"
BINARY_HEADER = "inference-header-content-length"


@dataclass(frozen=True)
class InferRequest:
    """A checked OIP infer request: the texts in order, the outputs to return and the request id."""

    texts: list[str]
    outputs: tuple[str, ...]
    id: str | None


def decode_json(body: bytes) -> Any:
    """The request body as JSON, or :class:`BadRequest` saying where it is not UTF-8 or not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"request body is not valid UTF-8 ({error.reason} at byte {error.start}); send UTF-8 JSON"
        ) from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequest(
            f"request body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error


def check_texts(data: Any, field: str) -> list[str]:
    """``data`` as a non-empty list of valid Unicode strings, else :class:`BadRequest` naming ``field[i]``."""
    if not isinstance(data, list):
        raise BadRequest(f"{field} must be a JSON array of strings, got {_kind(data)}")
    if not data:
        raise BadRequest(f"{field} is empty; send at least one text")
    for index, item in enumerate(data):
        if not isinstance(item, str):
            raise BadRequest(f"{field}[{index}] must be a string, got {_kind(item)}")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as error:
            raise BadRequest(
                f"{field}[{index}] is not valid Unicode (a lone surrogate \\u{ord(item[error.start]):04x} "
                f"at character {error.start}); send UTF-8 text"
            ) from error
    return data


def parse_infer_request(payload: Any) -> InferRequest:
    """Check an infer request body (already JSON-decoded); raises :class:`BadRequest` naming the field."""
    if not isinstance(payload, dict):
        raise BadRequest(f"request body must be a JSON object with 'inputs', got {_kind(payload)}")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest(f"id must be a string, got {_kind(request_id)}")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        got = f"{len(inputs)} inputs" if isinstance(inputs, list) else _kind(inputs)
        raise BadRequest(f"inputs must be an array of exactly one input named {INPUT_NAME!r}, got {got}")
    texts = _parse_input(inputs[0], "inputs[0]")
    return InferRequest(texts=texts, outputs=_parse_outputs(payload.get("outputs")), id=request_id)


def _parse_input(tensor: Any, field: str) -> list[str]:
    if not isinstance(tensor, dict):
        raise BadRequest(f"{field} must be an object with name, shape, datatype and data, got {_kind(tensor)}")
    name = tensor.get("name")
    if name != INPUT_NAME:
        raise BadRequest(f"{field}.name must be {INPUT_NAME!r}, got {name!r}")
    datatype = tensor.get("datatype")
    if datatype != "BYTES":
        raise BadRequest(f"{field}.datatype must be 'BYTES' (the raw texts), got {datatype!r}")
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise BadRequest(f"{field}.shape must be [N] or [N, 1] with N >= 1 texts, got {shape!r}")
    if "data" not in tensor:
        raise BadRequest(f"{field}.data is missing; binary tensor data is not supported, send the texts as JSON")
    data = tensor["data"]
    if len(shape) == 2 and isinstance(data, list) and data and all(isinstance(row, list) for row in data):
        if any(len(row) != 1 for row in data):
            raise BadRequest(f"{field}.data must be rows of one text each for shape {shape}")
        data = [row[0] for row in data]
    texts = check_texts(data, f"{field}.data")
    if len(texts) != math.prod(shape):
        raise BadRequest(f"{field}.shape {shape} holds {math.prod(shape)} texts but {field}.data has {len(texts)}")
    return texts


def _parse_outputs(outputs: Any) -> tuple[str, ...]:
    if outputs is None:
        return OUTPUTS
    if not isinstance(outputs, list) or not outputs:
        raise BadRequest(f"outputs must be a non-empty array of {{'name': ...}} objects, got {_kind(outputs)}")
    names = []
    for index, output in enumerate(outputs):
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUTS:
            raise BadRequest(f"outputs[{index}].name must be one of {list(OUTPUTS)}, got {name!r}")
        names.append(name)
    return tuple(names)


def infer_response(
    request: InferRequest, scores: Sequence[float], labels: Sequence[str], *, name: str, version: str
) -> dict[str, Any]:
    """The OIP infer response: the requested outputs, each of shape ``[N]``, in the request's order."""
    tensors = {
        SCORE_OUTPUT: {"name": SCORE_OUTPUT, "datatype": "FP32", "shape": [len(scores)], "data": list(scores)},
        LABEL_OUTPUT: {"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [len(labels)], "data": list(labels)},
    }
    response: dict[str, Any] = {
        "model_name": name,
        "model_version": version,
        "outputs": [tensors[output] for output in request.outputs],
    }
    if request.id is not None:
        response["id"] = request.id
    return response


def model_metadata(name: str, versions: Sequence[str]) -> dict[str, Any]:
    """``GET /v2/models/{name}[/versions/{version}]``: name, versions, platform and the tensors."""
    return {
        "name": name,
        "versions": list(versions),
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": SCORE_OUTPUT, "datatype": "FP32", "shape": [-1]},
            {"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [-1]},
        ],
    }


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)

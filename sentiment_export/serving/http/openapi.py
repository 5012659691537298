"""The OpenAPI 3.1 document of the server's routes (``GET /openapi.json``), kept as data beside the routes."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "refused; the body says why",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_REFUSALS = {
    "400": {**_ERROR, "description": "malformed JSON, wrong datatype or shape, bad text, empty input"},
    "404": {**_ERROR, "description": "unknown model or version"},
    "413": {**_ERROR, "description": "body over --body-limit"},
    "503": {**_ERROR, "description": "queue full (Retry-After: 1) or shutting down"},
    "504": {**_ERROR, "description": "not scored within --timeout"},
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _model_routes(prefix: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        prefix: {"get": {"summary": "model metadata", "parameters": parameters,
                         "responses": {"200": _json("ModelMetadata", "metadata"), "404": _REFUSALS["404"]}}},
        f"{prefix}/ready": {"get": {"summary": "model readiness", "parameters": parameters,
                                    "responses": {"200": {"description": "ready"}, "404": _REFUSALS["404"],
                                                  "503": {"description": "not ready"}}}},
        f"{prefix}/infer": {"post": {
            "summary": "Open Inference Protocol v2 inference", "parameters": parameters,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}}}},
            "responses": {"200": _json("InferResponse", "scores and labels"), **_REFUSALS},
        }},
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; ``version`` is the package's."""
    tensor = {
        "type": "object", "required": ["name", "shape", "datatype", "data"],
        "properties": {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                       "datatype": {"type": "string"}, "data": {"type": "array"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "sentiment_export inference server", "version": version,
                 "description": "Open Inference Protocol v2 (REST) and a plain /predict route over SentimentModel."},
        "paths": {
            "/v2": {"get": {"summary": "server metadata", "responses": {"200": {"description": "name, version, extensions"}}}},
            "/v2/health/live": {"get": {"summary": "liveness", "responses": {"200": {"description": "live"}}}},
            "/v2/health/ready": {"get": {"summary": "readiness: every model verified and warmed up",
                                         "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            **_model_routes("/v2/models/{name}", [_NAME]),
            **_model_routes("/v2/models/{name}/versions/{version}", [_NAME, _VERSION]),
            "/predict": {"post": {
                "summary": "score texts; the default model is the first artifact's name at its highest version",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
                "responses": {"200": _json("PredictResponse", "one prediction per text, in order"), **_REFUSALS},
            }},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "Tensor": tensor,
            "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
                "id": {"type": "string"}, "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"enum": ["score", "label"]}}}}}},
            "InferResponse": {"type": "object", "properties": {
                "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
                "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}}}},
            "ModelMetadata": {"type": "object", "properties": {
                "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"}, "inputs": {"type": "array"}, "outputs": {"type": "array"}}},
            "PredictRequest": {"type": "object", "required": ["texts"], "properties": {
                "texts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "model": {"type": "string"}, "version": {"type": "string"}}},
            "PredictResponse": {"type": "object", "properties": {
                "model_name": {"type": "string"}, "model_version": {"type": "string"},
                "predictions": {"type": "array", "items": {"type": "object", "properties": {
                    "index": {"type": "integer"}, "label": {"enum": ["positive", "negative"]}, "score": {"type": "number"}}}}}},
        }},
    }

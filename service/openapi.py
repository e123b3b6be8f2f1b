"""The OpenAPI 3 document, generated from the marshmallow schemas the views use."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from service import schemas
from service.security import API_KEY_HEADER
from service.video import openapi as video_openapi

API_VERSION = "1.0"
_ERRORS = {
    "400": "undecodable image, invalid base64 or JSON",
    "401": "missing or wrong API key",
    "413": "upload, pixel count or batch item count over the limit",
    "415": "unsupported media type",
    "422": "schema validation failure (see details)",
    "429": "rate limited (Retry-After)",
    "503": "not ready, shutting down or overloaded (Retry-After)",
    "504": "inference timed out",
}
_IMAGE_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {"type": "string", "format": "binary", "description": "also accepted as 'file'"}
                },
            }
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": "ImageJson"},
    },
    "required": True,
}
_BATCH_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["images"],
                "properties": {
                    "images": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                    }
                },
            }
        },
        "application/json": {"schema": "BatchJson"},
    },
    "required": True,
}


def _json(schema: str, description: str) -> dict[str, Any]:
    """A JSON response referencing a schema component."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    """Error responses, all with the ErrorResponse body."""
    return {code: _json("ErrorResponse", _ERRORS[code]) for code in codes}


def build_spec() -> dict[str, Any]:
    """The whole OpenAPI document as a dict."""
    spec = APISpec(
        title="Facial emotion recognition",
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Faces in photos and the emotion of each (FER2013 classes)."},
    )
    for name in (
        "ImageJson",
        "BatchJson",
        "PredictResponse",
        "BatchResponse",
        "ErrorResponse",
        "Health",
        "Metadata",
    ):
        spec.components.schema(name, schema=getattr(schemas, name))
    spec.components.security_scheme("ApiKey", {"type": "apiKey", "in": "header", "name": API_KEY_HEADER})
    secured = [{"ApiKey": []}]
    query = [{"in": "query", "schema": schemas.PredictQuery}]
    work_errors = _errors("400", "401", "413", "415", "422", "429", "503", "504")
    spec.path(
        "/predict",
        operations={
            "post": {
                "summary": "Detect faces in one image and classify each",
                "parameters": query,
                "security": secured,
                "requestBody": _IMAGE_BODY,
                "responses": {"200": _json("PredictResponse", "faces found"), **work_errors},
            }
        },
    )
    spec.path(
        "/predict/batch",
        operations={
            "post": {
                "summary": "Several images; results in input order, bad items as error entries",
                "parameters": query,
                "security": secured,
                "requestBody": _BATCH_BODY,
                "responses": {"200": _json("BatchResponse", "one result per image"), **work_errors},
            }
        },
    )
    spec.path(
        "/health",
        operations={
            "get": {
                "summary": "Liveness and readiness (open without API key)",
                "responses": {"200": _json("Health", "ready"), "503": _json("Health", "not ready")},
            }
        },
    )
    for path in ("/metadata", "/v1/models/emotion"):
        spec.path(
            path,
            operations={
                "get": {
                    "summary": "Model metadata: classes, input contract, metrics",
                    "security": secured,
                    "responses": {"200": _json("Metadata", "metadata"), **_errors("401", "429")},
                }
            },
        )
    text = {"text/plain": {"schema": {"type": "string"}}}
    spec.path(
        "/metrics",
        operations={
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text exposition format", "content": text}},
            }
        },
    )
    video_openapi.add_paths(spec)
    return spec.to_dict()

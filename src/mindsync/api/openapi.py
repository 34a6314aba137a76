"""The OpenAPI document as a contract: what FastAPI generates, plus the per-modality result
schemas that the response's ``modalities`` holds.

``modalities`` stays a plain mapping at run time (stored sessions from older versions must
still be readable), but the document states each modality's schema, so that clients and
the fuzz test see exactly what a face, voice or motion entry contains.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mindsync.analysis.face.result import FaceResult
from mindsync.analysis.motion.result import MotionResult
from mindsync.analysis.voice.result import VoiceResult

REF = "#/components/schemas/{model}"
MODALITY_RESULTS: dict[str, type[BaseModel]] = {
    "face": FaceResult,
    "voice": VoiceResult,
    "motion": MotionResult,
}


def _typed_modalities(schemas: dict[str, Any]) -> None:
    """Add the modality result schemas and point every ``modalities`` property at them."""
    _, defs = models_json_schema(
        [(model, "serialization") for model in MODALITY_RESULTS.values()], ref_template=REF
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    typed = {
        "type": "object",
        "title": "Modalities",
        "description": "Per analysed modality, its result: status, reason, quality, "
        "confidence, processing_ms and the modality's derived values. A modality that was not "
        "analysed (absent from the request, or without consent) has no entry.",
        "properties": {
            modality: {"$ref": REF.format(model=model.__name__)}
            for modality, model in MODALITY_RESULTS.items()
        },
        "additionalProperties": False,
    }
    for schema in schemas.values():
        properties = schema.get("properties", {})
        if "modalities" in properties and "modalities_used" in properties:
            properties["modalities"] = {**typed, "default": {}}


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the generator of MindSync's document (cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)  # FastAPI's own generator; it caches the result
            _typed_modalities(document.setdefault("components", {}).setdefault("schemas", {}))
            return document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

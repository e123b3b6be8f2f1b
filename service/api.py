"""JSON endpoints: /predict, /predict/batch, /health, /metadata."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from service.errors import ApiError
from service.inference import Engine
from service.inputs import batch_images, single_image
from service.schemas import BatchResponse, Health, Metadata, PredictQuery, PredictResponse

bp = Blueprint("api", __name__)
# Multipart and base64 wrap the image bytes: allow for base64's 4/3 plus headers before refusing a body.
OVERHEAD = 64 * 1024
# Schemas are stateless once built; building one per request cost more than the dump itself.
PREDICT_RESPONSE, BATCH_RESPONSE, PREDICT_QUERY = PredictResponse(), BatchResponse(), PredictQuery()


def engine() -> Engine:
    """This worker's inference engine."""
    return current_app.extensions["engine"]


def _limit_body(items: int) -> None:
    """Refuse oversized bodies while reading them (413), before any parsing."""
    request.max_content_length = items * (engine().settings.max_upload_bytes * 4 // 3 + OVERHEAD)


@bp.post("/predict")
def predict() -> ResponseReturnValue:
    """Faces and emotions in one image (multipart 'image'/'file', raw image body, or JSON base64)."""
    eng = engine()
    _limit_body(1)
    mode = PREDICT_QUERY.load(request.args)["detect"]
    prepared = eng.prepare(single_image(request, eng.settings.max_upload_bytes), mode)
    return jsonify(PREDICT_RESPONSE.dump(eng.classify([prepared])[0]))


@bp.post("/predict/batch")
def predict_batch() -> ResponseReturnValue:
    """Several images (multipart 'images' repeated, or JSON {"images": [...]}); results in input order."""
    eng = engine()
    settings = eng.settings
    _limit_body(settings.max_batch_items)
    mode = PREDICT_QUERY.load(request.args)["detect"]
    items = batch_images(request, settings.max_upload_bytes, settings.max_batch_items)
    slots: list[Any] = []
    for item in items:
        try:
            slots.append(eng.prepare(item, mode) if isinstance(item, bytes) else item)
        except ApiError as exc:  # a bad item gets its own error entry; the others go on
            slots.append(exc)
    good = [slot for slot in slots if not isinstance(slot, Exception)]
    answers = iter(eng.classify(good))
    results = [
        {"error": slot.to_dict()} if isinstance(slot, ApiError) else PREDICT_RESPONSE.dump(next(answers))
        for slot in slots
    ]
    return jsonify(BATCH_RESPONSE.dump({"model": eng.model_ref, "results": results}))


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Liveness and readiness; 503 until the model is loaded and warmed up (and while shutting down)."""
    eng = current_app.extensions.get("engine")
    ready = bool(eng and eng.ready)
    body = Health().dump(
        {
            "status": "ok" if ready else "unavailable",
            "ready": ready,
            "model_version": eng.predictor.version if eng else None,
            "runtime": eng.runtime if eng else None,
            "uptime_s": round(time.monotonic() - eng.started, 3) if eng else 0.0,
        }
    )
    return jsonify(body), 200 if ready else 503


@bp.get("/metadata")
@bp.get("/v1/models/emotion")
def metadata() -> ResponseReturnValue:
    """Class names, input contract, version and evaluation metrics from the model's metadata.json."""
    eng = engine()
    predictor = eng.predictor
    return jsonify(
        Metadata().dump(
            {
                **predictor.metadata,
                "name": predictor.name,
                "version": predictor.version,
                "class_names": predictor.class_names,
                "runtime": eng.runtime,
            }
        )
    )


def init_app(app: Flask) -> None:
    """Register the JSON endpoints."""
    app.register_blueprint(bp)

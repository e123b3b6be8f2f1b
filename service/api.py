"""JSON endpoints: /predict, /predict/batch, /health, /metadata."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from service.errors import item_error
from service.pipeline import Engine
from service.schemas import Health, Metadata, PredictQuery
from service.stages import StageError
from service.stages.faces import Prepared
from service.stages.read import limit_body, read_image, read_images
from service.stages.respond import batch_response

bp = Blueprint("api", __name__)
PREDICT_QUERY = PredictQuery()


def engine() -> Engine:
    """This worker's inference engine."""
    return current_app.extensions["engine"]


@bp.post("/predict")
def predict() -> ResponseReturnValue:
    """Faces and emotions in one image (multipart 'image'/'file', raw image body, or JSON base64)."""
    eng = engine()
    limit_body(request, eng.limits, 1)
    mode = PREDICT_QUERY.load(request.args)["detect"]
    prepared = eng.prepare(read_image(request, eng.limits), mode)
    return jsonify(eng.answer([prepared])[0])


@bp.post("/predict/batch")
def predict_batch() -> ResponseReturnValue:
    """Several images (multipart 'images' repeated, or JSON {"images": [...]}); results in input order."""
    eng = engine()
    limit_body(request, eng.limits, eng.limits.batch_items)
    mode = PREDICT_QUERY.load(request.args)["detect"]
    slots: list[Prepared | StageError] = []
    for item in read_images(request, eng.limits):
        try:
            slots.append(eng.prepare(item, mode) if isinstance(item, bytes) else item)
        except StageError as exc:  # a bad item gets its own error entry; the others go on
            slots.append(exc)
    answers = iter(eng.answer([slot for slot in slots if isinstance(slot, Prepared)]))
    results = [item_error(slot) if isinstance(slot, StageError) else next(answers) for slot in slots]
    return jsonify(batch_response(eng.model_ref, results))


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
                "detector": {"name": eng.faces.detector.name, "runtime": eng.faces.detector.runtime},
            }
        )
    )


def init_app(app: Flask) -> None:
    """Register the JSON endpoints."""
    app.register_blueprint(bp)

"""Stage 5, respond: probabilities -> the JSON-ready answer (/predict, /predict/batch, and the face
objects of /predict/video and the video CLI's files)."""

from __future__ import annotations

from typing import Any

import numpy as np

from service.stages.faces import Prepared

# The answers are built here already in the shape and JSON types of service.schemas'
# PredictResponse and BatchResponse (tests/service/test_stages.py checks that dumping them through
# the schemas changes nothing), so they are not dumped per request (~30 us of CPU each).


def face_json(box: Any, probs: np.ndarray, names: list[str], sharp: float | None) -> dict[str, Any]:
    """One face of a response: box, label, confidence, every probability, score and quality."""
    top = int(np.argmax(probs))
    return {
        "box": {"x": box.x, "y": box.y, "width": box.width, "height": box.height},
        "label": names[top],
        "confidence": float(probs[top]),
        "probabilities": dict(zip(names, probs.tolist(), strict=True)),
        "detection_score": box.score,
        # Quality, for callers that filter unreliable faces: the shorter box side in pixels and
        # the variance of the Laplacian of the 48x48 model input.
        "face_size": min(box.width, box.height),
        "sharpness": None if sharp is None else round(sharp, 1),
    }


def image_response(
    prepared: Prepared,
    probabilities: np.ndarray,
    *,
    class_names: list[str],
    model: dict[str, str],
    detector: str,
) -> dict[str, Any]:
    """The /predict answer for one image: its faces in detection order, and how they were found."""
    regions = prepared.regions
    faces = [
        face_json(box, probs, class_names, sharp)
        for box, probs, sharp in zip(regions.faces, probabilities, regions.sharpness, strict=True)
    ]
    return {
        "model": model,
        "image": {"width": prepared.width, "height": prepared.height},
        "detection": {
            "mode": prepared.mode,
            "detector": detector,
            "used": regions.detection_used,
            "too_small": regions.too_small,
        },
        "faces_found": bool(faces),
        "faces": faces,
    }


def batch_response(model: dict[str, str], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The /predict/batch answer: one image answer or {"error": ...} per item, in input order."""
    return {"model": model, "results": results}

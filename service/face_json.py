"""The JSON object of one face, shared by /predict, /predict/video and the video CLI's outputs."""

from __future__ import annotations

from typing import Any

import numpy as np


def face_json(box: Any, probs: np.ndarray, names: list[str], sharp: float | None) -> dict[str, Any]:
    """One face of a response: box, label, confidence, every probability, score and quality."""
    top = int(np.argmax(probs))
    return {
        "box": {"x": box.x, "y": box.y, "width": box.width, "height": box.height},
        "label": names[top],
        "confidence": float(probs[top]),
        "probabilities": {name: float(p) for name, p in zip(names, probs, strict=True)},
        "detection_score": box.score,
        # Quality, for callers that filter unreliable faces: the shorter box side in pixels and
        # the variance of the Laplacian of the 48x48 model input.
        "face_size": min(box.width, box.height),
        "sharpness": None if sharp is None else round(sharp, 1),
    }

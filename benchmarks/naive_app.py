"""The naive baseline: the tutorial Flask service, run under gunicorn's sync worker.

MODEL_DIR=models/emotion gunicorn -w 1 -k sync "benchmarks.naive_app:create_app()"

Same model and same work per image as the real service (decode, YuNet detection
for photos, 48x48 crops, the flip averaging the shipped signature does), but the
model is the in-memory Keras model and every request calls `model.predict` on
its own faces: no batching across requests, one request at a time per worker.
"""

from __future__ import annotations

import os

import numpy as np
from flask import Flask, jsonify, request

from contract import decode_image, to_model_input
from contract.modeldir import read_metadata, resolve_version_dir

CROP_MAX_SIDE = 96  # smaller images are taken to be face crops, as in the service's auto mode


def create_app(model_dir: str | None = None) -> Flask:
    """Load the Keras model and the detector once, then serve /predict and /health."""
    import tensorflow as tf
    import yuface

    from training.keras_models import load_keras_model
    from training.recall_floor import adjust
    from training.signature import tta_views, view_groups

    path = resolve_version_dir(model_dir or os.environ.get("MODEL_DIR", "models/emotion"))
    metadata = read_metadata(path)
    names, tta = metadata["class_names"], metadata.get("tta", "none")
    # A recall-floor bias (training.recall_floor) lives in the signature, not in model.keras.
    bias = [metadata.get("class_bias", {}).get(name, 0.0) for name in names]
    model = load_keras_model(path)
    app = Flask(__name__)

    def faces(image: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """Boxes and model inputs: the whole image when small, else YuNet's faces."""
        if max(image.shape[:2]) <= CROP_MAX_SIDE:
            return [[0, 0, image.shape[1], image.shape[0]]], to_model_input(image)[None]
        bgr = np.ascontiguousarray(image if image.ndim == 3 else np.dstack([image] * 3))
        _scores, boxes, _ = yuface.detect(bgr, conf=0.6)
        boxes = [[max(0, int(v)) for v in box] for box in boxes]
        crops = [to_model_input(image[y : y + h, x : x + w]) for x, y, w, h in boxes]
        return boxes, np.stack(crops) if crops else np.zeros((0, 48, 48, 1), np.uint8)

    @app.post("/predict")
    def predict():
        """Classify the faces of the uploaded image."""
        boxes, inputs = faces(decode_image(request.files["image"].read()))
        results = []
        if len(inputs):
            # The same views as the serving signature (a mixed ensemble's members each at their
            # own crop size), so both apps compute the same answer.
            x = tf.constant(inputs, tf.float32)
            per_group = []
            for network, side in view_groups(model):
                views = [np.asarray(v) for v in tta_views(x, tta, side)]
                probs = network.predict(np.concatenate(views), verbose=0)
                per_group.append(probs.reshape(len(views), len(inputs), -1).mean(axis=0))
            probs = adjust(np.mean(per_group, axis=0), bias)
            results = [
                {
                    "box": box,
                    "label": names[int(np.argmax(p))],
                    "probabilities": dict(zip(names, p.tolist(), strict=True)),
                }
                for box, p in zip(boxes, probs, strict=True)
            ]
        return jsonify({"faces": results})

    @app.get("/health")
    def health():
        """Ready as soon as the app exists: the model was loaded above."""
        return jsonify({"status": "ok"})

    return app

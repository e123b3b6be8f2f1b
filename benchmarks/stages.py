"""Per-stage cost of one image through the service's own functions, in-process, in milliseconds.

decode (`service.imaging.load_image`), detect (the service's detector; not run for
crops in auto mode), crop/resize (`crop_face` + `to_model_input`), model
(`predict_batch` on the image's faces), JSON (response dict, schema dump, JSON
text), and the whole request through Flask's test client for comparison: the
difference is Flask, multipart parsing and the batcher hop (its wait included).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.workloads import Payload

STAGES = ("decode", "detect", "crop_resize", "model", "json", "sum", "flask_request")


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of fn() over repeats calls, after one untimed call."""
    fn()
    durations = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - t0)
    return float(np.median(durations)) * 1000.0


def make_app(model_dir: str | Path):
    """The real app around the real model, as one worker builds it (default runtime and settings)."""
    from service.app import create_app
    from service.settings import Settings

    settings = Settings.from_env({}, model_dir=str(model_dir), log_level="warning")
    return create_app(settings)


def image_stages(app, payload: Payload, repeats: int) -> dict[str, float]:
    """Milliseconds per stage for one payload, with the service's default detect=auto policy."""
    from contract import to_model_input
    from contract.crop import crop_face
    from contract.faces import CROP_MAX_SIDE, FaceRegions, whole_image
    from service.imaging import load_image
    from service.inference import Prepared
    from service.schemas import PredictResponse

    engine = app.extensions["engine"]
    settings = engine.settings
    image = load_image(payload.data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    detected = max(image.shape[:2]) > CROP_MAX_SIDE
    boxes = engine.detector.detect(image) if detected else [whole_image(image)]

    def crops() -> np.ndarray:
        """The image's model inputs, as find_faces builds them."""
        return np.stack(
            [to_model_input(crop_face(image, b, engine.policy) if detected else image) for b in boxes]
            or [np.zeros((48, 48, 1), np.uint8)]
        )

    inputs = crops()
    probabilities = engine.predictor.predict_batch(inputs)[: len(boxes)]
    prepared = Prepared(
        width=image.shape[1],
        height=image.shape[0],
        mode="auto",
        regions=FaceRegions(faces=boxes, inputs=inputs, detection_used=detected),
    )

    def encode() -> bytes:
        """The response body, as the view builds it."""
        return app.json.dumps(PredictResponse().dump(engine._result(prepared, probabilities))).encode()

    row = {
        "decode": median_ms(
            lambda: load_image(
                payload.data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels
            ),
            repeats,
        ),
        "detect": median_ms(lambda: engine.detector.detect(image), repeats) if detected else 0.0,
        "crop_resize": median_ms(crops, repeats),
        "model": median_ms(lambda: engine.predictor.predict_batch(inputs), repeats),
        "json": median_ms(encode, repeats),
    }
    row["sum"] = sum(row.values())
    client = app.test_client()
    row["flask_request"] = median_ms(
        lambda: client.post("/predict", data={"image": (io.BytesIO(payload.data), payload.name)}), repeats
    )
    row["faces"] = len(boxes)
    return row


def run(model_dir: str | Path, workloads: dict[str, list[Payload]], repeats: int) -> dict[str, Any]:
    """Mean over each workload's payloads of the per-stage medians."""
    app = make_app(model_dir)
    out = {}
    for name, payloads in workloads.items():
        rows = [image_stages(app, p, repeats) for p in payloads]
        out[name] = {key: round(float(np.mean([r[key] for r in rows])), 3) for key in (*STAGES, "faces")}
        out[name]["images"] = len(rows)
    app.extensions["engine"].close()
    return out

"""Per-stage cost of one image through the service's own stage functions, in-process, in milliseconds.

Each row times the public function the request path calls (service/pipeline.py):
decode (`service.stages.decode.decode`), detect (the worker's detector, `Engine.faces.detector`;
not run for crops in auto mode), crop_resize (the find-faces stage `Engine.faces` with that
detection replayed, i.e. the stage without detecting), model (the classify stage
`service.stages.classify.classify` through the worker's batcher: the hop to the batcher thread
included), JSON (`service.stages.respond.image_response` and the JSON text), and the whole
request through Flask's test client for comparison: the difference is Flask, multipart parsing
and the read stage.
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Replay:
    """A detector that answers with detections found before, so the crop step is timed alone."""

    boxes: list
    name: str = "replay"

    def detect(self, image: np.ndarray) -> list:
        """The recorded detections."""
        return self.boxes


def image_stages(app, payload: Payload, repeats: int) -> dict[str, float]:
    """Milliseconds per stage for one payload, with the service's default detect=auto policy."""
    from service.stages.classify import classify
    from service.stages.decode import decode
    from service.stages.respond import image_response

    engine = app.extensions["engine"]
    limits, faces, mode = engine.limits, engine.faces, "auto"
    image = decode(payload.data, limits)
    prepared = faces.prepare(image, mode)
    detected = prepared.regions.detection_used
    boxes = faces.detector.detect(image) if detected else []
    replayed = dataclasses.replace(faces, detector=Replay(boxes))
    inputs = list(prepared.regions.inputs) or [np.zeros((48, 48, 1), np.uint8)]
    timeout = engine.settings.inference_timeout_s
    probabilities = classify(engine.batcher, inputs, timeout_s=timeout)[: len(prepared.regions.faces)]

    def respond() -> bytes:
        """The response body, as the view builds it."""
        answer = image_response(
            prepared,
            probabilities,
            class_names=engine.predictor.class_names,
            model=engine.model_ref,
            detector=faces.detector.name,
        )
        return app.json.dumps(answer).encode()

    row = {
        "decode": median_ms(lambda: decode(payload.data, limits), repeats),
        "detect": median_ms(lambda: faces.detector.detect(image), repeats) if detected else 0.0,
        "crop_resize": median_ms(lambda: replayed(image, mode), repeats),
        "model": median_ms(lambda: classify(engine.batcher, inputs, timeout_s=timeout), repeats),
        "json": median_ms(respond, repeats),
    }
    row["sum"] = sum(row.values())
    client = app.test_client()
    row["flask_request"] = median_ms(
        lambda: client.post("/predict", data={"image": (io.BytesIO(payload.data), payload.name)}), repeats
    )
    row["faces"] = len(prepared.regions.faces)
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

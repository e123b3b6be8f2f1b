"""The inference engine of one worker: decode, detect, crop, batch, and shape the answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flask import Flask

from contract.crop import LEGACY, CropPolicy, CropPolicyError, policy_from_metadata
from contract.detect import Detector, make_detector
from contract.faces import FaceRegions, find_faces
from contract.modeldir import ModelDirError
from service.batcher import Batcher, BatcherClosed, QueueFull
from service.errors import Timeout, Unavailable
from service.face_json import face_json
from service.imaging import load_image
from service.metrics import Metrics
from service.model import Predictor
from service.runtime.select import runtime_info
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """One decoded image and its face regions, ready for the model."""

    width: int
    height: int
    mode: str
    regions: FaceRegions


@dataclass
class Engine:
    """Owns the model's batcher and the detector; one per app (so one per gunicorn worker)."""

    settings: Settings
    predictor: Predictor
    detector: Detector
    batcher: Batcher
    metrics: Metrics
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    # How detector boxes become this model's input: metadata.json's crop_policy (LEGACY if absent).
    policy: CropPolicy = LEGACY

    def find_faces(self, image: np.ndarray, mode: str) -> FaceRegions:
        """The detect + crop stage shared by images and video frames: this model's policy, MIN_FACE_SIZE."""
        return find_faces(image, self.detector, mode, self.policy, self.settings.min_face_size)

    @property
    def runtime(self) -> dict[str, str]:
        """{"backend", "precision", "device"} running the model."""
        return runtime_info(self.predictor)

    @property
    def model_ref(self) -> dict[str, str]:
        """{"name", "version"} of the served model."""
        return {"name": self.predictor.name, "version": self.predictor.version}

    def prepare(self, data: bytes, mode: str) -> Prepared:
        """Limits, decode and face detection for one upload (runs in the request thread)."""
        settings = self.settings
        with self.batcher.incoming():  # an adaptive batcher holds its batch open for these faces
            image = load_image(data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
            regions = self.find_faces(image, mode)
        self.metrics.faces_per_image.observe(len(regions.faces))
        return Prepared(width=image.shape[1], height=image.shape[0], mode=mode, regions=regions)

    def classify(self, images: list[Prepared]) -> list[dict[str, Any]]:
        """All faces of all images through the batcher at once; one response dict per image."""
        inputs = [row for prepared in images for row in prepared.regions.inputs]
        probabilities = self._predict(inputs) if inputs else np.zeros((0, len(self.predictor.class_names)))
        results, start = [], 0
        for prepared in images:
            count = len(prepared.regions.faces)
            results.append(self._result(prepared, probabilities[start : start + count]))
            start += count
        return results

    def _predict(self, inputs: list[np.ndarray]) -> np.ndarray:
        """Batched model call with overload and timeout mapped to 503 and 504."""
        if not self.ready:
            raise Unavailable("the model is not ready", code="not_ready", retry_after=5)
        with batcher_errors(self.settings.inference_timeout_s):
            return self.batcher.predict(inputs, timeout=self.settings.inference_timeout_s)

    def _result(self, prepared: Prepared, probabilities: np.ndarray) -> dict[str, Any]:
        """The /predict response object for one image."""
        names = self.predictor.class_names
        faces = []
        regions = prepared.regions
        for box, probs, sharp in zip(regions.faces, probabilities, regions.sharpness, strict=True):
            face = face_json(box, probs, names, sharp)
            self.metrics.predictions.labels(face["label"]).inc()
            faces.append(face)
        return {
            "model": self.model_ref,
            "image": {"width": prepared.width, "height": prepared.height},
            "detection": {
                "mode": prepared.mode,
                "detector": self.detector.name,
                "used": prepared.regions.detection_used,
                "too_small": prepared.regions.too_small,
            },
            "faces_found": bool(faces),
            "faces": faces,
        }

    def close(self) -> None:
        """Refuse new work, let queued faces finish, stop the batcher thread."""
        self.ready = False
        self.batcher.close(timeout=self.settings.graceful_timeout or None)


@contextmanager
def batcher_errors(timeout_s: float) -> Iterator[None]:
    """Overload, shutdown and timeout of a batched model call as the API's 503s and 504 (one mapping
    for images and video)."""
    try:
        yield
    except QueueFull:
        raise Unavailable(
            "server overloaded: inference queue is full", code="overloaded", retry_after=1
        ) from None
    except BatcherClosed:
        raise Unavailable("server is shutting down", code="shutting_down", retry_after=5) from None
    except TimeoutError:
        raise Timeout(f"inference took over {timeout_s:g} s") from None


def init_app(app: Flask, settings: Settings, predictor: Predictor, metrics: Metrics) -> Engine:
    """Build the detector and the batcher around the (already warmed-up) predictor."""
    off = settings.batching == "off"
    batcher = Batcher(
        predictor.predict_batch,
        max_batch_size=1 if off else settings.batch_max_size,
        max_wait_ms=0 if off else settings.batch_max_wait_ms,
        queue_size=settings.batch_queue_size,
        adaptive=settings.batching == "adaptive",
        on_batch=lambda size, seconds: (
            metrics.batch_size.observe(size),
            metrics.batch_seconds.observe(seconds),
        ),
        on_depth=metrics.queue_depth.set,
    )
    try:
        policy = policy_from_metadata(predictor.metadata)
    except CropPolicyError as exc:
        raise ModelDirError(f"model {predictor.name} {predictor.version}: {exc}") from None
    log.info("crop policy %s (%s)", policy.to_dict(), "from metadata.json" if policy != LEGACY else "legacy")
    engine = Engine(
        settings=settings,
        predictor=predictor,
        batcher=batcher,
        metrics=metrics,
        detector=make_detector(settings.detector, settings.detector_confidence),
        policy=policy,
    )
    metrics.runtime.labels(**runtime_info(predictor)).set(1)
    engine.ready = True
    app.extensions["engine"] = engine
    return engine

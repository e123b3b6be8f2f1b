"""The request path of /predict and /predict/batch, stage by stage, on one worker's resources.

    read        service.stages.read.read_image / read_images   in the view (it needs the request)
    decode      service.stages.decode.decode                   Engine.prepare: per image, in the
    find faces  Engine.faces (service.stages.faces.FaceFinder)   request thread
    classify    service.stages.classify.classify               Engine.answer: every image's faces
    respond     service.stages.respond.image_response            in one batcher call, one answer each

/predict/video runs its own decoder over frames, then the same find faces, classify errors and
face JSON (service/video/api.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flask import Flask

from service.batcher import Batcher
from service.limits import Limits
from service.metrics import Metrics
from service.model import Predictor
from service.runtime.select import runtime_info
from service.settings import Settings
from service.stages.classify import classify, require_ready
from service.stages.decode import decode
from service.stages.faces import FaceFinder, Prepared
from service.stages.respond import image_response


@dataclass
class Engine:
    """One worker's model batcher, face finder and limits; one per app (so one per gunicorn worker)."""

    settings: Settings
    limits: Limits
    predictor: Predictor
    faces: FaceFinder
    batcher: Batcher
    metrics: Metrics
    started: float = field(default_factory=time.monotonic)
    ready: bool = False

    @property
    def runtime(self) -> dict[str, str | int]:
        """{"backend", "precision", "device", "streams"} running the model."""
        return {**runtime_info(self.predictor), "streams": getattr(self.predictor, "streams", 1)}

    @property
    def model_ref(self) -> dict[str, str]:
        """{"name", "version"} of the served model."""
        return {"name": self.predictor.name, "version": self.predictor.version}

    def prepare(self, data: bytes, mode: str) -> Prepared:
        """Decode and find faces for one upload (runs in the request thread)."""
        with self.batcher.incoming():  # an adaptive batcher holds its batch open for these faces
            prepared = self.faces.prepare(decode(data, self.limits), mode)
        self.metrics.faces_per_image.observe(len(prepared.regions.faces))
        return prepared

    def answer(self, images: list[Prepared]) -> list[dict[str, Any]]:
        """Classify all faces of all images at once, then respond: one answer per image, in order."""
        names = self.predictor.class_names
        inputs = [row for prepared in images for row in prepared.regions.inputs]
        probabilities = np.zeros((0, len(names)), np.float32)
        if inputs:  # an image without faces needs no model (and no ready model)
            require_ready(self.ready)
            probabilities = classify(self.batcher, inputs, timeout_s=self.settings.inference_timeout_s)
        answers, start = [], 0
        for prepared in images:
            count = len(prepared.regions.faces)
            answer = image_response(
                prepared,
                probabilities[start : start + count],
                class_names=names,
                model=self.model_ref,
                detector=self.faces.detector.name,
            )
            for face in answer["faces"]:
                self.metrics.predictions.labels(face["label"]).inc()
            answers.append(answer)
            start += count
        return answers

    def close(self) -> None:
        """Refuse new work, let queued faces finish, stop the batcher thread."""
        self.ready = False
        self.batcher.close(timeout=self.settings.graceful_timeout or None)


def make_batcher(settings: Settings, predictor: Predictor, metrics: Metrics) -> Batcher:
    """The micro-batcher around the model, as BATCHING, BATCH_MAX_SIZE and BATCH_MAX_WAIT_MS say."""
    off = settings.batching == "off"
    return Batcher(
        predictor.predict_batch,
        max_batch_size=1 if off else settings.batch_max_size,
        max_wait_ms=0 if off else settings.batch_max_wait_ms,
        queue_size=settings.batch_queue_size,
        adaptive=settings.batching == "adaptive",
        callers=getattr(predictor, "streams", 1),  # one thread per call the runtime can run at once
        on_batch=lambda size, seconds: (
            metrics.batch_size.observe(size),
            metrics.batch_seconds.observe(seconds),
        ),
        on_depth=metrics.queue_depth.set,
    )


def init_app(app: Flask, settings: Settings, predictor: Predictor, metrics: Metrics) -> Engine:
    """Build the face finder and the batcher around the (already warmed-up) predictor."""
    faces = FaceFinder.for_model(settings, predictor.metadata, f"model {predictor.name} {predictor.version}")
    engine = Engine(
        settings=settings,
        limits=Limits.from_settings(settings),
        predictor=predictor,
        faces=faces,
        batcher=make_batcher(settings, predictor, metrics),
        metrics=metrics,
    )
    metrics.runtime.labels(**runtime_info(predictor)).set(1)
    engine.ready = True
    app.extensions["engine"] = engine
    return engine

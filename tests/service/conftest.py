"""Service fixtures: one tiny SavedModel loaded once per session, apps built around it, fakes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from service.app import create_app, shutdown
from service.settings import Settings
from tests.synthetic import CLASSES, encode, make_face

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "models" / "emotion"


class FakePredictor:
    """A model stand-in: probabilities from mean brightness; records every batch it sees."""

    name, version = "emotion", "7"

    def __init__(self, class_names: tuple[str, ...] = CLASSES) -> None:
        self.class_names = list(class_names)
        self.metadata = {"name": self.name, "version": 7, "class_names": self.class_names}
        self.batches: list[int] = []

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """A deterministic softmax over classes, depending on each image's pixels."""
        self.batches.append(len(images))
        means = images.reshape(len(images), -1).astype(np.float32).mean(axis=1) / 255.0
        logits = np.outer(means, np.arange(len(self.class_names), dtype=np.float32) * 4)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def predictor(tiny_model_dir: Path):
    """The tiny trained model, loaded through the service's own loader (once per session)."""
    from service.model import load_predictor

    return load_predictor(tiny_model_dir)


@pytest.fixture(scope="session")
def app(tiny_model_dir: Path, predictor) -> Iterator[Flask]:
    """The app with default settings around the tiny model (pytest-flask's `client` uses it)."""
    application = create_app(Settings(model_dir=str(tiny_model_dir), batch_max_wait_ms=2), predictor)
    yield application
    shutdown(application)


@pytest.fixture
def make_app(tiny_model_dir: Path, predictor) -> Iterator[Callable[..., Flask]]:
    """Build extra apps with setting overrides (the session's model unless predictor= is given)."""
    built: list[Flask] = []

    def build(predictor_override=None, **overrides) -> Flask:
        values = {"model_dir": str(tiny_model_dir), "batch_max_wait_ms": 2, **overrides}
        built.append(create_app(Settings(**values), predictor_override or predictor))
        return built[-1]

    yield build
    for application in built:
        shutdown(application)


@pytest.fixture(scope="session")
def face_png() -> bytes:
    """A 48x48 synthetic 'happy' face crop as PNG."""
    return encode(make_face(3, seed=5))


def astronaut_jpeg() -> bytes:
    """A real photo with one face (scikit-image's astronaut) as JPEG."""
    import cv2
    from skimage import data

    return encode(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), ".jpg")


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    """The astronaut photo, encoded once per session."""
    return astronaut_jpeg()


def upload(data: bytes, name: str = "face.png", field: str = "image") -> dict:
    """A multipart form for the Flask test client."""
    return {field: (io.BytesIO(data), name)}

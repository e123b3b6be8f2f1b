"""Shared fixtures: synthetic datasets, a tiny trained model, the served model, apps around it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# OpenVINO conversions of test models go to a private cache, not the user's ~/.cache (gunicorn
# children inherit it too).
os.environ.setdefault("RUNTIME_CACHE_DIR", tempfile.mkdtemp(prefix="emotion-test-runtime-"))

from contract.modeldir import ModelDirError, resolve_version_dir
from tests.support.models import FER2013, SHIPPED_MODEL, tiny_config
from tests.support.payloads import astronaut_jpeg
from tests.synthetic import encode, make_dataset, make_face


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean synthetic dataset (7 classes, 6 train + 2 test images each)."""
    return make_dataset(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """A tiny CNN trained for 2 epochs and exported: <tmp>/models/1 (SavedModel + metadata)."""
    from training.train import train

    tmp = tmp_path_factory.mktemp("tiny_model")
    return train(tiny_config(tmp, tiny_dataset, epochs=2, tta="flip"))


@pytest.fixture(scope="session")
def served_model(request: pytest.FixtureRequest) -> Path:
    """The model root real servers load: models/emotion when it holds a version, else the tiny model.

    The shipped model gives realistic cost per request and real answers; `served_model ==
    SHIPPED_MODEL` tells a test which one it got.
    """
    try:
        resolve_version_dir(SHIPPED_MODEL)
    except ModelDirError:
        return request.getfixturevalue("tiny_model_dir")
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    """The real FER2013 copy beside the repository; skips when it is not there."""
    if not (FER2013 / "train").is_dir():
        pytest.skip("../shared/datasets/fer2013 is not available")
    return FER2013


@pytest.fixture(scope="session")
def predictor(tiny_model_dir: Path):
    """The tiny trained model, loaded through the service's own loader (once per session)."""
    from service.model import load_predictor

    return load_predictor(tiny_model_dir)


@pytest.fixture(scope="session")
def app(tiny_model_dir: Path, predictor) -> Iterator:
    """The app with default settings around the tiny model (pytest-flask's `client` uses it)."""
    from service.app import create_app, shutdown
    from service.settings import Settings

    application = create_app(Settings(model_dir=str(tiny_model_dir), batch_max_wait_ms=2), predictor)
    yield application
    shutdown(application)


@pytest.fixture
def make_app(tiny_model_dir: Path, predictor) -> Iterator[Callable]:
    """Build extra apps with setting overrides (the session's model unless predictor= is given)."""
    from service.app import create_app, shutdown
    from service.settings import Settings

    built = []

    def build(predictor_override=None, **overrides):
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


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    """The astronaut photo, encoded once per session."""
    return astronaut_jpeg()

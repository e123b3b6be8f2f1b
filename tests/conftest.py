"""Shared fixtures: synthetic datasets and a tiny trained, exported model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# OpenVINO conversions of test models go to a private cache, not the user's ~/.cache (gunicorn
# children inherit it too).
os.environ.setdefault("RUNTIME_CACHE_DIR", tempfile.mkdtemp(prefix="emotion-test-runtime-"))

from tests.synthetic import make_dataset

FER2013 = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fer2013"


def tiny_config(tmp: Path, data_dir: Path, **overrides):
    """A TrainConfig for a model small enough to train in seconds."""
    from training.config import TrainConfig

    values = dict(
        data_dir=str(data_dir),
        model_dir=str(tmp / "models"),
        run_dir=str(tmp / "run"),
        epochs=1,
        batch_size=16,
        width=4,
        depth=2,
        dense_units=8,
        dropout=0.1,
        dense_dropout=0.1,
        patience=2,
        tta="none",
        seed=7,
    )
    values.update(overrides)
    return TrainConfig(**values)


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
def fer2013_dir() -> Path:
    """The real FER2013 copy beside the repository; skips when it is not there."""
    if not (FER2013 / "train").is_dir():
        pytest.skip("../shared/datasets/fer2013 is not available")
    return FER2013

"""Startup faults: a missing, corrupt or incompatible model never yields a half-working app."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from contract.modeldir import ModelDirError
from service.app import create_app
from service.model import load_predictor
from service.settings import Settings
from tests.support.fakes import FakePredictor
from tests.support.models import edit_metadata


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model's version folder, free to break."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "models" / "3"))


def test_highest_version_is_served(model_copy: Path) -> None:
    """A model root resolves to its highest numeric version, like TF Serving."""
    shutil.copytree(model_copy, model_copy.parent / "12")
    edit_metadata(model_copy.parent / "12", version=12)
    predictor = load_predictor(model_copy.parent)
    assert predictor.version == "12" and predictor.path.name == "12"


def break_pb(version_dir: Path) -> None:
    """Overwrite the graph with garbage."""
    (version_dir / "saved_model.pb").write_bytes(b"\x08\x01garbage" * 100)


def drop_variables(version_dir: Path) -> None:
    """Remove the weights."""
    shutil.rmtree(version_dir / "variables")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: shutil.rmtree(d.parent), "no SavedModel found"),
        (lambda d: (d / "metadata.json").unlink(), "missing metadata.json"),
        (lambda d: (d / "metadata.json").write_text("{not json"), "unreadable"),
        (lambda d: edit_metadata(d, class_names=[]), "no valid 'class_names'"),
        (lambda d: edit_metadata(d, class_names=["happy", "sad"]), r"shape \(2, 7\) does not match \(2, 2\)"),
        (
            lambda d: edit_metadata(d, input={"image_size": 64, "channels": 1, "dtype": "uint8"}),
            "incompatible",
        ),
        (break_pb, "cannot load SavedModel"),
        (drop_variables, "cannot load SavedModel"),
    ],
)
def test_broken_model_dirs_fail_clearly(model_copy: Path, breakage, message: str) -> None:
    """Each fault raises ModelDirError naming the problem (wsgi turns it into a non-zero exit)."""
    breakage(model_copy)
    with pytest.raises(ModelDirError, match=message):
        create_app(Settings(model_dir=str(model_copy.parent)))


def test_injected_predictor_is_warmed_up_and_checked() -> None:
    """A predictor whose output width disagrees with its class names is refused too."""
    fake = FakePredictor(class_names=("a", "b"))
    calls: list[int] = []
    original = fake.predict_batch
    fake.predict_batch = lambda x: calls.append(len(x)) or np.pad(original(x), ((0, 0), (0, 1)))
    with pytest.raises(ModelDirError, match="does not match"):
        create_app(Settings(), fake)
    assert calls == [2]

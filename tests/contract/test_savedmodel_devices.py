"""contract.savedmodel and contract.devices: the one SavedModel loader and the one GPU memory-growth
setup, used by both the service and training; and one warm-up per start."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from contract.modeldir import ModelDirError
from contract.savedmodel import Signature, load_predict_fn, load_signature

FACES = np.random.default_rng(3).integers(0, 255, (3, 48, 48, 1), dtype=np.uint8)


def test_service_and_training_call_the_same_signature(tiny_model_dir: Path) -> None:
    """The service's predictor and training's predict function give identical probabilities."""
    from service.model import load_predictor

    served = load_predictor(tiny_model_dir).predict_batch(FACES)
    assert served.shape == (3, 7)
    np.testing.assert_array_equal(load_predict_fn(tiny_model_dir.parent)(FACES), served)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: (d / "saved_model.pb").write_bytes(b"\x08\x01garbage" * 100), "cannot load SavedModel"),
        (lambda d: shutil.rmtree(d / "variables"), "cannot load SavedModel"),
    ],
)
def test_broken_savedmodel_is_a_model_dir_error(
    tiny_model_dir: Path, tmp_path: Path, breakage, message
) -> None:
    """A corrupt graph or missing weights raise ModelDirError naming the folder, for both sides."""
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "1"))
    breakage(copy)
    with pytest.raises(ModelDirError, match=message):
        load_signature(copy)


def test_missing_signature_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A SavedModel without serving_default says so."""
    import tensorflow as tf

    monkeypatch.setattr(tf.saved_model, "load", lambda path: SimpleNamespace(signatures={}))
    with pytest.raises(ModelDirError, match="no 'serving_default' signature"):
        load_signature(tmp_path)


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """TensorFlow reports one GPU; memory-growth calls are recorded."""
    import tensorflow as tf

    calls: list[str] = []
    gpu = SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda g, on: calls.append(g.name))
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda g: {})
    return calls


@pytest.mark.parametrize("side", ["service", "training"])
def test_both_sides_get_memory_growth_from_contract(
    fake_gpu: list[str], monkeypatch: pytest.MonkeyPatch, side: str
) -> None:
    """service.devices and training.devices both reach contract.devices.enable_memory_growth."""
    import contract.devices

    seen = []
    real = contract.devices.enable_memory_growth
    if side == "service":
        import service.devices as module

        call = module.configure_devices
    else:
        import keras

        import training.devices as module

        monkeypatch.setattr(keras.mixed_precision, "set_global_policy", lambda policy: None)
        call = lambda: module.configure_devices("off")  # noqa: E731
    monkeypatch.setattr(module, "enable_memory_growth", lambda *a: seen.append(side) or real(*a))
    call()
    assert seen == [side] and fake_gpu == ["/physical_device:GPU:0"]


def test_a_tensorflow_start_warms_up_once(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """create_app on the TensorFlow backend runs the model once before ready (a batch of 2), not twice."""
    from service.app import create_app, shutdown
    from service.settings import Settings

    calls: list[int] = []
    real = Signature.__call__
    monkeypatch.setattr(
        Signature, "__call__", lambda self, images: calls.append(len(images)) or real(self, images)
    )
    app = create_app(Settings(model_dir=str(tiny_model_dir), inference_backend="tensorflow"))
    shutdown(app)
    assert calls == [2]


def test_an_openvino_start_warms_each_bucket_once(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On OpenVINO the warm-up compiles every batch bucket up to BATCH_MAX_SIZE, each exactly once."""
    pytest.importorskip("openvino")
    from service.app import create_app, shutdown
    from service.runtime.openvino_backend import OpenVINOPredictor, warm_sizes
    from service.settings import Settings

    calls: list[int] = []
    real = OpenVINOPredictor.predict_batch
    monkeypatch.setattr(
        OpenVINOPredictor,
        "predict_batch",
        lambda self, images: calls.append(len(images)) or real(self, images),
    )
    settings = Settings.from_env(
        model_dir=str(tiny_model_dir), inference_backend="openvino", batch_max_size=8
    )
    shutdown(create_app(settings))
    assert calls[0] == 2 and sorted(calls) == sorted(warm_sizes(8)) == [1, 2, 4, 8]

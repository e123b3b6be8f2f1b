"""service.devices: GPU memory growth and the CPU fallback line, with TensorFlow's device calls faked."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

tf = pytest.importorskip("tensorflow")

from service.devices import configure_devices  # noqa: E402


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch):
    """Make TensorFlow report the given GPUs and record memory-growth calls."""
    calls: list[tuple[str, bool]] = []

    def install(names: list[str], cuda: bool = True, growth_error: bool = False):
        gpus = [SimpleNamespace(name=f"/physical_device:{n}", device_type="GPU") for n in names]

        def set_memory_growth(gpu, enabled):
            if growth_error:
                raise RuntimeError("Physical devices cannot be modified after being initialized")
            calls.append((gpu.name, enabled))

        monkeypatch.setattr(
            tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else []
        )
        monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_memory_growth)
        monkeypatch.setattr(
            tf.config.experimental,
            "get_device_details",
            lambda gpu: {"device_name": "NVIDIA A10", "compute_capability": (8, 6)},
        )
        monkeypatch.setattr(tf.test, "is_built_with_cuda", lambda: cuda)
        return calls

    return install


def test_gpus_get_memory_growth_and_are_logged(fake_gpus, caplog: pytest.LogCaptureFixture):
    calls = fake_gpus(["GPU:0", "GPU:1"])
    with caplog.at_level(logging.INFO, logger="service.devices"):
        assert configure_devices() == "GPU"
    assert calls == [("/physical_device:GPU:0", True), ("/physical_device:GPU:1", True)]
    assert "inference device: GPU, 2 visible" in caplog.text
    assert "GPU:0 NVIDIA A10 (compute 8.6)" in caplog.text


@pytest.mark.parametrize(
    ("cuda", "level", "message"),
    [
        (True, logging.WARNING, "no GPU visible to TensorFlow: falling back to CPU inference"),
        (False, logging.INFO, "inference device: CPU (TensorFlow CPU build)"),
    ],
)
def test_no_gpu_logs_the_cpu_fallback(fake_gpus, caplog: pytest.LogCaptureFixture, cuda, level, message):
    fake_gpus([], cuda=cuda)
    with caplog.at_level(logging.INFO, logger="service.devices"):
        assert configure_devices() == "CPU"
    assert [(r.levelno, r.getMessage()[: len(message)]) for r in caplog.records] == [(level, message)]


def test_initialised_gpu_warns_instead_of_failing(fake_gpus, caplog: pytest.LogCaptureFixture):
    fake_gpus(["GPU:0"], growth_error=True)
    with caplog.at_level(logging.INFO, logger="service.devices"):
        assert configure_devices() == "GPU"
    assert "could not enable memory growth on /physical_device:GPU:0" in caplog.text


def test_real_tensorflow_on_this_machine_runs_on_cpu(caplog: pytest.LogCaptureFixture):
    """No GPU device node here: real TensorFlow says CPU, with the one line that fits its build."""
    if list(Path("/dev").glob("nvidia[0-9]*")):
        pytest.skip("this machine has an NVIDIA device: the CPU path is what the fakes above test")
    message = (
        "no GPU visible to TensorFlow: falling back to CPU inference"
        if tf.test.is_built_with_cuda()
        else "inference device: CPU (TensorFlow CPU build)"
    )
    with caplog.at_level(logging.INFO, logger="service.devices"):
        assert configure_devices() == "CPU"
    assert [r.getMessage()[: len(message)] for r in caplog.records if r.name == "service.devices"] == [
        message
    ]

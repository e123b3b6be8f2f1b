"""The runtime under real gunicorn: what /health reports, fallback without OpenVINO, exit on refusal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from contract import cpu
from tests.support.servers import serve

pytestmark = pytest.mark.e2e


@pytest.fixture
def no_openvino(tmp_path: Path) -> dict[str, str]:
    """Environment in which `import openvino` fails in every gunicorn process, as if not installed."""
    folder = tmp_path / "block"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text("import sys\nsys.modules['openvino'] = None\n")
    return {"PYTHONPATH": str(folder)}


def run_until_ready(tmp_path: Path, **env: str) -> tuple[dict, str]:
    """Start gunicorn, read /health and /metrics once ready, stop it; returns (health, metrics + logs)."""
    running = serve(env.pop("MODEL_DIR"), tmp_path / "gunicorn.log", wait=False, **env)
    try:
        running.wait_ready()
        health = httpx.get(f"{running.url}/health").json()
        metrics = httpx.get(f"{running.url}/metrics").text
    finally:
        assert running.stop() == 0
    return health, metrics + running.logs()


def test_default_runtime_is_openvino_and_reported(tiny_model_dir: Path, tmp_path: Path) -> None:
    """No GPU here: auto serves on OpenVINO, bf16 exactly when the CPU has native bf16."""
    pytest.importorskip("openvino")
    health, text = run_until_ready(tmp_path, MODEL_DIR=str(tiny_model_dir))
    precision = "bf16" if cpu.native_bf16(cpu.cpu_flags()) else "f32"
    assert health["runtime"] == {"backend": "openvino", "precision": precision, "device": "CPU", "streams": 1}
    assert f'emotion_inference_runtime{{backend="openvino",device="CPU",precision="{precision}"}} 1.0' in text
    assert f"inference runtime: backend=openvino precision={precision}" in text  # the startup log line


def test_auto_without_openvino_serves_with_tensorflow(
    tiny_model_dir: Path, tmp_path: Path, no_openvino: dict
) -> None:
    """OpenVINO not installed: one warning line each for the model and the detector, then
    TensorFlow answers, with faces found by the wheel's own YuNet build."""
    health, text = run_until_ready(tmp_path, MODEL_DIR=str(tiny_model_dir), **no_openvino)
    assert health["runtime"]["backend"] == "tensorflow" and health["ready"] is True
    assert text.count("INFERENCE_BACKEND=auto: OpenVINO unavailable") == 1
    assert text.count("YuNet on OpenVINO unavailable") == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INFERENCE_BACKEND": "openvino"}, "INFERENCE_BACKEND=openvino INFERENCE_PRECISION="),
        (
            {"INFERENCE_BACKEND": "tensorflow", "INFERENCE_PRECISION": "int8"},
            "not available with the tensorflow",
        ),
        ({"INFERENCE_BACKEND": "onnxruntime"}, "INFERENCE_BACKEND must be one of"),
        ({"DETECTOR_RUNTIME": "openvino"}, "DETECTOR_RUNTIME=openvino cannot run here"),
    ],
)
def test_explicit_choice_that_cannot_run_exits_non_zero(
    tiny_model_dir: Path, tmp_path: Path, no_openvino: dict, env: dict, message: str
) -> None:
    """Never ready, a clear message, a non-zero exit: an operator's explicit choice is not overridden."""
    running = serve(tiny_model_dir, tmp_path / "gunicorn.log", wait=False, **no_openvino, **env)
    try:
        code = running.process.wait(timeout=240)
    finally:
        running.stop()
    assert code != 0
    assert message in running.logs()

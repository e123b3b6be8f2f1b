"""GET endpoints: health, metadata, metrics, OpenAPI, docs and the web page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.pages import STATIC_DIR
from service.schemas import Face, PredictResponse
from tests.synthetic import CLASSES


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if labels else ''} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def test_health_when_ready(client) -> None:
    """200 with readiness, model version and uptime."""
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok" and body["ready"] is True and body["model_version"] == "1"
    assert body["uptime_s"] >= 0


@pytest.mark.parametrize("url", ["/metadata", "/v1/models/emotion"])
def test_metadata_comes_from_the_export(client, tiny_model_dir: Path, url: str) -> None:
    """Class names, input contract, tta and the evaluation metrics written at export time."""
    exported = json.loads((tiny_model_dir / "metadata.json").read_text())
    body = client.get(url).json
    assert body["name"] == "emotion" and body["version"] == "1"
    assert body["class_names"] == list(CLASSES) == exported["class_names"]
    assert body["input"]["input_shape"] == [None, 48, 48, 1] and body["input"]["dtype"] == "uint8"
    assert body["tta"] == exported["tta"] and body["created"] == exported["created"]
    assert body["metrics"]["accuracy"] == exported["metrics"]["accuracy"]
    assert {"macro_f1", "per_class"} <= set(body["metrics"])
    assert "class_bias" not in body and "class_bias" not in exported  # none in this export
    # What finds the faces, after DETECTOR_RUNTIME=auto is resolved (the client fixture's settings).
    assert body["detector"]["name"] == "yunet"
    assert body["detector"]["runtime"] in {"native", "openvino/f32", "openvino/bf16"}


def test_metadata_shows_a_recall_floor_bias(tiny_model_dir: Path, tmp_path: Path, make_app) -> None:
    """A model exported with --class-bias says so: the served probabilities are adjusted
    (training.recall_floor), and a caller comparing them with another model should know."""
    import shutil

    from service.model import load_predictor
    from tests.support.models import edit_metadata

    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "models" / "1"))
    edit_metadata(copy, class_bias={"fear": 0.44, "angry": 0.17})
    app = make_app(predictor_override=load_predictor(copy.parent), model_dir=str(copy.parent))
    assert app.test_client().get("/metadata").json["class_bias"] == {"fear": 0.44, "angry": 0.17}


def test_metrics_count_requests_batches_and_labels(client, face_png: bytes) -> None:
    """Request counts by endpoint and status, latency, batch sizes, queue depth, predicted classes."""
    before = client.get("/metrics").get_data(as_text=True)
    label = client.post("/predict", data=face_png, content_type="image/png").json["faces"][0]["label"]
    client.post("/predict", data=b"junk", content_type="image/png")
    text = client.get("/metrics").get_data(as_text=True)

    def grew(name: str, **labels: str) -> float:
        return metric(text, name, **labels) - metric(before, name, **labels)

    assert grew("emotion_http_requests_total", endpoint="/predict", method="POST", status="200") == 1
    assert grew("emotion_http_requests_total", endpoint="/predict", method="POST", status="400") == 1
    assert grew("emotion_http_request_duration_seconds_count", endpoint="/predict") == 2
    assert grew("emotion_batch_size_count") == 1 and grew("emotion_batch_size_sum") == 1
    assert grew("emotion_predictions_total", label=label) == 1
    assert "emotion_batch_queue_depth 0.0" in text
    assert "# TYPE emotion_batch_duration_seconds histogram" in text


def test_openapi_is_generated_from_the_schemas(client) -> None:
    """Every endpoint is documented, and response schemas list the fields the views return."""
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/predict", "/predict/batch", "/health", "/metadata", "/v1/models/emotion", "/metrics"} <= set(
        spec["paths"]
    )
    schemas = spec["components"]["schemas"]
    assert set(schemas["PredictResponse"]["properties"]) == set(PredictResponse().fields)
    assert set(schemas["Face"]["properties"]) == set(Face().fields)
    detect = spec["paths"]["/predict"]["post"]["parameters"][0]
    assert detect["name"] == "detect" and detect["schema"]["enum"] == ["auto", "always", "never"]
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"


def test_docs_page_renders_the_spec(client) -> None:
    """A self-contained HTML page that loads /openapi.json."""
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "/openapi.json" in response.get_data(as_text=True)


def test_index_and_static(client) -> None:
    """/ is the web page (or a link to the docs until it exists); /static/ serves service/static."""
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    if (STATIC_DIR / "index.html").is_file():
        assert response.data == (STATIC_DIR / "index.html").read_bytes()
        assert client.get("/static/index.html").status_code == 200
    else:
        assert b'href="docs"' in response.data

"""Every error code as JSON {"error": {"code", "message"}}; bad input never gives a 500."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fakes import FakePredictor
from tests.support.payloads import png_claiming, upload
from tests.synthetic import encode, make_face


def noise_png(side: int) -> bytes:
    """An incompressible PNG, about side*side bytes."""
    return encode(np.random.default_rng(side).integers(0, 255, (side, side), dtype=np.uint8))


def assert_error(response, status: int, code: str) -> dict:
    """The response has the status and the JSON error shape, without any traceback."""
    assert response.status_code == status, response.data[:300]
    body = response.json
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b"\x00\x01garbage", "content_type": "image/png"}, 400, "invalid_image"),
        ({"data": b"", "content_type": "image/jpeg"}, 400, "invalid_image"),
        ({"json": {"image": "%%% not base64 %%%"}}, 400, "invalid_base64"),
        ({"data": b"{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": png_claiming(50_000, 50_000), "content_type": "image/png"}, 413, "too_many_pixels"),
        ({"data": b"hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": b"hello"}, 415, "unsupported_media_type"),
        ({"data": b"GIF89a" + bytes(30), "content_type": "image/gif"}, 415, "unsupported_image_format"),
        ({"json": {"picture": "abc"}}, 422, "validation_error"),
        ({"json": {"image": 42}}, 422, "validation_error"),
        ({"json": ["image"]}, 422, "validation_error"),
        ({"data": upload(b"x", field="other")}, 422, "validation_error"),
        ({"data": {"other": "field"}}, 415, "unsupported_media_type"),  # urlencoded form
    ],
)
def test_predict_errors(client, kwargs: dict, status: int, code: str) -> None:
    """Undecodable, oversized, wrong media type and schema failures on /predict."""
    assert_error(client.post("/predict", **kwargs), status, code)


def test_validation_errors_carry_details(client, face_png: bytes) -> None:
    """422 says which field failed and why."""
    error = assert_error(
        client.post("/predict?detect=sometimes", data=face_png, content_type="image/png"),
        422,
        "validation_error",
    )
    assert "detect" in error["details"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"images": []}}, 422, "validation_error"),
        ({"json": {"images": "abc"}}, 422, "validation_error"),
        ({"data": upload(b"x", field="image")}, 422, "validation_error"),  # the field is 'images'
        ({"data": b"\x89PNG", "content_type": "image/png"}, 415, "unsupported_media_type"),
    ],
)
def test_batch_errors(client, kwargs: dict, status: int, code: str) -> None:
    """Whole-request failures of /predict/batch."""
    assert_error(client.post("/predict/batch", **kwargs), status, code)


def test_batch_item_limit_is_checked_before_decoding(
    make_app, monkeypatch: pytest.MonkeyPatch, face_png: bytes
) -> None:
    """Too many items: 413 without decoding any of them."""
    client = make_app(max_batch_items=2).test_client()
    monkeypatch.setattr("service.pipeline.decode", lambda *a, **k: pytest.fail("decoded"))
    response = client.post("/predict/batch", json={"images": [base64.b64encode(face_png).decode()] * 3})
    assert_error(response, 413, "too_many_items")


def test_upload_limits(make_app) -> None:
    """An image over MAX_UPLOAD_MB is refused (413), whether the body or the image is over."""
    client = make_app(max_upload_mb=0.01).test_client()  # 10 KiB images, bodies up to ~77 KiB
    small_enough, over_image, over_body = noise_png(60), noise_png(120), noise_png(400)
    assert client.post("/predict", data=small_enough, content_type="image/png").status_code == 200
    for data in (over_image, over_body):
        assert_error(client.post("/predict", data=data, content_type="image/png"), 413, "payload_too_large")
        assert_error(client.post("/predict", data=upload(data)), 413, "payload_too_large")
    batch = client.post("/predict/batch", json={"images": [base64.b64encode(over_image).decode()]})
    assert batch.json["results"][0]["error"]["code"] == "payload_too_large"


def test_api_key(make_app, face_png: bytes) -> None:
    """With API_KEY set: 401 without or with a wrong key; health, metrics and docs stay open."""
    client = make_app(api_key="s3cret").test_client()
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "s3cre"}, {"X-API-Key": "s3cret!"}):
        assert_error(
            client.post("/predict", data=face_png, content_type="image/png", headers=headers),
            401,
            "unauthorized",
        )
    assert_error(client.get("/metadata"), 401, "unauthorized")
    ok = client.post("/predict", data=face_png, content_type="image/png", headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200
    for open_url in ("/health", "/metrics", "/openapi.json", "/docs", "/"):
        assert client.get(open_url).status_code == 200, open_url


def test_rate_limit(make_app, face_png: bytes) -> None:
    """Over RATE_LIMIT: 429 JSON with Retry-After; /health is never limited."""
    client = make_app(rate_limit="2/minute").test_client()
    for _ in range(2):
        assert client.post("/predict", data=face_png, content_type="image/png").status_code == 200
    response = client.post("/predict", data=face_png, content_type="image/png")
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert all(client.get("/health").status_code == 200 for _ in range(4))


class GatedPredictor(FakePredictor):
    """A fake model that, once armed, blocks inside predict_batch until released."""

    def __init__(self) -> None:
        super().__init__()
        self.armed, self.entered, self.release = False, threading.Event(), threading.Event()

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """Block while armed, so tests can hold the batcher busy."""
        if self.armed:
            self.entered.set()
            self.release.wait(timeout=30)
        return super().predict_batch(images)


@pytest.fixture
def gated(make_app):
    """An app whose model call can be held; one batch of one face, one face waiting at most."""
    model = GatedPredictor()
    app = make_app(predictor_override=model, batch_max_size=1, batch_queue_size=1, inference_timeout_s=0.3)
    model.armed = True
    yield app, model
    model.release.set()


def test_full_queue_answers_503_with_retry_after(gated, face_png: bytes) -> None:
    """Model busy and queue full: 503 overloaded with Retry-After, not an ever-growing queue."""
    app, model = gated
    engine = app.extensions["engine"]
    held = engine.batcher.submit([np.zeros((48, 48, 1), np.uint8)])
    assert model.entered.wait(timeout=10)
    waiting = engine.batcher.submit([np.zeros((48, 48, 1), np.uint8)])
    response = app.test_client().post("/predict", data=face_png, content_type="image/png")
    assert_error(response, 503, "overloaded")
    assert int(response.headers["Retry-After"]) >= 1
    model.release.set()
    assert len([f.result(timeout=10) for f in held + waiting]) == 2


def test_slow_inference_answers_504(gated, face_png: bytes) -> None:
    """A model call longer than INFERENCE_TIMEOUT_S gives 504, not a hung request."""
    app, _ = gated
    assert_error(app.test_client().post("/predict", data=face_png, content_type="image/png"), 504, "timeout")


def test_not_ready_answers_503(make_app, face_png: bytes) -> None:
    """While not ready (e.g. shutting down), predictions and health say 503."""
    app = make_app()
    app.extensions["engine"].ready = False
    client = app.test_client()
    assert_error(client.post("/predict", data=face_png, content_type="image/png"), 503, "not_ready")
    health = client.get("/health")
    assert health.status_code == 503 and health.json["ready"] is False


def test_unexpected_errors_hide_the_traceback(
    make_app, monkeypatch: pytest.MonkeyPatch, face_png: bytes
) -> None:
    """A bug becomes a 500 internal_error with no details for the client."""
    app = make_app()
    monkeypatch.setattr(app.extensions["engine"], "prepare", lambda *a: 1 / 0)
    error = assert_error(
        app.test_client().post("/predict", data=face_png, content_type="image/png"), 500, "internal_error"
    )
    assert "ZeroDivision" not in error["message"]


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("get", "/nope", 404, "not_found"),
        ("get", "/predict", 405, "method_not_allowed"),
        ("delete", "/health", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_are_json(client, method: str, url: str, status: int, code: str) -> None:
    """Even werkzeug's own errors use the JSON shape."""
    assert_error(getattr(client, method)(url), status, code)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=200).map(lambda b: encode(make_face(1))[:40] + b),
        st.binary(max_size=200).map(lambda b: b"\xff\xd8\xff" + b),
    ),
    content_type=st.sampled_from(["image/png", "image/jpeg", "application/octet-stream"]),
)
def test_fuzzed_bodies_never_500(client, data: bytes, content_type: str) -> None:
    """Random and half-valid bytes only ever get 4xx JSON errors (or a 200 if they happen to decode)."""
    response = client.post("/predict", data=data, content_type=content_type)
    assert response.status_code in (200, 400, 413, 415), response.json
    assert response.status_code == 200 or "error" in response.json

"""Upload size, pixel count and batch item limits: set by environment, enforced before expensive work.

"Before expensive work" is proven with tripwires: once armed, the image decoder, the base64
decoder, face detection and the model fail the test if an over-limit request reaches them.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from service.app import create_app, shutdown
from service.settings import Settings
from tests.reliability.corpus import bilevel_png, noise, png_chunk
from tests.support.fakes import FakePredictor
from tests.support.payloads import b64, upload
from tests.synthetic import encode

ENV = {"MAX_UPLOAD_MB": "0.05", "MAX_PIXELS": "10000", "MAX_BATCH_ITEMS": "3"}
LIMIT = int(0.05 * 1024 * 1024)  # 52,428 bytes per image; bodies up to ~135 KB per image
OVER_IMAGE = encode(noise(240))  # ~58 KB: over the image limit, under the /predict body limit
OVER_BODY = encode(noise(420))  # ~176 KB: over the body limit too
OVER_PIXELS = bilevel_png(101, 100)  # 10,100 pixels in ~100 bytes
AT_PIXELS = encode(np.full((100, 100), 90, np.uint8))
GOOD = encode(np.full((48, 48), 90, np.uint8))


def padded_png(size: int) -> bytes:
    """A valid 100x100 PNG of exactly `size` bytes (a text chunk fills it up)."""
    data = encode(noise(100))
    filler = png_chunk(b"tEXt", b"pad\0" + b"x" * (size - len(data) - 16))
    return data[:-12] + filler + data[-12:]  # before the 12-byte IEND chunk


@pytest.fixture
def limited():
    """An app whose limits come from environment variables, around a fake model."""
    app = create_app(Settings.from_env(ENV), FakePredictor())
    yield app
    shutdown(app)


@pytest.fixture
def tripwires(monkeypatch: pytest.MonkeyPatch):
    """Arm: from now on decoding, base64, detection or the model fail the test."""

    def arm(base64: bool = True) -> None:
        """Replace every expensive step with a failure (base64 too, unless the header must be read)."""

        def tripped(*args, **kwargs):
            pytest.fail("expensive work ran for an over-limit request")

        monkeypatch.setattr("service.stages.decode.decode_image", tripped)
        if base64:
            monkeypatch.setattr("service.stages.read.base64", SimpleNamespace(b64decode=tripped))
        monkeypatch.setattr("service.stages.faces.find_faces", tripped)
        monkeypatch.setattr("service.pipeline.classify", tripped)

    return arm


def test_limits_are_read_from_the_environment(limited) -> None:
    """MAX_UPLOAD_MB, MAX_PIXELS and MAX_BATCH_ITEMS reach the running app."""
    limits = limited.extensions["engine"].limits
    assert (limits.image_bytes, limits.pixels, limits.batch_items) == (LIMIT, 10_000, 3)


@pytest.mark.parametrize(
    ("path", "kwargs", "code"),
    [
        ("/predict", {"data": OVER_BODY, "content_type": "image/png"}, "payload_too_large"),
        ("/predict", {"data": upload(OVER_BODY)}, "payload_too_large"),
        ("/predict", {"json": {"image": b64(OVER_BODY)}}, "payload_too_large"),
        ("/predict", {"data": OVER_IMAGE, "content_type": "image/png"}, "payload_too_large"),
        ("/predict", {"data": upload(OVER_IMAGE)}, "payload_too_large"),
        ("/predict", {"data": upload(padded_png(LIMIT + 1))}, "payload_too_large"),
        ("/predict", {"json": {"image": b64(OVER_IMAGE)}}, "payload_too_large"),
        ("/predict", {"data": OVER_PIXELS, "content_type": "image/png"}, "too_many_pixels"),
        ("/predict", {"data": upload(OVER_PIXELS)}, "too_many_pixels"),
        ("/predict", {"json": {"image": b64(OVER_PIXELS)}}, "too_many_pixels"),
        ("/predict/batch", {"json": {"images": [b64(GOOD)] * 4}}, "too_many_items"),
        ("/predict/batch", {"data": {"images": [upload(GOOD)["image"] for _ in range(4)]}}, "too_many_items"),
    ],
    ids=[
        "raw-body",
        "multipart-body",
        "base64-body",
        "raw-image",
        "multipart-image",
        "one-byte-over",
        "base64-image",
        "raw-pixels",
        "multipart-pixels",
        "base64-pixels",
        "json-items",
        "multipart-items",
    ],
)
def test_over_limit_requests_do_no_expensive_work(
    limited, tripwires, path: str, kwargs: dict, code: str
) -> None:
    """413 with the limit's code, and no decoder, detector or model call."""
    tripwires(base64=code != "too_many_pixels")  # the pixel count is in the decoded bytes' header
    response = limited.test_client().post(path, **kwargs)
    assert response.status_code == 413, response.json
    assert response.json["error"]["code"] == code


@pytest.mark.parametrize("item", [b64(OVER_IMAGE), b64(OVER_PIXELS)], ids=["bytes", "pixels"])
def test_over_limit_batch_items_are_refused_alone(limited, tripwires, item: str) -> None:
    """In a batch, an over-limit item is an error entry, still refused before any decoding."""
    tripwires(base64=item == b64(OVER_IMAGE))
    response = limited.test_client().post("/predict/batch", json={"images": [item]})
    assert response.status_code == 200
    assert response.json["results"][0]["error"]["code"] in ("payload_too_large", "too_many_pixels")


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/predict", {"data": AT_PIXELS, "content_type": "image/png"}),
        ("/predict", {"json": {"image": b64(padded_png(LIMIT))}}),
        ("/predict", {"data": upload(padded_png(LIMIT))}),
        ("/predict/batch", {"json": {"images": [b64(GOOD)] * 3}}),
    ],
    ids=["pixels-at-limit", "bytes-at-limit-base64", "bytes-at-limit-multipart", "items-at-limit"],
)
def test_requests_at_the_limits_are_served(limited, path: str, kwargs: dict) -> None:
    """The limits are not off by one: exactly at them is still accepted."""
    response = limited.test_client().post(path, **kwargs)
    assert response.status_code == 200, response.json

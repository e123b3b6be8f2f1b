"""The hostile-input corpus against real gunicorn: documented 4xx JSON, then a healthy worker.

Every upload of BYTES_CASES goes through four forms: /predict multipart, /predict with
base64 JSON, and /predict/batch (multipart and JSON) between two good images. Each is
followed by a good request that must succeed, and the workers' PIDs must not change
(a crashed worker would be respawned by gunicorn under a new PID).

Expected outcome per upload (`single` = /predict in both forms, `item` = its batch entry):

| upload                    | single                        | batch item      | why                      |
|---------------------------|-------------------------------|-----------------|--------------------------|
| 0-byte file               | 400 invalid_image (JSON: 422) | invalid_image   | JSON "" fails min length |
| text file named .jpg      | 400 invalid_image             | invalid_image   | magic bytes decide       |
| random bytes              | 400 invalid_image             | invalid_image   |                          |
| JPEG cut in its scan data | 400 invalid_image             | invalid_image   | OpenCV refuses it        |
| JPEG cut in its header    | 400 invalid_image             | invalid_image   | size unreadable          |
| PNG, broken IDAT CRC      | 400 invalid_image             | invalid_image   | libpng checks CRCs       |
| 1x1 PNG                   | 200                           | result          | classified whole         |
| 20000x20000 PNG (48 KB)   | 413 too_many_pixels           | too_many_pixels | header read first        |
| JPEG header says 60000²   | 413 too_many_pixels           | too_many_pixels | same, from the SOF       |
| 16-bit PNG                | 200                           | result          | scaled to 8 bits         |
| RGBA PNG                  | 200                           | result          | alpha dropped            |
| CMYK JPEG                 | 200                           | result          | libjpeg makes BGR        |
| animated GIF              | 415 unsupported_image_format  | same            | not in the contract      |
| TIFF                      | 415 unsupported_image_format  | same            | OpenCV must not see it   |
| SVG                       | 400 invalid_image             | invalid_image   | text, not a raster       |
| PNG over MAX_UPLOAD_MB    | 413 payload_too_large         | same            | body or image limit      |
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import cv2
import httpx
import numpy as np
import pytest

from benchmarks.server import Server, worker_pids
from tests.reliability import corpus
from tests.support.checks import check_error, check_healthy
from tests.support.payloads import b64, crop
from tests.support.servers import LIVE_ENV
from tests.synthetic import encode, make_face

pytestmark = pytest.mark.e2e
LIMIT = int(float(LIVE_ENV["MAX_UPLOAD_MB"]) * 1024 * 1024)
GOOD = crop(3)

# name, builder, filename, status, code, {form: (status, code)} where a form differs
BYTES_CASES: list[tuple[str, Callable[[], bytes], str, int, str | None, dict]] = [
    (
        "empty-file",
        lambda: b"",
        "empty.jpg",
        400,
        "invalid_image",
        {"predict-base64": (422, "validation_error")},
    ),
    ("text-named-jpg", lambda: b"just some notes\n" * 20, "notes.jpg", 400, "invalid_image", {}),
    ("random-bytes", lambda: np.random.default_rng(1).bytes(3000), "x.png", 400, "invalid_image", {}),
    ("truncated-jpeg", corpus.truncated_jpeg, "cut.jpg", 400, "invalid_image", {}),
    ("jpeg-cut-in-header", corpus.jpeg_cut_in_header, "cut.jpg", 400, "invalid_image", {}),
    ("png-broken-crc", corpus.png_broken_crc, "crc.png", 400, "invalid_image", {}),
    ("one-pixel", lambda: encode(np.full((1, 1), 128, np.uint8)), "1x1.png", 200, None, {}),
    (
        "pixel-bomb-20000x20000",
        cache(lambda: corpus.bilevel_png(20_000, 20_000)),
        "bomb.png",
        413,
        "too_many_pixels",
        {},
    ),
    (
        "jpeg-claiming-60000x60000",
        lambda: corpus.jpeg_claiming(60_000, 60_000),
        "claim.jpg",
        413,
        "too_many_pixels",
        {},
    ),
    ("png-16-bit", lambda: encode(make_face(3).astype(np.uint16) * 257), "deep.png", 200, None, {}),
    (
        "png-rgba",
        lambda: encode(cv2.cvtColor(make_face(3, color=True), cv2.COLOR_BGR2BGRA)),
        "a.png",
        200,
        None,
        {},
    ),
    ("jpeg-cmyk", corpus.cmyk_jpeg, "print.jpg", 200, None, {}),
    ("gif-animated", corpus.animated_gif, "anim.gif", 415, "unsupported_image_format", {}),
    ("tiff", lambda: encode(make_face(1), ".tiff"), "scan.tif", 415, "unsupported_image_format", {}),
    ("svg", corpus.svg, "vector.svg", 400, "invalid_image", {}),
    (
        "png-over-upload-limit",
        cache(lambda: corpus.over_upload_limit(LIMIT)),
        "big.png",
        413,
        "payload_too_large",
        {},
    ),
]
FORMS = ("predict-multipart", "predict-base64", "batch-multipart", "batch-base64")


def send(client: httpx.Client, form: str, data: bytes, filename: str) -> httpx.Response:
    """One upload in one form; batches put it between two good images."""
    if form == "predict-multipart":
        return client.post("/predict", files={"image": (filename, data)})
    if form == "predict-base64":
        return client.post("/predict", json={"image": b64(data)})
    if form == "batch-multipart":
        files = [("images", ("good.png", GOOD)), ("images", (filename, data)), ("images", ("good.png", GOOD))]
        return client.post("/predict/batch", files=files)
    return client.post("/predict/batch", json={"images": [b64(GOOD), b64(data), b64(GOOD)]})


def check_prediction(body: dict) -> None:
    """A /predict result object."""
    assert set(body) >= {"model", "image", "detection", "faces_found", "faces"}


@pytest.fixture
def client(live: Server):
    """An HTTP client on the live server."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        yield http


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("name", "build", "filename", "status", "code", "overrides"),
    BYTES_CASES,
    ids=[case[0] for case in BYTES_CASES],
)
def test_hostile_upload(live, client, form, name, build, filename, status, code, overrides) -> None:
    """The documented answer for the upload in this form, then a healthy worker."""
    pids = worker_pids(live)
    response = send(client, form, build(), filename)
    status, code = overrides.get(form, (status, code))
    if form.startswith("batch"):
        assert response.status_code == 200, response.text[:300]
        first, item, last = response.json()["results"]
        check_prediction(first)
        check_prediction(last)
        if code is None:
            check_prediction(item)
        else:
            assert item == {"error": {"code": code, "message": item["error"]["message"]}}
    elif code is None:
        assert response.status_code == 200, response.text[:300]
        check_prediction(response.json())
    else:
        check_error(response, status, code)
    check_healthy(client, live, pids)


GOOD_B64 = b64(GOOD)
# name, path, request arguments, status, code
REQUEST_CASES = [
    (
        "empty-body",
        "/predict",
        {"content": b"", "headers": {"Content-Type": "image/jpeg"}},
        400,
        "invalid_image",
    ),
    ("empty-body-no-type", "/predict", {"content": b""}, 415, "unsupported_media_type"),
    (
        "multipart-without-file",
        "/predict",
        {"files": {"note": (None, "no image here")}},
        422,
        "validation_error",
    ),
    (
        "wrong-content-type",
        "/predict",
        {"content": GOOD, "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_media_type",
    ),
    ("form-urlencoded", "/predict", {"data": {"image": GOOD_B64}}, 415, "unsupported_media_type"),
    ("invalid-base64", "/predict", {"json": {"image": "%%% not base64 %%%"}}, 400, "invalid_base64"),
    ("base64-non-ascii", "/predict", {"json": {"image": "ÿØÿà" * 10}}, 400, "invalid_base64"),
    (
        "base64-over-size-limit",
        "/predict",
        {"json": {"image": "QUFB" * (LIMIT // 2)}},
        413,
        "payload_too_large",
    ),
    (
        "not-json",
        "/predict",
        {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
        400,
        "invalid_json",
    ),
    ("json-wrong-type-int", "/predict", {"json": {"image": 42}}, 422, "validation_error"),
    ("json-wrong-type-list", "/predict", {"json": {"image": [GOOD_B64]}}, 422, "validation_error"),
    ("json-null", "/predict", {"json": {"image": None}}, 422, "validation_error"),
    ("json-array-body", "/predict", {"json": [GOOD_B64]}, 422, "validation_error"),
    ("json-unknown-field", "/predict", {"json": {"image": GOOD_B64, "extra": 1}}, 422, "validation_error"),
    ("bad-detect-query", "/predict?detect=maybe", {"json": {"image": GOOD_B64}}, 422, "validation_error"),
    ("batch-empty-list", "/predict/batch", {"json": {"images": []}}, 422, "validation_error"),
    ("batch-not-a-list", "/predict/batch", {"json": {"images": GOOD_B64}}, 422, "validation_error"),
    ("batch-item-types", "/predict/batch", {"json": {"images": [1, None]}}, 422, "validation_error"),
    (
        "batch-unknown-field",
        "/predict/batch",
        {"json": {"images": [GOOD_B64], "x": 1}},
        422,
        "validation_error",
    ),
    (
        "batch-multipart-without-files",
        "/predict/batch",
        {"files": {"image": ("a.png", GOOD)}},
        422,
        "validation_error",
    ),
    (
        "batch-raw-body",
        "/predict/batch",
        {"content": GOOD, "headers": {"Content-Type": "image/png"}},
        415,
        "unsupported_media_type",
    ),
    ("batch-too-many-items", "/predict/batch", {"json": {"images": [GOOD_B64] * 17}}, 413, "too_many_items"),
]


@pytest.mark.parametrize(
    ("name", "path", "kwargs", "status", "code"), REQUEST_CASES, ids=[case[0] for case in REQUEST_CASES]
)
def test_hostile_request(live, client, name, path, kwargs, status, code) -> None:
    """Broken requests (not just broken images) get their documented error, then a healthy worker."""
    pids = worker_pids(live)
    check_error(client.post(path, **kwargs), status, code)
    check_healthy(client, live, pids)


def test_batch_keeps_good_items_around_bad_ones(live, client) -> None:
    """Bad items become error entries in place; the good ones are classified, in input order."""
    pids = worker_pids(live)
    images = [GOOD_B64, "%%%", GOOD_B64, "QUFB" * (LIMIT // 2), b64(corpus.svg()), GOOD_B64]
    response = client.post("/predict/batch", json={"images": images})
    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    codes = [entry["error"]["code"] if "error" in entry else None for entry in results]
    assert codes == [None, "invalid_base64", None, "payload_too_large", "invalid_image", None]
    check_healthy(client, live, pids)


def test_refused_upload_closes_its_connection(live, client) -> None:
    """A large upload refused unread says "Connection: close" (gunicorn would drop it after 64 KiB anyway)."""
    refused = client.post("/predict", content=bytes(200_000), headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415 and refused.headers["Connection"] == "close"
    served = client.post("/predict", files={"image": ("good.png", GOOD)})
    assert served.status_code == 200 and served.headers["Connection"] == "keep-alive"

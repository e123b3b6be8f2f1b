"""The stages of a request, each on its own: bad inputs raise that stage's typed error, and
service/errors.py maps every stage error to one status, code and Retry-After."""

from __future__ import annotations

import base64
import importlib
import io
import pkgutil

import numpy as np
import pytest
from flask import Flask
from marshmallow import ValidationError

from contract.detect import Detection
from contract.modeldir import ModelDirError
from service import errors, stages
from service.batcher import Batcher, BatcherClosed, QueueFull
from service.limits import BODY_OVERHEAD, Limits
from service.settings import Settings
from service.stages import StageError
from service.stages import classify as cls
from service.stages import decode as dec
from service.stages import read as rd
from service.stages.faces import FaceFinder, Prepared
from service.stages.respond import image_response
from tests.synthetic import CLASSES, encode, make_face

LIMITS = Limits(image_bytes=20_000, pixels=10_000, batch_items=3, video_bytes=50_000)
PNG = encode(make_face(3, seed=5))  # a 48x48 face crop, well under 20,000 bytes
B64 = base64.b64encode(PNG).decode()


# --- limits -------------------------------------------------------------------------------------


def test_limits_are_computed_from_the_settings() -> None:
    """MAX_UPLOAD_MB, MAX_PIXELS, MAX_BATCH_ITEMS and MAX_VIDEO_MB become bytes, pixels and items once."""
    mib = 1024 * 1024
    limits = Limits.from_settings(
        Settings(max_upload_mb=2.5, max_pixels=123, max_batch_items=4, max_video_mb=3)
    )
    assert (limits.image_bytes, limits.pixels, limits.batch_items) == (int(2.5 * mib), 123, 4)
    assert limits.video_body_bytes == 3 * mib + BODY_OVERHEAD
    # A batch of four base64 images is the largest body here; with a big video limit the video is.
    assert limits.largest_body_bytes == limits.image_body_bytes(4) > limits.video_body_bytes
    assert Limits.from_settings(Settings(max_video_mb=500)).largest_body_bytes == 500 * mib + BODY_OVERHEAD


def test_the_app_default_body_limit_is_one_image(make_app) -> None:
    """Endpoints without a limit of their own refuse more than one image's body."""
    app = make_app(max_upload_mb=1)
    assert app.config["MAX_CONTENT_LENGTH"] == app.extensions["engine"].limits.image_body_bytes(1)


# --- read ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": PNG, "content_type": "image/png"},
        {"data": PNG, "content_type": "application/octet-stream"},
        {"data": {"image": (io.BytesIO(PNG), "f.png")}},
        {"data": {"file": (io.BytesIO(PNG), "f.png")}},
        {"json": {"image": B64}},
        {"json": {"image": "data:image/png;base64," + B64}},
        {"json": {"image": B64.replace("+", "-").replace("/", "_")}},  # URL-safe alphabet
    ],
)
def test_read_image_returns_the_upload_bytes(request_of, kwargs: dict) -> None:
    """Raw body, multipart 'image' or 'file', and base64 JSON (plain, data: URL, URL-safe) all read."""
    assert rd.read_image(request_of(**kwargs), LIMITS) == PNG


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"data": "hello", "content_type": "text/plain"}, rd.UnsupportedContentType),
        ({"data": PNG}, rd.UnsupportedContentType),  # no content type at all
        ({"data": "{not json", "content_type": "application/json"}, rd.InvalidJson),
        ({"data": "[" * 100_000, "content_type": "application/json"}, rd.InvalidJson),
        ({"json": {"image": "not base64 !"}}, rd.InvalidBase64),
        ({"json": {"image": "A" * 40_000}}, rd.ImageBodyTooLarge),
        ({"data": {"other": (io.BytesIO(PNG), "f.png")}}, rd.MissingField),
        ({"json": {"picture": B64}}, ValidationError),  # schema errors stay marshmallow's (422)
    ],
)
def test_read_image_refusals_are_typed(request_of, kwargs: dict, error: type) -> None:
    """Each unreadable /predict request raises the read stage's error for it."""
    with pytest.raises(error):
        rd.read_image(request_of(**kwargs), LIMITS)


def test_missing_field_names_it(request_of) -> None:
    """A multipart request without the field says which field, for the 422's details."""
    with pytest.raises(rd.MissingField) as caught:
        rd.read_image(request_of(data={"other": (io.BytesIO(PNG), "f.png")}), LIMITS)
    assert caught.value.details == {"image": ["Missing file field 'image'."]}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"data": PNG, "content_type": "image/png"}, rd.UnsupportedContentType),
        ({"json": {"images": [B64] * 4}}, rd.TooManyItems),
        ({"json": {"images": [1] * 100_000}}, rd.TooManyItems),  # counted before 100,000 schema errors
        ({"data": {"images": [(io.BytesIO(PNG), f"{i}.png") for i in range(4)]}}, rd.TooManyItems),
        ({"data": {"image": (io.BytesIO(PNG), "f.png")}}, rd.MissingField),
    ],
)
def test_read_images_refusals_are_typed(request_of, kwargs: dict, error: type) -> None:
    """Whole-batch refusals of /predict/batch."""
    with pytest.raises(error):
        rd.read_images(request_of(**kwargs), LIMITS)


def test_read_images_keeps_bad_items_in_place(request_of) -> None:
    """A bad base64 item becomes that item's error; the others are read, in order."""
    items = rd.read_images(request_of(json={"images": [B64, "not base64 !", "A" * 40_000]}), LIMITS)
    assert items[0] == PNG
    assert [type(item) for item in items[1:]] == [rd.InvalidBase64, rd.ImageBodyTooLarge]


def test_limit_body_scales_with_the_items(request_of) -> None:
    """The body limit a view sets is the Limits' own, per image carried."""
    request = request_of(data=PNG, content_type="image/png")
    rd.limit_body(request, LIMITS, 3)
    assert request.max_content_length == 3 * (20_000 * 4 // 3 + BODY_OVERHEAD) == LIMITS.image_body_bytes(3)


# --- decode (formats and headers in detail: test_imaging.py) ------------------------------------


@pytest.mark.parametrize(
    ("data", "limits", "error"),
    [
        (b"", LIMITS, dec.NotAnImage),
        (b"GIF89a\x01\x00\x01\x00", LIMITS, dec.UnsupportedImageFormat),
        (PNG, Limits(image_bytes=10, pixels=10_000, batch_items=1, video_bytes=1), dec.ImageTooLarge),
        (
            PNG,
            Limits(image_bytes=20_000, pixels=48 * 48 - 1, batch_items=1, video_bytes=1),
            dec.TooManyPixels,
        ),
    ],
)
def test_decode_refusals_are_typed(data: bytes, limits: Limits, error: type) -> None:
    """One row per decode error: which limit or check refuses the bytes."""
    with pytest.raises(error):
        dec.decode(data, limits)


def test_decode_at_the_limits() -> None:
    """Exactly at the byte and pixel limits is still accepted."""
    limits = Limits(image_bytes=len(PNG), pixels=48 * 48, batch_items=1, video_bytes=1)
    assert dec.decode(PNG, limits).shape[:2] == (48, 48)


# --- find faces ---------------------------------------------------------------------------------


class Boxes:
    """A detector that finds the given boxes in any image."""

    name = "boxes"
    runtime = "test"

    def __init__(self, *boxes: Detection) -> None:
        self.boxes = list(boxes)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The given boxes."""
        return self.boxes


def test_face_finder_applies_min_face_size_and_reports_the_image() -> None:
    """Detections under MIN_FACE_SIZE are counted, not classified; Prepared carries the image size."""
    finder = FaceFinder(
        Boxes(Detection(10, 10, 80, 90, 0.9), Detection(200, 20, 20, 20, 0.8)), min_face_size=24
    )
    prepared = finder.prepare(np.zeros((300, 400, 3), np.uint8), "always")
    assert (prepared.width, prepared.height, prepared.mode) == (400, 300, "always")
    assert [box.width for box in prepared.regions.faces] == [80]
    assert prepared.regions.too_small == 1 and prepared.regions.inputs.shape == (1, 48, 48, 1)


def test_face_finder_takes_the_models_crop_policy() -> None:
    """for_model reads crop_policy from the metadata; one it cannot apply names the model."""
    settings = Settings(detector="haar")
    policy = {"scale": 1.5}
    assert FaceFinder.for_model(settings, {"crop_policy": policy}).policy.scale == 1.5
    with pytest.raises(ModelDirError, match="model 7: unknown crop_policy keys: zoom"):
        FaceFinder.for_model(settings, {"crop_policy": {"zoom": 2}}, "model 7")


def test_face_finder_builds_yunet_from_the_detector_settings() -> None:
    """DETECTOR_CONFIDENCE, _RETRY_SCALE, _THIRD_SCALE, _RETRY_MIN_SHARE, _MAX_SIDE and _RUNTIME all
    reach the detector."""
    settings = Settings(
        detector_confidence=0.4,
        detector_retry_scale=2.5,
        detector_third_scale=3.5,
        detector_retry_min_share=0.03,
        detector_max_side=480,
        detector_runtime="native",
    )
    detector = FaceFinder.for_model(settings, {}).detector
    passes = (detector.retry_scale, detector.third_scale, detector.retry_min_share)
    assert (detector.confidence, *passes, detector.max_side) == (0.4, 2.5, 3.5, 0.03, 480)
    assert detector.runtime == "native"


# --- classify -----------------------------------------------------------------------------------


class FailingBatcher:
    """A batcher whose predict raises the given exception."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def predict(self, inputs, timeout=None):
        """Fail as the real batcher would."""
        raise self.exc


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (QueueFull("full"), cls.Overloaded),
        (BatcherClosed("closed"), cls.ShuttingDown),
        (TimeoutError(), cls.InferenceTimeout),
    ],
)
def test_classify_turns_batcher_failures_into_its_errors(raised: Exception, error: type) -> None:
    """Queue full, shut down and too slow become the classify stage's own errors."""
    with pytest.raises(error):
        cls.classify(FailingBatcher(raised), [np.zeros((48, 48, 1), np.uint8)], timeout_s=2.5)


def test_timeout_message_names_the_limit() -> None:
    """The 504's message says how long the model was given."""
    with pytest.raises(cls.InferenceTimeout, match=r"over 2\.5 s"):
        cls.classify(FailingBatcher(TimeoutError()), [np.zeros((48, 48, 1), np.uint8)], timeout_s=2.5)


def test_require_ready() -> None:
    """A model that is not ready is refused before any work is queued."""
    cls.require_ready(True)
    with pytest.raises(cls.NotReady):
        cls.require_ready(False)


def test_classify_returns_rows_in_input_order() -> None:
    """Every crop's probabilities come back, in the order sent, whatever the batching."""
    batcher = Batcher(
        lambda x: x.reshape(len(x), -1)[:, :2].astype(np.float32), max_batch_size=2, max_wait_ms=0
    )
    try:
        inputs = [np.full((48, 48, 1), i, np.uint8) for i in range(5)]
        out = cls.classify(batcher, inputs, timeout_s=10)
    finally:
        batcher.close()
    np.testing.assert_array_equal(out[:, 0], np.arange(5))


# --- respond ------------------------------------------------------------------------------------


def test_image_response_labels_each_face_by_its_top_class() -> None:
    """One face per probability row, labelled by its argmax, with the image and detection blocks."""
    finder = FaceFinder(Boxes(Detection(0, 0, 60, 60, 0.9), Detection(100, 0, 50, 50, 0.7)))
    prepared = finder.prepare(np.zeros((120, 200), np.uint8), "always")
    probs = np.eye(len(CLASSES), dtype=np.float32)[[3, 5]]
    answer = image_response(
        prepared, probs, class_names=list(CLASSES), model={"name": "m", "version": "1"}, detector="boxes"
    )
    assert [face["label"] for face in answer["faces"]] == [CLASSES[3], CLASSES[5]]
    assert answer["image"] == {"width": 200, "height": 120} and answer["faces_found"] is True
    assert answer["detection"] == {"mode": "always", "detector": "boxes", "used": True, "too_small": 0}


def test_responses_are_already_in_their_schemas_shape() -> None:
    """The answers skip a per-request schema dump, so they must be exactly what the OpenAPI
    schemas would emit: the same keys, and plain JSON types (no numpy scalars)."""
    import json

    from service.schemas import BatchResponse, PredictResponse
    from service.stages.respond import batch_response

    finder = FaceFinder(Boxes(Detection(0, 0, 60, 60, 0.9), Detection(100, 0, 50, 50, None)))
    prepared = finder.prepare(np.random.default_rng(0).integers(0, 255, (120, 200), np.uint8), "always")
    probs = np.random.default_rng(1).dirichlet(np.ones(len(CLASSES)), 2).astype(np.float32)
    model = {"name": "m", "version": "1"}
    answer = image_response(prepared, probs, class_names=list(CLASSES), model=model, detector="boxes")
    assert json.loads(json.dumps(answer)) == PredictResponse().dump(answer) == answer
    batch = batch_response(model, [answer, {"error": {"code": "invalid_image", "message": "x"}}])
    assert json.loads(json.dumps(batch)) == BatchResponse().dump(batch) == batch


def test_image_response_without_faces() -> None:
    """No faces: an empty list and faces_found false, no model output needed."""
    prepared = Prepared(300, 300, "always", FaceFinder(Boxes())(np.zeros((300, 300), np.uint8), "always"))
    answer = image_response(
        prepared,
        np.zeros((0, 7), np.float32),
        class_names=list(CLASSES),
        model={"name": "m", "version": "1"},
        detector="x",
    )
    assert answer["faces"] == [] and answer["faces_found"] is False


# --- the error -> HTTP table --------------------------------------------------------------------

# (status, code, Retry-After) each stage error is shown as: the API's documented error codes.
HTTP = {
    rd.UnsupportedContentType: (415, "unsupported_media_type", None),
    rd.InvalidJson: (400, "invalid_json", None),
    rd.InvalidBase64: (400, "invalid_base64", None),
    rd.ImageBodyTooLarge: (413, "payload_too_large", None),
    rd.TooManyItems: (413, "too_many_items", None),
    rd.MissingField: (422, "validation_error", None),
    dec.NotAnImage: (400, "invalid_image", None),
    dec.UnsupportedImageFormat: (415, "unsupported_image_format", None),
    dec.ImageTooLarge: (413, "payload_too_large", None),
    dec.TooManyPixels: (413, "too_many_pixels", None),
    cls.NotReady: (503, "not_ready", "5"),
    cls.Overloaded: (503, "overloaded", "1"),
    cls.ShuttingDown: (503, "shutting_down", "5"),
    cls.InferenceTimeout: (504, "timeout", None),
}


def stage_errors() -> set[type[StageError]]:
    """Every concrete error class the stage modules define (leaves of the StageError tree)."""
    for module in pkgutil.iter_modules(stages.__path__):
        importlib.import_module(f"{stages.__name__}.{module.name}")
    found, todo = set(), [StageError]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith(stages.__name__) and not sub.__subclasses__():
                found.add(sub)
    return found


def test_every_stage_error_has_an_http_mapping() -> None:
    """A new stage error without a row in service.errors.STAGE_ERRORS (or here) fails this test."""
    assert stage_errors() == set(errors.STAGE_ERRORS) == set(HTTP)


@pytest.mark.parametrize("error", sorted(HTTP, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_the_handler_answers_each_stage_error(error: type[StageError]) -> None:
    """Raised in a view, each stage error becomes its status, code, message and Retry-After."""
    status, code, retry_after = HTTP[error]
    app = Flask(__name__)
    errors.init_app(app)
    app.add_url_rule("/boom", "boom", lambda: (_ for _ in ()).throw(error("it broke", details={"x": [1]})))
    response = app.test_client().get("/boom")
    assert response.status_code == status
    assert response.json["error"] == {"code": code, "message": "it broke", "details": {"x": [1]}}
    assert response.headers.get("Retry-After") == retry_after


def test_batch_items_use_the_same_mapping() -> None:
    """A failed /predict/batch item carries the same code as the error would on /predict."""
    assert errors.item_error(dec.TooManyPixels("big")) == {
        "error": {"code": "too_many_pixels", "message": "big"}
    }

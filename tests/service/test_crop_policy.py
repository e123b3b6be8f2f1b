"""The served model's crop policy, face quality fields and MIN_FACE_SIZE, through /predict."""

from __future__ import annotations

import numpy as np
import pytest

from contract.crop import CALIBRATED, LEGACY, crop_face
from contract.detect import make_detector
from contract.faces import find_faces
from tests.support.fakes import FakePredictor
from tests.support.payloads import upload


class RecordingPredictor(FakePredictor):
    """The fake model, keeping every batch of model inputs it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """Record, then answer like the fake."""
        self.seen.append(images.copy())
        return super().predict_batch(images)


def predictor_with(policy: dict | None) -> RecordingPredictor:
    """The fake model with (or without) a crop_policy in its metadata."""
    fake = RecordingPredictor()
    if policy is not None:
        fake.metadata = {**fake.metadata, "crop_policy": policy}
    return fake


@pytest.mark.parametrize(("policy", "expected"), [(None, LEGACY), (CALIBRATED.to_dict(), CALIBRATED)])
def test_engine_reads_the_policy_from_metadata(make_app, policy, expected) -> None:
    """A model without crop_policy keeps the legacy framing; one with it is served with it."""
    app = make_app(predictor_with(policy))
    assert app.extensions["engine"].faces.policy == expected


def test_faces_are_cropped_with_the_served_policy(make_app, photo_jpeg: bytes) -> None:
    """The model input for a photo is exactly crop_face(photo, box, policy) resized (not the legacy crop)."""

    from contract import decode_image, to_model_input

    fake = predictor_with(CALIBRATED.to_dict())
    client = make_app(fake).test_client()
    assert client.post("/predict", data=upload(photo_jpeg, "a.jpg")).status_code == 200
    image = decode_image(photo_jpeg)
    (box, *_) = make_detector("yunet").detect(image)
    np.testing.assert_array_equal(fake.seen[-1][0], to_model_input(crop_face(image, box, CALIBRATED)))
    legacy = to_model_input(crop_face(image, box, LEGACY))
    assert not np.array_equal(fake.seen[-1][0], legacy)


def test_bad_policy_in_metadata_refuses_to_start(make_app) -> None:
    """A crop_policy the service cannot apply is a startup error naming the model, not a 500 later."""
    from contract.modeldir import ModelDirError

    with pytest.raises(ModelDirError, match="crop_policy"):
        make_app(predictor_with({"reference": "max", "scale": 1.2, "margin": 3}))


def test_response_carries_face_size_and_sharpness(client, photo_jpeg: bytes) -> None:
    """Per face: the shorter box side in pixels and a blur score, for callers that filter faces."""
    body = client.post("/predict", data=upload(photo_jpeg, "a.jpg")).json
    (face,) = body["faces"]
    assert face["face_size"] == min(face["box"]["width"], face["box"]["height"])
    assert face["sharpness"] > 0
    assert body["detection"]["too_small"] == 0


def test_sharpness_is_lower_for_a_blurred_face(photo_jpeg: bytes) -> None:
    """The blur score separates a sharp face from the same face blurred."""
    import cv2

    from contract import decode_image

    image = decode_image(photo_jpeg)
    detector = make_detector("yunet")
    sharp = find_faces(image, detector, "always", CALIBRATED).sharpness[0]
    blurred = find_faces(cv2.GaussianBlur(image, (0, 0), 4), detector, "always", CALIBRATED).sharpness[0]
    assert blurred < sharp / 2


def test_min_face_size_drops_small_faces(make_app, photo_jpeg: bytes) -> None:
    """MIN_FACE_SIZE above the astronaut's face leaves no face and counts it as too small."""
    client = make_app(min_face_size=400).test_client()
    body = client.post("/predict", data=upload(photo_jpeg, "a.jpg")).json
    assert body["faces"] == [] and body["detection"]["too_small"] == 1

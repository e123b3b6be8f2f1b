"""POST /predict and /predict/batch: every input form, the response shape, detection on real photos."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from tests.support.payloads import upload
from tests.synthetic import CLASSES, encode, make_face


def check_result(body: dict, faces: int) -> None:
    """The /predict object: model, image size, detection info, and consistent per-face numbers."""
    assert body["model"] == {"name": "emotion", "version": "1"}
    assert set(body["detection"]) == {"mode", "detector", "used", "too_small"}
    assert body["faces_found"] is (faces > 0) and len(body["faces"]) == faces
    for face in body["faces"]:
        assert list(face["probabilities"]) == list(CLASSES)  # every class, in metadata order
        assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
        assert face["confidence"] == face["probabilities"][face["label"]]
        assert set(face["box"]) == {"x", "y", "width", "height"}
        assert face["face_size"] == min(face["box"]["width"], face["box"]["height"])
        assert face["sharpness"] >= 0


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp"])
@pytest.mark.parametrize("form", ["multipart-image", "multipart-file", "raw", "json", "data-url"])
def test_every_input_form_and_format(client, form: str, ext: str) -> None:
    """One face crop sent five ways in four formats gives one classified face, as a whole image."""
    data = encode(make_face(3, seed=11, color=ext == ".jpg"), ext)
    b64 = base64.b64encode(data).decode()
    kwargs = {
        "multipart-image": {"data": upload(data, f"f{ext}")},
        "multipart-file": {"data": upload(data, f"f{ext}", field="file")},
        "raw": {"data": data, "content_type": f"image/{ext.strip('.').replace('jpg', 'jpeg')}"},
        "json": {"json": {"image": b64}},
        "data-url": {"json": {"image": f"data:image/png;base64,{b64}"}},
    }[form]
    response = client.post("/predict", **kwargs)
    assert response.status_code == 200, response.json
    body = response.json
    check_result(body, faces=1)
    assert body["image"] == {"width": 48, "height": 48}
    assert body["detection"] == {"mode": "auto", "detector": "yunet", "used": False, "too_small": 0}
    assert body["faces"][0]["box"] == {"x": 0, "y": 0, "width": 48, "height": 48}
    assert body["faces"][0]["detection_score"] is None


def test_same_image_same_answer_in_every_form(client, face_png: bytes) -> None:
    """Transport does not change the numbers."""
    raw = client.post("/predict", data=face_png, content_type="image/png").json
    js = client.post("/predict", json={"image": base64.b64encode(face_png).decode()}).json
    assert raw["faces"] == js["faces"]


def test_real_photo_faces_are_detected(client, photo_jpeg: bytes) -> None:
    """The astronaut photo: one face found by YuNet, boxed in original pixels, with a score."""
    body = client.post("/predict", data=upload(photo_jpeg, "astronaut.jpg")).json
    check_result(body, faces=1)
    assert body["image"] == {"width": 512, "height": 512}
    assert body["detection"] == {"mode": "auto", "detector": "yunet", "used": True, "too_small": 0}
    face = body["faces"][0]
    assert 150 < face["box"]["x"] + face["box"]["width"] / 2 < 300
    assert 0.6 <= face["detection_score"] <= 1.0


def test_several_faces_in_one_photo(client) -> None:
    """Every face of a multi-face photo is returned (real LFW faces pasted into a real scene)."""
    from skimage import data

    from tests.service.detector_recall import compose, lfw_faces

    background = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (1280, 960))
    scene, _ = compose(lfw_faces()[:3], background, np.random.default_rng(3))
    body = client.post("/predict", data=encode(scene, ".jpg"), content_type="image/jpeg").json
    check_result(body, faces=len(body["faces"]))
    assert len(body["faces"]) == 3


def test_no_face_gives_an_empty_list_and_a_flag(client) -> None:
    """A real photo without people: 200, faces_found false, faces []."""
    from skimage import data

    photo = encode(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), ".jpg")
    body = client.post("/predict", data=photo, content_type="image/jpeg").json
    check_result(body, faces=0)
    assert body["detection"]["used"] is True


@pytest.mark.parametrize(
    ("mode", "faces", "used"), [("auto", 1, False), ("never", 1, False), ("always", 1, True)]
)
def test_detect_query_parameter(client, face_png: bytes, mode: str, faces: int, used: bool) -> None:
    """detect=always runs the detector even on a 48x48 crop (found by YuNet's second pass, at 96 px)."""
    body = client.post(f"/predict?detect={mode}", data=face_png, content_type="image/png").json
    check_result(body, faces=faces)
    assert body["detection"]["mode"] == mode and body["detection"]["used"] is used


@pytest.mark.parametrize("form", ["multipart", "json"])
def test_batch_keeps_order_and_isolates_bad_items(
    client, photo_jpeg: bytes, face_png: bytes, form: str
) -> None:
    """A photo, a crop, garbage and a GIF: two results and two error entries, in input order."""
    items = [photo_jpeg, face_png, b"definitely not an image", b"GIF89a" + bytes(20)]
    if form == "multipart":
        payload = {"data": {"images": [upload(item, f"{i}.bin")["image"] for i, item in enumerate(items)]}}
    else:
        payload = {"json": {"images": [base64.b64encode(item).decode() for item in items] + ["@@@"]}}
    response = client.post("/predict/batch", **payload)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert response.json["model"] == {"name": "emotion", "version": "1"}
    assert len(results) == len(items) + (form == "json")
    check_result(results[0], faces=1)
    assert results[0]["detection"]["used"] is True
    check_result(results[1], faces=1)
    assert results[1]["image"] == {"width": 48, "height": 48}
    assert results[2]["error"]["code"] == "invalid_image"
    assert results[3]["error"]["code"] == "unsupported_image_format"
    if form == "json":
        assert results[4]["error"]["code"] == "invalid_base64"


def test_batch_results_equal_single_results(client, face_png: bytes) -> None:
    """Batching many crops through one model call gives the same numbers as one by one."""
    crops = [encode(make_face(i % 7, seed=100 + i)) for i in range(6)]
    single = [client.post("/predict", data=c, content_type="image/png").json["faces"] for c in crops]
    batch = client.post("/predict/batch", data={"images": [upload(c)["image"] for c in crops]}).json
    for one, many in zip(single, batch["results"], strict=True):
        for a, b in zip(one, many["faces"], strict=True):
            assert a["label"] == b["label"]
            np.testing.assert_allclose(
                list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-5
            )


def test_haar_detector_option(make_app, photo_jpeg: bytes) -> None:
    """DETECTOR=haar: the fallback detector answers in the same shape, without detection scores."""
    body = make_app(detector="haar").test_client().post("/predict", data=upload(photo_jpeg, "a.jpg")).json
    check_result(body, faces=1)
    assert body["detection"] == {"mode": "auto", "detector": "haar", "used": True, "too_small": 0}
    assert body["faces"][0]["detection_score"] is None


@pytest.mark.parametrize("seed", [9, 10])
def test_sharpness_is_the_laplacian_variance_of_the_model_input(client, seed: int) -> None:
    """A crop classified whole reports the variance of the Laplacian of its 48x48 model input."""
    from contract import to_model_input

    face = cv2.GaussianBlur(make_face(2, seed=seed), (5, 5), 0) if seed % 2 else make_face(2, seed=seed)
    body = client.post("/predict?detect=never", data=upload(encode(face))).json
    expected = cv2.Laplacian(np.squeeze(to_model_input(face)), cv2.CV_64F).var()
    assert body["faces"][0]["sharpness"] == round(expected, 1)

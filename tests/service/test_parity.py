"""The service and `training.predict` give the same probabilities for the same face crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.payloads import upload
from tests.synthetic import make_face, write_image


def service_probabilities(client, path: Path) -> np.ndarray:
    """Probabilities from /predict?detect=never for one file."""
    response = client.post("/predict?detect=never", data=upload(path.read_bytes(), path.name))
    assert response.status_code == 200, response.json
    (face,) = response.json["faces"]
    return np.array(list(face["probabilities"].values()))


def assert_parity(client, model_dir: Path, paths: list[Path]) -> None:
    """Same labels and allclose probabilities, file by file."""
    from training.predict import predict_files

    offline = predict_files(str(model_dir), [str(p) for p in paths], detect=False)
    for path, expected in zip(paths, offline, strict=True):
        got = service_probabilities(client, path)
        (face,) = expected["faces"]
        np.testing.assert_allclose(got, list(face["probabilities"].values()), rtol=1e-5, atol=1e-6)


def test_service_equals_training_predict_on_synthetic_crops(
    client, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """48x48 crops in every format, gray and colour, plus a larger crop that both resize the same way."""
    paths = [
        write_image(tmp_path / f"face{i}{ext}", make_face(i % 7, seed=300 + i, color=i % 2 == 1))
        for i, ext in enumerate([".png", ".jpg", ".bmp", ".webp", ".png", ".jpg"])
    ]
    paths.append(write_image(tmp_path / "big.png", make_face(3, size=90, seed=9)))
    assert_parity(client, tiny_model_dir, paths)


def test_service_equals_training_predict_on_fer2013(client, tiny_model_dir: Path, fer2013_dir: Path) -> None:
    """Real FER2013 test files (skipped when ../shared is absent)."""
    paths = [
        sorted((fer2013_dir / "test" / name).glob("*.jpg"))[0]
        for name in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    ]
    assert_parity(client, tiny_model_dir, paths)


def test_photo_parity_service_and_cli(client, tiny_model_dir: Path, tmp_path: Path) -> None:
    """A real photo: /predict (detect=auto) and the predict CLI find the same face box, crop it with
    the same policy and give the same probabilities."""
    import cv2
    from skimage import data

    from training.predict import predict_files

    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), np.ascontiguousarray(data.astronaut()[:, :, ::-1]))
    served = client.post("/predict", data=upload(path.read_bytes(), path.name)).json["faces"]
    (offline,) = predict_files(str(tiny_model_dir), [str(path)])
    assert len(served) == len(offline["faces"]) == 1
    assert served[0]["box"] == offline["faces"][0]["box"]
    np.testing.assert_allclose(
        list(served[0]["probabilities"].values()),
        list(offline["faces"][0]["probabilities"].values()),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("index", range(3))
def test_service_output_differs_between_faces(client, tmp_path: Path, index: int) -> None:
    """Guards the parity test against a constant model: different faces, different numbers."""
    a = write_image(tmp_path / "a.png", make_face(3, seed=index))
    b = write_image(tmp_path / "b.png", make_face(6, seed=50 + index))
    assert not np.allclose(service_probabilities(client, a), service_probabilities(client, b), atol=1e-7)

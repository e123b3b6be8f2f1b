"""Photo datasets: --detect training through detector + crop policy, and photo evaluation artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.models import tiny_config
from tests.synthetic import CLASSES, write_image


@pytest.fixture(scope="module")
def photo_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Uncropped photos: real LFW faces pasted into real backgrounds, 2 train + 1 test per class,
    plus one train photo without a face and one with two faces."""
    from skimage import data

    from training.scenes import backgrounds, paste_face

    root = tmp_path_factory.mktemp("photos")
    faces = [(f * 255).astype(np.uint8) for f in data.lfw_subset()[:100]]
    photos, rng = backgrounds(), np.random.default_rng(3)
    index = 0
    for split, count in (("train", 2), ("test", 1)):
        for name in CLASSES:
            for i in range(count):
                scene = paste_face(faces[index], photos[index % 4], 150, 0.0, rng)
                write_image(root / split / name / f"{name}_{i}.jpg", scene.image)
                index += 1
    write_image(root / "train" / "happy" / "no_face.jpg", photos[0])
    two = paste_face(faces[60], paste_face(faces[61], photos[1], 140, 0.0, rng).image, 200, 0.0, rng)
    write_image(root / "train" / "sad" / "two_faces.jpg", two.image)
    return root


def test_detect_training_run_exports_and_reports(
    photo_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--detect`: faces cropped once (cached), photos without a face skipped, several -> the largest."""
    from contract.modeldir import read_metadata
    from training.train import train

    config = tiny_config(tmp_path, photo_dataset, epochs=1, detect=True)
    version_dir = train(config)
    report = json.loads((Path(config.run_dir) / "report" / "dataset_report.json").read_text())["photos"]
    assert [Path(p).name for p in report["no_face"]] == ["no_face.jpg"]
    assert [Path(p).name for p in report["multi_face"]] == ["two_faces.jpg"]
    assert report["faces"] == report["photos"] - len(report["no_face"])
    crops = sorted((Path(config.run_dir) / "faces").rglob("*.png"))
    assert crops and all(cv2.imread(str(c), cv2.IMREAD_GRAYSCALE).shape == (48, 48) for c in crops)
    metadata = read_metadata(version_dir)
    assert metadata["metrics"]["path"].startswith("photos")  # evaluated on test photos, through detection
    assert metadata["metrics"]["face_found_rate"] > 0
    # A second run finds every crop in the cache: nothing is detected again.
    from contract.crop import CALIBRATED
    from contract.detect import make_detector
    from training import photos
    from training.manifest import build_manifest

    calls = []
    original = photos._crop_one
    monkeypatch.setattr(photos, "_crop_one", lambda *a, **k: calls.append(a) or original(*a, **k))
    photos.detect_dataset(
        build_manifest(photo_dataset), config.run_dir, CALIBRATED, make_detector("yunet"), config.multi_face
    )
    assert calls == []


def test_photo_evaluation_writes_every_artefact(
    photo_dataset: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """make evaluate ... --detect: top-face accuracy, face-found rate, recall, confusion, contact sheet."""
    from training.evaluate import main

    out = tmp_path / "eval"
    assert (
        main(
            [
                "--model-dir",
                str(tiny_model_dir),
                "--data-dir",
                str(photo_dataset),
                "--out",
                str(out),
                "--detect",
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["photos"] == 7 and metrics["face_found_rate"] == 1.0
    assert set(metrics["recall_with_missed"]) == set(CLASSES)
    assert np.array(metrics["confusion_matrix_with_no_face"]).sum() == 7
    for name in ("contact_sheet.png", "confusion_matrix.png", "confusion_matrix_with_no_face.csv"):
        assert (out / name).stat().st_size > 0, name
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet.shape[0] > 50 and sheet.shape[1] > 200


def test_photo_metrics_count_a_missed_face_as_wrong() -> None:
    from training.photos import photo_metrics

    probs = np.array([[0.9, 0.1], [np.nan, np.nan], [0.2, 0.8]], np.float32)
    metrics = photo_metrics(probs, np.array([0, 0, 1]), ["a", "b"])
    assert metrics["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["face_found_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["confusion_matrix_with_no_face"] == [[1, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize(
    ("accuracies", "expected"),
    [
        ({16: (0.1, 2), 32: (0.70, 80), 64: (0.71, 300)}, 0),  # nothing measured is worse: keep all
        ({16: (0.1, 40), 32: (0.70, 80), 64: (0.71, 300)}, 32),  # 16 px measured bad: drop under 32
        ({16: (0.2, 40), 32: (0.3, 80), 64: (0.71, 300)}, 64),
        ({16: (0.2, 40), 32: (0.3, 80)}, 33),  # the largest measured side fails: just above it
    ],
)
def test_min_face_size_rule(accuracies: dict, expected: int) -> None:
    from training.calibrate_crop import choose_min_face_size

    rows = {str(k): {"accuracy_on_found": a, "found_faces": n} for k, (a, n) in accuracies.items()}
    assert choose_min_face_size(rows, crop_accuracy=0.7) == expected


class _WholeImage:
    """A detector that calls the whole scene a face (or, with found=False, finds nothing)."""

    def __init__(self, found: bool = True) -> None:
        self.found = found

    def detect(self, image: np.ndarray) -> list:
        from contract.detect import Detection

        return [Detection(0, 0, image.shape[1], image.shape[0], 0.9)] if self.found else []


def test_compare_models_scores_every_model_on_the_same_scenes_and_crops(tiny_model_dir: Path) -> None:
    """calibrate-crop --compare-models: per model, accuracy per face size on one set of scenes,
    and on the same faces as crops; a face the detector misses counts as wrong."""
    from contract import to_model_input
    from contract.savedmodel import load_predict_fn
    from training.calibrate_crop import SIDES, compare_models

    rng = np.random.default_rng(3)
    faces = [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(12)]
    labels = rng.integers(0, 7, 12)
    rows = compare_models(faces, labels, [str(tiny_model_dir), str(tiny_model_dir)], _WholeImage())
    ((_, row),) = rows.items()  # the same folder twice is one row
    assert set(row) == {*map(str, SIDES), "all", "found", "crops"}
    assert row["found"] == 1.0
    predicted = load_predict_fn(tiny_model_dir)(np.stack([to_model_input(f) for f in faces])).argmax(1)
    assert row["crops"] == round(float((predicted == labels).mean()), 4)
    missed = compare_models(faces, labels, [str(tiny_model_dir)], _WholeImage(found=False))
    assert all(missed[str(tiny_model_dir)][str(s)] == 0.0 for s in SIDES)

"""The crop policy: framing round trip through the real detector, padding, alignment, metadata."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from contract.crop import (
    CALIBRATED,
    LEGACY,
    CropPolicy,
    CropPolicyError,
    crop_face,
    crop_region,
    eye_angle,
    policy_from_metadata,
    resolve_policy,
)
from contract.detect import Detection, YuNetDetector
from training.scenes import backgrounds, paste_face


def square_iou(region: tuple[float, float, int], centre: tuple[float, float], side: int) -> float:
    """IoU of two axis-aligned squares given as (cx, cy, side)."""
    (ax, ay, a), (bx, by) = region, centre
    overlap_x = max(0.0, min(ax + a / 2, bx + side / 2) - max(ax - a / 2, bx - side / 2))
    overlap_y = max(0.0, min(ay + a / 2, by + side / 2) - max(ay - a / 2, by - side / 2))
    inter = overlap_x * overlap_y
    return inter / (a * a + side * side - inter)


@pytest.fixture(scope="module")
def lfw_faces() -> list[np.ndarray]:
    """Tight real face crops (scikit-image's LFW subset), framed much like FER2013's."""
    from skimage import data

    return [(f * 255).astype(np.uint8) for f in data.lfw_subset()[:30]]


def test_round_trip_frames_a_pasted_face_like_the_training_image(lfw_faces: list[np.ndarray]) -> None:
    """Real face crops pasted into a real photo at a known square come back framed like that square.

    The calibrated policy must recover the pasted square (IoU) clearly better than LEGACY, whose
    30% looser framing is what cost the service 10 points on photos.
    """
    detector, background, rng = YuNetDetector(), backgrounds()[0], np.random.default_rng(0)
    scores: dict[str, list[float]] = {"calibrated": [], "legacy": []}
    for face in lfw_faces:
        scene = paste_face(face, background, 160, 0.0, rng)
        found = detector.detect(scene.image)
        if not found:
            continue
        for name, policy in (("calibrated", CALIBRATED), ("legacy", LEGACY)):
            scores[name].append(square_iou(crop_region(found[0], policy), scene.centre, scene.side))
    assert len(scores["calibrated"]) >= 25  # the detector found nearly every face
    assert np.median(scores["calibrated"]) >= 0.75
    assert np.median(scores["calibrated"]) > np.median(scores["legacy"]) + 0.05


@pytest.mark.parametrize(
    ("box", "policy"),
    [
        (Detection(40, 40, 20, 20, None), LEGACY),
        (Detection(0, 0, 30, 20, None), LEGACY),  # leaves the image top-left
        (Detection(85, 90, 15, 10, None), CALIBRATED),  # leaves it bottom-right
        (Detection(30, 10, 20, 40, None), CropPolicy(reference="height", scale=0.9, shift_y=0.1)),
    ],
)
def test_crop_is_the_policy_square_edge_padded(box: Detection, policy: CropPolicy) -> None:
    """Pixel for pixel: the crop is the policy's square of the image, extended by edge padding."""
    image = (np.arange(100 * 100).reshape(100, 100) % 251).astype(np.uint8)
    cx, cy, side = crop_region(box, policy)
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    rows = np.clip(np.arange(y0, y0 + side), 0, 99)
    cols = np.clip(np.arange(x0, x0 + side), 0, 99)
    np.testing.assert_array_equal(crop_face(image, box, policy), image[np.ix_(rows, cols)])


def test_legacy_is_the_old_margin_crop() -> None:
    """Models without a policy keep today's framing: max side x 1.3, centred on the box."""
    box = Detection(10, 20, 40, 50, 0.9)
    assert crop_region(box, LEGACY) == (30.0, 45.0, 65)


def eye_dots(image: np.ndarray) -> list[tuple[float, float]]:
    """Centroids of the two dark eye dots of the synthetic face, left to right."""
    mask = (image < 60).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
    blobs = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])[:2]
    return sorted((float(centroids[i][0]), float(centroids[i][1])) for i in blobs)


def tilted_face(angle: float) -> tuple[np.ndarray, Detection]:
    """A gray face with two eye dots rotated by `angle` degrees, and its box with eye landmarks."""
    image = np.full((200, 200), 200, np.uint8)
    eyes = np.array([[80.0, 90.0], [120.0, 90.0]])
    for x, y in eyes:
        cv2.circle(image, (int(x), int(y)), 6, 20, -1)
    matrix = cv2.getRotationMatrix2D((100, 100), angle, 1.0)
    rotated = cv2.warpAffine(image, matrix, (200, 200), borderValue=200)
    points = cv2.transform(eyes[None], matrix)[0]
    landmarks = (tuple(points[0]), tuple(points[1]), (100.0, 110.0), (90.0, 130.0), (110.0, 130.0))
    return rotated, Detection(60, 60, 80, 80, 0.9, landmarks)


@pytest.mark.parametrize("angle", [-20.0, 12.0, 30.0])
def test_alignment_levels_a_tilted_face(angle: float) -> None:
    """With align on, the eye line of a rolled face comes out level; without it, it stays rolled."""
    image, box = tilted_face(angle)
    assert abs(eye_angle(box) + angle) < 0.5  # OpenCV's positive angle is counter-clockwise
    aligned = eye_dots(crop_face(image, box, dataclasses.replace(CALIBRATED, align=True)))
    plain = eye_dots(crop_face(image, box, dataclasses.replace(CALIBRATED, align=False)))
    level = abs(np.degrees(np.arctan2(aligned[1][1] - aligned[0][1], aligned[1][0] - aligned[0][0])))
    rolled = abs(np.degrees(np.arctan2(plain[1][1] - plain[0][1], plain[1][0] - plain[0][0])))
    assert level < 2.0
    assert abs(rolled - abs(angle)) < 2.0


def test_alignment_through_the_detector(lfw_faces: list[np.ndarray]) -> None:
    """Real faces rolled by 12 degrees: after the aligned crop YuNet sees the eye line much closer to level.

    YuNet's landmarks are coarse on small faces, so this is a statement about the average.
    """
    detector, background, rng = YuNetDetector(), backgrounds()[1], np.random.default_rng(1)
    before, after = [], []
    for face in lfw_faces:
        scene = paste_face(face, background, 160, 12.0, rng)
        found = detector.detect(scene.image)
        if not found:
            continue
        crop = crop_face(scene.image, found[0], dataclasses.replace(CALIBRATED, align=True))
        again = detector.detect(cv2.copyMakeBorder(crop, 60, 60, 60, 60, cv2.BORDER_REFLECT))
        if again:
            before.append(eye_angle(found[0]))
            after.append(eye_angle(again[0]))
    assert len(after) >= 20
    assert abs(np.mean(after)) < abs(np.mean(before)) - 4.0


def test_policy_travels_in_metadata_and_old_models_get_legacy(tmp_path) -> None:
    """metadata.json's crop_policy round-trips; a model without one gets LEGACY; bad ones are refused."""
    assert policy_from_metadata({"class_names": ["a"]}) == LEGACY
    stored = json.loads(json.dumps({"crop_policy": CALIBRATED.to_dict()}))
    assert policy_from_metadata(stored) == CALIBRATED
    with pytest.raises(CropPolicyError, match="unknown crop_policy keys"):
        policy_from_metadata({"crop_policy": {**CALIBRATED.to_dict(), "margin": 0.1}})
    with pytest.raises(CropPolicyError, match="scale"):
        CropPolicy(scale=9.0)
    report = tmp_path / "calibration.json"
    report.write_text(json.dumps({"winner_policy": {**LEGACY.to_dict(), "scale": 1.1}}))
    assert resolve_policy(str(report)).scale == 1.1
    assert resolve_policy("legacy") == LEGACY
    with pytest.raises(CropPolicyError):
        resolve_policy("no-such-policy")

"""YuNet's second-pass calibration: the written choice rule, and the measurement on real faces."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from contract.detect import Detection, YuNetDetector
from training.calibrate_retry import (
    CONFIDENCES,
    SCALES,
    SIDES,
    choose,
    face_free_photos,
    measure,
    render,
)
from training.scenes import SCENE_SIZE, Scene


def row(scale: float, confidence: float, found64: float, false_positives: int) -> tuple[str, dict[str, Any]]:
    """One candidate's result as measure() writes it."""
    return f"{scale:g}x@{confidence:g}", {
        "retry_scale": scale,
        "retry_confidence": confidence,
        "found": {"64": found64, "96": 0.98, "128": 0.98},
        "false_positives": false_positives,
        "false_positive_rate": false_positives / 100,
        "retry_cost_x_first_pass": scale**2,
    }


@pytest.mark.parametrize(
    ("candidates", "chosen"),
    [
        # Every gain costs false positives: the default stays.
        ([row(2, 0.6, 0.93, 10), row(3, 0.6, 0.97, 12), row(2, 0.5, 0.95, 11)], "2x@0.6"),
        # More found at no extra false positive wins.
        ([row(2, 0.6, 0.93, 10), row(3, 0.6, 0.97, 10)], "3x@0.6"),
        # Within 0.5 points the cheaper scale wins, even over a higher found rate.
        ([row(2, 0.6, 0.93, 10), row(2.5, 0.6, 0.966, 9), row(3, 0.6, 0.97, 10)], "2.5x@0.6"),
        # Same scale, within 0.5 points: the higher confidence (fewer boxes to trust) wins.
        ([row(2, 0.6, 0.93, 10), row(3, 0.5, 0.97, 10), row(3, 0.6, 0.968, 10)], "3x@0.6"),
        # Just over 0.5 points apart: the better one, though it costs more.
        ([row(2, 0.6, 0.93, 10), row(2.5, 0.6, 0.964, 10), row(3, 0.6, 0.97, 10)], "3x@0.6"),
    ],
)
def test_choice_rule(candidates: list[tuple[str, dict[str, Any]]], chosen: str) -> None:
    assert choose(dict(candidates)) == chosen


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        (Detection(90, 90, 20, 20, 0.9), True),  # centred on the face
        (Detection(100, 70, 40, 40, 0.9), True),  # centre 20 px off: within half of a 64 px side
        (Detection(150, 100, 20, 20, 0.9), False),  # centre 60 px off: another place in the photo
    ],
)
def test_a_detection_counts_only_over_the_pasted_face(box: Detection, inside: bool) -> None:
    scene = Scene(image=np.zeros((480, 640, 3), np.uint8), side=64, angle=0.0, centre=(100.0, 100.0))
    assert scene.covers(box) is inside


def test_measure_on_real_faces_and_face_free_photos() -> None:
    """LFW faces pasted at 64-128 px: every candidate is measured, large faces are found, and
    the face-free photos are scene-sized views of scikit-image's bundled non-face photos."""
    from skimage import data

    faces = [(f * 255).astype(np.uint8) for f in data.lfw_subset()[:12]]
    photos = face_free_photos(crops_per_photo=1)
    assert len(photos) >= 6 and {p.shape for p in photos} == {(SCENE_SIZE[1], SCENE_SIZE[0], 3)}
    results = measure(faces, photos[:6], YuNetDetector())
    assert set(results) == {f"{s:g}x@{c:g}" for s in SCALES for c in CONFIDENCES}
    default = results["2x@0.6"]
    assert default["found"]["128"] >= 0.75
    assert all(0 <= r["found"][str(side)] <= 1 for r in results.values() for side in SIDES)
    # A lower threshold at the same scale keeps every face the higher one found.
    for scale in SCALES:
        low, high = results[f"{scale:g}x@0.4"], results[f"{scale:g}x@0.6"]
        assert low["found"]["64"] >= high["found"]["64"]
        assert low["false_positives"] >= high["false_positives"]
    assert "(chosen)" in render(results, choose(results), len(faces), 6)

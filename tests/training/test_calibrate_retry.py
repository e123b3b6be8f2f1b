"""YuNet's second-pass calibration: the written choice rule, and the measurement on real faces."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from contract.detect import Detection, YuNetDetector
from training.calibrate_retry import (
    REPORTED_SIDES,
    SIDES,
    candidates,
    choose,
    face_free_photos,
    measure,
    render,
)
from training.scenes import SCENE_SIZE, Scene


def row(
    name: str,
    found64: float,
    false_positives: int,
    *,
    found128: float = 0.98,
) -> tuple[str, dict[str, Any]]:
    """One candidate's result as measure() writes it, its plan the calibration's own ("2x+3x@0.6 min32")."""
    plan = candidates()[name]
    passes = [x for x in (plan["retry_scale"], plan["third_scale"]) if x]
    return name, {
        **plan,
        "found": {"48": 0.5, "64": found64, "96": 0.98, "128": found128},
        "false_positives": false_positives,
        "false_positive_rate": false_positives / 100,
        "retry_cost_x_first_pass": sum(x**2 for x in passes),
    }


BASE = row("2x@0.6", 0.93, 10)  # today's default


@pytest.mark.parametrize(
    ("candidates_", "chosen"),
    [
        # Every gain costs false positives: the default stays.
        ([BASE, row("3x@0.6", 0.97, 12), row("2x@0.5", 0.95, 11)], "2x@0.6"),
        # More found at no extra false positive wins.
        ([BASE, row("3x@0.6", 0.97, 10)], "3x@0.6"),
        # Within 0.5 points the cheaper scale wins, even over a higher found rate.
        ([BASE, row("2.5x@0.6", 0.966, 9), row("3x@0.6", 0.97, 10)], "2.5x@0.6"),
        # Same scale, within 0.5 points: the higher confidence (fewer boxes to trust) wins.
        ([BASE, row("3x@0.5", 0.97, 10), row("3x@0.6", 0.968, 10)], "3x@0.6"),
        # Just over 0.5 points apart: the better one, though it costs more.
        ([BASE, row("2.5x@0.6", 0.964, 10), row("3x@0.6", 0.97, 10)], "3x@0.6"),
        # A floor that brings the false positives back within the default's: allowed, and it wins.
        ([BASE, row("3x@0.6", 0.97, 14), row("3x@0.6 min32", 0.968, 10)], "3x@0.6 min32"),
        # Same cost and confidence, within 0.5 points: fewer false positives, then the lower floor.
        (
            [BASE, row("3x@0.6 min24", 0.97, 10), row("3x@0.6 min32", 0.968, 9)],
            "3x@0.6 min32",
        ),
        (
            [BASE, row("3x@0.6 min24", 0.97, 9), row("3x@0.6 min32", 0.968, 9)],
            "3x@0.6 min24",
        ),
        # More 64 px faces bought with fewer 128 px ones (over 0.5 points) is not allowed...
        ([BASE, row("3x@0.6 min32", 0.97, 10, found128=0.97)], "2x@0.6"),
        # ... the two-retry plan that keeps them is, though it costs more.
        (
            [
                BASE,
                row("3x@0.6 min32", 0.97, 10, found128=0.97),
                row("2x+3x@0.6 min32", 0.97, 10),
            ],
            "2x+3x@0.6 min32",
        ),
    ],
)
def test_choice_rule(candidates_: list[tuple[str, dict[str, Any]]], chosen: str) -> None:
    assert choose(dict(candidates_)) == chosen


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
    assert set(results) == set(candidates())
    default = results["2x@0.6"]
    assert default["found"]["128"] >= 0.75
    sides = (*REPORTED_SIDES, *SIDES)
    assert all(0 <= r["found"][str(side)] <= 1 for r in results.values() for side in sides)
    # Looser plans keep every face (and every false one) a stricter one finds: a lower threshold
    # at the same passes and floor, and no floor at the same passes and threshold.
    for key, plan in results.items():
        head, sep, floor = key.partition(" min")
        passes, suffix = head.split("@")[0], sep + floor
        loosest = min(r["retry_confidence"] for k, r in results.items() if k.split("@")[0] == passes)
        for looser in (f"{passes}@{loosest:g}{suffix}", f"{passes}@{plan['retry_confidence']:g}"):
            assert results[looser]["found"]["64"] >= plan["found"]["64"], (looser, key)
            assert results[looser]["false_positives"] >= plan["false_positives"], (looser, key)
    for floor in ("", " min24", " min32"):
        two, one = results[f"2x+3x@0.6{floor}"], results[f"2x@0.6{floor}"]
        assert all(two["found"][str(s)] >= one["found"][str(s)] for s in sides)
        assert two["retry_cost_x_first_pass"] == 13
    assert "(chosen)" in render(results, choose(results), len(faces), 6)

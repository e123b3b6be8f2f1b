"""training.scenes: a pasted face can be taken back out of its scene, framed as it went in."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.scenes import backgrounds, paste_face


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A real, asymmetric face crop (scikit-image's LFW subset): a wrong rotation shows."""
    from skimage import data

    return (data.lfw_subset()[3] * 255).astype(np.uint8)


def _difference(region: np.ndarray, face: np.ndarray) -> float:
    """Mean absolute gray difference at the face's size."""
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    back = cv2.resize(gray, face.shape[::-1], interpolation=cv2.INTER_AREA)
    return float(np.abs(back.astype(np.float32) - face.astype(np.float32)).mean())


@pytest.mark.parametrize("angle", [-15.0, -6.0, 0.0, 9.0, 15.0])
def test_pasted_region_gives_back_the_face(face: np.ndarray, angle: float) -> None:
    """Rotated back about the paste centre, the square is the face again (resampling aside)."""
    scene = paste_face(face, backgrounds()[1], 128, angle, np.random.default_rng(0))
    assert _difference(scene.pasted_region(scene.image), face) < 6.0


@pytest.mark.parametrize("angle", [-15.0, 12.0])
def test_keeping_the_roll_leaves_the_face_rotated(face: np.ndarray, angle: float) -> None:
    """undo_roll=False takes the same square unrotated: clearly further from the face."""
    scene = paste_face(face, backgrounds()[1], 128, angle, np.random.default_rng(0))
    undone = _difference(scene.pasted_region(scene.image), face)
    kept = _difference(scene.pasted_region(scene.image, undo_roll=False), face)
    assert kept > 2 * undone

"""Photos with known faces: face crops pasted into real background photos at a chosen size and roll.

The scene benchmark (benchmarks/photo_accuracy.py) and the crop calibration
(training/calibrate_crop.py) both use these, so the policy is chosen on the same kind of
photo it is judged on (validation faces for the choice, test faces for the report).
Backgrounds are scikit-image's bundled face-free photos; everything is seeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

SCENE_SIZE = (640, 480)  # width, height
BACKGROUNDS = ("coffee", "rocket", "chelsea", "brick")
MAX_ANGLE = 15.0  # degrees of roll the scene benchmark and the calibrations paste faces with
JPEG_QUALITY = 90  # scenes travel as JPEG, as uploads do


@dataclass(frozen=True)
class Scene:
    """One BGR photo holding one pasted face of `side` px rotated by `angle` degrees."""

    image: np.ndarray
    side: int
    angle: float
    centre: tuple[float, float]

    def covers(self, box: Any) -> bool:
        """Does a detection lie over the pasted face (its centre within half the face's side)?"""
        cx, cy = box.x + box.width / 2, box.y + box.height / 2
        return abs(cx - self.centre[0]) < self.side / 2 and abs(cy - self.centre[1]) < self.side / 2

    def pasted_region(self, image: np.ndarray, undo_roll: bool = True) -> np.ndarray:
        """The side x side square the face was pasted into, taken from `image` (the scene after
        its JPEG round trip), rotated back by the paste's roll unless undo_roll is False: the
        face exactly as the training images frame it, which no detector knows."""
        matrix = cv2.getRotationMatrix2D(self.centre, -self.angle if undo_roll else 0.0, 1.0)
        matrix[0, 2] += self.side / 2 - self.centre[0]
        matrix[1, 2] += self.side / 2 - self.centre[1]
        return cv2.warpAffine(
            image, matrix, (self.side, self.side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


def scene_photo(image: np.ndarray) -> np.ndarray:
    """A uint8 RGB(A) or gray photo as a BGR photo at the scene size."""
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, ::-1]
    return cv2.resize(np.ascontiguousarray(bgr), SCENE_SIZE, interpolation=cv2.INTER_AREA)


def to_jpeg(image: np.ndarray) -> bytes:
    """A scene as the JPEG file an upload would carry."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def backgrounds() -> list[np.ndarray]:
    """The background photos as BGR at the scene size."""
    from skimage import data

    return [scene_photo(getattr(data, name)()) for name in BACKGROUNDS]


def paste_face(
    face: np.ndarray, background: np.ndarray, side: int, angle: float, rng: np.random.Generator
) -> Scene:
    """Upscale a gray face crop to side x side, rotate it about its centre and paste it at a random spot."""
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    big = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR) if big.ndim == 2 else big
    height, width = background.shape[:2]
    # Room for the rotated square's corners (diagonal / 2) inside the photo.
    reach = side / 2 * (abs(np.cos(np.radians(angle))) + abs(np.sin(np.radians(angle))))
    cx = float(rng.uniform(reach, width - reach)) if width > 2 * reach else width / 2
    cy = float(rng.uniform(reach, height - reach)) if height > 2 * reach else height / 2
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    matrix[0, 2] += cx - side / 2
    matrix[1, 2] += cy - side / 2
    warped = cv2.warpAffine(big, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(
        np.full((side, side), 255, np.uint8), matrix, (width, height), flags=cv2.INTER_LINEAR
    )
    alpha = (mask.astype(np.float32) / 255.0)[:, :, None]
    image = (warped * alpha + background * (1.0 - alpha)).round().astype(np.uint8)
    return Scene(image=image, side=side, angle=angle, centre=(cx, cy))


def scenes(
    faces: list[np.ndarray], sides: tuple[int, ...], max_angle: float, seed: int = 0
) -> Iterator[tuple[int, Scene]]:
    """Every face at every size, each on one background with a random roll in +-max_angle."""
    rng = np.random.default_rng(seed)
    photos = backgrounds()
    for index, face in enumerate(faces):
        for side in sides:
            angle = float(rng.uniform(-max_angle, max_angle))
            yield index, paste_face(face, photos[(index + side) % len(photos)], side, angle, rng)

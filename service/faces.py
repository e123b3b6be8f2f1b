"""From a decoded image to model inputs: which regions are faces, and their 48x48 crops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract import CHANNELS, IMAGE_SIZE, to_model_input
from service.detect import Detection, Detector

DETECT_MODES = ("auto", "always", "never")
# In auto mode an image this small is taken to be a face crop already (FER2013 is 48x48).
CROP_MAX_SIDE = 96
# ...and one up to this size in which the detector finds nothing is classified whole: a tight
# crop leaves a detector too little context around the face.
SMALL_MAX_SIDE = 256
# Detectors box the face tightly; FER2013 crops show some forehead and chin around it.
MARGIN = 0.15
# A crowd photo yields at most this many faces (the best-scoring ones), bounding the work per image.
MAX_FACES = 50


@dataclass(frozen=True)
class FaceRegions:
    """The outcome of the detection step for one image."""

    faces: list[Detection]
    inputs: np.ndarray  # uint8 [len(faces), 48, 48, 1]
    detection_used: bool


def crop_face(image: np.ndarray, box: Detection, margin: float = MARGIN) -> np.ndarray:
    """A square crop around the box, grown by margin per side and edge-padded where it leaves the image."""
    side = round(max(box.width, box.height) * (1 + 2 * margin))
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    height, width = image.shape[:2]
    crop = image[max(0, y0) : min(height, y0 + side), max(0, x0) : min(width, x0 + side)]
    pad = ((max(0, -y0), max(0, y0 + side - height)), (max(0, -x0), max(0, x0 + side - width)))
    if any(any(p) for p in pad):
        crop = np.pad(crop, pad + ((0, 0),) * (crop.ndim - 2), mode="edge")
    return crop


def whole_image(image: np.ndarray) -> Detection:
    """The full frame as a single 'face'."""
    return Detection(0, 0, image.shape[1], image.shape[0], None)


def find_faces(image: np.ndarray, detector: Detector, mode: str = "auto") -> FaceRegions:
    """Apply the detect=auto|always|never policy and return the regions with their model inputs."""
    if mode not in DETECT_MODES:
        raise ValueError(f"detect mode must be one of {DETECT_MODES}")
    longest = max(image.shape[:2])
    if mode == "never" or (mode == "auto" and longest <= CROP_MAX_SIDE):
        return _regions(image, [whole_image(image)], crops=False, used=False)
    faces = detector.detect(image)
    if not faces and mode == "auto" and longest <= SMALL_MAX_SIDE:
        return _regions(image, [whole_image(image)], crops=False, used=False)
    return _regions(image, faces[:MAX_FACES], crops=True, used=True)


def _regions(image: np.ndarray, boxes: list[Detection], *, crops: bool, used: bool) -> FaceRegions:
    """Model inputs for the boxes (margin crops for detections, the image itself otherwise)."""
    inputs = [to_model_input(crop_face(image, box) if crops else image) for box in boxes]
    stacked = np.stack(inputs) if inputs else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), np.uint8)
    return FaceRegions(faces=boxes, inputs=stacked, detection_used=used)

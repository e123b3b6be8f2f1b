"""From a decoded image to model inputs: which regions are faces, their crops and their quality.

One owner for the service (/predict, /predict/video), photo evaluation, `--detect` training
datasets and the predict CLI. The crop is contract.crop with the policy from the model's
metadata.json, so a face is framed the way that model's training images were.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from contract import CHANNELS, IMAGE_SIZE, to_model_input
from contract.crop import LEGACY, CropPolicy, crop_face
from contract.detect import Detection, Detector

DETECT_MODES = ("auto", "always", "never")
# In auto mode an image this small is taken to be a face crop already (FER2013 is 48x48).
CROP_MAX_SIDE = 96
# ...and one up to this size in which the detector finds nothing is classified whole: a tight
# crop leaves a detector too little context around the face.
SMALL_MAX_SIDE = 256
# A crowd photo yields at most this many faces (the best-scoring ones), bounding the work per image.
MAX_FACES = 50


@dataclass(frozen=True)
class FaceRegions:
    """The outcome of the detection step for one image."""

    faces: list[Detection]
    inputs: np.ndarray  # uint8 [len(faces), 48, 48, 1]
    detection_used: bool
    too_small: int = 0  # detected faces dropped by min_face_size

    @property
    def sharpness(self) -> list[float]:
        """Per face, the variance of the Laplacian of its 48x48 model input (low = blurred or tiny)."""
        return [sharpness(face) for face in self.inputs]


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian of a uint8 face: a standard blur score, here at the model's scale."""
    gray = face[:, :, 0] if face.ndim == 3 else face
    # meanStdDev is the same variance as ndarray.var() in under half the time (per face, per request).
    _, std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_64F))
    return float(std[0, 0]) ** 2


def whole_image(image: np.ndarray) -> Detection:
    """The full frame as a single 'face'."""
    return Detection(0, 0, image.shape[1], image.shape[0], None)


def find_faces(
    image: np.ndarray,
    detector: Detector | None,
    mode: str = "auto",
    policy: CropPolicy = LEGACY,
    min_face_size: int = 0,
) -> FaceRegions:
    """Apply the detect=auto|always|never policy and return the regions with their model inputs.

    detector may be None only with mode "never" (crops classified whole, no detector needed).
    Detected faces whose shorter box side is under min_face_size pixels are dropped (counted
    in too_small): at that size the crop holds too few pixels to classify reliably.
    """
    if mode not in DETECT_MODES:
        raise ValueError(f"detect mode must be one of {DETECT_MODES}")
    longest = max(image.shape[:2])
    if mode == "never" or (mode == "auto" and longest <= CROP_MAX_SIDE):
        return _regions(image, [whole_image(image)], None, used=False)
    if detector is None:
        raise ValueError(f"detect mode {mode!r} needs a detector")
    found = detector.detect(image)
    if not found and mode == "auto" and longest <= SMALL_MAX_SIDE:
        return _regions(image, [whole_image(image)], None, used=False)
    faces = [f for f in found if min(f.width, f.height) >= min_face_size]
    return _regions(image, faces[:MAX_FACES], policy, used=True, too_small=len(found) - len(faces))


def _regions(
    image: np.ndarray, boxes: list[Detection], policy: CropPolicy | None, *, used: bool, too_small: int = 0
) -> FaceRegions:
    """Model inputs for the boxes (policy crops for detections, the image itself otherwise)."""
    inputs = [to_model_input(image if policy is None else crop_face(image, box, policy)) for box in boxes]
    stacked = np.stack(inputs) if inputs else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), np.uint8)
    return FaceRegions(faces=boxes, inputs=stacked, detection_used=used, too_small=too_small)

"""The crop policy: how a detector box becomes the square region that is resized to model input.

It is part of the image contract because a model only works on faces framed the way its
training images were. Training (`--detect` datasets, photo evaluation, calibration), the
service and the predict CLI all call `crop_face` with the policy recorded in the model's
metadata.json (`crop_policy`); a model without one gets LEGACY, the framing every model
before the calibration was served with. `make calibrate-crop` derives a policy from the
detector's boxes on upscaled training images (training/calibrate_crop.py).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from contract.detect import Detection

REFERENCES = ("max", "height", "width", "sqrt_area")
PADDING = ("edge", "reflect", "constant")
METADATA_KEY = "crop_policy"
# Alignment is skipped beyond this eye-line angle: a larger one is a landmark failure far more
# often than a real head roll, and rotating by it would turn a good crop into a bad one.
MAX_ALIGN_DEG = 45.0


class CropPolicyError(ValueError):
    """A crop policy (e.g. from metadata.json) with unknown fields or out-of-range values."""


@dataclass(frozen=True)
class CropPolicy:
    """Square crop of side `scale` x the box's `reference` length, centred on the box centre
    moved by (shift_x, shift_y) crop sides, optionally rotated so the eye line is level."""

    reference: str = "max"
    scale: float = 1.3
    shift_x: float = 0.0
    shift_y: float = 0.0
    align: bool = False
    pad: str = "edge"

    def __post_init__(self) -> None:
        """Reject values that would crop nonsense silently."""
        if self.reference not in REFERENCES:
            raise CropPolicyError(f"crop reference must be one of {REFERENCES}, got {self.reference!r}")
        if self.pad not in PADDING:
            raise CropPolicyError(f"crop pad must be one of {PADDING}, got {self.pad!r}")
        if not 0.3 <= self.scale <= 4.0:
            raise CropPolicyError(f"crop scale must be in [0.3, 4], got {self.scale}")
        if abs(self.shift_x) > 0.5 or abs(self.shift_y) > 0.5:
            raise CropPolicyError("crop shifts must be within +-0.5 crop sides")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in metadata.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropPolicy:
        """Parse metadata's crop_policy; unknown keys are an error, not silently ignored."""
        if not isinstance(data, dict):
            raise CropPolicyError(f"crop_policy must be an object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known - {"calibration"}
        if unknown:
            raise CropPolicyError(f"unknown crop_policy keys: {', '.join(sorted(unknown))}")
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise CropPolicyError(f"invalid crop_policy: {exc}") from None

    def reference_length(self, box: Detection) -> float:
        """The box length the crop side is proportional to."""
        if self.reference == "height":
            return float(box.height)
        if self.reference == "width":
            return float(box.width)
        if self.reference == "sqrt_area":
            return math.sqrt(box.width * box.height)
        return float(max(box.width, box.height))


# How every model before the calibrated policy was served: max side grown by 15% a side.
LEGACY = CropPolicy()
# From `make calibrate-crop` with YuNet on FER2013 (training/configs/crop-calibration.json): the
# median framing of 3,000 upscaled train faces (side = 1.071 sqrt(box area), centre 1.3% of the
# side below the box's), the best reference on 1,800 validation scenes (0.588 top-face accuracy
# vs 0.529 for LEGACY). Eye-line alignment is off: +0.5 points on validation and -0.1 on the
# scene benchmark's test faces (benchmarks/results/photo-accuracy-v6.md), both inside the noise,
# so it did not earn its place.
CALIBRATED = CropPolicy(reference="sqrt_area", scale=1.071, shift_x=0.005, shift_y=0.013)
NAMED = {"legacy": LEGACY, "calibrated": CALIBRATED}


def resolve_policy(spec: str) -> CropPolicy:
    """A named policy ("calibrated", "legacy") or a JSON file: a policy, or a calibration report."""
    if spec in NAMED:
        return NAMED[spec]
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(spec).read_text())
    except (OSError, ValueError) as exc:
        raise CropPolicyError(
            f"crop policy {spec!r} is neither {sorted(NAMED)} nor a readable JSON file: {exc}"
        ) from None
    return CropPolicy.from_dict(data.get("winner_policy", data) if isinstance(data, dict) else data)


def policy_from_metadata(metadata: dict[str, Any]) -> CropPolicy:
    """The model's recorded policy, or LEGACY for a model exported before policies existed."""
    data = metadata.get(METADATA_KEY)
    return LEGACY if data is None else CropPolicy.from_dict(data)


def eye_angle(box: Detection) -> float | None:
    """Roll of the eye line in degrees (positive = clockwise in image coordinates), if known."""
    if not box.landmarks or len(box.landmarks) < 2:
        return None
    (ax, ay), (bx, by) = sorted(box.landmarks[:2])  # left-most eye first, whichever it is
    if bx - ax <= 0:
        return None
    return math.degrees(math.atan2(by - ay, bx - ax))


def crop_region(box: Detection, policy: CropPolicy) -> tuple[float, float, int]:
    """Centre (x, y) and side in image pixels of the square the policy takes for this box."""
    side = max(2, round(policy.reference_length(box) * policy.scale))
    cx = box.x + box.width / 2 + policy.shift_x * side
    cy = box.y + box.height / 2 + policy.shift_y * side
    return cx, cy, side


_BORDERS = {"edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "constant": cv2.BORDER_CONSTANT}
_NUMPY_PAD = {"edge": "edge", "reflect": "reflect", "constant": "constant"}


def crop_face(image: np.ndarray, box: Detection, policy: CropPolicy = LEGACY) -> np.ndarray:
    """The policy's square around the box at the image's own resolution, padded where it leaves it."""
    cx, cy, side = crop_region(box, policy)
    angle = eye_angle(box) if policy.align else None
    if angle is not None and 0.5 <= abs(angle) <= MAX_ALIGN_DEG:
        return _rotated_crop(image, cx, cy, side, angle, policy.pad)
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    height, width = image.shape[:2]
    crop = image[max(0, y0) : min(height, y0 + side), max(0, x0) : min(width, x0 + side)]
    pad = ((max(0, -y0), max(0, y0 + side - height)), (max(0, -x0), max(0, x0 + side - width)))
    if any(any(p) for p in pad):
        if crop.size == 0:  # the box lies wholly outside the image: nothing to extend
            crop = np.zeros((side, side, *image.shape[2:]), image.dtype)
        elif policy.pad == "reflect" and min(crop.shape[:2]) < 2:
            crop = np.pad(crop, pad + ((0, 0),) * (crop.ndim - 2), mode="edge")
        else:
            crop = _pad(crop, pad, policy.pad)
    return crop


def _pad(crop: np.ndarray, pad: tuple, mode: str) -> np.ndarray:
    """numpy padding; reflect is applied in rounds when the pad is wider than the crop."""
    extra = ((0, 0),) * (crop.ndim - 2)
    if mode != "reflect":
        return np.pad(crop, pad + extra, mode=_NUMPY_PAD[mode])
    while any(any(p) for p in pad):
        step = tuple((min(a, crop.shape[i] - 1), min(b, crop.shape[i] - 1)) for i, (a, b) in enumerate(pad))
        crop = np.pad(crop, step + extra, mode="reflect")
        pad = tuple((a - s[0], b - s[1]) for (a, b), s in zip(pad, step, strict=True))
    return crop


def _rotated_crop(image: np.ndarray, cx: float, cy: float, side: int, angle: float, pad: str) -> np.ndarray:
    """Rotate about the crop centre by the eye-line angle so the eyes come out level."""
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    matrix[0, 2] += side / 2 - cx
    matrix[1, 2] += side / 2 - cy
    return cv2.warpAffine(
        image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=_BORDERS[pad], borderValue=0
    )

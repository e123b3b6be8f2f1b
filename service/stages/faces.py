"""Stage 3, find faces: which regions of a decoded image are faces, as 48x48 model inputs.

contract.faces.find_faces does the work (photo evaluation and `--detect` training call it too);
this stage binds it to what the served model and the settings decide: the crop policy from the
model's metadata.json, the DETECTOR_* settings (settings_detector) and MIN_FACE_SIZE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract.crop import LEGACY, CropPolicy, CropPolicyError, policy_from_metadata
from contract.detect import Detector, make_detector
from contract.faces import FaceRegions, find_faces
from contract.modeldir import ModelDirError
from service.settings import Settings

log = logging.getLogger(__name__)


def settings_detector(settings: Settings, name: str | None = None) -> Detector:
    """The detector the DETECTOR_* settings describe (name overrides DETECTOR, as the video CLI's
    --detector does): the one place that maps those settings onto contract.detect."""
    return make_detector(
        name or settings.detector,
        settings.detector_confidence,
        settings.detector_retry_scale,
        settings.detector_max_side,
        settings.detector_runtime,
        settings.detector_third_scale,
        settings.detector_retry_min_share,
    )


@dataclass(frozen=True)
class Prepared:
    """One decoded image and its face regions: what this stage hands to classify and respond."""

    width: int
    height: int
    mode: str
    regions: FaceRegions


@dataclass(frozen=True)
class FaceFinder:
    """The detector and the crop policy of one worker, applied to every image and video frame."""

    detector: Detector
    policy: CropPolicy = LEGACY
    min_face_size: int = 0

    @classmethod
    def for_model(cls, settings: Settings, metadata: dict[str, Any], model: str = "model") -> FaceFinder:
        """The settings' detector with the model's crop policy; a bad crop_policy is a ModelDirError."""
        try:
            policy = policy_from_metadata(metadata)
        except CropPolicyError as exc:
            raise ModelDirError(f"{model}: {exc}") from None
        origin = "from metadata.json" if policy != LEGACY else "legacy"
        log.info("crop policy %s (%s)", policy.to_dict(), origin)
        return cls(settings_detector(settings), policy, settings.min_face_size)

    def __call__(self, image: np.ndarray, mode: str = "auto") -> FaceRegions:
        """The faces of one image or frame under detect=auto|always|never."""
        return find_faces(image, self.detector, mode, self.policy, self.min_face_size)

    def prepare(self, image: np.ndarray, mode: str = "auto") -> Prepared:
        """The faces of one decoded upload, with the image size the response reports."""
        return Prepared(width=image.shape[1], height=image.shape[0], mode=mode, regions=self(image, mode))

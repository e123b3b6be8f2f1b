"""Face regions: moved to the shared layer (contract.faces) so training and the CLI use the same path."""

from contract.faces import (
    CROP_MAX_SIDE,
    DETECT_MODES,
    MAX_FACES,
    SMALL_MAX_SIDE,
    FaceRegions,
    find_faces,
    sharpness,
    whole_image,
)

__all__ = [
    "CROP_MAX_SIDE",
    "DETECT_MODES",
    "MAX_FACES",
    "SMALL_MAX_SIDE",
    "FaceRegions",
    "find_faces",
    "sharpness",
    "whole_image",
]

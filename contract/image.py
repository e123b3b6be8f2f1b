"""How any image becomes model input: decode, 8-bit, grayscale, 48x48 uint8.

Training (`training.data`) and serving (`contract.faces.find_faces`) both call these
functions, so the two can never drift. Pixel scaling to [0, 1] is *not* done
here: it lives inside the model (a Rescaling layer), so the exported model takes
raw uint8 faces and no client can normalise differently.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

IMAGE_SIZE = 48
CHANNELS = 1
INPUT_DTYPE = "uint8"
# Names of the exported serving signature (TensorFlow Serving compatible).
SIGNATURE_NAME = "serving_default"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
DEFAULT_CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

# ANYDEPTH keeps 16-bit PNGs intact (we scale them ourselves); ANYCOLOR keeps
# grayscale as one channel. Unlike IMREAD_UNCHANGED this combination still
# applies the JPEG EXIF orientation, so a phone photo is upright.
_DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR


class ImageDecodeError(ValueError):
    """Bytes that are not a decodable still image."""


def decode_image(data: bytes) -> np.ndarray:
    """Decode encoded image bytes (jpg/png/bmp/webp) to a uint8 gray or BGR array."""
    if not data:
        raise ImageDecodeError("empty image data")
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, _DECODE_FLAGS)
    if image is None or image.size == 0:
        raise ImageDecodeError("data is not a decodable image (jpg, png, bmp or webp)")
    return to_uint8(image)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Bring 16-bit or float images to 8-bit without changing their look."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Convert a gray, BGR or BGRA uint8 array to a 2-D grayscale array."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ImageDecodeError(f"unsupported image shape {image.shape}")


def to_model_input(image: np.ndarray) -> np.ndarray:
    """Turn a face image (any size, gray/BGR/BGRA, 8/16-bit) into uint8 (48, 48, 1)."""
    gray = to_gray(to_uint8(image))
    height, width = gray.shape
    if (height, width) != (IMAGE_SIZE, IMAGE_SIZE):
        # INTER_AREA averages when shrinking (no aliasing); INTER_LINEAR when enlarging.
        shrinking = height > IMAGE_SIZE or width > IMAGE_SIZE
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=interpolation)
    return np.ascontiguousarray(gray, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE, CHANNELS)


def load_face(path: str | bytes) -> np.ndarray:
    """Read an image file that is already a face crop and return model input."""
    if isinstance(path, bytes):
        path = path.decode()
    with open(path, "rb") as handle:
        return to_model_input(decode_image(handle.read()))


def contract_dict() -> dict[str, Any]:
    """The input contract as recorded in model metadata and served by /metadata."""
    return {
        "image_size": IMAGE_SIZE,
        "channels": CHANNELS,
        "dtype": INPUT_DTYPE,
        "color": "grayscale",
        "value_range": [0, 255],
        "normalisation": "inside the model (Rescaling 1/255)",
        "resize": "cv2.resize, INTER_AREA when shrinking, INTER_LINEAR when enlarging",
        "signature": SIGNATURE_NAME,
        "input_name": INPUT_NAME,
        "input_shape": [None, IMAGE_SIZE, IMAGE_SIZE, CHANNELS],
        "output_name": OUTPUT_NAME,
    }

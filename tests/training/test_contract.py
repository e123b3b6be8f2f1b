"""The image contract: every input form becomes uint8 (48, 48, 1) the same way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from contract import IMAGE_SIZE, ImageDecodeError, decode_image, load_face, to_model_input
from tests.synthetic import encode, make_face


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((48, 48), np.uint8),
        np.zeros((48, 48, 1), np.uint8),
        np.zeros((100, 80, 3), np.uint8),
        np.zeros((30, 30, 4), np.uint8),
        np.zeros((64, 64), np.uint16),
        np.zeros((64, 64, 3), np.float32),
    ],
    ids=["gray48", "gray48x1", "bgr-large", "bgra-small", "gray16", "float"],
)
def test_to_model_input_shape_and_dtype(image: np.ndarray) -> None:
    out = to_model_input(image)
    assert out.shape == (IMAGE_SIZE, IMAGE_SIZE, 1)
    assert out.dtype == np.uint8


def test_48x48_gray_passes_through_unchanged() -> None:
    face = make_face(3, seed=1)
    np.testing.assert_array_equal(to_model_input(face)[:, :, 0], face)


def test_sixteen_bit_png_keeps_its_look() -> None:
    face = make_face(3, seed=2)
    png16 = encode(face.astype(np.uint16) * 257, ".png")
    np.testing.assert_array_equal(to_model_input(decode_image(png16))[:, :, 0], face)


def test_color_and_gray_versions_agree() -> None:
    face = make_face(5, seed=3)
    color = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(to_model_input(color), to_model_input(face))


def test_jpeg_exif_orientation_is_applied() -> None:
    # A 2x1-ratio image tagged "rotate 90": decoding must return it upright (1x2).
    wide = np.zeros((20, 40, 3), np.uint8)
    jpeg = bytearray(encode(wide, ".jpg"))
    exif = (
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01"
        b"\x00\x06\x00\x00\x00\x00\x00\x00"
    )
    segment = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
    tagged = bytes(jpeg[:2]) + segment + bytes(jpeg[2:])
    assert decode_image(tagged).shape[:2] == (40, 20)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20],
    ids=["empty", "text", "png-header-only"],
)
def test_undecodable_bytes_raise_typed_error(data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        decode_image(data)


def test_load_face_reads_files(tmp_path) -> None:
    path = tmp_path / "face.webp"
    path.write_bytes(encode(make_face(0, size=96, color=True), ".webp"))
    assert load_face(str(path)).shape == (48, 48, 1)
    assert load_face(str(path).encode()).shape == (48, 48, 1)

"""The decode stage: formats, header dimensions, limits before decode, EXIF, 16-bit, alpha."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from service.limits import Limits
from service.stages.decode import (
    ImageTooLarge,
    NotAnImage,
    TooManyPixels,
    UnsupportedImageFormat,
    decode,
    header_size,
    sniff_format,
)
from tests.support.payloads import png_claiming
from tests.synthetic import encode, make_face

LIMITS = Limits(image_bytes=10 * 1024 * 1024, pixels=10_000_000, batch_items=16, video_bytes=1)


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF APP1 segment carrying only the Orientation tag."""
    tiff = (
        b"MM\x00*"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(">I", 0)
    )
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\x00\x00" + tiff
    return jpeg[:2] + app1 + jpeg[2:]


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp"])
@pytest.mark.parametrize("shape", [(37, 53), (37, 53, 3)])
def test_header_size_matches_the_pixels(ext: str, shape: tuple[int, ...]) -> None:
    """Width and height read from the header equal the decoded size, for every accepted format."""
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    data = encode(image, ext)
    assert header_size(data, sniff_format(data)) == (53, 37)
    assert decode(data, LIMITS).shape[:2] == (37, 53)


def test_lossless_webp_header() -> None:
    """WebP has three header layouts; lossless (VP8L) is another code path."""
    data = encode(np.zeros((21, 34, 3), np.uint8), ".webp")
    lossless = cv2.imencode(".webp", np.zeros((21, 34, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])[1]
    for blob in (data, lossless.tobytes()):
        assert header_size(blob, "webp") == (34, 21)


def test_exif_orientation_is_applied() -> None:
    """A phone JPEG stored sideways (Orientation=6) comes out upright: width and height swap."""
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :10] = 255  # a white stripe on the left...
    upright = decode(with_exif_orientation(encode(image, ".jpg"), 6), LIMITS)
    assert upright.shape[:2] == (60, 40)
    assert upright[:8].mean() > 200 and upright[20:].mean() < 30  # ...is on top after rotating 90 degrees


def test_sixteen_bit_png_and_alpha_are_brought_to_8bit() -> None:
    """16-bit PNGs keep their look in 8 bits; an alpha channel does not break decoding."""
    sixteen = make_face(3).astype(np.uint16) * 257
    decoded = decode(encode(sixteen), LIMITS)
    assert decoded.dtype == np.uint8
    np.testing.assert_allclose(decoded.astype(int), make_face(3).astype(int), atol=1)
    bgra = cv2.cvtColor(make_face(3, color=True), cv2.COLOR_BGR2BGRA)
    assert decode(encode(bgra), LIMITS).shape[:2] == (48, 48)


def test_pixel_bomb_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """A header claiming 60000x60000 is refused without the full decode ever running."""
    monkeypatch.setattr("service.stages.decode.decode_image", lambda data: pytest.fail("decoded a bomb"))
    with pytest.raises(TooManyPixels):
        decode(png_claiming(60_000, 60_000), LIMITS)


def test_upload_size_limit() -> None:
    """Bytes over the upload limit are refused before anything else."""
    with pytest.raises(ImageTooLarge):
        decode(encode(make_face(0)), Limits(image_bytes=100, pixels=10**6, batch_items=1, video_bytes=1))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NotAnImage),
        (b"hello, not an image", NotAnImage),
        (b"GIF89a\x01\x00\x01\x00", UnsupportedImageFormat),
        (b"II*\x00" + bytes(20), UnsupportedImageFormat),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", NotAnImage),  # JPEG cut before its size
        (b"\x89PNG\r\n\x1a\n\x00\x00", NotAnImage),  # PNG without IHDR
        (png_claiming(0, 10), NotAnImage),
    ],
)
def test_bad_bytes_raise_typed_errors(data: bytes, error: type) -> None:
    """Garbage, truncated and foreign formats raise the decode stage's own errors, never an OpenCV crash
    (their status codes: tests/service/test_stages.py)."""
    with pytest.raises(error):
        decode(data, LIMITS)


def test_truncated_file_with_a_valid_header() -> None:
    """The header passes but the pixels are missing: still a clean 400."""
    data = encode(np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8))
    with pytest.raises(NotAnImage):
        decode(data[:60], LIMITS)

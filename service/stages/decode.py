"""Stage 2, decode: untrusted upload bytes -> image array, with every limit checked before the full decode.

The format is sniffed from magic bytes and the dimensions read from the file
header, so a decompression bomb (a small file claiming a huge canvas) is refused
without allocating it. Only the formats of the image contract are accepted: other
decoders inside OpenCV (TIFF, EXR, HDR, ...) never see client data.
"""

from __future__ import annotations

import struct

import numpy as np

from contract import ImageDecodeError, decode_image
from service.limits import Limits
from service.stages import StageError


class DecodeError(StageError):
    """The bytes are not an image this service decodes, or one over a limit."""


class NotAnImage(DecodeError):
    """Empty data, unknown magic bytes, a malformed header, or pixels that do not decode."""


class UnsupportedImageFormat(DecodeError):
    """A real image in a format outside the contract (gif, tiff, ico)."""


class ImageTooLarge(DecodeError):
    """More bytes than MAX_UPLOAD_MB."""


class TooManyPixels(DecodeError):
    """A canvas (claimed by the header, or decoded) over MAX_PIXELS."""


_OTHER_FORMATS = {b"GIF8": "gif", b"II*\0": "tiff", b"MM\0*": "tiff", b"\x00\x00\x01\x00": "ico"}


def sniff_format(data: bytes) -> str:
    """'jpeg', 'png', 'bmp' or 'webp' from the magic bytes; else UnsupportedImageFormat or NotAnImage."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    other = _OTHER_FORMATS.get(data[:4])
    if other:
        raise UnsupportedImageFormat(f"{other} images are not supported (use jpeg, png, bmp or webp)")
    raise NotAnImage("data is not a jpeg, png, bmp or webp image")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from the first SOFn segment."""
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise NotAnImage("truncated or malformed jpeg header")


def _webp_size(data: bytes) -> tuple[int, int]:
    """Width and height from a VP8, VP8L or VP8X chunk."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    raise NotAnImage("truncated or malformed webp header")


def header_size(data: bytes, kind: str) -> tuple[int, int]:
    """(width, height) as the file header claims them, without decoding pixels."""
    if kind == "jpeg":
        return _jpeg_size(data)
    if kind == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if kind == "bmp" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)  # negative height = top-down rows
    if kind == "webp":
        return _webp_size(data)
    raise NotAnImage(f"truncated or malformed {kind} header")


def decode(data: bytes, limits: Limits) -> np.ndarray:
    """Check size, format and pixel count, then decode to a uint8 gray/BGR array (EXIF-upright)."""
    max_bytes, max_pixels = limits.image_bytes, limits.pixels
    if not data:
        raise NotAnImage("empty image data")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image of {len(data)} bytes is over the {max_bytes} byte limit")
    kind = sniff_format(data)
    width, height = header_size(data, kind)
    if width * height > max_pixels:
        raise TooManyPixels(f"image of {width}x{height} pixels is over the {max_pixels} pixel limit")
    if width == 0 or height == 0:
        raise NotAnImage(f"{kind} header claims an empty {width}x{height} image")
    try:
        image = decode_image(data)
    except ImageDecodeError as exc:
        raise NotAnImage(str(exc)) from None
    if image.shape[0] * image.shape[1] > max_pixels:  # a header that lied
        raise TooManyPixels(f"decoded image is over the {max_pixels} pixel limit")
    return image

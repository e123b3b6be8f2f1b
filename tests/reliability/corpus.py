"""Hostile and broken image uploads, generated in code (no binaries in the repository).

Each builder returns the bytes a client might send as "an image". OpenCV writes the
ordinary formats; Pillow writes the ones OpenCV cannot (CMYK JPEG, animated GIF); the
decompression bomb is a real PNG assembled with zlib so it is tiny on disk.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

from tests.synthetic import encode, make_face


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG: width*height pixels in a file of a few kilobytes per 100 Mpx."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def noise(side: int, channels: int = 1) -> np.ndarray:
    """Incompressible pixels, so the encoded size grows with the side."""
    shape = (side, side) if channels == 1 else (side, side, channels)
    return np.random.default_rng(side).integers(0, 255, shape, dtype=np.uint8)


def truncated_jpeg() -> bytes:
    """A photo-sized JPEG cut inside its entropy-coded data (headers intact)."""
    data = encode(noise(200, 3), ".jpg")
    return data[: len(data) // 2]


def jpeg_cut_in_header() -> bytes:
    """A JPEG cut before its frame header: the size cannot even be read."""
    return encode(make_face(2), ".jpg")[:20]


def png_broken_crc() -> bytes:
    """A PNG whose image-data chunk fails its CRC (flipped checksum byte)."""
    data = bytearray(encode(make_face(4)))
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    data[idat + 4 + length] ^= 0xFF
    return bytes(data)


def pillow_bytes(image, fmt: str, **options) -> bytes:
    """Save a Pillow image to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def cmyk_jpeg() -> bytes:
    """A four-channel Adobe CMYK JPEG, as print workflows and some scanners produce."""
    from PIL import Image

    rgb = Image.fromarray(make_face(3, 96, seed=2, color=True)[:, :, ::-1])
    return pillow_bytes(rgb.convert("CMYK"), "JPEG", quality=90)


def animated_gif() -> bytes:
    """A two-frame animated GIF."""
    from PIL import Image

    frames = [Image.fromarray(make_face(i, seed=i)) for i in (3, 5)]
    return pillow_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def svg() -> bytes:
    """A vector image (XML text): not a raster format the service decodes."""
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="48" height="48">'
        b'<circle cx="24" cy="24" r="20" fill="gray"/></svg>'
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is patched to claim another size."""
    data = bytearray(encode(make_face(1), ".jpg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def over_upload_limit(limit_bytes: int) -> bytes:
    """A valid PNG just over the given byte limit."""
    side = int((limit_bytes * 1.1) ** 0.5) + 8
    return encode(noise(side))

"""Request bodies the tests send: crops, a real photo, forms, base64, hostile headers."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

import numpy as np

from tests.synthetic import encode, make_face


def crop(index: int, ext: str = ".png") -> bytes:
    """A synthetic 48x48 face crop."""
    return encode(make_face(index % 7, seed=100 + index, color=ext == ".jpg"), ext)


def astronaut_jpeg() -> bytes:
    """A real photo with one face (scikit-image's astronaut) as JPEG."""
    import cv2
    from skimage import data

    return encode(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), ".jpg")


def png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose IHDR is patched to claim another size (a decompression-bomb header)."""
    data = bytearray(encode(np.zeros((8, 8), np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    return bytes(data)


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode()


def upload(data: bytes, name: str = "face.png", field: str = "image") -> dict:
    """A multipart form for the Flask test client."""
    return {field: (io.BytesIO(data), name)}


def post_video(client, path: Path, query: str = "", field: str = "video"):
    """Upload a clip as multipart with the Flask test client."""
    return client.post(f"/predict/video{query}", data={field: (io.BytesIO(path.read_bytes()), path.name)})

"""Which container an upload is, from its magic bytes, and which codec its header names.

Only the containers below reach OpenCV's FFmpeg: anything else (playlists, images, text)
is refused before a demuxer sees it, as the image path refuses formats outside the contract.
"""

from __future__ import annotations

import re
from pathlib import Path

# name -> file extension used for the temporary copy (FFmpeg also looks at the extension).
CONTAINERS = {"mp4": ".mp4", "matroska": ".mkv", "avi": ".avi"}
ACCEPTED = "mp4/mov, webm/mkv or avi"
_IMAGES = {b"\xff\xd8\xff": "jpeg", b"\x89PNG": "png", b"GIF8": "gif", b"BM": "bmp"}
_MKV_CODEC = re.compile(rb"V_[A-Z0-9/_.]{2,30}")
HEADER_BYTES = 64 * 1024


def sniff_container(head: bytes) -> str | None:
    """'mp4', 'matroska' or 'avi' from the first bytes; None when it is none of them."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def image_format(head: bytes) -> str | None:
    """The image format when someone sent a still image instead of a video."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((name for magic, name in _IMAGES.items() if head.startswith(magic)), None)


def codec_hint(path: Path) -> str | None:
    """The video codec the container header names (e.g. 'MJPG', 'avc1', 'V_VP9'), if it is found."""
    with path.open("rb") as file:
        head = file.read(HEADER_BYTES)
        try:
            file.seek(-HEADER_BYTES, 2)  # an mp4 written in one pass keeps its header (moov) at the end
            tail = file.read()
        except OSError:
            tail = b""
    for data in (head, tail):
        at = data.find(b"strh")  # AVI stream header: size, 'vids', then the handler fourcc
        if at >= 0 and data[at + 8 : at + 12] == b"vids":
            return _fourcc(data[at + 12 : at + 16])
        at = data.find(b"stsd")  # mp4 sample description: version, count, size, then the format
        if at >= 0:
            return _fourcc(data[at + 16 : at + 20])
        found = _MKV_CODEC.search(data)
        if found:
            return found.group().decode()
    return None


def _fourcc(raw: bytes) -> str | None:
    """Printable fourcc text, or None for garbage."""
    text = raw.decode("latin-1")
    return text if len(text) == 4 and text.isprintable() and text.strip() else None

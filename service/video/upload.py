"""The uploaded video as a temporary file (OpenCV reads files, not bytes), always removed afterwards.

The body is streamed to disk in chunks and counted, so MAX_VIDEO_MB is enforced while reading;
the first bytes decide whether it is a container the service accepts before anything decodes it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from service.errors import Invalid, UnsupportedMedia
from service.video.container import ACCEPTED, CONTAINERS, image_format, sniff_container
from service.video.errors import BadVideo, VideoTooLarge

FIELDS = ("video", "file")
CHUNK = 1024 * 1024
PREFIX = "emotion-video-"


def _body(request: Request) -> IO[bytes]:
    """The stream holding the video: multipart field 'video' (or 'file'), or a raw video/* body."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        for name in FIELDS:
            if name in request.files:
                return request.files[name].stream
        raise Invalid("multipart request has no video", details={"video": ["Missing file field 'video'."]})
    if mimetype.startswith("video/") or mimetype == "application/octet-stream":
        return request.stream
    raise UnsupportedMedia(
        f"content type {mimetype or '(none)'!r} is not accepted; send multipart/form-data with field "
        "'video', or a raw video/* body"
    )


def _check_head(head: bytes) -> str:
    """The container name; a clear 400/415 for empty bodies, images and everything else."""
    if not head:
        raise BadVideo("empty video upload")
    container = sniff_container(head)
    if container:
        return container
    image = image_format(head)
    if image:
        raise UnsupportedMedia(
            f"this is a {image} image, not a video: send images to /predict", code="unsupported_video_format"
        )
    raise BadVideo(f"data is not an {ACCEPTED} video")


def _too_large(max_bytes: int) -> VideoTooLarge:
    """The 413 for an upload over MAX_VIDEO_MB."""
    return VideoTooLarge(f"video upload is over the {max_bytes / 2**20:g} MB limit (MAX_VIDEO_MB)")


@contextmanager
def video_upload(request: Request, max_bytes: int) -> Iterator[Path]:
    """Yield the upload as a temporary file with its container's extension; the file is removed on exit."""
    try:
        stream = _body(request)
        head = stream.read(64)
    except RequestEntityTooLarge:  # Werkzeug stops reading at request.max_content_length
        raise _too_large(max_bytes) from None
    container = _check_head(head)
    handle, name = tempfile.mkstemp(prefix=PREFIX, suffix=CONTAINERS[container])
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            size = len(head)
            out.write(head)
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes)
                out.write(chunk)
        yield path
    except RequestEntityTooLarge:
        raise _too_large(max_bytes) from None
    finally:
        path.unlink(missing_ok=True)

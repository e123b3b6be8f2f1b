"""Test videos made on the fly (nothing binary committed): real faces shown for known durations.

The faces are scikit-image's astronaut portrait (Eileen Collins, public domain), which YuNet
finds reliably, and its mirror image, pasted on a plain background. A clip is a list of
scenes: (seconds, [(face, x, y), ...]); each scene's frames are identical, so a still face
has one true answer per scene.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import cv2
import numpy as np

SIZE = (320, 240)  # width, height
FACE_SIDE = 150
# fourcc and extension of every format these tests write with OpenCV (read back by the same wheel).
OPENCV_FORMATS = {"avi-mjpg": ("MJPG", ".avi"), "mp4-mp4v": ("mp4v", ".mp4"), "webm-vp8": ("VP80", ".webm")}
Scene = tuple[float, list[tuple[np.ndarray, int, int]]]


@cache
def face(side: int = FACE_SIDE, mirrored: bool = False) -> np.ndarray:
    """The astronaut portrait (BGR) scaled to side x side, optionally mirrored."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    photo = photo[:, ::-1] if mirrored else photo
    return cv2.resize(np.ascontiguousarray(photo), (side, side), interpolation=cv2.INTER_AREA)


def compose(faces: list[tuple[np.ndarray, int, int]], size: tuple[int, int] = SIZE) -> np.ndarray:
    """One frame: the faces pasted at (x, y) on a gray background."""
    frame = np.full((size[1], size[0], 3), 90, np.uint8)
    for image, x, y in faces:
        h, w = image.shape[:2]
        frame[y : y + h, x : x + w] = image
    return frame


def frames(scenes: list[Scene], fps: float, size: tuple[int, int] = SIZE) -> Iterator[np.ndarray]:
    """Every frame of the clip, scene after scene (round(seconds * fps) frames per scene)."""
    for seconds, faces in scenes:
        image = compose(faces, size)
        for _ in range(round(seconds * fps)):
            yield image


def write_clip(
    path: Path, scenes: list[Scene], fps: float = 10.0, fmt: str = "avi-mjpg", size: tuple[int, int] = SIZE
) -> Path:
    """Write the clip with cv2.VideoWriter in one of OPENCV_FORMATS."""
    fourcc, ext = OPENCV_FORMATS[fmt]
    path = path.with_suffix(ext)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fmt}"
    for image in frames(scenes, fps, size):
        writer.write(image)
    writer.release()
    return path


def write_h264(path: Path, scenes: list[Scene], fps: float = 10.0, size: tuple[int, int] = SIZE) -> Path:
    """An H.264 mp4 via imageio-ffmpeg's bundled ffmpeg (OpenCV wheels decode H.264, cannot encode it)."""
    import imageio_ffmpeg

    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
        "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(path.with_suffix(".mp4")),
    ]  # fmt: skip
    data = b"".join(image.tobytes() for image in frames(scenes, fps, size))
    subprocess.run(command, input=data, check=True, capture_output=True)
    return path.with_suffix(".mp4")


def one_face(seconds: float = 3.0) -> list[Scene]:
    """A still face in the middle for the whole clip."""
    return [(seconds, [(face(), 85, 45)])]


def two_faces(seconds: float = 3.0) -> list[Scene]:
    """Two faces side by side (the second mirrored), still, for the whole clip."""
    return [(seconds, [(face(140), 10, 50), (face(140, mirrored=True), 170, 50)])]


def leaves_and_returns(before: float = 2.0, away: float = 2.0, after: float = 2.0) -> list[Scene]:
    """A face, then an empty background, then the face again at the same place."""
    return [(before, [(face(), 85, 45)]), (away, []), (after, [(face(), 85, 45)])]


# Broken and hostile uploads for /predict/video, built from real clips (nothing binary committed).
def clip_bytes(
    folder: Path, fmt: str = "avi-mjpg", seconds: float = 2.0, frames_per_s: float = 10.0
) -> bytes:
    """A real one-face clip's bytes."""
    return write_clip(folder / f"corpus-{fmt}-{seconds:g}", one_face(seconds), frames_per_s, fmt).read_bytes()


def truncated(data: bytes, fraction: float) -> bytes:
    """The first fraction of a file, as an interrupted upload or copy leaves it."""
    return data[: int(len(data) * fraction)]


def unknown_codec_avi(folder: Path) -> bytes:
    """A valid AVI whose stream claims a codec no decoder knows ('ZZZZ')."""
    return clip_bytes(folder).replace(b"MJPG", b"ZZZZ")


def zero_frame_avi(folder: Path) -> bytes:
    """An AVI container with a video stream and no frames (a recorder stopped at once)."""
    path = folder / "zero.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, SIZE)
    writer.release()
    return path.read_bytes()


def make_clip(folder: Path, name: str, scenes: list, fmt: str = "avi-mjpg", fps: float = 10.0) -> Path:
    """Write and return a clip; fmt 'mp4-h264' goes through imageio-ffmpeg (skips when it is missing)."""
    if fmt == "mp4-h264":
        import pytest

        if importlib.util.find_spec("imageio_ffmpeg") is None:
            pytest.skip("imageio-ffmpeg is not installed (pip install -e '.[dev]')")
        return write_h264(folder / f"{name}-{fmt}", scenes, fps)
    return write_clip(folder / f"{name}-{fmt}", scenes, fps, fmt)


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame as OpenCV decodes it (what the service sees, compression and all)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)

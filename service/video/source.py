"""Reading a video with OpenCV: what its container claims, then frames sampled at a rate, one at a time.

Frames are grabbed one by one and only the sampled ones are converted to images, so memory
holds one frame whatever the length. Times come from the frame index and the container's
frame rate (exact for constant-rate files, which is what cameras and encoders write); the
decoder's own timestamp is used only when the container gives no usable rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from service.video.container import codec_hint
from service.video.errors import BadVideo, UnreadableVideo

DEFAULT_FPS = 4.0
MAX_CONTAINER_FPS = 1000.0  # above this the container's rate is junk (some webm report 1000+)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says before any frame is decoded (frame_count 0 = unknown)."""

    width: int
    height: int
    fps: float | None
    frame_count: int
    codec: str | None

    @property
    def duration_s(self) -> float | None:
        """frame_count / fps, when both are known."""
        return self.frame_count / self.fps if self.fps and self.frame_count > 0 else None


@dataclass(frozen=True)
class Frame:
    """One sampled frame: its index in the file, its time and its pixels (BGR uint8)."""

    index: int
    time_s: float
    image: np.ndarray


def _fourcc(capture: cv2.VideoCapture) -> str | None:
    """The decoder's fourcc as text, None when it gives none."""
    value = int(capture.get(cv2.CAP_PROP_FOURCC))
    text = value.to_bytes(4, "little").decode("latin-1") if value > 0 else ""
    return text if text.isprintable() and text.strip() else None


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open with OpenCV's FFmpeg backend; UnreadableVideo when it cannot (damaged or unknown codec)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        codec = codec_hint(Path(path))
        what = f" (its header names codec {codec!r})" if codec else ""
        raise UnreadableVideo(
            f"OpenCV cannot open this video{what}: the file is truncated or damaged, has no frames, "
            "or uses a codec this build cannot decode"
        )
    fps = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=fps if 0 < fps <= MAX_CONTAINER_FPS and math.isfinite(fps) else None,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        codec=_fourcc(capture) or codec_hint(Path(path)),
    )
    return capture, info


@dataclass
class Sampler:
    """Iterates the sampled frames of an open capture; afterwards says how far it got and why it stopped.

    fps=None samples every frame. Limits stop it early and name themselves in `stopped`:
    max_seconds (video time), max_sampled (frames yielded) and max_decoded (frames grabbed at
    all, since a header can lie about its rate); "end" when the file ran out.
    """

    capture: cv2.VideoCapture
    info: VideoInfo
    fps: float | None = DEFAULT_FPS
    max_seconds: float | None = None
    max_sampled: int | None = None
    max_decoded: int | None = None
    decoded: int = 0
    sampled: int = 0
    failed: int = 0
    last_time_s: float = 0.0
    stopped: str = ""  # "end", "max_seconds", "max_sampled" or "max_decoded"

    @property
    def complete(self) -> bool:
        """Did it reach the end, with every frame the header promised (False: truncated or limited)?"""
        return self.stopped == "end" and self.decoded >= self.info.frame_count

    def _time(self, index: int) -> float:
        """Seconds from the start for frame `index`."""
        if self.info.fps:
            return index / self.info.fps
        return max(0.0, self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)

    def __iter__(self) -> Iterator[Frame]:
        """Grab every frame, decode only the sampled ones; the capture is released at the end."""
        step = 1.0 / self.fps if self.fps else 0.0
        next_time = 0.0
        try:
            while True:
                if self.max_decoded is not None and self.decoded >= self.max_decoded:
                    self.stopped = "max_decoded"
                    return
                if not self.capture.grab():
                    self.stopped = "end"
                    return
                index, self.decoded = self.decoded, self.decoded + 1
                time_s = self._time(index)
                if self.max_seconds is not None and time_s >= self.max_seconds:
                    self.stopped = "max_seconds"
                    return
                self.last_time_s = time_s
                if time_s + 1e-6 < next_time:
                    continue
                if self.max_sampled is not None and self.sampled >= self.max_sampled:
                    self.stopped = "max_sampled"
                    return
                ok, image = self.capture.retrieve()
                if not ok or image is None:
                    self.failed += 1
                    continue
                # The next sample is due one step later; a video slower than fps gives every frame.
                next_time = step * (math.floor(time_s / step + 1e-6) + 1) if step else 0.0
                self.sampled += 1
                yield Frame(index, time_s, image)
        finally:
            self.capture.release()


def check_decodable(sampler: Sampler) -> None:
    """After sampling: BadVideo for a file without frames, UnreadableVideo when none decoded."""
    if sampler.sampled:
        return
    if sampler.decoded == 0 and sampler.info.frame_count == 0:
        raise BadVideo("the video has no frames", code="empty_video")
    codec = f" ({sampler.info.codec})" if sampler.info.codec else ""
    raise UnreadableVideo(
        f"no frame of this video could be decoded{codec}: damaged file or unsupported codec"
    )

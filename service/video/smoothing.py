"""Smoothed labels per track, computed while streaming, so one odd frame does not flip a timeline.

median: per class, the median of the track's probabilities over a centred window of sampled
frames; a frame is final once `window // 2` later frames have arrived (bounded delay and memory).
ema: an exponential moving average per track (causal, no delay, lags behind changes).
none: the smoothed label is the frame's own label.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from contract.detect import Detection

SMOOTHING = ("median", "ema", "none")
DEFAULT_WINDOW = 5
DEFAULT_ALPHA = 0.5


@dataclass
class FaceResult:
    """One face of one sampled frame: its track, box, own probabilities and smoothed probabilities."""

    track_id: int
    box: Detection
    probabilities: np.ndarray
    smoothed: np.ndarray | None = None
    sharpness: float | None = None  # as /predict reports it: variance of the Laplacian of the input


@dataclass
class FrameResult:
    """Every face of one sampled frame (the image is kept only when an annotated video is written)."""

    index: int
    time_s: float
    faces: list[FaceResult]
    image: np.ndarray | None = field(default=None, repr=False)


class Smoother:
    """push(frame) yields the frames whose smoothed values are final; flush() yields the rest."""

    def __init__(self, method: str = "median", window: int = DEFAULT_WINDOW, alpha: float = DEFAULT_ALPHA):
        if method not in SMOOTHING:
            raise ValueError(f"smoothing must be one of {SMOOTHING}")
        if window < 1 or window % 2 == 0:
            raise ValueError("the median window must be an odd number >= 1")
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.method, self.alpha = method, alpha
        self.half = window // 2 if method == "median" else 0
        self._frames: deque[FrameResult] = deque()
        self._done = 0  # how many frames of _frames are already final (the left context)
        self._ema: dict[int, np.ndarray] = {}

    def push(self, frame: FrameResult) -> Iterator[FrameResult]:
        """Add the next frame (in time order)."""
        if self.method != "median":
            for face in frame.faces:
                face.smoothed = self._ema_step(face) if self.method == "ema" else face.probabilities
            yield frame
            return
        self._frames.append(frame)
        while len(self._frames) - self._done > self.half:
            yield self._finish(self._done)

    def flush(self) -> Iterator[FrameResult]:
        """The frames still waiting for right context (end of the video)."""
        while self._done < len(self._frames):
            yield self._finish(self._done)

    def _finish(self, position: int) -> FrameResult:
        """Median over the window around frames[position]; then drop context nobody needs any more."""
        frame = self._frames[position]
        window = list(self._frames)[max(0, position - self.half) : position + self.half + 1]
        for face in frame.faces:
            rows = [f.probabilities for other in window for f in other.faces if f.track_id == face.track_id]
            face.smoothed = np.median(np.stack(rows), axis=0)
        self._done += 1
        while self._done > self.half:
            self._frames.popleft()
            self._done -= 1
        return frame

    def _ema_step(self, face: FaceResult) -> np.ndarray:
        """The track's running average after this face."""
        previous = self._ema.get(face.track_id)
        value = (
            face.probabilities
            if previous is None
            else self.alpha * face.probabilities + (1 - self.alpha) * previous
        )
        self._ema[face.track_id] = value
        return value

"""The video pipeline: sampled frames -> the /predict face step -> batched model -> tracks -> sinks.

Memory stays bounded: a frame's pixels are dropped once its faces are cropped (or once it is
drawn, with --annotate), a RowBudget bounds the face crops waiting for the model, and finished
frames go straight to the sinks (CSV, JSON, annotated video), which write them out.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from contract.crop import LEGACY, CropPolicy
from contract.detect import Detector
from contract.faces import FaceRegions
from service.batcher import QueueFull
from service.stages.faces import FaceFinder
from service.video.smoothing import DEFAULT_ALPHA, DEFAULT_WINDOW, FaceResult, FrameResult, Smoother
from service.video.source import DEFAULT_FPS, Frame, Sampler
from service.video.summary import Summaries
from service.video.tracker import DEFAULT_MAX_GAP_S, Tracker

Submit = Callable[[np.ndarray], list[Future]]
FindFaces = Callable[[np.ndarray], FaceRegions]


@dataclass(frozen=True)
class Options:
    """How to sample, detect, track and smooth; the CLI flags and the HTTP query map onto these."""

    fps: float | None = DEFAULT_FPS  # None: every frame
    max_seconds: float | None = None
    detect: str = "auto"
    smoothing: str = "median"
    window: int = DEFAULT_WINDOW
    alpha: float = DEFAULT_ALPHA
    max_gap_s: float = DEFAULT_MAX_GAP_S

    def to_dict(self) -> dict[str, Any]:
        """The options as recorded in tracks.json and the HTTP answer."""
        return {
            "fps": self.fps,
            "every_frame": self.fps is None,
            "max_seconds": self.max_seconds,
            "detect": self.detect,
            "smoothing": self.smoothing,
            "window": self.window if self.smoothing == "median" else None,
            "alpha": self.alpha if self.smoothing == "ema" else None,
            "max_gap_s": self.max_gap_s,
        }


class Sink(Protocol):
    """Where finished frames go (in time order)."""

    def frame(self, frame: FrameResult) -> None:
        """Take one finished frame."""


def face_finder(
    detector: Detector, mode: str, policy: CropPolicy = LEGACY, min_face_size: int = 0
) -> FindFaces:
    """The find-faces stage of /predict for the CLI's frames (the HTTP path uses its Engine.faces)."""
    finder = FaceFinder(detector, policy, min_face_size)
    return lambda image: finder(image, mode)


class RowBudget:
    """Face crops that video work may have waiting in a batcher at once, shared by every video
    request of a worker: image requests always find the rest of the queue free."""

    def __init__(self, rows: int) -> None:
        self.rows = self.free = max(1, rows)
        self._changed = threading.Condition()

    def acquire(self, count: int, timeout: float | None = 0.0) -> bool:
        """Take count rows (at most the whole budget), waiting up to timeout; False if they never came."""
        count = min(count, self.rows)
        with self._changed:
            if not self._changed.wait_for(lambda: self.free >= count, timeout):
                return False
            self.free -= count
            return True

    def release(self, count: int) -> None:
        """Give rows back."""
        with self._changed:
            self.free = min(self.rows, self.free + min(count, self.rows))
            self._changed.notify_all()


class _Inflight:
    """Frames whose crops are with the model, oldest first, within the row budget."""

    def __init__(
        self, submit: Submit, budget: RowBudget, timeout: float | None, done: Callable[[FrameResult], None]
    ) -> None:
        self.submit, self.budget, self.timeout, self.done = submit, budget, timeout, done
        self.pending: deque[tuple[FrameResult, list[Future]]] = deque()

    def add(self, frame: FrameResult, inputs: np.ndarray) -> None:
        """Queue a frame's crops; while the budget or the queue is full, first finish our oldest frames."""
        count = len(inputs)
        while count and not self.budget.acquire(count):
            if self.pending:
                self.settle_oldest()
            elif self.budget.acquire(count, self.timeout):
                break
            else:  # other video requests hold the whole budget for longer than a model call may take
                raise TimeoutError("no room for video frames in the inference queue")
        while True:
            try:
                futures = self.submit(inputs) if count else []
                break
            except QueueFull:  # the queue is full of other requests' faces: make room from our side
                if not self.pending:
                    self.budget.release(count)
                    raise
                self.settle_oldest()
            except BaseException:
                self.budget.release(count)
                raise
        self.pending.append((frame, futures))

    def settle_oldest(self) -> None:
        """Wait for the oldest frame's probabilities and hand the frame on."""
        frame, futures = self.pending.popleft()
        try:
            for face, future in zip(frame.faces, futures, strict=True):
                face.probabilities = np.asarray(future.result(timeout=self.timeout))
        finally:
            self.budget.release(len(futures))
        self.done(frame)

    def drain(self) -> None:
        """Settle everything still pending."""
        while self.pending:
            self.settle_oldest()

    def cancel(self) -> None:
        """Give up on pending crops (an error): the batcher skips cancelled items."""
        for _frame, futures in self.pending:
            for future in futures:
                future.cancel()
            self.budget.release(len(futures))
        self.pending.clear()


def analyze(
    frames: Iterable[Frame],
    find: FindFaces,
    submit: Submit,
    class_names: Sequence[str],
    options: Options,
    sinks: Sequence[Sink] = (),
    *,
    timeout: float | None = None,
    budget: RowBudget | None = None,
    keep_images: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> Summaries:
    """Run the whole pipeline over the frames; returns the per-track summaries."""
    tracker = Tracker(options.max_gap_s)
    smoother = Smoother(options.smoothing, options.window, options.alpha)
    summaries = Summaries(list(class_names))

    def finish(frame: FrameResult) -> None:
        """A frame with final smoothed values: count it, write it, drop its pixels."""
        summaries.add(frame.time_s, frame.faces)
        for sink in sinks:
            sink.frame(frame)
        frame.image = None

    inflight = _Inflight(
        submit, budget or RowBudget(256), timeout, lambda f: [finish(d) for d in smoother.push(f)]
    )
    try:
        for frame in frames:
            regions = find(frame.image)
            ids = tracker.update(frame.time_s, regions.faces)
            empty = np.zeros(0, np.float32)
            faces = [
                FaceResult(i, box, empty, sharpness=sharp)
                for i, box, sharp in zip(ids, regions.faces, regions.sharpness, strict=True)
            ]
            image = frame.image if keep_images else None
            inflight.add(FrameResult(frame.index, frame.time_s, faces, image), regions.inputs)
            if on_frame:
                on_frame()
        inflight.drain()
    except BaseException:
        inflight.cancel()
        raise
    for frame in smoother.flush():
        finish(frame)
    return summaries


def video_block(sampler: Sampler, options: Options) -> dict[str, Any]:
    """What the video is and how much of it was analysed (for tracks.json and the HTTP answer)."""
    info = sampler.info
    return {
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3) if info.fps else None,
        "frame_count": info.frame_count or None,
        "duration_s": round(info.duration_s, 3) if info.duration_s else None,
        "codec": info.codec,
        "sample_fps": options.fps if options.fps else (round(info.fps, 3) if info.fps else None),
        "frames_decoded": sampler.decoded,
        "frames_sampled": sampler.sampled,
        "analysed_s": round(sampler.last_time_s, 3),
        "stopped_by": sampler.stopped,
        "complete": sampler.complete,
    }

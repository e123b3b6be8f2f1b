"""The video building blocks without a model: container sniffing, sampling, tracking, smoothing, summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contract.detect import Detection
from service.video.container import codec_hint, image_format, sniff_container
from service.video.smoothing import FaceResult, FrameResult, Smoother
from service.video.source import Sampler, open_video
from service.video.summary import Summaries
from service.video.tracker import Tracker
from tests import videos
from tests.videos import make_clip

NAMES = ["a", "b", "c"]


@pytest.mark.parametrize("fmt", [*videos.OPENCV_FORMATS, "mp4-h264"])
def test_every_written_format_is_read_back(clip_dir: Path, fmt: str) -> None:
    """Each container/codec the tests use opens with its real size, rate, frame count and codec."""
    path = make_clip(clip_dir, "formats", videos.one_face(2.0), fmt)
    capture, info = open_video(path)
    frames = list(Sampler(capture, info, fps=None))
    assert (info.width, info.height, info.fps, info.frame_count) == (*videos.SIZE, 10.0, 20)
    assert len(frames) == 20 and info.codec
    assert (
        sniff_container(path.read_bytes()[:64])
        == {".avi": "avi", ".mp4": "mp4", ".webm": "matroska"}[path.suffix]
    )


@pytest.mark.parametrize(
    ("fps", "expected"),
    [
        (None, [i / 10 for i in range(30)]),
        (4.0, [0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0, 2.3, 2.5, 2.8]),
    ],
)
def test_sampling_times(one_face_clip: Path, fps: float | None, expected: list[float]) -> None:
    """4 fps on a 10 fps clip takes the first frame at or after every quarter second; None takes all."""
    capture, info = open_video(one_face_clip)
    sampler = Sampler(capture, info, fps=fps)
    times = [round(frame.time_s, 3) for frame in sampler]
    assert times == pytest.approx(expected)
    assert sampler.stopped == "end" and sampler.complete and sampler.decoded == 30


@pytest.mark.parametrize(
    ("limits", "stopped", "sampled"),
    [
        ({"max_seconds": 1.0}, "max_seconds", 4),
        ({"max_sampled": 3}, "max_sampled", 3),
        ({"max_decoded": 5}, "max_decoded", 2),
    ],
)
def test_sampling_limits_stop_decoding(one_face_clip: Path, limits: dict, stopped: str, sampled: int) -> None:
    """Each limit stops the decoding where it says and marks the result incomplete."""
    capture, info = open_video(one_face_clip)
    sampler = Sampler(capture, info, fps=4.0, **limits)
    assert len(list(sampler)) == sampled
    assert sampler.stopped == stopped and not sampler.complete
    assert sampler.decoded < 30


def test_sniffing_and_codec_hints(clip_dir: Path) -> None:
    """Magic bytes name the container; the header names the codec (even one no decoder knows)."""
    avi = make_clip(clip_dir, "sniff", videos.one_face(1.0))
    assert codec_hint(avi) == "MJPG"
    patched = clip_dir / "zzzz.avi"
    patched.write_bytes(avi.read_bytes().replace(b"MJPG", b"ZZZZ"))
    assert codec_hint(patched) == "ZZZZ"
    assert sniff_container(b"\x1a\x45\xdf\xa3" + bytes(60)) == "matroska"
    assert sniff_container(b"hello world, not a video at all") is None
    assert (
        image_format(b"\x89PNG\r\n\x1a\n" + bytes(8)) == "png"
        and image_format(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    )


def box(x: int, y: int = 50, side: int = 60) -> Detection:
    """A square face box."""
    return Detection(x, y, side, side, 0.9)


def test_tracker_follows_two_moving_faces_and_keeps_ids_apart() -> None:
    """Two faces drifting right keep their ids, whichever order the detector lists them in."""
    tracker = Tracker(max_gap_s=1.0)
    assert tracker.update(0.0, [box(10), box(200)]) == [1, 2]
    assert tracker.update(0.25, [box(215), box(25)]) == [2, 1]
    assert tracker.update(0.5, [box(40), box(230)]) == [1, 2]


def test_tracker_gap_ends_a_track() -> None:
    """A face gone for less than max_gap keeps its id; gone for longer, it gets a new one."""
    tracker = Tracker(max_gap_s=1.0)
    assert tracker.update(0.0, [box(10)]) == [1]
    assert tracker.update(0.9, [box(12)]) == [1]  # 0.9 s gap: same track
    assert tracker.update(2.5, [box(12)]) == [2]  # 1.6 s gap: a new track
    assert tracker.update(2.75, [box(300)]) == [3]  # far away: another face


def test_tracker_accepts_a_fast_move_without_overlap() -> None:
    """Little overlap but a close centre and similar size is the same face; a different size is not."""
    tracker = Tracker()
    tracker.update(0.0, [box(100)])
    assert tracker.update(0.25, [box(140)]) == [1]  # moved 40 px: IoU 0.2, centre 0.67 sides away
    assert tracker.update(0.5, [box(140, side=200)]) == [2]


def frame(index: int, probs: list[list[float]], track_ids: list[int] | None = None) -> FrameResult:
    """A finished-by-the-model frame with faces of given probabilities."""
    ids = track_ids or list(range(1, len(probs) + 1))
    faces = [FaceResult(t, box(10 * t), np.array(p)) for t, p in zip(ids, probs, strict=True)]
    return FrameResult(index, index / 4, faces)


def smooth(method: str, rows: list[list[float]], **kwargs) -> list[int]:
    """Smoothed argmax per frame of a one-track sequence."""
    smoother = Smoother(method, **kwargs)
    out = [f for i, r in enumerate(rows) for f in smoother.push(frame(i, [r]))] + list(smoother.flush())
    assert [f.index for f in out] == list(range(len(rows)))  # every frame once, in order
    return [int(np.argmax(f.faces[0].smoothed)) for f in out]


A, B = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        ("median", {"window": 5}, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]),  # the lone B at frame 2 is outvoted
        ("median", {"window": 1}, [0, 0, 1, 0, 0, 0, 1, 1, 1, 1]),  # window 1 = no smoothing
        ("ema", {"alpha": 0.3}, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]),  # causal: the change shows a frame late
        ("none", {}, [0, 0, 1, 0, 0, 0, 1, 1, 1, 1]),
    ],
)
def test_smoothing_removes_a_one_frame_flip(method: str, kwargs: dict, expected: list[int]) -> None:
    """A lone misclassified frame does not flip the smoothed label; a lasting change does."""
    assert smooth(method, [A, A, B, A, A, A, B, B, B, B], **kwargs) == expected


def test_median_only_uses_the_faces_own_track() -> None:
    """Another face in the same frames does not leak into a track's median."""
    smoother = Smoother("median", window=3)
    frames = [frame(i, [A, B]) for i in range(4)]
    out = [f for fr in frames for f in smoother.push(fr)] + list(smoother.flush())
    assert [[int(np.argmax(face.smoothed)) for face in f.faces] for f in out] == [[0, 1]] * 4


def test_summaries_span_mean_and_segments() -> None:
    """First/last time, frame count, mean probabilities and one segment per smoothed label run."""
    summaries = Summaries(NAMES)
    for i, probs in enumerate([A, A, B, B]):
        f = frame(i, [probs])
        for face in f.faces:
            face.smoothed = face.probabilities
        summaries.add(f.time_s, f.faces)
    (track,) = summaries.to_list()
    assert (track["first_s"], track["last_s"], track["frames"]) == (0.0, 0.75, 4)
    assert track["mean_probabilities"] == pytest.approx({"a": 0.45, "b": 0.45, "c": 0.1})
    assert [(s["label"], s["start_s"], s["end_s"], s["frames"]) for s in track["smoothed_segments"]] == [
        ("a", 0.0, 0.25, 2),
        ("b", 0.5, 0.75, 2),
    ]

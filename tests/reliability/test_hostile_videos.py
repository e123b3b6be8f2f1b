"""Hostile and broken video uploads against real gunicorn: documented JSON, no upload left, healthy workers.

A dedicated server (its own TMPDIR, so leftover temporary uploads are visible; small video limits,
so over-limit uploads are cheap) answers each case; then a good image and a good video must still
succeed and the worker PIDs must not have changed (a crash would respawn the worker).

| upload                           | answer                                      |
|----------------------------------|---------------------------------------------|
| 0 bytes / text / random bytes    | 400 invalid_video                           |
| HLS playlist naming a local file | 400 invalid_video (FFmpeg never sees it)     |
| PNG image                        | 415 unsupported_video_format                |
| mp4 cut at 30% (no index)        | 415 unreadable_video                        |
| AVI with an unknown codec        | 415 unreadable_video (names 'ZZZZ')         |
| AVI without frames               | 400 empty_video                             |
| AVI cut at 70%                   | 200, video.complete false                   |
| no face in the video             | 200, faces_found false                      |
| over MAX_VIDEO_MB                | 413 payload_too_large                       |
| over MAX_VIDEO_SECONDS           | 413 video_too_long (says: use the CLI)      |
| over MAX_VIDEO_FRAMES            | 413 too_many_frames                         |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.server import Server, worker_pids
from tests import videos
from tests.support.checks import check_healthy
from tests.support.servers import serve_live
from tests.synthetic import encode, make_face

pytestmark = pytest.mark.e2e
LIMITS = {"MAX_VIDEO_MB": "1", "MAX_VIDEO_SECONDS": "4", "MAX_VIDEO_FRAMES": "30", "WORKERS": "1"}


@pytest.fixture(scope="module")
def upload_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's TMPDIR: where its temporary uploads go."""
    return tmp_path_factory.mktemp("video_uploads")


@pytest.fixture(scope="module")
def video_server(served_model: Path, upload_tmp: Path, tmp_path_factory) -> Iterator[Server]:
    """gunicorn with the small video limits."""
    log = tmp_path_factory.mktemp("video_live") / "gunicorn.log"
    server = serve_live(served_model, log, TMPDIR=str(upload_tmp), **LIMITS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the corpus clips."""
    return tmp_path_factory.mktemp("video_corpus")


def noise_avi(folder: Path) -> bytes:
    """An MJPEG AVI of random 640x480 pixels: about 3 MB for a second of video."""
    import numpy as np

    rng = np.random.default_rng(0)
    frames = [(0.1, [(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), 0, 0)]) for _ in range(10)]
    return videos.write_clip(folder / "noise", frames, 10.0, size=(640, 480)).read_bytes()


# name, builder(folder), status, code, extra check of the body
CASES: list[tuple[str, Callable[[Path], bytes], int, str | None, Callable[[dict], bool] | None]] = [
    ("empty", lambda f: b"", 400, "invalid_video", None),
    ("text", lambda f: b"meeting notes\n" * 50, 400, "invalid_video", None),
    ("random", lambda f: bytes(range(256)) * 40, 400, "invalid_video", None),
    ("hls-playlist", lambda f: b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", 400, "invalid_video", None),
    ("png-image", lambda f: encode(make_face(3)), 415, "unsupported_video_format", None),
    (
        "mp4-cut-at-30%",
        lambda f: videos.truncated(videos.clip_bytes(f, "mp4-mp4v"), 0.3),
        415,
        "unreadable_video",
        None,
    ),
    ("unknown-codec", videos.unknown_codec_avi, 415, "unreadable_video", None),
    ("zero-frames", videos.zero_frame_avi, 400, "empty_video", None),
    (
        "avi-cut-at-70%",
        lambda f: videos.truncated(videos.clip_bytes(f, seconds=3.0), 0.7),
        200,
        None,
        lambda body: body["video"]["complete"] is False and body["faces_found"],
    ),
    (
        "no-face",
        lambda f: videos.write_clip(f / "empty", [(2.0, [])]).read_bytes(),
        200,
        None,
        lambda body: body["faces_found"] is False and body["tracks"] == [],
    ),
    ("over-max-video-mb", noise_avi, 413, "payload_too_large", None),
    ("over-max-video-seconds", lambda f: videos.clip_bytes(f, seconds=5.0), 413, "video_too_long", None),
]


@pytest.mark.parametrize(("name", "build", "status", "code", "check"), CASES, ids=[c[0] for c in CASES])
def test_hostile_video(video_server, upload_tmp: Path, clips: Path, name, build, status, code, check) -> None:
    """The documented answer, no temporary file left behind, then a healthy worker."""
    good = videos.clip_bytes(clips, seconds=1.0)
    with httpx.Client(base_url=video_server.url, timeout=120) as client:
        pids = worker_pids(video_server)
        response = client.post("/predict/video", files={"video": (f"{name}.bin", build(clips))})
        assert response.status_code == status, response.text[:300]
        body = response.json()
        assert "Traceback" not in response.text
        if code:
            assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
        if status == 413 and code != "payload_too_large":
            assert "make analyze-video" in body["error"]["message"]
        if check:
            assert check(body), body
        assert list(upload_tmp.glob("emotion-video-*")) == [], "a temporary upload was left behind"
        check_healthy(client, video_server, pids, video=good)


def test_over_max_video_frames(video_server, clips: Path) -> None:
    """4 s at 10 frames/s is 41 samples, over MAX_VIDEO_FRAMES=30: 413 before decoding, lower fps passes."""
    data = videos.clip_bytes(clips, seconds=4.0)
    with httpx.Client(base_url=video_server.url, timeout=120) as client:
        over = client.post("/predict/video?fps=10", files={"video": ("a.avi", data)})
        assert over.status_code == 413 and over.json()["error"]["code"] == "too_many_frames"
        ok = client.post("/predict/video?fps=5", files={"video": ("a.avi", data)})
        assert ok.status_code == 200 and ok.json()["video"]["frames_sampled"] == 20

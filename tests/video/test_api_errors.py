"""/predict/video on bad input and over its limits: each a documented JSON error, never a 500."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests import videos
from tests.support.checks import check_error
from tests.support.payloads import post_video as post
from tests.synthetic import encode, make_face

# No temporary upload may be left behind by any request of this module.
pytestmark = pytest.mark.usefixtures("upload_dir")


def send(client, data: bytes, name: str = "clip.avi", query: str = ""):
    """Upload bytes as the multipart field 'video'."""
    return client.post(f"/predict/video{query}", data={"video": (io.BytesIO(data), name)})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bad uploads, built once."""
    folder = tmp_path_factory.mktemp("video_corpus")
    mp4 = videos.clip_bytes(folder, "mp4-mp4v")
    return {
        "empty": b"",
        "text": b"just some notes, not a video\n" * 20,
        "random": bytes(range(256)) * 20,
        "png-image": encode(make_face(3)),
        "jpeg-image": encode(make_face(3, color=True), ".jpg"),
        "mp4-cut-at-30%": videos.truncated(mp4, 0.3),
        "unknown-codec": videos.unknown_codec_avi(folder),
        "zero-frames": videos.zero_frame_avi(folder),
        "hls-playlist": b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n",
    }


@pytest.mark.parametrize(
    ("name", "status", "code", "says"),
    [
        ("empty", 400, "invalid_video", "empty"),
        ("text", 400, "invalid_video", "not an mp4"),
        ("random", 400, "invalid_video", "not an mp4"),
        ("hls-playlist", 400, "invalid_video", "not an mp4"),
        ("png-image", 415, "unsupported_video_format", "/predict"),
        ("jpeg-image", 415, "unsupported_video_format", "/predict"),
        ("mp4-cut-at-30%", 415, "unreadable_video", "truncated"),
        ("unknown-codec", 415, "unreadable_video", "ZZZZ"),
        ("zero-frames", 400, "empty_video", "no frames"),
    ],
)
def test_bad_videos(client, corpus: dict[str, bytes], name: str, status: int, code: str, says: str) -> None:
    """Each broken upload has its own documented status, code and a message saying what is wrong."""
    message = check_error(send(client, corpus[name]), status, code)
    assert says in message


def test_truncated_avi_gives_the_frames_that_decode(client, tmp_path: Path) -> None:
    """An AVI cut at 70% still plays up to the cut: a result marked incomplete."""
    data = videos.truncated(videos.clip_bytes(tmp_path, seconds=3.0), 0.7)
    body = send(client, data).json
    assert body["video"]["complete"] is False and body["video"]["frame_count"] == 30
    assert 0 < body["video"]["frames_decoded"] < 30 and body["faces_found"]


@pytest.mark.parametrize(
    ("settings", "query", "code", "says"),
    [
        ({"max_video_mb": 0.01}, "", "payload_too_large", "MAX_VIDEO_MB"),
        ({"max_video_seconds": 2.0}, "", "video_too_long", "3.0 s long"),
        ({"max_video_seconds": 2.0}, "?max_seconds=5", "video_too_long", "max_seconds=5"),
        ({"max_video_frames": 5}, "", "too_many_frames", "MAX_VIDEO_FRAMES"),
        ({"max_pixels": 10_000}, "", "too_many_pixels", "320x240"),
    ],
)
def test_limits_are_413_pointing_to_the_cli(
    make_app,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict,
    query: str,
    code: str,
    says: str,
) -> None:
    """Over a limit: 413 before analysing (no frame is decoded), naming the limit and the CLI."""
    from service.video import source

    client = make_app(**settings).test_client()
    monkeypatch.setattr(source.Sampler, "__iter__", lambda self: pytest.fail("frames were decoded"))
    message = check_error(send(client, videos.clip_bytes(tmp_path, seconds=3.0), query=query), 413, code)
    assert says in message and "make analyze-video" in message


def test_max_seconds_within_the_limit_analyses_the_start(make_app, tmp_path: Path) -> None:
    """A video over MAX_VIDEO_SECONDS is fine with max_seconds: only its start is analysed."""
    client = make_app(max_video_seconds=2.0).test_client()
    body = send(client, videos.clip_bytes(tmp_path, seconds=3.0), query="?max_seconds=1").json
    assert body["video"]["analysed_s"] == 0.9 and body["video"]["stopped_by"] == "max_seconds"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b"abc", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": {"image": (io.BytesIO(b"x"), "a.avi")}}, 422, "validation_error"),
    ],
)
def test_request_errors(client, kwargs: dict, status: int, code: str) -> None:
    """Wrong content type or a multipart body without the 'video' field."""
    check_error(client.post("/predict/video", **kwargs), status, code)


@pytest.mark.parametrize(
    "query", ["?fps=0", "?fps=100", "?fps=abc", "?max_seconds=-1", "?window=4", "?detect=x"]
)
def test_query_validation(client, one_face_clip: Path, query: str) -> None:
    """Out-of-range or malformed query parameters are 422 with details."""
    check_error(post(client, one_face_clip, query), 422, "validation_error")

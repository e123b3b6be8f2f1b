"""POST /predict/video through the Flask app and the tiny model: formats, tracks, parity, errors, limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import videos
from tests.support.payloads import post_video as post
from tests.synthetic import encode
from tests.videos import decoded_frames, make_clip

# No temporary upload may be left behind by any request of this module.
pytestmark = pytest.mark.usefixtures("upload_dir")


@pytest.mark.parametrize("fmt", [*videos.OPENCV_FORMATS, "mp4-h264"])
def test_one_still_face_is_one_track_over_the_whole_clip(client, clip_dir: Path, fmt: str) -> None:
    """Every container: one track from 0 s to the last sample, a face in every sampled frame."""
    path = make_clip(clip_dir, "api-one", videos.one_face(3.0), fmt)
    response = post(client, path)
    assert response.status_code == 200, response.json
    body = response.json
    video = body["video"]
    assert (video["width"], video["height"], video["fps"], video["frame_count"]) == (*videos.SIZE, 10.0, 30)
    assert video["frames_sampled"] == 12 and video["complete"] and video["stopped_by"] == "end"
    assert body["faces_found"] is True
    (track,) = body["tracks"]
    assert (track["first_s"], track["last_s"], track["frames"]) == (0.0, 2.8, 12)
    assert [len(f["faces"]) for f in body["frames"]] == [1] * 12
    assert {face["track_id"] for f in body["frames"] for face in f["faces"]} == {1}


def test_two_faces_are_two_tracks(client, two_faces_clip: Path) -> None:
    """Two faces side by side: two tracks, each over the whole clip, ids stable per position."""
    body = post(client, two_faces_clip).json
    assert [(t["first_s"], t["last_s"], t["frames"]) for t in body["tracks"]] == [(0.0, 2.8, 12)] * 2
    for frame in body["frames"]:
        left, right = sorted(frame["faces"], key=lambda f: f["box"]["x"])
        assert (left["track_id"], right["track_id"]) == (1, 2)


def test_a_face_that_leaves_and_comes_back_is_two_tracks(client, return_clip: Path) -> None:
    """Gone for 2 s (over the 1 s max gap): a second track starting when the face is back."""
    body = post(client, return_clip).json
    spans = [(t["track_id"], t["first_s"], t["last_s"]) for t in body["tracks"]]
    assert spans == [(1, 0.0, 1.8), (2, 4.0, 5.8)]
    empty = [f["time_s"] for f in body["frames"] if not f["faces"]]
    assert empty == [2.0, 2.3, 2.5, 2.8, 3.0, 3.3, 3.5, 3.8]


@pytest.mark.parametrize("clip", ["one_face_clip", "two_faces_clip"])
def test_frame_labels_equal_predict_on_the_same_frame(client, clip: str, request) -> None:
    """Each sampled frame, sent to /predict as a lossless PNG, gets the same boxes, labels and numbers."""
    path = request.getfixturevalue(clip)
    body = post(client, path, "?smoothing=none").json
    frames = decoded_frames(path)
    for frame in body["frames"]:
        single = client.post("/predict", data=encode(frames[frame["index"]]), content_type="image/png").json
        assert [f["box"] for f in single["faces"]] == [f["box"] for f in frame["faces"]]
        for mine, theirs in zip(frame["faces"], single["faces"], strict=True):
            assert mine["label"] == theirs["label"] == mine["smoothed_label"]
            for key in ("detection_score", "face_size", "sharpness"):
                assert mine[key] == theirs[key], key
            np.testing.assert_allclose(
                list(mine["probabilities"].values()), list(theirs["probabilities"].values()), atol=1e-5
            )


def test_no_face_is_an_empty_result(client, empty_clip: Path) -> None:
    """A video of background: 200, faces_found false, no tracks, every sampled frame listed."""
    body = post(client, empty_clip).json
    assert body["faces_found"] is False and body["tracks"] == []
    assert len(body["frames"]) == 8 and all(f["faces"] == [] for f in body["frames"])


def test_query_options(client, one_face_clip: Path) -> None:
    """fps and max_seconds change the sampling; the answer says it stopped early and why."""
    body = post(client, one_face_clip, "?fps=2&max_seconds=1.2").json
    assert [f["time_s"] for f in body["frames"]] == [0.0, 0.5, 1.0]
    assert body["video"]["stopped_by"] == "max_seconds" and body["video"]["complete"] is False
    assert body["options"]["fps"] == 2.0 and body["options"]["max_seconds"] == 1.2


def test_raw_video_body_is_accepted(client, one_face_clip: Path) -> None:
    """A raw video/* body works as well as multipart."""
    response = client.post("/predict/video", data=one_face_clip.read_bytes(), content_type="video/x-msvideo")
    assert response.status_code == 200 and len(response.json["tracks"]) == 1

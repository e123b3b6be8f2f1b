"""Video mode of the page in headless Chromium against real gunicorn: a generated clip in, timelines out."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import videos
from tests.browser.pages import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
CHART_HEIGHT = 120  # the SVG viewBox height in video.js


@pytest.fixture(scope="module")
def two_face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of two still faces, MPEG-4 in mp4 (what OpenCV writes; browsers upload any file)."""
    return videos.write_clip(
        tmp_path_factory.mktemp("page_video") / "two", videos.two_faces(3.0), fmt="mp4-mp4v"
    )


def test_uploaded_video_shows_a_timeline_and_the_dominant_emotion_per_track(
    open_page, api, two_face_clip: Path, test_images
) -> None:
    answer = api.post(
        "/predict/video", files={"video": (two_face_clip.name, two_face_clip.read_bytes())}
    ).json()
    assert len(answer["tracks"]) == 2, answer
    classes = api.get("/metadata").json()["class_names"]
    page = open_page()

    page.locator("#video-input").set_input_files(two_face_clip)

    tracks = page.locator("#tracks li.track")
    expect(tracks).to_have_count(2)
    expect(page.locator("#status")).to_contain_text("2 face tracks")
    shown = tracks.evaluate_all("items => items.map(i => [Number(i.dataset.trackId), i.dataset.dominant])")
    assert shown == [[t["track_id"], t["dominant_emotion"]] for t in answer["tracks"]]
    for index, track in enumerate(answer["tracks"]):
        item = tracks.nth(index)
        expect(item.locator(".track-title")).to_contain_text(f"mostly {track['dominant_emotion']}")
        bands = item.locator("polygon.band")
        assert bands.evaluate_all("b => b.map(p => p.dataset.class)") == classes
        # A still face: each band is as tall as the class's probability (the first frame's numbers).
        first = next(f["faces"] for f in answer["frames"] if f["faces"])
        face = next(f for f in first if f["track_id"] == track["track_id"])
        dominant = item.locator(f'polygon.band[data-class="{track["dominant_emotion"]}"]')
        height = dominant.evaluate("p => p.getBBox().height") / CHART_HEIGHT
        assert height == pytest.approx(face["probabilities"][track["dominant_emotion"]], abs=0.02)
    expect(page.locator(".legend li")).to_have_count(len(classes))
    screenshot(page, "desktop-video")

    page.locator("#file-input").set_input_files(test_images["face"])  # back to a photo
    expect(page.locator(".face-box")).to_have_count(1)
    expect(page.locator("#video-result")).to_be_hidden()


def test_a_broken_video_shows_the_servers_message(open_page, api, console, tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video")
    expected = api.post("/predict/video", files={"video": (bad.name, bad.read_bytes())}).json()
    console.allow_status(400)
    page = open_page()
    page.locator("#video-input").set_input_files(bad)
    expect(page.get_by_role("alert")).to_have_text(expected["error"]["message"])
    expect(page.locator("#status")).to_contain_text("broken.mp4 could not be analysed")
    expect(page.locator("#video-result")).to_be_hidden()

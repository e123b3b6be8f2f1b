"""Video fixtures: generated clips in every format this OpenCV build writes, plus H.264 via imageio-ffmpeg."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests import videos
from tests.videos import make_clip


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the session's generated clips."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def one_face_clip(clip_dir: Path) -> Path:
    """3 s, 10 fps, one still face (MJPEG AVI)."""
    return make_clip(clip_dir, "one", videos.one_face(3.0))


@pytest.fixture(scope="session")
def two_faces_clip(clip_dir: Path) -> Path:
    """3 s, 10 fps, two still faces (MJPEG AVI)."""
    return make_clip(clip_dir, "two", videos.two_faces(3.0))


@pytest.fixture(scope="session")
def return_clip(clip_dir: Path) -> Path:
    """A face for 2 s, nobody for 2 s, the face again for 2 s (10 fps, MJPEG AVI)."""
    return make_clip(clip_dir, "return", videos.leaves_and_returns(2.0, 2.0, 2.0))


@pytest.fixture(scope="session")
def empty_clip(clip_dir: Path) -> Path:
    """2 s of background: no face anywhere."""
    return make_clip(clip_dir, "empty", [(2.0, [])])


@pytest.fixture
def upload_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary uploads go to a folder of this test, which must be empty again after every request."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert list(folder.iterdir()) == [], "a temporary upload was left behind"

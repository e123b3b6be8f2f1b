"""Video fixtures: generated clips in every format this OpenCV build writes, plus H.264 via imageio-ffmpeg."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests import videos


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the session's generated clips."""
    return tmp_path_factory.mktemp("clips")


def make_clip(folder: Path, name: str, scenes: list, fmt: str = "avi-mjpg", fps: float = 10.0) -> Path:
    """Write (once) and return a clip; fmt 'mp4-h264' goes through imageio-ffmpeg."""
    if fmt == "mp4-h264":
        if importlib.util.find_spec("imageio_ffmpeg") is None:
            pytest.skip("imageio-ffmpeg is not installed (pip install -e '.[dev]')")
        return videos.write_h264(folder / f"{name}-{fmt}", scenes, fps)
    return videos.write_clip(folder / f"{name}-{fmt}", scenes, fps, fmt)


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


# The service's app fixtures (tiny model, Flask test client), shared with tests/service.
from tests.service.conftest import app, make_app, predictor  # noqa: E402, F401

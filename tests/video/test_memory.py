"""A long video through the whole file pipeline with memory measured: frames must be processed and dropped."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from service.detect import make_detector
from service.video.analyze import Options
from service.video.offline import analyze_file
from tests import videos
from tests.service.conftest import FakePredictor

SIZE = (240, 180)
FPS = 10.0


def long_clip(folder: Path, minutes: float) -> Path:
    """Low-resolution video: a face for 3 s, then 3 s without, over and over."""
    on = (3.0, [(videos.face(170), 35, 5)])
    off = (3.0, [])
    cycles = int(minutes * 60 / 6)
    return videos.write_clip(folder / "long", [on, off] * cycles, FPS, "avi-mjpg", SIZE)


# yuface 2023.5.1 allocates libfacedetection's 36 KiB result buffer on every detect() call and never
# frees it (measured: +35 MiB per 1,000 calls at any image size), so a long video through YuNet grows
# without bound, as does a long-running service. Strict xfail: this turns red once detect is fixed.
YUNET_LEAK = pytest.mark.xfail(strict=True, reason="yuface leaks a 36 KiB buffer per detect() call")


@pytest.mark.parametrize(
    ("detector", "minutes"),
    [
        ("haar", 1.5),
        pytest.param("yunet", 1.5, marks=YUNET_LEAK),
        pytest.param("haar", 10.0, marks=pytest.mark.slow),
    ],
)
def test_rss_stays_flat_over_a_long_video(tmp_path: Path, detector: str, minutes: float) -> None:
    """Every frame (10 a second), a new face track every 6 s: after 300 frames RSS grows < 10 MiB."""
    path = long_clip(tmp_path, minutes)
    process, samples = psutil.Process(), []

    def sample() -> None:
        samples.append(process.memory_info().rss)

    doc = analyze_file(
        path,
        tmp_path / "out",
        predictor=FakePredictor(),
        detector=make_detector(detector),
        options=Options(fps=None, detect="always"),  # auto would classify small faceless frames whole
        progress=False,
        on_frame=sample,
    )
    assert doc["video"]["frames_sampled"] == minutes * 60 * FPS == len(samples)
    assert len(doc["tracks"]) == minutes * 60 / 6
    assert json.loads((tmp_path / "out" / "tracks.json").read_text())["tracks"] == doc["tracks"]
    growth_mib = (max(samples[300:]) - samples[300]) / 2**20
    assert growth_mib < 10, f"RSS grew {growth_mib:.1f} MiB while streaming"

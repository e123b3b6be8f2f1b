"""A long video through the whole file pipeline with memory measured: frames must be processed and dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import videos

ROOT = Path(__file__).resolve().parents[2]
SIZE = (240, 180)
FPS = 10.0
# yuface 2023.5.1's binding leaks libfacedetection's 36 KiB result buffer on every call (+35 MiB per
# 1,000); contract/yunet_native.py calls the library with a buffer of its own, and the YuNet row
# below is what proves the video path no longer grows.


def long_clip(folder: Path, minutes: float) -> Path:
    """Low-resolution video: a face for 3 s, then 3 s without, over and over."""
    on = (3.0, [(videos.face(170), 35, 5)])
    off = (3.0, [])
    cycles = int(minutes * 60 / 6)
    return videos.write_clip(folder / "long", [on, off] * cycles, FPS, "avi-mjpg", SIZE)


@pytest.mark.parametrize(
    ("detector", "minutes"),
    [
        ("haar", 1.5),
        ("yunet", 1.5),
        pytest.param("haar", 10.0, marks=pytest.mark.slow),
    ],
)
def test_rss_stays_flat_over_a_long_video(tmp_path: Path, detector: str, minutes: float) -> None:
    """Every frame (10 a second), a new face track every 6 s: after 300 frames RSS grows < 10 MiB."""
    clip = long_clip(tmp_path, minutes)
    command = [sys.executable, "-m", "tests.video.memory_probe", str(clip), str(tmp_path / "out"), detector]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["frames"] == minutes * 60 * FPS and result["tracks"] == minutes * 60 / 6
    assert json.loads((tmp_path / "out" / "tracks.json").read_text())["video"]["complete"]
    assert result["growth_mib"] < 10, f"RSS grew {result['growth_mib']} MiB while streaming"

"""python -m tests.video.memory_probe CLIP OUT DETECTOR: analyse every frame, print RSS figures as JSON.

Runs in its own process so the heap is fresh: memory freed by earlier tests in the same
process could otherwise absorb a leak without any growth of RSS.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil

from contract.detect import make_detector
from service.video.analyze import Options
from service.video.offline import analyze_file
from tests.support.fakes import FakePredictor

WARM_FRAMES = 300


def main(clip: str, out: str, detector: str) -> None:
    """Print {"frames", "tracks", "growth_mib"}: RSS growth after the first WARM_FRAMES frames."""
    process, samples = psutil.Process(), []
    doc = analyze_file(
        Path(clip),
        Path(out),
        predictor=FakePredictor(),
        detector=make_detector(detector),
        options=Options(fps=None, detect="always"),  # auto would classify small faceless frames whole
        progress=False,
        on_frame=lambda: samples.append(process.memory_info().rss),
    )
    growth = (max(samples[WARM_FRAMES:]) - samples[WARM_FRAMES]) / 2**20
    print(json.dumps({"frames": len(samples), "tracks": len(doc["tracks"]), "growth_mib": round(growth, 2)}))


if __name__ == "__main__":
    main(*sys.argv[1:4])

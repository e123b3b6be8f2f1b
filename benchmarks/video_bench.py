"""Video speed: sampled frames per second through the CLI pipeline (in-process) and POST /predict/video.

The clip is generated (seeded, nothing downloaded): 640x360 at 25 frames/s, two real faces
(scikit-image's astronaut portrait and its mirror image) drifting slowly across a real
background photo (scikit-image's coffee), MJPEG in AVI. Both paths sample it at the default
rate (service.video.source.DEFAULT_FPS) with YuNet and the served model; the endpoint runs on
real gunicorn with one worker, like the serving section.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from benchmarks import server as srv

SIZE = (640, 360)
FPS = 25.0
FACE = 170


def write_clip(path: Path, seconds: float) -> Path:
    """The benchmark clip; returns its path."""
    from skimage import data

    background = cv2.resize(
        cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), SIZE, interpolation=cv2.INTER_AREA
    )
    photo = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (FACE, FACE))
    faces = (photo, np.ascontiguousarray(photo[:, ::-1]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    frames = round(seconds * FPS)
    for i in range(frames):
        frame = background.copy()
        drift = round(60 * i / max(1, frames - 1))  # 60 px over the clip: tracks must follow
        for k, face in enumerate(faces):
            x, y = 40 + k * 300 + drift, 80 + (k * 30)
            frame[y : y + FACE, x : x + FACE] = face
        writer.write(frame)
    writer.release()
    return path


def cli_speed(model_dir: Path, clip: Path, out: Path, repeats: int) -> dict[str, Any]:
    """analyze_file (what python -m service.video runs) on the clip; sampled frames/s per run."""
    from service.runtime import select
    from service.settings import Settings
    from service.stages.faces import settings_detector
    from service.video.offline import analyze_file

    settings = Settings.from_env(model_dir=str(model_dir))
    predictor = select.load_predictor(settings)
    detector = settings_detector(settings)
    runs = []
    for i in range(repeats):
        started = time.perf_counter()
        doc = analyze_file(clip, out / f"cli{i}", predictor=predictor, detector=detector, progress=False)
        runs.append((time.perf_counter() - started, doc))
    seconds = statistics.median(s for s, _ in runs)
    doc = runs[0][1]
    return {
        "runtime": select.runtime_info(predictor),
        "frames_sampled": doc["video"]["frames_sampled"],
        "tracks": len(doc["tracks"]),
        "seconds": round(seconds, 3),
        "frames_per_s": round(doc["video"]["frames_sampled"] / seconds, 1),
        "video_seconds_per_s": round(doc["video"]["duration_s"] / seconds, 2),
    }


def endpoint_speed(model_dir: Path, clip: Path, log_dir: Path, repeats: int) -> dict[str, Any]:
    """POST /predict/video on real gunicorn (one worker), sequential requests; sampled frames/s."""
    env = {"MODEL_DIR": str(model_dir), "WORKERS": "1", "LOG_LEVEL": "warning"}
    server = srv.start_service(log_dir / "video.log", env)
    data = clip.read_bytes()
    try:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            health = client.get("/health").json()
            times, body = [], {}
            for _ in range(repeats + 1):  # the first request is a warm-up
                started = time.perf_counter()
                response = client.post("/predict/video", files={"video": (clip.name, data)})
                response.raise_for_status()
                times.append(time.perf_counter() - started)
                body = response.json()
        seconds = statistics.median(times[1:])
        return {
            "runtime": health.get("runtime"),
            "frames_sampled": body["video"]["frames_sampled"],
            "tracks": len(body["tracks"]),
            "seconds": round(seconds, 3),
            "frames_per_s": round(body["video"]["frames_sampled"] / seconds, 1),
            "video_seconds_per_s": round(body["video"]["duration_s"] / seconds, 2),
            "response_kb": round(len(response.content) / 1024, 1),
        }
    finally:
        server.stop()


def run(model_dir: Path, *, seconds: float, repeats: int, work_dir: Path) -> dict[str, Any]:
    """Both measurements on one generated clip."""
    from service.video.source import DEFAULT_FPS

    work_dir.mkdir(parents=True, exist_ok=True)
    clip = write_clip(work_dir / "bench.avi", seconds)
    return {
        "clip": {
            "seconds": seconds,
            "fps": FPS,
            "size": list(SIZE),
            "faces": 2,
            "codec": "MJPG",
            "sample_fps": DEFAULT_FPS,
        },
        "repeats": repeats,
        "cli": cli_speed(model_dir, clip, work_dir, repeats),
        "endpoint": endpoint_speed(model_dir, clip, work_dir / "logs", repeats),
    }

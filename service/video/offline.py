"""The library function behind the CLI: one video file in, frames.csv / tracks.json / timeline.png out."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.crop import policy_from_metadata
from contract.detect import Detector
from service.batcher import Batcher
from service.model import Predictor
from service.video.analyze import Options, analyze, face_finder, video_block
from service.video.annotate import AnnotatedVideo
from service.video.source import Sampler, open_video
from service.video.timeline import draw_timeline
from service.video.writers import FramesCsv, write_json

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".mpg", ".mpeg", ".ogv", ".flv", ".3gp")


def model_batcher(predictor: Predictor) -> Batcher:
    """The service's micro-batcher around the model: it runs in its own thread, so decoding and
    detection of the next frames overlap the model call, and crops of several frames share a call."""
    return Batcher(predictor.predict_batch, max_batch_size=32, max_wait_ms=0, queue_size=256, adaptive=True)


def _progress(total: int | None, name: str, enabled: bool) -> Any:
    """A tqdm bar on a terminal (stderr), nothing otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="frame", disable=not enabled or not sys.stderr.isatty())


def analyze_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    predictor: Predictor,
    detector: Detector,
    options: Options | None = None,
    annotate: bool = False,
    progress: bool = True,
    batcher: Batcher | None = None,
    on_frame: Callable[[], None] | None = None,
    min_face_size: int = 0,
) -> dict[str, Any]:
    """Analyse one video into out_dir; returns the tracks.json document.

    Faces are cropped with the crop policy in the model's metadata.json, as the service does."""
    path, out, options = Path(path), Path(out_dir), options or Options()
    out.mkdir(parents=True, exist_ok=True)
    capture, info = open_video(path)
    sampler = Sampler(capture, info, fps=options.fps, max_seconds=options.max_seconds)
    names = list(predictor.class_names)
    frames_csv = FramesCsv(out / "frames.csv", names)
    sinks: list[Any] = [frames_csv]
    sample_fps = options.fps or info.fps or 25.0
    if annotate:
        sinks.append(AnnotatedVideo(out / "annotated.mp4", sample_fps, names))
    seconds = min(filter(None, (info.duration_s, options.max_seconds)), default=None)
    expected = math.ceil(seconds * sample_fps - 1e-6) if seconds else None  # samples at 0, 1/fps, ...
    own = batcher is None
    batcher = batcher or model_batcher(predictor)
    bar = _progress(expected, path.name, progress)
    try:
        summaries = analyze(
            sampler,
            face_finder(detector, options.detect, policy_from_metadata(predictor.metadata), min_face_size),
            batcher.submit,
            names,
            options,
            sinks,
            keep_images=annotate,
            on_frame=lambda: (bar.update(1), on_frame and on_frame()),
        )
    finally:
        bar.close()
        capture.release()
        for sink in sinks:
            sink.close()
        if own:
            batcher.close()
    tracks = summaries.to_list()
    document = {
        "source": path.name,
        "model": {"name": predictor.name, "version": predictor.version},
        "video": video_block(sampler, options),
        "options": options.to_dict(),
        "detector": detector.name,
        "faces_found": bool(tracks),
        "tracks": tracks,
    }
    write_json(out / "tracks.json", document)
    duration = info.duration_s or sampler.last_time_s
    draw_timeline(out / "frames.csv", out / "timeline.png", tracks, names, min(duration, seconds or duration))
    return document


def video_files(target: Path) -> list[Path]:
    """The video itself, or every video file under a folder (sorted)."""
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    return [target]

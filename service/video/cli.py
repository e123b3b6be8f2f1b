"""python -m service.video VIDEO_OR_FOLDER [--out DIR] [--fps 4 | --every-frame] [...]

Writes frames.csv, tracks.json and timeline.png (and annotated.mp4 with --annotate) per video:
into --out for one file, into --out/<video name>/ for each video of a folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from contract.faces import DETECT_MODES
from service.settings import DETECTORS
from service.video.analyze import Options
from service.video.smoothing import DEFAULT_ALPHA, DEFAULT_WINDOW, SMOOTHING
from service.video.source import DEFAULT_FPS
from service.video.tracker import DEFAULT_MAX_GAP_S

DEFAULT_OUT = Path("reports") / "video"


def positive(text: str) -> float:
    """argparse type: a number > 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m service.video", description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, help="a video file, or a folder of them")
    parser.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT}/<video name>)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument(
        "--fps", type=positive, default=DEFAULT_FPS, help=f"frames sampled per second ({DEFAULT_FPS:g})"
    )
    rate.add_argument("--every-frame", action="store_true", help="analyse every frame")
    parser.add_argument("--max-seconds", type=positive, help="analyse only the start of each video")
    parser.add_argument("--detect", choices=DETECT_MODES, default="auto", help="as /predict's detect= (auto)")
    parser.add_argument(
        "--smooth", choices=SMOOTHING, default="median", help="smoothed label filter (median)"
    )
    parser.add_argument(
        "--window", type=int, default=DEFAULT_WINDOW, help="median window, sampled frames (odd)"
    )
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="ema weight of the newest frame")
    parser.add_argument(
        "--max-gap",
        type=float,
        default=DEFAULT_MAX_GAP_S,
        help="seconds a face may vanish and keep its track",
    )
    parser.add_argument("--annotate", action="store_true", help="also write annotated.mp4")
    parser.add_argument("--model-dir", default=os.environ.get("MODEL_DIR", "models/emotion"))
    parser.add_argument("--detector", choices=DETECTORS, default=os.environ.get("DETECTOR", "yunet"))
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.window < 1 or args.window % 2 == 0:
        parser.error("--window must be an odd number >= 1")
    if not 0 < args.alpha <= 1:
        parser.error("--alpha must be in (0, 1]")
    if args.max_gap < 0:
        parser.error("--max-gap must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Analyse every video given; exit 1 if any of them failed."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import cv2

    from contract.crop import CropPolicyError, policy_from_metadata
    from contract.modeldir import ModelDirError
    from service.errors import ApiError
    from service.runtime import select
    from service.settings import Settings, SettingsError
    from service.stages.faces import settings_detector
    from service.video.offline import analyze_file, model_batcher, video_files

    if not args.video.exists():
        print(f"error: {args.video} does not exist", file=sys.stderr)
        return 2
    videos = video_files(args.video)
    if not videos:
        print(f"error: no video files in {args.video}", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)  # as the service: decoding and detection are one thread, the model another
    try:
        # The service's settings (INFERENCE_BACKEND, DETECTOR_CONFIDENCE, ...) and its model loader.
        settings = Settings.from_env(model_dir=args.model_dir)
        predictor = select.load_predictor(settings)
    except (ModelDirError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        policy_from_metadata(predictor.metadata)  # a bad crop_policy fails here, not once per video
    except CropPolicyError as exc:
        print(f"error: {args.model_dir}: {exc}", file=sys.stderr)
        return 2
    runtime = select.runtime_info(predictor)
    print(f"model {predictor.name} v{predictor.version} on {runtime['backend']}/{runtime['precision']}")
    detector = settings_detector(settings, args.detector)
    options = Options(
        fps=None if args.every_frame else args.fps,
        max_seconds=args.max_seconds,
        detect=args.detect,
        smoothing=args.smooth,
        window=args.window,
        alpha=args.alpha,
        max_gap_s=args.max_gap,
    )
    batcher, failed = model_batcher(predictor), 0
    try:
        for video in videos:
            folder = video.stem if len(videos) == 1 else str(video.relative_to(args.video).with_suffix(""))
            out = (
                (args.out or DEFAULT_OUT / video.stem)
                if len(videos) == 1
                else (args.out or DEFAULT_OUT) / folder
            )
            started = time.perf_counter()
            try:
                doc = analyze_file(
                    video,
                    out,
                    predictor=predictor,
                    detector=detector,
                    options=options,
                    annotate=args.annotate,
                    progress=not args.no_progress,
                    batcher=batcher,
                    min_face_size=settings.min_face_size,
                )
            except (ApiError, OSError) as exc:
                failed += 1
                print(f"{video}: error: {getattr(exc, 'message', exc)}", file=sys.stderr)
                continue
            seconds = time.perf_counter() - started
            sampled = doc["video"]["frames_sampled"]
            print(
                f"{video}: {sampled} frames sampled in {seconds:.1f} s ({sampled / seconds:.1f} frames/s), "
                f"{len(doc['tracks'])} track(s) -> {out}"
            )
    finally:
        batcher.close()
    return 1 if failed else 0

"""POST /predict/video: a short clip in, tracks and per-frame faces out, on the worker's own batcher.

Limits are checked in order of cost: the body size while it streams to disk, then the frame
size, duration and sampled-frame count the container claims (before decoding), then the same
limits again while decoding (a header can lie). Video crops share the worker's batcher with
image requests, but at most VIDEO_QUEUE_SHARE of its queue, so images are never starved.
"""

from __future__ import annotations

import math
import os
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from service.pipeline import Engine
from service.settings import Settings
from service.stages.classify import model_errors, require_ready
from service.video.analyze import Options, RowBudget, analyze, video_block
from service.video.errors import VideoTooLarge
from service.video.schemas import VideoQuery, VideoResponse
from service.video.source import MAX_CONTAINER_FPS, Sampler, VideoInfo, check_decodable, open_video
from service.video.upload import video_upload
from service.video.writers import JsonFrames

bp = Blueprint("video", __name__)
VIDEO_QUERY, VIDEO_RESPONSE = VideoQuery(), VideoResponse()
# A container whose rate is unknown may still hold at most this many frames per second of video.
UNKNOWN_RATE_FPS = 120.0


def check_claims(info: VideoInfo, options: Options, settings: Settings) -> None:
    """413 before decoding when the header's frame size, duration or implied sample count is over a limit."""
    if info.width * info.height > settings.max_pixels:
        raise VideoTooLarge(
            f"video frames of {info.width}x{info.height} are over the {settings.max_pixels} pixel limit",
            code="too_many_pixels",
        )
    duration = info.duration_s
    if duration and options.max_seconds is None and duration > settings.max_video_seconds:
        raise VideoTooLarge(
            f"video is {duration:.1f} s long, over the {settings.max_video_seconds:g} s limit "
            f"(MAX_VIDEO_SECONDS); send max_seconds={settings.max_video_seconds:g} or less "
            "to analyse its start",
            code="video_too_long",
        )
    seconds = min(duration or math.inf, options.max_seconds or settings.max_video_seconds)
    rate = min(options.fps or math.inf, info.fps or UNKNOWN_RATE_FPS)
    expected = math.floor(seconds * rate) + 1
    if expected > settings.max_video_frames:
        raise VideoTooLarge(
            f"{seconds:g} s at {rate:g} frames/s is {expected} frames, over the limit of "
            f"{settings.max_video_frames} per request (MAX_VIDEO_FRAMES); lower fps or max_seconds",
            code="too_many_frames",
        )


def _options(query: dict[str, Any], settings: Settings) -> Options:
    """The analysis options from the validated query; max_seconds over the limit is a 413."""
    if query["max_seconds"] is not None and query["max_seconds"] > settings.max_video_seconds:
        raise VideoTooLarge(
            f"max_seconds={query['max_seconds']:g} is over the {settings.max_video_seconds:g} s limit "
            "(MAX_VIDEO_SECONDS)",
            code="video_too_long",
        )
    return Options(
        fps=query["fps"],
        max_seconds=query["max_seconds"],
        detect=query["detect"],
        smoothing=query["smoothing"],
        window=query["window"],
    )


def run(eng: Engine, path: Any, options: Options, budget: RowBudget) -> dict[str, Any]:
    """Decode, detect, classify and track one uploaded video; the response body."""
    settings = eng.settings
    capture, info = open_video(path)
    try:
        check_claims(info, options, settings)
        seconds = options.max_seconds or settings.max_video_seconds
        sampler = Sampler(
            capture,
            info,
            fps=options.fps,
            max_seconds=seconds,
            max_sampled=settings.max_video_frames,
            # Bounds the decoding work when timestamps or the rate are junk.
            max_decoded=math.ceil(seconds * min(MAX_CONTAINER_FPS, (info.fps or UNKNOWN_RATE_FPS) * 1.5))
            + 16,
        )
        names = list(eng.predictor.class_names)
        frames = JsonFrames(names)
        summaries = analyze(
            sampler,
            lambda image: eng.faces(image, options.detect),  # exactly /predict's find-faces stage
            eng.batcher.submit,
            names,
            options,
            [frames],
            timeout=settings.inference_timeout_s,
            budget=budget,
        )
        check_decodable(sampler)
    finally:
        capture.release()
    tracks = summaries.to_list()
    return {
        "model": eng.model_ref,
        "video": video_block(sampler, options),
        "options": options.to_dict(),
        "detector": eng.faces.detector.name,
        "faces_found": bool(tracks),
        "tracks": tracks,
        "frames": frames.frames,
    }


@bp.post("/predict/video")
def predict_video() -> ResponseReturnValue:
    """Faces, tracks and emotions over time in one short video (multipart field 'video')."""
    eng: Engine = current_app.extensions["engine"]
    settings = eng.settings
    request.max_content_length = eng.limits.video_body_bytes
    query = VIDEO_QUERY.load(request.args)
    require_ready(eng.ready)
    with video_upload(request, eng.limits.video_bytes) as path:
        options = _options(query, settings)  # after the upload's own checks: a missing field is 422
        with model_errors(settings.inference_timeout_s):
            body = run(eng, path, options, current_app.extensions["video_budget"])
    return jsonify(VIDEO_RESPONSE.dump(body))


def init_app(app: Flask) -> None:
    """Register /predict/video and the worker's video share of the batcher queue."""
    settings: Settings = app.extensions["settings"]
    app.extensions["video_budget"] = RowBudget(
        max(1, int(settings.batch_queue_size * settings.video_queue_share))
    )
    # Defence in depth: only local files for FFmpeg, whatever a container might reference.
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "protocol_whitelist;file")
    app.register_blueprint(bp)

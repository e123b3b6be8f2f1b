"""/predict/video in the OpenAPI document: query, multipart body, response schema and every error."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from service.video.container import ACCEPTED
from service.video.schemas import VideoQuery, VideoResponse

_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["video"],
                "properties": {
                    "video": {"type": "string", "format": "binary", "description": f"{ACCEPTED}; also 'file'"}
                },
            }
        },
        "video/*": {"schema": {"type": "string", "format": "binary"}},
    },
    "required": True,
}
_ERRORS = {
    "400": "invalid_video: empty upload or not an mp4/mov, webm/mkv or avi file; empty_video: no frames",
    "401": "missing or wrong API key",
    "413": "payload_too_large (MAX_VIDEO_MB), video_too_long (MAX_VIDEO_SECONDS; or send max_seconds), "
    "too_many_frames (MAX_VIDEO_FRAMES: lower fps or max_seconds), too_many_pixels (MAX_PIXELS). "
    "Longer videos are the CLI's job: make analyze-video",
    "415": "unsupported_media_type (content type), unsupported_video_format (an image was sent), "
    "unreadable_video (truncated, damaged or a codec OpenCV cannot decode)",
    "422": "query validation failure (see details)",
    "429": "rate limited (Retry-After)",
    "503": "not ready, shutting down or overloaded (Retry-After)",
    "504": "inference timed out",
}


def add_paths(spec: APISpec) -> None:
    """Register the schemas and the /predict/video operation."""
    spec.components.schema("VideoResponse", schema=VideoResponse)
    error = {"application/json": {"schema": "ErrorResponse"}}
    responses: dict[str, Any] = {
        "200": {
            "description": "tracks and per-frame faces; faces_found false when there are none",
            "content": {"application/json": {"schema": "VideoResponse"}},
        },
        **{code: {"description": text, "content": error} for code, text in _ERRORS.items()},
    }
    spec.path(
        "/predict/video",
        operations={
            "post": {
                "summary": "Faces, tracks and emotions over time in a short video",
                "parameters": [{"in": "query", "schema": VideoQuery}],
                "security": [{"ApiKey": []}],
                "requestBody": _BODY,
                "responses": responses,
            }
        },
    )

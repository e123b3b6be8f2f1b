"""Marshmallow schemas of POST /predict/video: the query, and the response for the OpenAPI document."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from contract.faces import DETECT_MODES
from service.schemas import Box, ModelRef
from service.video.smoothing import DEFAULT_WINDOW, SMOOTHING
from service.video.source import DEFAULT_FPS

MIN_FPS, MAX_FPS = 0.1, 30.0
WINDOWS = tuple(range(1, 32, 2))  # a centred median needs an odd length (an enum the schema can say)


class VideoQuery(Schema):
    """Query parameters of /predict/video."""

    class Meta:
        unknown = EXCLUDE

    fps = fields.Float(
        load_default=DEFAULT_FPS,
        validate=validate.Range(min=MIN_FPS, max=MAX_FPS),
        metadata={"description": "frames sampled per second of video"},
    )
    max_seconds = fields.Float(
        load_default=None,
        validate=validate.Range(min=MIN_FPS),
        metadata={"description": "analyse only the first seconds (at most MAX_VIDEO_SECONDS)"},
    )
    detect = fields.String(load_default="auto", validate=validate.OneOf(DETECT_MODES))
    smoothing = fields.String(load_default="median", validate=validate.OneOf(SMOOTHING))
    window = fields.Integer(
        load_default=DEFAULT_WINDOW,
        validate=validate.OneOf(WINDOWS),
        metadata={"description": "median window in sampled frames (odd)"},
    )


class VideoFace(Schema):
    """One face in one sampled frame."""

    track_id = fields.Integer()
    box = fields.Nested(Box)
    label = fields.String(metadata={"description": "this frame's own label"})
    confidence = fields.Float()
    probabilities = fields.Dict(keys=fields.String(), values=fields.Float())
    detection_score = fields.Float(allow_none=True)
    face_size = fields.Integer(metadata={"description": "shorter box side in pixels"})
    sharpness = fields.Float(
        allow_none=True, metadata={"description": "variance of the Laplacian of the input"}
    )
    smoothed_label = fields.String(metadata={"description": "label after the track's smoothing filter"})


class VideoFrame(Schema):
    """A sampled frame: index in the file, time, faces."""

    index = fields.Integer()
    time_s = fields.Float()
    faces = fields.List(fields.Nested(VideoFace))


class Segment(Schema):
    """A run of one smoothed label in a track."""

    label = fields.String()
    start_s = fields.Float()
    end_s = fields.Float()
    frames = fields.Integer()


class Track(Schema):
    """One face followed over time."""

    track_id = fields.Integer()
    first_s = fields.Float()
    last_s = fields.Float()
    frames = fields.Integer()
    dominant_emotion = fields.String(metadata={"description": "top class of the mean probabilities"})
    dominant_probability = fields.Float()
    mean_probabilities = fields.Dict(keys=fields.String(), values=fields.Float())
    smoothed_segments = fields.List(fields.Nested(Segment))


class VideoInfo(Schema):
    """What the container says, and how much of it was analysed."""

    width, height = fields.Integer(), fields.Integer()
    fps = fields.Float(allow_none=True)
    frame_count = fields.Integer(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    codec = fields.String(allow_none=True)
    sample_fps = fields.Float(allow_none=True)
    frames_decoded = fields.Integer()
    frames_sampled = fields.Integer()
    analysed_s = fields.Float()
    stopped_by = fields.String(metadata={"description": "end, max_seconds, max_sampled or max_decoded"})
    complete = fields.Boolean(metadata={"description": "false: truncated file or stopped at a limit"})


class VideoResponse(Schema):
    """Result for one video."""

    model = fields.Nested(ModelRef)
    video = fields.Nested(VideoInfo)
    options = fields.Dict()
    detector = fields.String()
    faces_found = fields.Boolean()
    tracks = fields.List(fields.Nested(Track))
    frames = fields.List(fields.Nested(VideoFrame))

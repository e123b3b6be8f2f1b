"""Typed video errors: ApiError subclasses, so the app's one handler turns them into JSON too."""

from __future__ import annotations

from service.errors import ApiError, TooLarge, UnsupportedMedia

CLI_HINT = "longer videos are the command line's job: make analyze-video VIDEO=clip.mp4"


class BadVideo(ApiError):
    """Not a video at all (unknown magic bytes), or a video without frames."""

    code = "invalid_video"


class UnreadableVideo(UnsupportedMedia):
    """A known container OpenCV cannot open or decode: damaged, truncated, or an unsupported codec."""

    code = "unreadable_video"


class VideoTooLarge(TooLarge):
    """Over MAX_VIDEO_MB, MAX_VIDEO_SECONDS, MAX_VIDEO_FRAMES or MAX_PIXELS; says where to go instead."""

    def __init__(self, message: str, *, code: str = "payload_too_large") -> None:
        super().__init__(f"{message}; {CLI_HINT}", code=code)

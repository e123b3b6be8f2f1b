"""Every size limit of a request, computed once from Settings.

The read stage (body size, batch items), the decode stage (image bytes, pixels), the app's default
body limit, /predict/video and the gunicorn worker's buffering all read them here, so a limit
cannot be computed two ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.settings import Settings

MIB = 1024 * 1024
# Multipart and base64 wrap the image bytes: allow for base64's 4/3 plus headers before refusing a body.
BODY_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """The limits in bytes, pixels and items (MAX_UPLOAD_MB, MAX_PIXELS, MAX_BATCH_ITEMS, MAX_VIDEO_MB)."""

    image_bytes: int
    pixels: int
    batch_items: int
    video_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the settings ask for."""
        return cls(
            image_bytes=int(settings.max_upload_mb * MIB),
            pixels=settings.max_pixels,
            batch_items=settings.max_batch_items,
            video_bytes=int(settings.max_video_mb * MIB),
        )

    def image_body_bytes(self, items: int = 1) -> int:
        """The largest body of a request carrying `items` images (base64 and headers included)."""
        return items * (self.image_bytes * 4 // 3 + BODY_OVERHEAD)

    @property
    def video_body_bytes(self) -> int:
        """The largest /predict/video body: the video and its multipart headers."""
        return self.video_bytes + BODY_OVERHEAD

    @property
    def largest_body_bytes(self) -> int:
        """The largest body any endpoint accepts (what the worker buffers before a thread sees it)."""
        return max(self.image_body_bytes(self.batch_items), self.video_body_bytes)

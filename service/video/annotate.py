"""annotated.mp4: the sampled frames with each face's box, track id and label drawn on them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from service.video.smoothing import FrameResult
from service.video.writers import face_dict

# One colour per track (BGR), cycling; bright enough to read on most footage.
PALETTE = ((31, 210, 255), (122, 224, 25), (255, 140, 40), (60, 60, 255), (220, 90, 220), (255, 255, 80))


class AnnotatedVideo:
    """Writes every finished frame, drawn, with mp4v (the MPEG-4 encoder every OpenCV wheel has)."""

    def __init__(self, path: Path, fps: float, class_names: list[str]) -> None:
        self.path, self.fps, self.class_names = path, fps, class_names
        self._writer: cv2.VideoWriter | None = None

    def frame(self, frame: FrameResult) -> None:
        """Draw and append one frame (frames without pixels are skipped)."""
        if frame.image is None:
            return
        image = frame.image if frame.image.ndim == 3 else cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR)
        image = np.ascontiguousarray(image).copy()
        if self._writer is None:
            height, width = image.shape[:2]
            self._writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height)
            )
            if not self._writer.isOpened():
                raise OSError(f"cannot write {self.path} with the mp4v codec")
        for face in frame.faces:
            d = face_dict(face, self.class_names)
            box, colour = d["box"], PALETTE[(face.track_id - 1) % len(PALETTE)]
            x, y, w, h = box["x"], box["y"], box["width"], box["height"]
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, 2)
            text = f"#{face.track_id} {d['smoothed_label']} {d['confidence']:.0%}"
            scale = max(0.4, min(1.0, w / 160))
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            top = max(th + 4, y)
            cv2.rectangle(image, (x, top - th - 4), (x + tw + 4, top), colour, -1)
            cv2.putText(
                image, text, (x + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
            )
        cv2.putText(
            image,
            f"{frame.time_s:.2f} s",
            (6, image.shape[0] - 8),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        self._writer.write(image)

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()

"""The outputs: frames.csv written frame by frame, the per-frame JSON of /predict/video, tracks.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from service.stages.respond import face_json
from service.video.smoothing import FaceResult, FrameResult

CSV_FIELDS = (
    "frame",
    "time_s",
    "track_id",
    "x",
    "y",
    "width",
    "height",
    "detection_score",
    "label",
    "confidence",
    "smoothed_label",
)


def face_dict(face: FaceResult, class_names: list[str]) -> dict[str, Any]:
    """One face as in /predict, plus its track id and smoothed label."""
    smoothed = face.smoothed if face.smoothed is not None else face.probabilities
    return {
        "track_id": face.track_id,
        **face_json(face.box, face.probabilities, class_names, face.sharpness),
        "smoothed_label": class_names[int(np.argmax(smoothed))],
    }


class FramesCsv:
    """frames.csv: one row per face per sampled frame, flushed after every frame."""

    def __init__(self, path: Path, class_names: list[str]) -> None:
        self.class_names = class_names
        self._file = path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow([*CSV_FIELDS, *class_names])

    def frame(self, frame: FrameResult) -> None:
        """Write the frame's faces."""
        for face in frame.faces:
            d = face_dict(face, self.class_names)
            box = d["box"]
            score = "" if d["detection_score"] is None else f"{d['detection_score']:.4f}"
            self._writer.writerow(
                [
                    frame.index,
                    f"{frame.time_s:.3f}",
                    d["track_id"],
                    box["x"],
                    box["y"],
                    box["width"],
                    box["height"],
                    score,
                    d["label"],
                    f"{d['confidence']:.4f}",
                    d["smoothed_label"],
                    *(f"{p:.4f}" for p in face.probabilities),
                ]
            )
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class JsonFrames:
    """The per-frame list of the HTTP answer (bounded by MAX_VIDEO_FRAMES)."""

    def __init__(self, class_names: list[str]) -> None:
        self.class_names = class_names
        self.frames: list[dict[str, Any]] = []

    def frame(self, frame: FrameResult) -> None:
        """Keep the frame as JSON-ready dicts."""
        self.frames.append(
            {
                "index": frame.index,
                "time_s": round(frame.time_s, 3),
                "faces": [face_dict(face, self.class_names) for face in frame.faces],
            }
        )


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write JSON beside the target and rename, so a reader never sees half a file."""
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)

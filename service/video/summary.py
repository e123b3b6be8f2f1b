"""Per-track summaries, accumulated frame by frame: time span, frames seen, mean probabilities,
dominant emotion and the smoothed label sequence as segments (one entry per change, not per frame)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.video.smoothing import FaceResult


@dataclass
class TrackSummary:
    """Running numbers for one track."""

    track_id: int
    first_s: float
    last_s: float
    frames: int = 0
    total: np.ndarray | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)

    def add(self, time_s: float, face: FaceResult, class_names: list[str]) -> None:
        """Count one face of this track."""
        self.last_s, self.frames = time_s, self.frames + 1
        self.total = face.probabilities.copy() if self.total is None else self.total + face.probabilities
        label = class_names[
            int(np.argmax(face.smoothed if face.smoothed is not None else face.probabilities))
        ]
        if self.segments and self.segments[-1]["label"] == label:
            self.segments[-1]["end_s"] = round(time_s, 3)
            self.segments[-1]["frames"] += 1
        else:
            self.segments.append(
                {"label": label, "start_s": round(time_s, 3), "end_s": round(time_s, 3), "frames": 1}
            )

    def to_dict(self, class_names: list[str]) -> dict[str, Any]:
        """The JSON form used by tracks.json and /predict/video."""
        mean = (self.total if self.total is not None else np.zeros(len(class_names))) / max(1, self.frames)
        top = int(np.argmax(mean))
        return {
            "track_id": self.track_id,
            "first_s": round(self.first_s, 3),
            "last_s": round(self.last_s, 3),
            "frames": self.frames,
            "dominant_emotion": class_names[top],
            "dominant_probability": round(float(mean[top]), 4),
            "mean_probabilities": {n: round(float(p), 4) for n, p in zip(class_names, mean, strict=True)},
            "smoothed_segments": self.segments,
        }


class Summaries:
    """All tracks of one video, in order of first appearance."""

    def __init__(self, class_names: list[str]) -> None:
        self.class_names = class_names
        self.tracks: dict[int, TrackSummary] = {}

    def add(self, time_s: float, faces: list[FaceResult]) -> None:
        """Count the faces of one (final) frame."""
        for face in faces:
            track = self.tracks.get(face.track_id)
            if track is None:
                track = self.tracks[face.track_id] = TrackSummary(face.track_id, time_s, time_s)
            track.add(time_s, face, self.class_names)

    def to_list(self) -> list[dict[str, Any]]:
        """Every track's summary."""
        return [track.to_dict(self.class_names) for track in self.tracks.values()]

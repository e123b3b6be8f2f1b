"""Faces linked across sampled frames into tracks: greedy IoU / centre-distance matching with a gap limit.

Faces in a clip move little between samples a fraction of a second apart, so the nearest
box of similar size is the same person; no appearance model is needed for that. A track
not matched for more than `max_gap_s` ends, and a face seen after that starts a new track.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.detect import Detection

DEFAULT_MAX_GAP_S = 1.0
MIN_IOU = 0.2
# A match without overlap is accepted when the centres are closer than this many box sides
# (a fast move between two sparse samples).
MAX_CENTRE_DISTANCE = 0.75


@dataclass
class _Track:
    """Where a track's face was last seen."""

    track_id: int
    box: Detection
    last_s: float


def iou(a: Detection, b: Detection) -> float:
    """Intersection over union of two boxes."""
    w = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    h = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    inter = max(0, w) * max(0, h)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union else 0.0


def centre_distance(a: Detection, b: Detection) -> float:
    """Distance between the centres in units of the larger box's mean side."""
    dx = (a.x + a.width / 2) - (b.x + b.width / 2)
    dy = (a.y + a.height / 2) - (b.y + b.height / 2)
    side = max((a.width + a.height) / 2, (b.width + b.height) / 2, 1.0)
    return (dx * dx + dy * dy) ** 0.5 / side


def _score(track: Detection, face: Detection) -> float | None:
    """How well a face continues a track (higher is better); None when it cannot be the same face."""
    overlap = iou(track, face)
    if overlap >= MIN_IOU:
        return 1.0 + overlap
    distance = centre_distance(track, face)
    size_ratio = (face.width * face.height) / max(1, track.width * track.height)
    if distance <= MAX_CENTRE_DISTANCE and 0.5 <= size_ratio <= 2.0:
        return 1.0 - distance / MAX_CENTRE_DISTANCE  # in [0, 1): always below any IoU match
    return None


class Tracker:
    """Assigns a track id to every face of every frame, in frame order."""

    def __init__(self, max_gap_s: float = DEFAULT_MAX_GAP_S) -> None:
        if max_gap_s < 0:
            raise ValueError("max_gap_s must be >= 0")
        self.max_gap_s = max_gap_s
        self._active: list[_Track] = []
        self._next_id = 1

    def update(self, time_s: float, faces: list[Detection]) -> list[int]:
        """Track ids for the faces of the frame at time_s (same order as faces)."""
        self._active = [t for t in self._active if time_s - t.last_s <= self.max_gap_s + 1e-9]
        pairs = [
            (score, ti, fi)
            for ti, track in enumerate(self._active)
            for fi, face in enumerate(faces)
            if (score := _score(track.box, face)) is not None
        ]
        ids: list[int | None] = [None] * len(faces)
        used: set[int] = set()
        for _score_value, ti, fi in sorted(pairs, key=lambda p: -p[0]):
            if ids[fi] is None and ti not in used:
                used.add(ti)
                ids[fi] = self._active[ti].track_id
                self._active[ti].box, self._active[ti].last_s = faces[fi], time_s
        for fi, face in enumerate(faces):
            if ids[fi] is None:
                ids[fi] = self._next_id
                self._active.append(_Track(self._next_id, face, time_s))
                self._next_id += 1
        return [int(i) for i in ids if i is not None]

"""The stages of a request, one module and one typed error family each.

    read        service.stages.read      Flask request -> image bytes           ReadError
    decode      service.stages.decode    bytes -> uint8 gray/BGR array          DecodeError
    find faces  service.stages.faces     array -> FaceRegions (48x48 crops)     (none)
    classify    service.stages.classify  crops -> probabilities (the batcher)   ClassifyError
    respond     service.stages.respond   probabilities -> the response dict     (none)

service/pipeline.py runs them in this order for /predict and /predict/batch; /predict/video
shares find faces, classify and respond. A stage's errors say what went wrong in its own terms
and know nothing of HTTP: service/errors.py maps every StageError to a status and error code in
one table. Limits come from service.limits.Limits.
"""

from __future__ import annotations

from typing import Any


class StageError(Exception):
    """A request failed at one stage: a message safe to show clients, optional details."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

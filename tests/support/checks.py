"""Assertions on the service's answers, for the Flask test client and httpx alike."""

from __future__ import annotations

import re


def check_error(response, status: int, code: str) -> str:
    """The documented JSON error: status, {"error": {"code", "message"}}, no traceback; the message."""
    text = response.text
    assert response.status_code == status, text[:400]
    body = response.json() if callable(response.json) else response.json  # httpx vs Flask
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in text
    return body["error"]["message"]


def metric(text: str, sample: str) -> float:
    """Sum of the samples whose name and labels start with `sample` (Prometheus text format)."""
    return sum(float(m.group(1)) for m in re.finditer(rf"^{re.escape(sample)}\S* (\S+)$", text, re.M))


def check_healthy(client, server, pids: set[int], video: bytes | None = None) -> None:
    """A good image (and a good video, when given) still succeed, and no worker was replaced."""
    from benchmarks.server import worker_pids
    from tests.support.payloads import crop

    image = client.post("/predict", files={"image": ("good.png", crop(3))})
    assert image.status_code == 200 and image.json()["faces_found"], image.text[:300]
    if video is not None:
        answer = client.post("/predict/video", files={"video": ("good.avi", video)})
        assert answer.status_code == 200 and len(answer.json()["tracks"]) == 1, answer.text[:300]
    assert worker_pids(server) == pids, "a worker died and was respawned"

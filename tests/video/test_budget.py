"""Video frames share the worker's batcher but never hold more than their budget of its queue."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from contract.detect import make_detector
from service.batcher import Batcher, QueueFull
from service.video.analyze import Options, RowBudget, analyze, face_finder
from service.video.source import Sampler, open_video
from tests.synthetic import CLASSES

QUEUE = 8


class GatedModel:
    """Blocks its first call until released, so the queue fills up behind it."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.entered.set()
        self.release.wait(timeout=30)
        return np.full((len(rows), len(CLASSES)), 1 / len(CLASSES), np.float32)


class WatchedBudget(RowBudget):
    """Says when the video side had to wait for its own rows to come back."""

    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.exhausted = threading.Event()

    def acquire(self, count: int, timeout: float | None = 0.0) -> bool:
        ok = super().acquire(count, timeout)
        if not ok:
            self.exhausted.set()
        return ok


@pytest.mark.parametrize(("budget_rows", "image_fits"), [(2, True), (QUEUE, False)])
def test_image_rows_still_fit_while_a_video_waits(
    one_face_clip: Path, budget_rows: int, image_fits: bool
) -> None:
    """Budget 2: an image's 6 rows fit beside the video's; a budget of the whole queue shuts them out."""
    model = GatedModel()
    batcher = Batcher(model, max_batch_size=1, max_wait_ms=0, queue_size=QUEUE)
    budget = WatchedBudget(budget_rows)
    capture, info = open_video(one_face_clip)
    find = face_finder(make_detector("yunet"), "auto")
    errors: list[BaseException] = []

    def video() -> None:
        try:
            analyze(
                Sampler(capture, info, fps=None),
                find,
                batcher.submit,
                CLASSES,
                Options(fps=None),
                budget=budget,
            )
        except BaseException as exc:  # reported by the assertion at the end
            errors.append(exc)

    thread = threading.Thread(target=video)
    thread.start()
    try:
        assert model.entered.wait(30) and budget.exhausted.wait(30), "the video never ran into its budget"
        assert batcher.depth() == budget_rows - 1  # one row is inside the (blocked) model call
        image = np.zeros((6, 48, 48, 1), np.uint8)  # an image request's faces
        if image_fits:
            futures = batcher.submit(image)
            model.release.set()
            assert len([f.result(timeout=30) for f in futures]) == 6
        else:
            with pytest.raises(QueueFull):
                batcher.submit(image)
    finally:
        model.release.set()
        thread.join(60)
        batcher.close(timeout=10)
    assert errors == [] and budget.free == budget.rows

"""The batcher on its own: no Flask, no TensorFlow, plain functions as models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service.batcher import Batcher, BatcherClosed, QueueFull


def square_rows(x: np.ndarray) -> np.ndarray:
    """A 'model' whose output depends on each row alone."""
    return (x.astype(np.float64) ** 2).sum(axis=1)


class GatedModel:
    """Blocks every call until released, so a test controls when batches finish."""

    def __init__(self) -> None:
        self.release, self.entered = threading.Event(), threading.Event()
        self.sizes: list[int] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.sizes.append(len(x))
        self.entered.set()
        self.release.wait(timeout=30)
        return square_rows(x)


@pytest.fixture
def gated() -> Iterator[tuple[Batcher, GatedModel]]:
    """A batcher around a gated model; always released and closed at the end."""
    model = GatedModel()
    batcher = Batcher(model, max_batch_size=4, max_wait_ms=50, queue_size=6)
    yield batcher, model
    model.release.set()
    batcher.close(timeout=10)


def test_batched_results_equal_direct_ones() -> None:
    """Rows from many concurrent callers come back to the right caller, in input order, in full batches.

    The model is held on a first row while 16 threads queue 40 requests, so what meets in one
    batch is decided by the gate, not by a time window.
    """
    rng = np.random.default_rng(0)
    requests = [rng.integers(0, 255, size=(int(rng.integers(1, 5)), 3)) for _ in range(40)]
    model = GatedModel()
    batcher = Batcher(model, max_batch_size=8, max_wait_ms=0)
    try:
        held = batcher.submit([np.zeros(3)])
        assert model.entered.wait(timeout=10)
        with ThreadPoolExecutor(max_workers=16) as pool:
            pending = list(
                pool.map(lambda r: batcher.submit(list(r)), requests)
            )  # all queued when map returns
        model.release.set()
        results = [np.array([f.result(timeout=30) for f in futures]) for futures in pending]
        assert held[0].result(timeout=30) == 0
    finally:
        model.release.set()
        batcher.close()
    for request, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result, square_rows(request))
    rows = sum(len(r) for r in requests)
    assert model.sizes[0] == 1 and sum(model.sizes) == 1 + rows
    assert model.sizes[1:] == [8] * (rows // 8) + ([rows % 8] if rows % 8 else [])


def test_one_request_larger_than_the_queue_is_fed_in_slices() -> None:
    """A crowd photo with more faces than the queue holds still gets all its answers."""
    sizes: list[int] = []
    batcher = Batcher(
        square_rows,
        max_batch_size=4,
        max_wait_ms=0,
        queue_size=4,
        on_batch=lambda size, seconds: sizes.append(size),
    )
    rows = np.arange(30).reshape(10, 3)
    try:
        np.testing.assert_array_equal(batcher.predict(rows, timeout=10), square_rows(rows))
    finally:
        batcher.close()
    assert max(sizes) <= 4 and sum(sizes) == 10


def test_a_full_queue_refuses_instead_of_growing(gated: tuple[Batcher, GatedModel]) -> None:
    """With the model busy and the queue full, submit raises QueueFull and queues nothing."""
    batcher, model = gated
    first = batcher.submit([np.ones(2)])
    assert model.entered.wait(timeout=10)  # the worker holds that item inside the model call
    waiting = batcher.submit([np.ones(2)] * 6)
    with pytest.raises(QueueFull):
        batcher.submit([np.ones(2)])
    assert batcher.depth() == 6
    model.release.set()
    assert [f.result(timeout=10) for f in first + waiting] == [2.0] * 7


def test_close_finishes_in_flight_work_then_refuses(gated: tuple[Batcher, GatedModel]) -> None:
    """Shutdown while work is queued: every accepted item is answered, new work is refused."""
    batcher, model = gated
    futures = batcher.submit([np.full(2, i) for i in range(5)])
    assert model.entered.wait(timeout=10)
    closer = threading.Thread(target=batcher.close)
    closer.start()
    model.release.set()
    closer.join(timeout=10)
    assert [f.result(timeout=0) for f in futures] == [2.0 * i * i for i in range(5)]
    with pytest.raises(BatcherClosed):
        batcher.submit([np.ones(2)])


def test_timeout_cancels_the_waiting_items(gated: tuple[Batcher, GatedModel]) -> None:
    """A caller that gives up does not leave its rows to be computed later."""
    batcher, model = gated
    batcher.submit([np.ones(2)])
    assert model.entered.wait(timeout=10)
    with pytest.raises(TimeoutError):
        batcher.predict([np.ones(2)] * 3, timeout=0.05)
    model.release.set()
    batcher.close(timeout=10)
    assert model.sizes == [1]


@pytest.mark.parametrize(
    "bad_model",
    [
        lambda x: np.zeros(len(x) + 1),  # one output too many
        lambda x: np.zeros(0),  # none at all
        lambda x: 1 / 0,  # the model itself fails
    ],
)
def test_model_failures_reach_the_callers_and_the_batcher_survives(bad_model) -> None:
    """Wrong output counts and exceptions are raised in each waiting request; later batches still run."""
    calls = iter([bad_model, square_rows])
    batcher = Batcher(lambda x: next(calls)(x), max_batch_size=4, max_wait_ms=0)
    try:
        with pytest.raises((RuntimeError, ZeroDivisionError)):
            batcher.predict([np.ones(2), np.ones(2)], timeout=10)
        np.testing.assert_array_equal(batcher.predict([np.ones(2)], timeout=10), [2.0])
    finally:
        batcher.close()


@pytest.mark.parametrize(
    "kwargs", [{"max_batch_size": 0}, {"queue_size": 0}, {"max_wait_ms": -1}, {"callers": 0}]
)
def test_invalid_knobs_are_refused(kwargs: dict) -> None:
    """Misconfiguration fails at construction."""
    with pytest.raises(ValueError):
        Batcher(square_rows, **kwargs)


def test_adaptive_batcher_does_not_hold_a_lone_request() -> None:
    """No other work announced: the batch runs at once, not after max_wait (here a minute)."""
    batcher = Batcher(square_rows, max_batch_size=8, max_wait_ms=60_000, adaptive=True)
    try:
        rows = np.arange(6).reshape(2, 3)
        np.testing.assert_array_equal(batcher.predict(list(rows), timeout=10), square_rows(rows))
    finally:
        batcher.close()


def test_fixed_batcher_holds_the_batch_for_max_wait() -> None:
    """The contrast: without the adaptive hint a lone request waits the full window."""
    batcher = Batcher(square_rows, max_batch_size=8, max_wait_ms=60_000)
    try:
        with pytest.raises(TimeoutError):
            batcher.predict([np.ones(3)], timeout=0.5)
    finally:
        batcher.close(timeout=0)


def test_adaptive_batcher_waits_for_announced_work() -> None:
    """A request still preprocessing (inside incoming()) gets into the same model call."""
    sizes: list[int] = []
    batcher = Batcher(
        square_rows,
        max_batch_size=8,
        max_wait_ms=60_000,
        adaptive=True,
        on_batch=lambda size, seconds: sizes.append(size),
    )
    announced, submitted = threading.Event(), threading.Event()

    def late_request() -> np.ndarray:
        with batcher.incoming():
            announced.set()
            submitted.wait(timeout=10)  # "decoding" until the first request is queued
            futures = batcher.submit([np.full(3, 2)])
        return futures[0].result(timeout=10)

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            late = pool.submit(late_request)
            assert announced.wait(timeout=10)
            first = batcher.submit([np.ones(3)])
            submitted.set()
            assert first[0].result(timeout=10) == 3
            assert late.result(timeout=10) == 12
    finally:
        batcher.close()
    assert sizes == [2]


class OverlapModel:
    """Counts how many calls are inside at once; each call waits until a second one joins it (or 2 s)."""

    def __init__(self) -> None:
        self.inside, self.most = 0, 0
        self.lock, self.both = threading.Lock(), threading.Event()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside == 2:
                self.both.set()
        self.both.wait(timeout=2)
        with self.lock:
            self.inside -= 1
        return square_rows(x)


@pytest.mark.parametrize(("callers", "most"), [(1, 1), (2, 2)])
def test_callers_run_that_many_batches_at_once(callers: int, most: int) -> None:
    """callers=2 (two model streams): a second batch runs while the first is still inside the model,
    and every row still reaches its own caller; callers=1 never overlaps."""
    model = OverlapModel()
    batcher = Batcher(model, max_batch_size=4, max_wait_ms=0, callers=callers)
    rows = [np.full(2, i) for i in range(24)]
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            got = list(pool.map(lambda r: float(batcher.predict([r], timeout=30)[0]), rows))
    finally:
        batcher.close(timeout=10)
    assert got == [2.0 * i * i for i in range(24)]
    assert model.most == most


def test_close_with_several_callers_answers_everything_and_stops_each_thread() -> None:
    """One stop per caller thread: all queued work is answered and no thread is left running."""
    model = GatedModel()
    batcher = Batcher(model, max_batch_size=2, max_wait_ms=0, callers=3)
    futures = batcher.submit([np.full(2, i) for i in range(9)])
    assert model.entered.wait(timeout=10)
    model.release.set()
    batcher.close(timeout=10)
    assert [f.result(timeout=0) for f in futures] == [2.0 * i * i for i in range(9)]
    assert not any(thread.is_alive() for thread in batcher._threads)

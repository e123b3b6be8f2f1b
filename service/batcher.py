"""Dynamic batching: concurrent requests share model calls. No Flask, no TensorFlow.

Its own threads own every call of `predict_batch`: one of them takes the first waiting
item, gathers more until `max_batch_size` items or `max_wait_ms` have passed, runs one
call and resolves each item's future with its own row. `callers` is how many such
threads there are (one per model stream): while one runs a batch, the next gathers
another, so a predictor that runs calls in parallel gets them; one gathers at a time.

With `adaptive=True` the batcher only waits while callers have announced work
(`with batcher.incoming():` around their preprocessing): a lone request runs at
once instead of paying `max_wait_ms`, while concurrent ones still share a call.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)
_STOP = object()


class QueueFull(Exception):
    """The bounded queue cannot take the items: the caller should answer 503."""


class BatcherClosed(Exception):
    """The batcher is shutting down and accepts no new work."""


@dataclass(frozen=True)
class _Item:
    """One input row and the future its result goes to."""

    data: np.ndarray
    future: Future


class Batcher:
    """Wraps `predict_batch(inputs[N, ...]) -> outputs[N, ...]` with micro-batching."""

    def __init__(
        self,
        predict_batch: Callable[[np.ndarray], np.ndarray],
        *,
        max_batch_size: int = 32,
        max_wait_ms: float = 10.0,
        queue_size: int = 256,
        on_batch: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        adaptive: bool = False,
        callers: int = 1,
    ) -> None:
        if max_batch_size < 1 or queue_size < 1 or max_wait_ms < 0 or callers < 1:
            raise ValueError("max_batch_size, queue_size and callers must be >= 1, max_wait_ms >= 0")
        self._predict_batch = predict_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._on_batch = on_batch or (lambda size, seconds: None)
        self._on_depth = on_depth or (lambda depth: None)
        self._submit_lock = threading.Lock()  # makes "room for all n items?" + puts atomic
        self._closed = False
        self._adaptive = adaptive
        self._incoming = 0  # callers preparing rows they will submit soon (adaptive mode)
        self._incoming_lock = threading.Lock()
        self._collect_lock = threading.Lock()  # one thread gathers a batch at a time
        self._threads = [
            threading.Thread(target=self._run, name=f"batcher-{i}", daemon=True) for i in range(callers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs: Sequence[np.ndarray] | np.ndarray) -> list[Future]:
        """Queue rows for prediction; all of them or none (QueueFull, BatcherClosed)."""
        with self._submit_lock:
            if self._closed:
                raise BatcherClosed("the batcher is shut down")
            if self._queue.qsize() + len(inputs) > self._queue.maxsize:
                raise QueueFull(f"queue full ({self._queue.maxsize} items waiting)")
            items = [_Item(np.asarray(row), Future()) for row in inputs]
            for item in items:
                # Only this lock's holder adds items and the worker only removes them: no Full here.
                self._queue.put_nowait(item)
        self._on_depth(self._queue.qsize())
        return [item.future for item in items]

    def predict(self, inputs: Sequence[np.ndarray] | np.ndarray, timeout: float | None = None) -> np.ndarray:
        """Submit rows and wait for their outputs (stacked, input order)."""
        if len(inputs) > self._queue.maxsize:  # could never fit at once: feed it in slices
            step = self.max_batch_size
            slices = range(0, len(inputs), step)
            return np.concatenate([self.predict(inputs[i : i + step], timeout) for i in slices])
        futures = self.submit(inputs)
        try:
            return np.stack([future.result(timeout=timeout) for future in futures])
        except TimeoutError:
            for future in futures:
                future.cancel()  # not yet taken by the worker: skip it
            raise

    @contextmanager
    def incoming(self) -> Iterator[None]:
        """Announce rows being prepared, so an adaptive batcher waits for them."""
        with self._incoming_lock:
            self._incoming += 1
        try:
            yield
        finally:
            with self._incoming_lock:
                self._incoming -= 1

    def _more_coming(self) -> bool:
        """Is waiting worth it? Always in fixed mode; only for announced work in adaptive mode."""
        return not self._adaptive or self._incoming > 0

    def depth(self) -> int:
        """Items waiting to be batched."""
        return self._queue.qsize()

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting work, finish every queued item, then stop the thread."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
        # One stop per thread, after all accepted items: FIFO means they are all taken first, and a
        # thread exits at the first stop it takes, so each takes exactly one.
        for _ in self._threads:
            self._queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _collect(self) -> tuple[list[_Item], bool]:
        """Block for a first item, then gather more until the size or time limit; flags a stop."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch, deadline = [first], time.monotonic() + self.max_wait
        while len(batch) < self.max_batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._more_coming():
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        """A caller thread's loop: the only place predict_batch is ever called."""
        stopping = False
        while not stopping:
            with self._collect_lock:
                batch, stopping = self._collect()
            self._on_depth(self._queue.qsize())
            live = [item for item in batch if item.future.set_running_or_notify_cancel()]
            if live:
                self._run_batch(live)

    def _run_batch(self, batch: list[_Item]) -> None:
        """One model call for the batch; every future gets its row or the exception."""
        started = time.perf_counter()
        try:
            outputs = self._predict_batch(np.stack([item.data for item in batch]))
            if len(outputs) != len(batch):
                raise RuntimeError(f"predict_batch returned {len(outputs)} outputs for {len(batch)} inputs")
        except Exception as exc:  # handed to each waiting request; the batcher thread must survive
            log.exception("batch of %d failed", len(batch))
            for item in batch:
                item.future.set_exception(exc)
            return
        self._on_batch(len(batch), time.perf_counter() - started)
        for item, output in zip(batch, outputs, strict=True):
            item.future.set_result(output)

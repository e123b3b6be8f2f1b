"""Stage 4, classify: face crops -> class probabilities, through the worker's micro-batcher.

The batcher (service/batcher.py) owns the model calls; this stage turns its failures (queue full,
shut down, too slow) into this stage's errors, for images and video frames alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from service.batcher import Batcher, BatcherClosed, QueueFull
from service.stages import StageError


class ClassifyError(StageError):
    """The model could not take or finish the work now; the caller may retry later."""


class NotReady(ClassifyError):
    """The model is not loaded and warmed up yet, or no longer (shutting down)."""


class Overloaded(ClassifyError):
    """The batcher's queue is full."""


class ShuttingDown(ClassifyError):
    """The batcher is closed."""


class InferenceTimeout(ClassifyError):
    """The model did not answer within INFERENCE_TIMEOUT_S."""


def require_ready(ready: bool) -> None:
    """NotReady unless the worker's model is ready."""
    if not ready:
        raise NotReady("the model is not ready")


@contextmanager
def model_errors(timeout_s: float) -> Iterator[None]:
    """The batcher's QueueFull, BatcherClosed and TimeoutError as this stage's errors."""
    try:
        yield
    except QueueFull:
        raise Overloaded("server overloaded: inference queue is full") from None
    except BatcherClosed:
        raise ShuttingDown("server is shutting down") from None
    except TimeoutError:
        raise InferenceTimeout(f"inference took over {timeout_s:g} s") from None


def classify(batcher: Batcher, inputs: Sequence[np.ndarray], *, timeout_s: float) -> np.ndarray:
    """Probabilities [N,K] for N face crops, in input order, in as few model calls as the batcher makes."""
    with model_errors(timeout_s):
        return batcher.predict(inputs, timeout=timeout_s)

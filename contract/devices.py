"""GPU memory growth, for every process that runs TensorFlow (service workers, training, evaluation).

Memory growth lets several processes share one card instead of the first taking all of it. It must
be set before a GPU is initialised (before any TensorFlow op), so call this first.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def enable_memory_growth(logger: logging.Logger | None = None) -> list[Any]:
    """Turn on memory growth for every GPU TensorFlow sees; returns those GPUs (empty on CPU)."""
    import tensorflow as tf

    logger = logger or log
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # the GPU was initialised already: growth is fixed for this process
            logger.warning("could not enable memory growth on %s: %s", gpu.name, exc)
    return gpus

"""Serving devices: log what TensorFlow sees, give GPUs memory growth, say clearly when it falls back to CPU.

Call `configure_devices()` once per worker process before the model loads (before any TensorFlow op),
because memory growth cannot be changed once a GPU has been initialised.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def configure_devices(logger: logging.Logger | None = None) -> str:
    """Prepare TensorFlow's devices for inference and return the kind used: "GPU" or "CPU"."""
    import tensorflow as tf

    logger = logger or log
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        if tf.test.is_built_with_cuda():
            logger.warning(
                "no GPU visible to TensorFlow: falling back to CPU inference (check the "
                "container's GPU request, the NVIDIA driver and NVIDIA_VISIBLE_DEVICES)"
            )
        else:
            logger.info("inference device: CPU (TensorFlow CPU build)")
        return "CPU"
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # the GPU was initialised already: growth is fixed for this process
            logger.warning("could not enable memory growth on %s: %s", gpu.name, exc)
    logger.info("inference device: GPU, %d visible, memory growth on: %s", len(gpus), _describe(tf, gpus))
    return "GPU"


def _describe(tf, gpus: list) -> str:
    """'GPU:0 NVIDIA A10 (compute 8.6), ...' from TensorFlow's device details, where it has them."""
    parts = []
    for gpu in gpus:
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (RuntimeError, ValueError):
            details = {}
        name = details.get("device_name", "unknown")
        capability = details.get("compute_capability")
        suffix = f" (compute {capability[0]}.{capability[1]})" if capability else ""
        parts.append(f"{gpu.name.removeprefix('/physical_device:')} {name}{suffix}")
    return ", ".join(parts)

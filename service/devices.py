"""Serving devices: log what TensorFlow sees, say clearly when it falls back to CPU.

GPU memory growth itself is contract.devices.enable_memory_growth (training calls it too).

Call `configure_devices()` once per worker process before the model loads (before any TensorFlow op),
because memory growth cannot be changed once a GPU has been initialised.
"""

from __future__ import annotations

import logging

from contract.devices import enable_memory_growth

log = logging.getLogger(__name__)


def configure_devices(logger: logging.Logger | None = None) -> str:
    """Prepare TensorFlow's devices for inference and return the kind used: "GPU" or "CPU"."""
    import tensorflow as tf

    logger = logger or log
    gpus = enable_memory_growth(logger)
    if not gpus:
        if tf.test.is_built_with_cuda():
            logger.warning(
                "no GPU visible to TensorFlow: falling back to CPU inference (check the "
                "container's GPU request, the NVIDIA driver and NVIDIA_VISIBLE_DEVICES)"
            )
        else:
            logger.info("inference device: CPU (TensorFlow CPU build)")
        return "CPU"
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

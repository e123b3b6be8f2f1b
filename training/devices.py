"""Device setup: log devices, GPU memory growth, mixed precision on GPU, distribution strategy."""

from __future__ import annotations

import json
import logging
import os

import keras
import tensorflow as tf

log = logging.getLogger(__name__)


def configure_devices(mixed_precision: str = "auto") -> tf.distribute.Strategy:
    """Configure TensorFlow for the visible hardware and return the strategy to build under.

    - every GPU gets memory growth, so several processes can share a card;
    - mixed_float16 only on GPU (on CPU it is slower, not faster);
    - TF_CONFIG set -> MultiWorkerMirroredStrategy (training across machines);
      more than one GPU -> MirroredStrategy; otherwise the default strategy.
    """
    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_physical_devices("CPU")
    log.info("devices: %d CPU, %d GPU %s", len(cpus), len(gpus), [g.name for g in gpus])
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # raised if the GPU was already initialised
            log.warning("could not enable memory growth on %s: %s", gpu.name, exc)
    use_mixed = mixed_precision == "on" or (mixed_precision == "auto" and bool(gpus))
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    log.info("precision policy: %s", keras.mixed_precision.global_policy().name)
    if os.environ.get("TF_CONFIG"):
        cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
        log.info("TF_CONFIG found: MultiWorkerMirroredStrategy over %s", cluster)
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(gpus) > 1:
        log.info("MirroredStrategy over %d GPUs", len(gpus))
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()

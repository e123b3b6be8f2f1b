"""Locate and load an exported SavedModel with TensorFlow alone (no project model code)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from contract import INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME
from contract.modeldir import resolve_version_dir


def load_predict_fn(model_dir: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 faces [N,48,48,1] -> probabilities [N,K] through the serving signature."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(resolve_version_dir(model_dir)))
    signature = loaded.signatures[SIGNATURE_NAME]

    def predict(images: np.ndarray) -> np.ndarray:
        # The closure keeps `loaded` alive: a signature outliving its object fails.
        _ = loaded
        return signature(**{INPUT_NAME: tf.constant(images, tf.uint8)})[OUTPUT_NAME].numpy()

    return predict

"""A SavedModel's serving signature, loaded with TensorFlow alone: one loader for serving and training.

Keras 3 cannot read a SavedModel and `model.predict` costs ~100 ms a call, so both sides call the
exported `serving_default` signature directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contract.image import INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME
from contract.modeldir import ModelDirError, resolve_version_dir


@dataclass
class Signature:
    """The serving signature of one version folder: uint8 faces [N,48,48,1] -> probabilities [N,K]."""

    path: Path
    _function: Any = field(repr=False)
    _loaded: Any = field(repr=False)  # the signature fails once its object is garbage-collected

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Run the signature on a uint8 batch; float32 probabilities out."""
        import tensorflow as tf

        outputs = self._function(**{INPUT_NAME: tf.constant(images, tf.uint8)})
        return outputs[OUTPUT_NAME].numpy()


def load_signature(version_dir: str | Path) -> Signature:
    """Load a version folder's serving signature; any problem raises ModelDirError naming it."""
    import tensorflow as tf

    path = Path(version_dir)
    try:
        loaded = tf.saved_model.load(str(path))
        function = loaded.signatures[SIGNATURE_NAME]
    except KeyError:
        raise ModelDirError(f"{path}: SavedModel has no '{SIGNATURE_NAME}' signature") from None
    except Exception as exc:  # TF raises many unrelated types for a corrupt file
        raise ModelDirError(f"{path}: cannot load SavedModel: {type(exc).__name__}: {exc}") from None
    return Signature(path, function, loaded)


def load_predict_fn(model_dir: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """The signature of a model root's highest version (or of a version folder itself)."""
    return load_signature(resolve_version_dir(model_dir))

"""Export a trained Keras model: .keras file, TF-Serving SavedModel, and metadata JSON."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from contract import CHANNELS, IMAGE_SIZE, INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME, contract_dict
from contract.modeldir import write_metadata

KERAS_FILE = "model.keras"


def next_version(model_root: str | Path) -> int:
    """One more than the highest numeric version folder under model_root."""
    root = Path(model_root)
    versions = (
        [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()] if root.is_dir() else []
    )
    return max(versions, default=0) + 1


def serving_function(model: keras.Model, tta: str) -> tf.types.experimental.GenericFunction:
    """uint8 [N,48,48,1] -> {'probabilities': float32 [N,K]}, with optional flip averaging."""

    @tf.function(
        input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], tf.uint8, name=INPUT_NAME)]
    )
    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        x = tf.cast(image, tf.float32)
        probabilities = tf.cast(model(x, training=False), tf.float32)
        if tta == "flip":
            flipped = tf.cast(model(tf.reverse(x, axis=[2]), training=False), tf.float32)
            probabilities = (probabilities + flipped) / 2.0
        return {OUTPUT_NAME: probabilities}

    return serve


def library_versions() -> dict[str, str]:
    """Versions that matter for reproducing or loading the model."""
    import cv2
    import numpy

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
    }


def export_model(
    model: keras.Model, version_dir: str | Path, *, class_names: list[str], tta: str, extra: dict[str, Any]
) -> Path:
    """Write model.keras, the SavedModel (serving_default signature) and metadata.json."""
    out = Path(version_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / KERAS_FILE)
    # No archive.track(model): the endpoint already tracks the variables it uses, and
    # tracking the model as well stores every weight twice (double-sized SavedModel).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(SIGNATURE_NAME, serving_function(model, tta))
    archive.write_out(str(out), verbose=False)
    metadata = {
        "name": extra.pop("name", "emotion"),
        "version": int(out.name) if out.name.isdigit() else out.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "class_names": list(class_names),
        "input": contract_dict(),
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "shape": [None, len(class_names)],
            "meaning": "class probabilities in class_names order (softmax)",
        },
        "tta": tta,
        "versions": library_versions(),
        **extra,
    }
    write_metadata(out, metadata)
    return out

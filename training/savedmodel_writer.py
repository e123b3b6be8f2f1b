"""Write a version folder's model files: model.keras, the TF-Serving SavedModel, and its metadata."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from contract import OUTPUT_NAME, SIGNATURE_NAME, contract_dict
from contract.crop import METADATA_KEY as CROP_POLICY_KEY
from contract.crop import CropPolicy
from contract.modeldir import KERAS_FILE, ModelDirError
from training.keras_models import model_crop_size
from training.signature import serving_function


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


def write_model_files(
    model: keras.Model,
    version_dir: str | Path,
    *,
    tta: str,
    class_bias: tuple[float, ...] = (),
    include_optimizer: bool = True,
    include_keras: bool = True,
) -> Path:
    """Write model.keras (unless include_keras is False) and the SavedModel into an empty folder."""
    out = Path(version_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):  # publish() stages a fresh folder: this never writes into a published one
        raise ModelDirError(f"{out} is not empty: the model files go only into a new folder")
    if include_keras:
        keras_model = model
        if not include_optimizer:
            # An uncompiled functional view of the same layers is saved without the optimizer.
            keras_model = keras.Model(model.input, model.output, name=model.name)
        keras_model.save(out / KERAS_FILE)
    # No archive.track(model): the endpoint already tracks the variables it uses, and
    # tracking the model as well stores every weight twice (double-sized SavedModel).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(SIGNATURE_NAME, serving_function(model, tta, class_bias))
    archive.write_out(str(out), verbose=False)
    return out


def model_metadata(
    model: keras.Model,
    *,
    name: str,
    version: int | str,
    class_names: list[str],
    tta: str,
    crop_policy: CropPolicy | None,
    class_bias: tuple[float, ...] = (),
    **records: Any,
) -> dict[str, Any]:
    """The metadata.json of a version: the contract the service checks, then the run's records.

    crop_policy (how the service turns a detector box into this model's input) is left out when
    None, so the service uses contract.crop.LEGACY. class_bias, when set, is recorded as the
    signature applies it (training.recall_floor). records (training, dataset, metrics) follow
    in the order given.
    """
    return {
        "name": name,
        "version": version,
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
        **({"class_bias": dict(zip(class_names, class_bias, strict=True))} if class_bias else {}),
        "network_input": model_crop_size(model),
        **({CROP_POLICY_KEY: crop_policy.to_dict()} if crop_policy is not None else {}),
        "versions": library_versions(),
        **records,
    }

"""The SavedModel behind the service: loaded once per worker, checked and warmed up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from contract import CHANNELS, IMAGE_SIZE, INPUT_DTYPE
from contract.modeldir import ModelDirError, model_identity, read_metadata, resolve_version_dir
from contract.savedmodel import Signature, load_signature

log = logging.getLogger(__name__)


class Predictor(Protocol):
    """What the service needs from a model; tests may pass any object with these members."""

    name: str
    version: str
    class_names: list[str]
    metadata: dict[str, Any]

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """uint8 faces [N,48,48,1] -> float32 probabilities [N,K]."""


@dataclass
class SavedModelPredictor:
    """A TF-Serving style SavedModel called through its serving signature (not keras predict)."""

    name: str
    version: str
    class_names: list[str]
    metadata: dict[str, Any]
    path: Path
    _signature: Signature = field(repr=False)
    backend: str = "tensorflow"
    precision: str = "f32"  # bf16: TensorFlow's oneDNN auto-mixed-precision rewrite (configure_tensorflow)
    device: str = "CPU"

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """uint8 faces [N,48,48,1] -> float32 probabilities [N,K]."""
        return self._signature(images)


def check_contract(metadata: dict[str, Any], path: Path) -> None:
    """Refuse a model whose recorded input contract is not the one this service feeds."""
    contract = metadata.get("input") or {}
    expected = {"image_size": IMAGE_SIZE, "channels": CHANNELS, "dtype": INPUT_DTYPE}
    wrong = {k: contract.get(k) for k, v in expected.items() if k in contract and contract[k] != v}
    if wrong:
        raise ModelDirError(f"{path}: input contract {wrong} is incompatible with {expected}")


def configure_tensorflow(intra_op_threads: int, *, bf16: bool = False) -> None:
    """Size TF's thread pools before the first op; later calls are ignored by TF, so tolerate them.

    bf16 turns on grappler's oneDNN auto-mixed-precision rewrite for every graph built afterwards.
    """
    import tensorflow as tf

    if bf16:
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        log.debug("TensorFlow thread pools were already initialised")


def load_predictor(model_dir: str | Path) -> SavedModelPredictor:
    """Load and validate a model (warm_up is the caller's); any problem raises ModelDirError."""
    path = resolve_version_dir(model_dir)
    metadata = read_metadata(path)
    check_contract(metadata, path)
    predictor = SavedModelPredictor(
        **model_identity(metadata, path), metadata=metadata, path=path, _signature=load_signature(path)
    )
    log.info(
        "loaded model %s version %s from %s (%d classes)",
        predictor.name,
        predictor.version,
        path,
        len(predictor.class_names),
    )
    return predictor


def warm_up(predictor: Predictor, more_sizes: tuple[int, ...] = ()) -> None:
    """Run a dummy batch of 2 (and of each of more_sizes), so no request pays for tracing or a shape's
    first compile, and check the output shape. The one warm-up of a start: select.load_predictor for
    the models it loads, create_app for an injected predictor."""
    for size in (2, *(s for s in more_sizes if s != 2)):
        dummy = np.zeros((size, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), np.uint8)
        try:
            outputs = np.asarray(predictor.predict_batch(dummy))
        except Exception as exc:  # an incompatible signature fails here with TF-specific errors
            raise ModelDirError(f"model warm-up failed: {type(exc).__name__}: {exc}") from None
        expected = (size, len(predictor.class_names))
        if outputs.shape != expected:
            raise ModelDirError(
                f"model output shape {outputs.shape} does not match {expected} "
                f"(metadata lists {len(predictor.class_names)} class names)"
            )

"""The model alone, in-process: images/s per batch size (the ceiling) and what the flip averaging costs.

Three ways of calling the same weights are timed on the same FER2013 crops:
- `signature`: the exported serving signature, as the service calls it (with the shipped tta);
- `keras_single`: one pass of model.keras in a tf.function (its one view: no flip, and the
  central crop for a network trained on random crops): the cost without tta;
- `keras_predict`: `model.predict` on model.keras, as the naive baseline calls it;
- `keras_member` (ensembles only): one pass of one member network: the cost of a single
  network, to set against the signature's members x tta passes.

`reference()` times only the signature of another model on the same crops, right after, so a
new model's speed-up over an older one (the single-network issue asks for 2x version 6's raw
throughput) comes from one run on one machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from contract.modeldir import read_metadata, resolve_version_dir
from contract.savedmodel import load_predict_fn

BATCH_SIZES = (1, 8, 32, 128)


def time_calls(
    fn: Callable[[np.ndarray], Any],
    batch: np.ndarray,
    min_seconds: float,
    min_calls: int = 3,
    warmup: int = 2,
) -> dict[str, float]:
    """Call fn(batch) until min_seconds and min_calls are reached; images/s and median ms per call."""
    for _ in range(warmup):
        fn(batch)
    durations: list[float] = []
    started = time.perf_counter()
    while len(durations) < min_calls or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        fn(batch)
        durations.append(time.perf_counter() - t0)
    total = sum(durations)
    return {
        "images_per_s": round(len(durations) * len(batch) / total, 1),
        "ms_per_call_p50": round(float(np.median(durations)) * 1000, 2),
        "calls": len(durations),
    }


def callers(model_dir: str | Path) -> dict[str, Callable[[np.ndarray], Any]]:
    """The three ways of running the model, each taking uint8 [N,48,48,1]."""
    import keras
    import tensorflow as tf

    version_dir = resolve_version_dir(model_dir)
    from training.keras_models import load_keras_model, members_of, model_crop_size
    from training.signature import tta_views

    model = load_keras_model(version_dir)

    def one_view(network: keras.Model, x: Any) -> tf.Tensor:
        """A network's one view of 48x48 crops: the central crop of its size if it was trained
        on random crops (as the signature's "none"), else the crops themselves."""
        return tta_views(tf.cast(x, tf.float32), "none", model_crop_size(network))[0]

    def one_pass(network: keras.Model) -> Callable[[np.ndarray], Any]:
        fn = tf.function(lambda x: network(one_view(network, x), training=False), reduce_retracing=True)
        return lambda x: fn(tf.constant(x)).numpy()

    out = {
        "signature": load_predict_fn(version_dir),
        "keras_single": one_pass(model),
        "keras_predict": lambda x: model.predict(one_view(model, x).numpy(), verbose=0),
    }
    members = members_of(model)
    if members:
        out["keras_member"] = one_pass(members[0])
    return out


def run(
    model_dir: str | Path,
    crops: np.ndarray,
    *,
    min_seconds: float,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
) -> dict[str, Any]:
    """Images/s per caller and batch size, the signature's ceiling and the tta cost ratio."""
    tta = read_metadata(resolve_version_dir(model_dir)).get("tta", "none")
    rows = _time_callers(callers(model_dir), crops, min_seconds, batch_sizes)
    rate = {(r["caller"], r["batch_size"]): r["images_per_s"] for r in rows}
    ceiling = max(rate["signature", b] for b in batch_sizes)
    best = max(batch_sizes, key=lambda b: rate["signature", b])
    tta_cost = {str(b): round(rate["keras_single", b] / rate["signature", b], 2) for b in batch_sizes}
    result: dict[str, Any] = {}
    if ("keras_member", batch_sizes[0]) in rate:
        result["one_member_speedup_over_signature"] = {
            str(b): round(rate["keras_member", b] / rate["signature", b], 2) for b in batch_sizes
        }
    return {
        **result,
        "tta": tta,
        "rows": rows,
        "ceiling_images_per_s": ceiling,
        "ceiling_batch_size": best,
        "single_pass_speedup_over_signature": tta_cost,
    }


def reference(
    model_dir: str | Path,
    crops: np.ndarray,
    *,
    min_seconds: float,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
) -> dict[str, Any]:
    """Another model's serving signature on the same crops: its images/s per batch size and ceiling."""
    version_dir = resolve_version_dir(model_dir)
    metadata = read_metadata(version_dir)
    rows = _time_callers({"signature": load_predict_fn(version_dir)}, crops, min_seconds, batch_sizes)
    best = max(rows, key=lambda r: r["images_per_s"])
    return {
        "model_dir": str(model_dir),
        "version": str(metadata.get("version", version_dir.name)),
        "tta": metadata.get("tta", "none"),
        "rows": rows,
        "ceiling_images_per_s": best["images_per_s"],
        "ceiling_batch_size": best["batch_size"],
    }


def _time_callers(
    fns: dict[str, Callable[[np.ndarray], Any]],
    crops: np.ndarray,
    min_seconds: float,
    batch_sizes: tuple[int, ...],
) -> list[dict[str, Any]]:
    """One row per caller and batch size; the crops are repeated to fill each batch."""
    rows = []
    for name, fn in fns.items():
        for size in batch_sizes:
            batch = np.resize(crops, (size, *crops.shape[1:]))
            rows.append({"caller": name, "batch_size": size, **time_calls(fn, batch, min_seconds)})
    return rows

"""Training speed: the tf.data input pipeline alone vs the model's train step alone, and s/epoch.

- pipeline: `training.data.make_dataset` (augmentation on) over a subset of the
  train split, drained without a model: the first pass decodes the JPEG files,
  later passes read the in-memory cache and augment, as every epoch after the first does;
- train step: `model.fit` on one synthetic batch repeated (no input cost at all);
- epoch: `model.fit` on the real pipeline for a fixed number of steps, timed after the
  cache is filled, extrapolated to a whole epoch of the config's train split (plus validation).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contract import IMAGE_EXTENSIONS
from training.config import TrainConfig, load_config_file


def step_timer():
    """A Keras callback keeping the end time of every batch in `.ends` (Keras imported lazily)."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Batch end times of fit() and evaluate()."""

        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            """Note a training step's end."""
            self.ends.append(time.perf_counter())

        def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
            """Note an evaluation step's end."""
            self.ends.append(time.perf_counter())

    return StepTimer()


def load_config(path: str | Path | None) -> TrainConfig:
    """The TrainConfig of a TOML/JSON file (the shipped model's by default)."""
    return TrainConfig(**load_config_file(path)) if path else TrainConfig()


def folder_frame(data_dir: str | Path, split: str = "train") -> pd.DataFrame:
    """path/label rows of one split, straight from the folder tree (no hashing manifest)."""
    root = Path(data_dir) / split
    rows = [(str(p), p.parent.name) for p in sorted(root.glob("*/*")) if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not rows:
        raise FileNotFoundError(f"no images under {root}")
    return pd.DataFrame(rows, columns=["path", "label"])


def _rate_between(ends: list[float], first: int, batch_size: int) -> tuple[float, float]:
    """(images/s, ms per step) over the steps after `first`."""
    steps = len(ends) - 1 - first
    seconds = ends[-1] - ends[first]
    return round(steps * batch_size / seconds, 1), round(seconds / steps * 1000, 1)


def pipeline_rate(frame: pd.DataFrame, class_names: list[str], config: TrainConfig, passes: int) -> dict:
    """Images/s of the training dataset: first (decoding) pass, then cached + augmented passes."""
    from training.data import make_augmenter, make_dataset

    ds = make_dataset(frame, class_names, config, training=True, augmenter=make_augmenter(config))
    timings = []
    for _ in range(1 + passes):
        started, count = time.perf_counter(), 0
        for images, _labels in ds:
            count += int(images.shape[0])
        timings.append(count / (time.perf_counter() - started))
    return {
        "images": len(frame),
        "first_pass_images_per_s": round(timings[0], 1),
        "cached_augmented_images_per_s": round(float(np.mean(timings[1:])), 1),
    }


def train_step_rate(config: TrainConfig, num_classes: int, steps: int, warmup: int) -> dict:
    """Images/s of model.fit on a synthetic batch (the step alone, its input is free)."""
    import keras
    import tensorflow as tf

    from training.model import compile_model, make_model

    keras.utils.set_random_seed(config.seed)
    x = tf.random.uniform((config.batch_size, 48, 48, 1), 0, 255, seed=config.seed)
    y = tf.one_hot(tf.random.uniform((config.batch_size,), 0, num_classes, tf.int32), num_classes)
    model = compile_model(make_model(config, num_classes), config)
    timer = step_timer()
    model.fit(
        tf.data.Dataset.from_tensors((x, y)).repeat(),
        steps_per_epoch=warmup + steps,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[timer],
    )
    rate, ms = _rate_between(timer.ends, warmup - 1, config.batch_size)
    timer.ends.clear()
    model.evaluate(
        tf.data.Dataset.from_tensors((x, y)).repeat(), steps=warmup + steps, verbose=0, callbacks=[timer]
    )
    _, eval_ms = _rate_between(timer.ends, warmup - 1, config.batch_size)
    return {"images_per_s": rate, "ms_per_step": ms, "eval_ms_per_step": eval_ms, "model": model}


def epoch_seconds(
    frame: pd.DataFrame,
    class_names: list[str],
    config: TrainConfig,
    model,
    steps: int,
    eval_ms_per_step: float,
    train_images: int,
    val_images: int,
) -> dict:
    """Step time on the real pipeline (second, cached pass over `steps` batches), scaled to one epoch."""
    from training.data import make_augmenter, make_dataset

    subset = frame.sample(n=min(len(frame), steps * config.batch_size), random_state=config.seed)
    ds = make_dataset(subset, class_names, config, training=True, augmenter=make_augmenter(config)).repeat()
    per_pass = math.ceil(len(subset) / config.batch_size)
    timer = step_timer()
    model.fit(ds, steps_per_epoch=2 * per_pass, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    _, ms = _rate_between(timer.ends, per_pass - 1, config.batch_size)
    train_steps = math.ceil(train_images / config.batch_size)
    val_steps = math.ceil(val_images / config.batch_size)
    seconds = train_steps * ms / 1000 + val_steps * eval_ms_per_step / 1000
    return {
        "ms_per_step_real_pipeline": ms,
        "timed_steps": per_pass,
        "train_images": train_images,
        "val_images": val_images,
        "steps_per_epoch": train_steps,
        "seconds_per_epoch": round(seconds, 1),
        "method": f"{per_pass} steps timed on the cached pipeline, extrapolated to "
        f"{train_steps} train + {val_steps} validation steps (validation at the eval step "
        "rate measured on synthetic tensors)",
    }


def run(
    data_dir: str | Path,
    config_path: str | Path | None,
    *,
    pipeline_images: int,
    passes: int,
    steps: int,
    warmup: int = 3,
) -> dict[str, Any]:
    """All three training measurements and the pipeline/step ratio (target >= 3)."""
    config = load_config(config_path)
    frame = folder_frame(data_dir)
    class_names = sorted(frame.label.unique())
    sample = frame.sample(n=min(len(frame), pipeline_images), random_state=config.seed)
    pipeline = pipeline_rate(sample, class_names, config, passes)
    step = train_step_rate(config, len(class_names), steps, warmup)
    model = step.pop("model")
    val_images = max(1, round(len(frame) * config.val_fraction))
    epoch = epoch_seconds(
        frame,
        class_names,
        config,
        model,
        steps,
        step["eval_ms_per_step"],
        len(frame) - val_images,
        val_images,
    )
    ratio = pipeline["cached_augmented_images_per_s"] / step["images_per_s"]
    from benchmarks.machine import display_path

    return {
        "config": display_path(config_path) if config_path else "TrainConfig defaults",
        "batch_size": config.batch_size,
        "augment": list(config.augment),
        "pipeline": pipeline,
        "train_step": step,
        "epoch": epoch,
        "pipeline_to_step_ratio": round(ratio, 2),
        "target_ratio": 3.0,
    }

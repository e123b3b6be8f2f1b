"""Knowledge distillation: soft targets from committed teacher networks, mixed with the hard labels.

Teacher probabilities are computed once per image on the un-augmented 48x48 face, through
each teacher's serving signature with the views of teacher_tta (their outputs on a stored
image never change), and travel with the
labels as targets [one-hot | teacher probabilities]. The loss is Hinton et al.'s:
(1 - alpha) * CE(one-hot, student) + alpha * T^2 * KL(teacher_T || student_T), where x_T
softens a distribution by temperature T (softmax(log x / T)).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import ops

EPSILON = 1e-7


def soften(probabilities: object, temperature: float) -> object:
    """softmax(log p / T): the distribution a softmax of logits / T would give."""
    return ops.softmax(ops.log(ops.clip(probabilities, EPSILON, 1.0)) / temperature, axis=-1)


@keras.saving.register_keras_serializable(package="emotion")
class DistillationLoss(keras.losses.Loss):
    """(1 - alpha) hard cross-entropy + alpha T^2 KL to the softened teacher, on [hard | soft] targets."""

    def __init__(self, alpha: float = 0.5, temperature: float = 4.0, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.temperature, self.label_smoothing = alpha, temperature, label_smoothing

    def call(self, y_true: object, y_pred: object) -> object:
        """Per-sample loss."""
        k = ops.shape(y_pred)[-1]
        hard, teacher = y_true[..., :k], y_true[..., k:]
        hard_loss = keras.losses.categorical_crossentropy(hard, y_pred, label_smoothing=self.label_smoothing)
        t = self.temperature
        soft_teacher, soft_student = soften(teacher, t), soften(y_pred, t)
        kl = ops.sum(
            soft_teacher * (ops.log(ops.clip(soft_teacher, EPSILON, 1.0)) - ops.log(soft_student)), axis=-1
        )
        return (1.0 - self.alpha) * hard_loss + self.alpha * t * t * kl

    def get_config(self) -> dict:
        """Serialisable settings (a checkpoint saved with this loss must load again)."""
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "temperature": self.temperature,
            "label_smoothing": self.label_smoothing,
        }


@keras.saving.register_keras_serializable(package="emotion")
class HardAccuracy(keras.metrics.MeanMetricWrapper):
    """Categorical accuracy against the one-hot half of [hard | soft] targets."""

    def __init__(self, name: str = "accuracy", dtype: object = None):
        super().__init__(fn=_hard_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict:
        """Only the name and dtype: the function is fixed."""
        return {"name": self.name, "dtype": self.dtype}


def _hard_accuracy(y_true: object, y_pred: object) -> object:
    k = ops.shape(y_pred)[-1]
    return keras.metrics.categorical_accuracy(y_true[..., :k], y_pred)


def load_teacher(path: str | Path) -> keras.Model:
    """A teacher network from a .keras file or a version folder (model.keras or ensemble members)."""
    from training.keras_models import load_checkpoint, load_keras_model

    path = Path(path)
    if path.suffix == ".keras":
        return load_checkpoint(path, compile=False)
    return load_keras_model(path)


def teacher_probabilities(
    teachers: list[keras.Model], images: np.ndarray, tta: str = "none", batch: int = 256
) -> np.ndarray:
    """Mean probabilities of the teachers on uint8 [N,48,48,1] faces, each through its serving
    signature with the given views (so 44x44 crop networks and 48x48 ones can teach together)."""
    from training.signature import served_probabilities

    faces = images.astype(np.uint8)
    total = None
    for teacher in teachers:
        probs = served_probabilities(teacher, faces, tta, batch=batch)
        total = probs if total is None else total + probs
    if total is None:
        raise ValueError("no teachers given")
    return (total / len(teachers)).astype(np.float32)


def cached_teacher_targets(
    config: object, train_df: object, val_df: object, class_names: list[str], run_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher probabilities for the train and validation rows, cached in the run folder.

    The cache is keyed by the teachers, their views (teacher_tta; "none" keeps the key it had
    before views existed, as its numbers are the same) and the image paths, so a resumed run
    reuses it and any change of teachers, views or split recomputes it.
    """
    import hashlib
    import json

    from training.data import load_arrays

    key = hashlib.sha256(
        json.dumps([list(config.teachers), list(train_df.path), list(val_df.path)]).encode()
        + (b"" if config.teacher_tta == "none" else config.teacher_tta.encode())
    ).hexdigest()[:16]
    path = Path(run_dir) / f"teacher-targets-{key}.npz"
    if path.exists():
        cached = np.load(path)
        return cached["train"], cached["val"]
    teachers = [load_teacher(t) for t in config.teachers]
    train_images, _ = load_arrays(train_df, class_names)
    val_images, _ = load_arrays(val_df, class_names)
    soft_train = teacher_probabilities(teachers, train_images, config.teacher_tta)
    soft_val = teacher_probabilities(teachers, val_images, config.teacher_tta)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, train=soft_train, val=soft_val)
    partial.replace(path)
    return soft_train, soft_val

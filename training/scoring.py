"""Scoring a model on faces: its probabilities in slices, and the metrics of those probabilities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

SLICE = 256  # faces per call: thousands of faces x 8 TTA views at once need many GB of activations


def predict_in_slices(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    """predict over uint8 faces [N,48,48,1], SLICE at a time; [0, 0] for no faces."""
    parts = [predict(images[i : i + SLICE]) for i in range(0, len(images), SLICE)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Counts confusion matrix, rows = true class."""
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def compute_metrics(probs: np.ndarray, y_true: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, loss, macro-F1 and per-class precision/recall/F1 from probabilities."""
    k = len(class_names)
    y_pred = probs.argmax(axis=1)
    matrix = confusion(y_true, y_pred, k)
    tp = np.diag(matrix).astype(float)
    precision = np.divide(tp, matrix.sum(axis=0), out=np.zeros(k), where=matrix.sum(axis=0) > 0)
    recall = np.divide(tp, matrix.sum(axis=1), out=np.zeros(k), where=matrix.sum(axis=1) > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y_true)), y_true], eps, 1.0))))
    accuracy = float((y_pred == y_true).mean()) if len(y_true) else 0.0
    per_class = {
        name: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(matrix[i].sum()),
        }
        for i, name in enumerate(class_names)
    }
    return {
        "samples": len(y_true),
        "accuracy": round(accuracy, 4),
        "categorical_accuracy": round(accuracy, 4),
        "loss": round(loss, 4),
        "macro_f1": round(float(f1.mean()), 4),
        "weighted_f1": round(float((f1 * matrix.sum(axis=1)).sum() / max(len(y_true), 1)), 4),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }

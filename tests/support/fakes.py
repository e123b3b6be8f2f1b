"""Simple fakes that stand in for the model."""

from __future__ import annotations

import numpy as np

from tests.synthetic import CLASSES


class FakePredictor:
    """A model stand-in: probabilities from mean brightness; records every batch it sees."""

    name, version = "emotion", "7"

    def __init__(self, class_names: tuple[str, ...] = CLASSES) -> None:
        self.class_names = list(class_names)
        self.metadata = {"name": self.name, "version": 7, "class_names": self.class_names}
        self.batches: list[int] = []

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """A deterministic softmax over classes, depending on each image's pixels."""
        self.batches.append(len(images))
        means = images.reshape(len(images), -1).astype(np.float32).mean(axis=1) / 255.0
        logits = np.outer(means, np.arange(len(self.class_names), dtype=np.float32) * 4)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

"""Typed errors of the training pipeline; the CLIs turn them into exit code 2."""

from contract.modeldir import ModelDirError

__all__ = ["DatasetError", "ModelDirError"]


class DatasetError(Exception):
    """The dataset folder is unusable (missing split, empty class, label mismatch)."""

"""Typed errors of the training pipeline; every CLI turns them into one line and exit 2 (training.cli)."""

from contract.modeldir import ModelDirError

__all__ = ["ConfigError", "DatasetError", "ModelDirError"]


class DatasetError(Exception):
    """The dataset folder is unusable (missing split, empty class, label mismatch)."""


class ConfigError(ValueError):
    """A config file or flag is unreadable or invalid (a ValueError, as before it was typed)."""

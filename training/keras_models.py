"""Keras models from files and members: a checkpoint, a version's Keras model, an ensemble."""

from __future__ import annotations

from pathlib import Path

import keras

from contract import CHANNELS, IMAGE_SIZE
from contract.modeldir import KERAS_FILE, ModelDirError, read_metadata

ENSEMBLE_NAME = "emotion_ensemble"


def model_crop_size(model: keras.Model) -> int:
    """The face side the network takes (48, or the random-crop size it was trained on)."""
    return int(model.input_shape[1] or IMAGE_SIZE)


def build_ensemble(members: list[keras.Model]) -> keras.Model:
    """One model on 48x48 faces whose output is the mean of the members' softmax outputs.

    A member trained on random crops sees the central crop of its size (its one-view input);
    the serving signature (training.signature) gives each member its own views instead.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two members")
    widths = {int(m.output_shape[-1]) for m in members}
    if len(widths) != 1:
        raise ValueError(f"members disagree on the number of classes: {sorted(widths)}")
    # Checkpoints of one architecture share a model name; nested models must be unique.
    for i, member in enumerate(members, start=1):
        member.name = f"member_{i}"
        member.trainable = False
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, CHANNELS), name="image")
    branches = []
    for member in members:
        side = model_crop_size(member)
        if side > IMAGE_SIZE:
            raise ValueError(
                f"{member.name} takes {side}x{side} faces, larger than the {IMAGE_SIZE}x{IMAGE_SIZE} input"
            )
        x = (
            inputs
            if side == IMAGE_SIZE
            else keras.layers.CenterCrop(side, side, name=f"{member.name}_centre")(inputs)
        )
        branches.append(member(x, training=False))
    outputs = keras.layers.Average(name="probabilities")(branches)
    return keras.Model(inputs, outputs, name=ENSEMBLE_NAME)


def members_of(model: keras.Model) -> list[keras.Model]:
    """The member networks of an ensemble (e.g. to continue training one of them)."""
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def load_checkpoint(path: str | Path, *, compile: bool = True) -> keras.Model:
    """A .keras checkpoint named on the command line; a missing or unreadable one is a ModelDirError."""
    try:
        return keras.models.load_model(path, compile=compile)
    except (OSError, ValueError, TypeError) as exc:  # "File not found"; TypeError: unknown class
        raise ModelDirError(f"cannot load checkpoint {path}: {exc}") from exc


def load_keras_model(version_dir: str | Path) -> keras.Model:
    """The Keras model of an exported version: its model.keras, or, for an ensemble exported
    with --no-export-keras, the average rebuilt from the member checkpoints in its metadata."""
    version_dir = Path(version_dir)
    if (version_dir / KERAS_FILE).is_file():
        return load_checkpoint(version_dir / KERAS_FILE, compile=False)
    rows = read_metadata(version_dir).get("training", {}).get("ensemble", {}).get("members", [])
    if not rows:
        raise ModelDirError(f"{version_dir} has no {KERAS_FILE} and lists no ensemble members")
    missing = [row["checkpoint"] for row in rows if not Path(row["checkpoint"]).is_file()]
    if missing:
        raise ModelDirError(
            f"ensemble members of {version_dir} not found (paths are relative to the repo root): {missing}"
        )
    return build_ensemble([load_checkpoint(row["checkpoint"], compile=False) for row in rows])

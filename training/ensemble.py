"""Average several trained CNNs into one model, chosen on the validation split.

python -m training.ensemble --member A.keras --member B.keras --data-dir DIR --config f.toml \
    [--publish [--no-export-keras]]

Members are any checkpoints with the same input contract and classes (e.g. independent runs
of different widths, or snapshots of one run). The ensemble is one Keras model
(input -> every member -> Average), so export, the serving signature (with its TTA),
evaluation and the service need no special case. --no-export-keras leaves model.keras out
of the version folder when the members are committed anyway; load_keras_model rebuilds it.
Without --publish the CLI only prints validation accuracy of each member and of the
average; the test split is touched only by the evaluation that --publish runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from contract import CHANNELS, IMAGE_SIZE, OUTPUT_NAME
from contract.modeldir import read_metadata
from training.config import TrainConfig, add_arguments, config_from_args
from training.errors import DatasetError, ModelDirError

log = logging.getLogger(__name__)

ENSEMBLE_NAME = "emotion_ensemble"


def build_ensemble(members: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' softmax outputs."""
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
    outputs = keras.layers.Average(name="probabilities")([m(inputs, training=False) for m in members])
    return keras.Model(inputs, outputs, name=ENSEMBLE_NAME)


def members_of(model: keras.Model) -> list[keras.Model]:
    """The member networks of an ensemble (e.g. to continue training one of them)."""
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def load_keras_model(version_dir: str | Path) -> keras.Model:
    """The Keras model of an exported version: its model.keras, or, for an ensemble exported
    with --no-export-keras, the average rebuilt from the member checkpoints in its metadata."""
    from training.export import KERAS_FILE

    version_dir = Path(version_dir)
    if (version_dir / KERAS_FILE).is_file():
        return keras.models.load_model(version_dir / KERAS_FILE, compile=False)
    rows = read_metadata(version_dir).get("training", {}).get("ensemble", {}).get("members", [])
    if not rows:
        raise ModelDirError(f"{version_dir} has no {KERAS_FILE} and lists no ensemble members")
    missing = [row["checkpoint"] for row in rows if not Path(row["checkpoint"]).is_file()]
    if missing:
        raise ModelDirError(
            f"ensemble members of {version_dir} not found (paths are relative to the repo root): {missing}"
        )
    return build_ensemble([keras.models.load_model(row["checkpoint"], compile=False) for row in rows])


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray, tta: str) -> float:
    """Accuracy of exactly what the serving signature computes (including its TTA)."""
    from training.export import serving_function

    serve = serving_function(model, tta)
    predictions = []
    for start in range(0, len(images), 512):
        out = serve(images[start : start + 512])
        predictions.append(np.asarray(out[OUTPUT_NAME]).argmax(axis=1))
    return float((np.concatenate(predictions) == labels).mean()) if len(labels) else 0.0


def validation_table(
    paths: list[str], config: TrainConfig, images: np.ndarray, labels: np.ndarray
) -> tuple[keras.Model, dict[str, Any]]:
    """Validation accuracy of each member and of their average; returns the ensemble too."""
    members = [keras.models.load_model(p, compile=False) for p in paths]
    scores = {p: accuracy(m, images, labels, config.tta) for p, m in zip(paths, members, strict=True)}
    ensemble = build_ensemble(members)
    return ensemble, {
        "members": [{"checkpoint": p, "val_accuracy": round(s, 4)} for p, s in scores.items()],
        "val_accuracy": round(accuracy(ensemble, images, labels, config.tta), 4),
        "validation_images": len(labels),
        "tta": config.tta,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: compare members and their average on validation; optionally publish the average."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--member", action="append", required=True, help="a .keras checkpoint (2 or more)")
    parser.add_argument("--publish", action="store_true", help="export + evaluate the ensemble")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = config_from_args(args)
    from training.data import load_arrays, split_train_val
    from training.export import check_version_free
    from training.manifest import build_manifest
    from training.manifest import class_names as get_class_names
    from training.publish import publish
    from training.report import dataset_report

    try:
        if len(args.member) < 2:
            raise ValueError("give --member at least twice")
        if args.publish and config.version:  # refused before the members are evaluated
            check_version_free(Path(config.model_dir) / str(config.version), config.overwrite)
        manifest = build_manifest(config.data_dir)
        _, val_df = split_train_val(manifest, config)
        images, labels = load_arrays(val_df, get_class_names(manifest))
        ensemble, table = validation_table(args.member, config, images, labels)
        for row in table["members"]:
            print(f"validation accuracy {row['val_accuracy']:.4f}  {row['checkpoint']}", flush=True)
        print(f"validation accuracy {table['val_accuracy']:.4f}  ensemble (mean)", flush=True)
        if args.publish:
            publish(ensemble, config, manifest, dataset_report(manifest), {"ensemble": table})
    except (DatasetError, ModelDirError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

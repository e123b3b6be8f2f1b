"""Average several trained CNNs into one model, chosen on the validation split.

python -m training.ensemble --member A.keras --member B.keras --data-dir DIR --config f.toml \
    [--publish [--no-export-keras]]

Members are any checkpoints with the same input contract and classes (e.g. independent runs
of different widths, or snapshots of one run). The ensemble is one Keras model
(input -> every member -> Average), so export, the serving signature (with its TTA),
evaluation and the service need no special case. --no-export-keras leaves model.keras out
of the version folder when the members are committed anyway; training.keras_models.load_keras_model
rebuilds it.
Without --publish the CLI only prints validation accuracy of each member and of the
average; the test split is touched only by the evaluation that --publish runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from training.cli import command
from training.config import TrainConfig, add_arguments, config_from_args
from training.data import load_arrays
from training.errors import ConfigError
from training.keras_models import build_ensemble, load_checkpoint
from training.publish import publish
from training.run import load_run
from training.signature import served_probabilities
from training.versions import refuse_taken_version

log = logging.getLogger(__name__)


def accuracy(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, tta: str, class_bias: Sequence[float] = ()
) -> float:
    """Accuracy of exactly what the serving signature computes (its TTA, and any class bias)."""
    if not len(labels):
        return 0.0
    return float((served_probabilities(model, images, tta, class_bias).argmax(axis=1) == labels).mean())


def validation_table(
    paths: list[str], config: TrainConfig, images: np.ndarray, labels: np.ndarray
) -> tuple[keras.Model, dict[str, Any]]:
    """Validation accuracy of each member and of their average; returns the ensemble too."""
    members = [load_checkpoint(p, compile=False) for p in paths]
    scores = {p: accuracy(m, images, labels, config.tta) for p, m in zip(paths, members, strict=True)}
    try:
        ensemble = build_ensemble(members)
    except ValueError as exc:  # e.g. members with different class counts: the command line's fault
        raise ConfigError(f"--member: {exc}") from exc
    return ensemble, {
        "members": [{"checkpoint": p, "val_accuracy": round(s, 4)} for p, s in scores.items()],
        # The average as published: with the recipe's class_bias, if any (the members without).
        "val_accuracy": round(accuracy(ensemble, images, labels, config.tta, config.class_bias), 4),
        "validation_images": len(labels),
        "tta": config.tta,
    }


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: compare members and their average on validation; optionally publish the average."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--member", action="append", required=True, help="a .keras checkpoint (2 or more)")
    parser.add_argument("--publish", action="store_true", help="export + evaluate the ensemble")
    add_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if len(args.member) < 2:
        raise ConfigError("give --member at least twice")
    if args.publish:  # refused before the members are evaluated
        refuse_taken_version(config.model_dir, config.version, config.overwrite)
    run = load_run(config)
    images, labels = load_arrays(run.val_rows, run.class_names)
    ensemble, table = validation_table(args.member, config, images, labels)
    for row in table["members"]:
        print(f"validation accuracy {row['val_accuracy']:.4f}  {row['checkpoint']}", flush=True)
    print(f"validation accuracy {table['val_accuracy']:.4f}  ensemble (mean)", flush=True)
    if args.publish:
        publish(ensemble, run, {"ensemble": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())

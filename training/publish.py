"""Publish a trained model: export a version folder, evaluate it on test, record metrics.

Also a CLI, to publish a `.keras` checkpoint (e.g. the best epoch so far of a run
that is still going, or a committed checkpoint on a new machine):

python -m training.publish --checkpoint runs/x/best.keras --data-dir DIR --config f.toml
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from contract.crop import resolve_policy
from contract.modeldir import read_metadata, write_metadata
from training import callbacks as cb
from training.config import TrainConfig, add_arguments, config_from_args
from training.data import class_weights, split_train_val
from training.errors import DatasetError, ModelDirError
from training.evaluate import evaluate_dir, evaluate_photos
from training.export import check_version_free, export_model, next_version, staged_version_dir
from training.manifest import build_manifest, fingerprint
from training.manifest import class_names as get_class_names
from training.report import dataset_report, save_report

log = logging.getLogger(__name__)


def float32_copy(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The same weights in a float32 network when it was trained under a mixed policy.

    A model built under mixed_bfloat16 (or float16) would export a signature that computes in
    that precision: slow where the CPU lacks it, and not the f32 artefact of record that the
    runtimes derive their own precisions from.
    """
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    from training.model import make_model

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = make_model(config, int(model.output_shape[-1]))
    finally:
        keras.mixed_precision.set_global_policy(policy)
    copy.set_weights(model.get_weights())
    return copy


def publish(
    model: keras.Model,
    config: TrainConfig,
    manifest: pd.DataFrame,
    report: dict[str, Any],
    training_info: dict[str, Any],
) -> Path:
    """Export model to <model_dir>/<version>/, evaluate on the test split, store metrics.

    Everything is written into a staging folder beside the version folder and renamed into place
    only when complete (training.export.staged_version_dir); an existing version is refused
    unless config.overwrite.
    """
    model = float32_copy(model, config)
    version = config.version or next_version(config.model_dir)
    version_dir = Path(config.model_dir) / str(version)
    with staged_version_dir(version_dir, overwrite=config.overwrite) as staging:
        metrics = _write_version(model, config, manifest, report, training_info, staging, version_dir)
    print(
        f"exported {version_dir}: test accuracy {metrics['accuracy']:.4f}, "
        f"macro-F1 {metrics['macro_f1']:.4f}",
        flush=True,
    )
    return version_dir


def _write_version(
    model: keras.Model,
    config: TrainConfig,
    manifest: pd.DataFrame,
    report: dict[str, Any],
    training_info: dict[str, Any],
    version_dir: Path,
    final_dir: Path,
) -> dict[str, Any]:
    """Export, evaluate and record the metrics into version_dir, the staging folder of final_dir."""
    history = cb.read_history(config.run_dir)
    train_df, val_df = split_train_val(manifest, config)
    training_info = {
        "config": config.to_dict(),
        "train_images": len(train_df),
        "validation_images": len(val_df),
        "class_weights": class_weights(train_df.label, get_class_names(manifest), config.class_weight),
        "epochs_run": len(history),
        "best_val_accuracy": round(float(history.val_accuracy.max()), 4) if len(history) else None,
        **training_info,
    }
    export_model(
        model,
        version_dir,
        class_names=get_class_names(manifest),
        tta=config.tta,
        crop_policy=resolve_policy(config.crop_policy),
        include_optimizer=config.export_optimizer,
        include_keras=config.export_keras,
        extra={
            "name": config.model_name,
            "training": training_info,
            "dataset": {
                "fingerprint": fingerprint(manifest),
                "totals": report["totals"],
                "counts": report["counts"],
            },
        },
    )
    save_report(report, version_dir / "evaluation")
    if len(history):
        history.to_csv(version_dir / "evaluation" / "history.csv", index=False)
    if config.detect:  # a photo dataset is evaluated on photos, through detection like the service
        metrics = evaluate_photos(version_dir, config.data_dir, version_dir / "evaluation")
    else:
        metrics = evaluate_dir(version_dir, config.data_dir, version_dir / "evaluation", history)
    metadata = read_metadata(version_dir)
    metadata["version"] = int(final_dir.name) if final_dir.name.isdigit() else final_dir.name
    metadata["metrics"] = {k: v for k, v in metrics.items() if k not in ("model_dir", "data_dir")}
    write_metadata(version_dir, metadata)
    # The evaluation's own record names the folder the version will have, not the staging one.
    record = version_dir / "evaluation" / "metrics.json"
    recorded = {**json.loads(record.read_text()), "model_dir": str(final_dir)}
    record.write_text(json.dumps(recorded, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """CLI: publish a .keras checkpoint with the run's config."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a .keras file (e.g. runs/x/best.keras)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = config_from_args(args)
    try:
        if config.version:  # before loading anything
            check_version_free(Path(config.model_dir) / str(config.version), config.overwrite)
        manifest = build_manifest(config.data_dir)
        model = keras.models.load_model(args.checkpoint)
        publish(model, config, manifest, dataset_report(manifest), {"checkpoint": str(args.checkpoint)})
    except (DatasetError, ModelDirError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

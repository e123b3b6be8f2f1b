"""Publish a model as a version folder: model files, evaluation on test, metadata.json written once.

Used by `make train` (training.train), `make export` (training.export) and `make ensemble
--publish` (training.ensemble); each hands over the Run that holds what was decided.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras

from contract.crop import resolve_policy
from contract.modeldir import write_metadata
from contract.savedmodel import load_predict_fn
from training.config import TrainConfig
from training.evaluate import evaluate_photo_rows, evaluate_rows
from training.keras_models import members_of
from training.report import save_report
from training.run import Run
from training.savedmodel_writer import model_metadata, write_model_files
from training.versions import next_version, staged_version_dir


def float32_copy(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The same weights in a float32 network when it was trained under a mixed policy.

    A model built under mixed_bfloat16 (or float16) would export a signature that computes in
    that precision: slow where the CPU lacks it, and not the f32 artefact of record that the
    runtimes derive their own precisions from.
    """
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    from training.model import rebuilt

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return rebuilt(model, config)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def served_network(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The network publish() exports from a checkpoint: a single network in float32
    (float32_copy); an ensemble as it is (its members keep the policy they were built under).
    choose-tta and recall-floor score this, so their choices hold for the exported model."""
    return model if members_of(model) else float32_copy(model, config)


def publish(model: keras.Model, run: Run, source: dict[str, Any]) -> Path:
    """Export model to <model_dir>/<version>/, evaluate it on the run's test rows, store the metrics.

    source says how the model came about (recorded under metadata "training"). Everything is
    written into a staging folder beside the version folder and renamed into place only when
    complete (training.versions.staged_version_dir); an existing version is refused unless
    config.overwrite.
    """
    config = run.config
    model = served_network(model, config)
    version = config.version or next_version(config.model_dir)
    version_dir = Path(config.model_dir) / str(version)
    with staged_version_dir(version_dir, overwrite=config.overwrite) as staging:
        metrics = _write_version(model, run, source, staging, version_dir)
    print(
        f"exported {version_dir}: test accuracy {metrics['accuracy']:.4f}, "
        f"macro-F1 {metrics['macro_f1']:.4f}",
        flush=True,
    )
    return version_dir


def _write_version(
    model: keras.Model, run: Run, source: dict[str, Any], staging: Path, final_dir: Path
) -> dict[str, Any]:
    """Model files, data report, history and evaluation into staging (the folder that becomes
    final_dir), then metadata.json, last and once."""
    config = run.config
    policy = resolve_policy(config.crop_policy)
    write_model_files(
        model,
        staging,
        tta=config.tta,
        class_bias=config.class_bias,
        include_optimizer=config.export_optimizer,
        include_keras=config.export_keras,
    )
    evaluation = staging / "evaluation"
    save_report(run.report, evaluation)
    if len(run.history):
        run.history.to_csv(evaluation / "history.csv", index=False)
    # The records name the folder the version will have, not the staging one.
    record = {"model_dir": str(final_dir), "data_dir": str(config.data_dir), "split": "test"}
    predict = load_predict_fn(staging)
    if config.detect:  # a photo dataset is evaluated on photos, through detection like the service
        metrics = evaluate_photo_rows(
            predict, run.test_rows, run.class_names, policy, "yunet", evaluation, record
        )
    else:
        metrics = evaluate_rows(predict, run.test_rows, run.class_names, evaluation, record, run.history)
    metadata = model_metadata(
        model,
        name=config.model_name,
        version=int(final_dir.name) if final_dir.name.isdigit() else final_dir.name,
        class_names=run.class_names,
        tta=config.tta,
        crop_policy=policy,
        class_bias=config.class_bias,
        training=run.training_record(source),
        dataset=run.dataset_record(),
        metrics={k: v for k, v in metrics.items() if k not in ("model_dir", "data_dir")},
    )
    write_metadata(staging, metadata)
    return metrics


if __name__ == "__main__":  # the CLI of this stage is `make export`
    sys.exit("training.publish is not a command: use `python -m training.export` (make export)")

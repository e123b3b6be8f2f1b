"""Train the emotion CNN on an image-folder dataset, export it and evaluate it.

python -m training.train --data-dir DIR [--model-dir models/emotion] [--epochs N] [...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from training.config import TrainConfig, add_arguments, config_from_args
from training.errors import DatasetError, ModelDirError

log = logging.getLogger("training")


def train(config: TrainConfig) -> Path:
    """Run the whole pipeline; returns the exported version folder."""
    import keras

    from training import callbacks as cb
    from training.data import (
        class_weights,
        make_augmenter,
        make_dataset,
        oversample,
        split_train_val,
        stream_seed,
    )
    from training.devices import configure_devices
    from training.ensemble import ENSEMBLE_NAME
    from training.export import check_version_free
    from training.manifest import build_manifest
    from training.manifest import class_names as get_class_names
    from training.model import compile_model, make_model
    from training.publish import publish
    from training.report import dataset_report, format_report, save_report

    if config.version:  # refused now, not after hours of training
        check_version_free(Path(config.model_dir) / str(config.version), config.overwrite)
    strategy = configure_devices(config.mixed_precision)
    run_dir = Path(config.run_dir)
    resuming = cb.prepare_run_dir(run_dir)
    log.info("%s run in %s", "resuming" if resuming else "starting", run_dir)
    # Also drives dropout masks and weight init (the latter only matters for fresh runs).
    seed = stream_seed(config, len(cb.read_history(run_dir)))
    keras.utils.set_random_seed(seed)

    manifest = build_manifest(config.data_dir)
    photos = None
    if config.detect:  # uncropped photos: train on the faces the service would crop (cached)
        from contract.crop import resolve_policy
        from contract.detect import make_detector
        from training.photos import detect_dataset, format_photo_report

        manifest, photos = detect_dataset(
            manifest, run_dir, resolve_policy(config.crop_policy), make_detector("yunet"), config.multi_face
        )
        print(format_photo_report(photos, config.multi_face), flush=True)
    manifest.to_csv(run_dir / "manifest.csv", index=False)
    report = dataset_report(manifest)
    if photos is not None:
        report["photos"] = photos
    print(format_report(report), flush=True)
    save_report(report, run_dir / "report")
    class_names = get_class_names(manifest)
    train_df, val_df = split_train_val(manifest, config)
    weights = class_weights(train_df.label, class_names, config.class_weight)
    if config.oversample:
        train_df = oversample(train_df, seed)
    log.info(
        "train %d, validation %d, classes %s, class weights %s, data seed %d",
        len(train_df),
        len(val_df),
        class_names,
        weights,
        seed,
    )

    soft_train = soft_val = None
    if config.teachers:
        from training.distill import cached_teacher_targets

        soft_train, soft_val = cached_teacher_targets(config, train_df, val_df, class_names, run_dir)
    train_ds = make_dataset(
        train_df,
        class_names,
        config,
        training=True,
        augmenter=make_augmenter(config, seed),
        seed=seed,
        soft_targets=soft_train,
        weights=weights if config.teachers else None,
    )
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    val_ds = make_dataset(val_df, class_names, config, training=False, soft_targets=soft_val)
    with strategy.scope():
        if config.init_from:
            log.info("continuing from checkpoint %s", config.init_from)
            model = keras.models.load_model(config.init_from)
            if model.name == ENSEMBLE_NAME:
                raise ModelDirError(
                    f"{config.init_from} is an ensemble; continue from one member's checkpoint"
                )
            if (
                getattr(model, "optimizer", None) is None
            ):  # e.g. saved without its optimizer: start a fresh Adam
                model = compile_model(model, config)
        else:
            model = compile_model(make_model(config, len(class_names)), config)
    model.summary(print_fn=lambda line, **_: log.info(line))
    started = time.monotonic()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=None if config.teachers else weights,  # distillation: per-sample weights
        steps_per_epoch=config.steps_per_epoch or None,
        callbacks=cb.make_callbacks(config),
        shuffle=False,
        verbose=1,
    )
    train_seconds = time.monotonic() - started
    # The best validation epoch, even across resumed runs (EarlyStopping only knows this session).
    best = cb.load_best(run_dir)
    if best is not None:
        model = best

    return publish(model, config, manifest, report, {"seconds_this_session": round(train_seconds)})


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; dataset and model-dir problems exit with code 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = config_from_args(args)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:
        train(config)
    except (DatasetError, ModelDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the emotion CNN on an image-folder dataset, export it and evaluate it.

python -m training.train --data-dir DIR [--model-dir models/emotion] [--epochs N] [...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from training import callbacks as cb
from training.cli import command
from training.config import TrainConfig, add_arguments, config_from_args
from training.data import make_augmenter, make_dataset, oversample, stream_seed
from training.devices import configure_devices
from training.distill import cached_teacher_targets
from training.errors import ModelDirError
from training.keras_models import ENSEMBLE_NAME, load_checkpoint
from training.model import compile_model, make_model, rebuilt
from training.photos import format_photo_report
from training.publish import publish
from training.report import format_report, save_report
from training.run import Run, load_run
from training.versions import refuse_taken_version

log = logging.getLogger("training")


def train(config: TrainConfig) -> Path:
    """Run the whole pipeline; returns the exported version folder."""
    refuse_taken_version(config.model_dir, config.version, config.overwrite)
    strategy = configure_devices(config.mixed_precision)
    run_dir = Path(config.run_dir)
    resuming = cb.prepare_run_dir(run_dir)
    log.info("%s run in %s", "resuming" if resuming else "starting", run_dir)
    run = load_run(config)
    # Also drives dropout masks and weight init (the latter only matters for fresh runs).
    seed = stream_seed(config, len(run.history))
    keras.utils.set_random_seed(seed)
    if "photos" in run.report:
        print(format_photo_report(run.report["photos"], config.multi_face), flush=True)
    run.manifest.to_csv(run_dir / "manifest.csv", index=False)
    print(format_report(run.report), flush=True)
    save_report(run.report, run_dir / "report")
    model, train_seconds = fit(run, strategy, seed)
    # The best validation epoch, even across resumed runs (EarlyStopping only knows this session).
    best = cb.load_best(run_dir)
    if best is not None:
        model = best
    return publish(model, run.with_history(), {"seconds_this_session": round(train_seconds)})


def initial_model(config: TrainConfig, num_classes: int) -> keras.Model:
    """A fresh compiled network, or the init_from checkpoint (compiled anew if saved without one)."""
    if not config.init_from:
        return compile_model(make_model(config, num_classes), config)
    log.info("continuing from checkpoint %s", config.init_from)
    model = load_checkpoint(config.init_from)
    if model.name == ENSEMBLE_NAME:
        raise ModelDirError(f"{config.init_from} is an ensemble; continue from one member's checkpoint")
    run_policy = keras.mixed_precision.global_policy().name
    if built_under(model) != run_policy:
        # A checkpoint keeps the policy it was built under: a float32 network continued in a bf16
        # run would train in float32, about 1.4x slower here. Its weights go into the config's
        # network built under the run's policy (a saved optimizer is not carried over).
        try:
            model = rebuilt(model, config)
        except ValueError as exc:  # the config does not describe the checkpoint's network
            raise ModelDirError(
                f"{config.init_from} was built under {built_under(model)}, this run trains under "
                f"{run_policy}, and the config's network does not take its weights: {exc}"
            ) from None
        log.info("rebuilt %s under %s", config.init_from, run_policy)
        return compile_model(model, config)
    if getattr(model, "optimizer", None) is None:  # e.g. saved without its optimizer: a fresh one
        model = compile_model(model, config)
    return model


def built_under(model: keras.Model) -> str:
    """The dtype policy of the model's first layer with weights (the softmax is float32 in every policy)."""
    return next(layer for layer in model.layers if layer.weights).dtype_policy.name


def fit(
    run: Run, strategy: tf.distribute.Strategy, seed: int, extra_callbacks: list | None = None
) -> tuple[keras.Model, float]:
    """Fit on the run's training rows (oversampled if configured), validated on its validation rows;
    the model and the seconds fitting took (extra_callbacks: e.g. training.precision_check's timer)."""
    config = run.config
    train_rows = oversample(run.train_rows, seed) if config.oversample else run.train_rows
    log.info(
        "train %d, validation %d, classes %s, class weights %s, data seed %d",
        len(train_rows),
        len(run.val_rows),
        run.class_names,
        run.class_weights,
        seed,
    )
    soft_train = soft_val = None
    if config.teachers:
        soft_train, soft_val = cached_teacher_targets(
            config, train_rows, run.val_rows, run.class_names, Path(config.run_dir)
        )
    train_ds = make_dataset(
        train_rows,
        run.class_names,
        config,
        training=True,
        augmenter=make_augmenter(config, seed),
        seed=seed,
        soft_targets=soft_train,
        weights=run.class_weights if config.teachers else None,
    )
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    val_ds = make_dataset(run.val_rows, run.class_names, config, training=False, soft_targets=soft_val)
    with strategy.scope():
        model = initial_model(config, len(run.class_names))
    model.summary(print_fn=lambda line, **_: log.info(line))
    started = time.monotonic()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=None if config.teachers else run.class_weights,  # distillation: per-sample weights
        steps_per_epoch=config.steps_per_epoch or None,
        callbacks=[*cb.make_callbacks(config, run.history), *(extra_callbacks or [])],
        shuffle=False,
        verbose=1,
    )
    return model, time.monotonic() - started


@command
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; config, dataset and model-dir problems exit with code 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    train(config_from_args(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

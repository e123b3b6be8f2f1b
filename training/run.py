"""What a training run decided, worked out once and handed on: data, split, class weights, history.

train builds a Run before fitting; publish (and through it the export and ensemble CLIs) reads
it instead of working anything out again. load_run is the one constructor, for a run being
trained and for a checkpoint or an ensemble published later with the same config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from training.callbacks import read_history
from training.config import TrainConfig
from training.data import class_weights, split_train_val
from training.epoch_clock import read_epoch_times, time_summary
from training.errors import ConfigError
from training.manifest import build_manifest, class_names, fingerprint, usable
from training.report import dataset_report


@dataclass(frozen=True)
class Run:
    """The decisions of one run, from the dataset folder to the version it publishes."""

    config: TrainConfig
    manifest: pd.DataFrame  # what the network learns from: the folder's images, or --detect face crops
    report: dict[str, Any]  # the data report of manifest (with "photos" for a --detect run)
    class_names: list[str]
    train_rows: pd.DataFrame  # the training split, before any oversampling
    val_rows: pd.DataFrame  # the seeded, stratified validation split carved from train
    class_weights: dict[int, float] | None
    history: pd.DataFrame  # the run folder's per-epoch log when it was read (see with_history)
    photos: pd.DataFrame | None = None  # a --detect run's scanned photos: its test split is evaluated

    @property
    def test_rows(self) -> pd.DataFrame:
        """The usable test rows the published model is evaluated on (photos for a --detect run)."""
        scanned = self.photos if self.photos is not None else self.manifest
        return usable(scanned[scanned.split == "test"])

    def with_history(self) -> Run:
        """The same run with its log as it is now: fitting has appended this session's epochs."""
        return dataclasses.replace(self, history=read_history(self.config.run_dir))

    def training_record(self, source: dict[str, Any]) -> dict[str, Any]:
        """metadata.json's "training": the config, the split, the weights, the epochs, then source
        (how the model came about: seconds trained, a checkpoint path or an ensemble table)."""
        history = self.history
        return {
            "config": self.config.to_dict(),
            "train_images": len(self.train_rows),
            "validation_images": len(self.val_rows),
            "class_weights": self.class_weights,
            "epochs_run": len(history),
            "best_val_accuracy": round(float(history.val_accuracy.max()), 4) if len(history) else None,
            # Every session's epochs, on whichever machine ran them (training.epoch_clock).
            "compute_time": time_summary(read_epoch_times(self.config.run_dir), len(history)),
            **source,
        }

    def dataset_record(self) -> dict[str, Any]:
        """metadata.json's "dataset": the content fingerprint and the counts."""
        report = self.report
        return {
            "fingerprint": fingerprint(self.manifest),
            "totals": report["totals"],
            "counts": report["counts"],
        }


def load_run(config: TrainConfig) -> Run:
    """Scan config.data_dir once (detect and crop its faces for a --detect run, cached in the run
    folder), report it, split it, weigh its classes and read the run's history."""
    manifest = build_manifest(config.data_dir)
    count = len(class_names(manifest))
    if config.class_bias and len(config.class_bias) != count:
        # Checked here, before hours of training, not when the export finally needs it.
        raise ConfigError(f"class_bias has {len(config.class_bias)} values for {count} classes")
    photos, photo_report = None, None
    if config.detect:  # uncropped photos: train on the faces the service would crop
        from contract.crop import resolve_policy
        from contract.detect import make_detector
        from training.photos import detect_dataset

        photos = manifest
        manifest, photo_report = detect_dataset(
            photos,
            config.run_dir,
            resolve_policy(config.crop_policy),
            make_detector("yunet"),
            config.multi_face,
        )
    report = dataset_report(manifest)
    if photo_report is not None:
        report["photos"] = photo_report
    names = class_names(manifest)
    train_rows, val_rows = split_train_val(manifest, config)
    weights = class_weights(train_rows.label, names, config.class_weight)
    history = read_history(config.run_dir)
    return Run(config, manifest, report, names, train_rows, val_rows, weights, history, photos)

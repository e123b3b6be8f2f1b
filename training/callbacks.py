"""Training callbacks, set up so an interrupted run resumes where it stopped."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import pandas as pd

from training.config import TrainConfig

HISTORY_FILE = "history.csv"
BEST_FILE = "best.keras"
BACKUP_DIR = "backup"


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """Per-epoch log of a run (resumed runs appended), last entry per epoch kept."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    history = pd.read_csv(path)
    return history.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def prepare_run_dir(run_dir: str | Path) -> bool:
    """Create the run folder; return True when resuming an interrupted run.

    A run without a backup folder starts fresh, so old logs and checkpoints of a
    finished run are cleared rather than mixed into the new one.
    """
    run = Path(run_dir)
    resuming = (run / BACKUP_DIR).is_dir() and any((run / BACKUP_DIR).iterdir())
    run.mkdir(parents=True, exist_ok=True)
    if not resuming:
        for name in (HISTORY_FILE, BEST_FILE):
            (run / name).unlink(missing_ok=True)
    return resuming


def cosine_lr(config: TrainConfig, epoch: int) -> float:
    """Learning rate of an epoch: constant until cosine_start, then cosine down to min_lr."""
    if epoch < config.cosine_start:
        return config.learning_rate
    progress = (epoch - config.cosine_start) / max(1, config.epochs - 1 - config.cosine_start)
    return config.min_lr + 0.5 * (config.learning_rate - config.min_lr) * (1 + math.cos(math.pi * progress))


def lr_callback(config: TrainConfig) -> keras.callbacks.Callback:
    """ReduceLROnPlateau, or a cosine LearningRateScheduler."""
    if config.lr_schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(lambda epoch: cosine_lr(config, epoch), verbose=1)
    return keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss",
        factor=config.lr_factor,
        patience=config.lr_patience,
        min_lr=config.min_lr,
        verbose=1,
    )


def make_callbacks(config: TrainConfig) -> list[keras.callbacks.Callback]:
    """Checkpoint, early stopping, LR schedule, CSV log and backup/restore."""
    run = Path(config.run_dir)
    history = read_history(run)
    # ModelCheckpoint forgets its best score across restarts; seed it from the log
    # so a resumed run never overwrites a better checkpoint with a worse one.
    best_so_far = float(history.val_accuracy.max()) if "val_accuracy" in history else None
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.CSVLogger(str(run / HISTORY_FILE), append=True),
        keras.callbacks.ModelCheckpoint(
            str(run / BEST_FILE),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=config.patience, restore_best_weights=True, verbose=1
        ),
        lr_callback(config),
        # Last, so the epoch is fully logged and checkpointed before it counts as done.
        keras.callbacks.BackupAndRestore(str(run / BACKUP_DIR)),
    ]
    if config.tensorboard:
        callbacks.insert(0, keras.callbacks.TensorBoard(str(run / "tensorboard")))
    return callbacks

"""Training callbacks, set up so an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import keras
import pandas as pd

from training.config import TrainConfig
from training.epoch_clock import EPOCH_TIMES_FILE, EpochClock

log = logging.getLogger(__name__)

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


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose files are replaced atomically.

    Keras writes the backup in place: a SIGKILL during that write (right after an epoch)
    leaves a truncated .h5 and the next `make train` dies reading it. Writing to a temporary
    file and renaming it means the backup is always the last complete one.
    Uses Keras 3's private paths and counters; tests/training/test_kill_resume.py covers it.
    """

    def _save_model(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        partial = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, self._weights_path)
        metadata = self._training_metadata_path + ".partial"
        with open(metadata, "w") as handle:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, handle)
        os.replace(metadata, self._training_metadata_path)


def load_best(run_dir: str | Path) -> keras.Model | None:
    """The best-epoch checkpoint of a run, or None when there is none or it is unreadable."""
    path = Path(run_dir) / BEST_FILE
    if not path.exists():
        return None
    try:
        return keras.models.load_model(path)
    except (OSError, ValueError) as exc:  # e.g. killed while ModelCheckpoint was writing it
        log.warning("ignoring unreadable checkpoint %s (%s): using the in-memory best weights", path, exc)
        return None


def prepare_run_dir(run_dir: str | Path) -> bool:
    """Create the run folder; return True when resuming an interrupted run.

    A run without a backup folder starts fresh, so old logs and checkpoints of a
    finished run are cleared rather than mixed into the new one.
    """
    run = Path(run_dir)
    backup = run / BACKUP_DIR
    resuming = backup.is_dir() and any(not p.name.startswith("partial") for p in backup.iterdir())
    run.mkdir(parents=True, exist_ok=True)
    if not resuming:
        for name in (HISTORY_FILE, BEST_FILE, EPOCH_TIMES_FILE):
            (run / name).unlink(missing_ok=True)
    return resuming


class _ReplaysPastEpochs:
    """Mixin for a Keras monitor callback: after Keras resets it in on_train_begin, the monitored
    value of every epoch already done (`past`, from history.csv) goes through `replay`, so a
    resumed run starts with the counters the uninterrupted run would have."""

    def __init__(self, past: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.past = past

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        if self.monitor_op is None:
            self._set_monitor_op()  # explicit mode: needs no model
        for epoch, value in enumerate(self.past):
            self.replay(epoch, value)


class ResumedEarlyStopping(_ReplaysPastEpochs, keras.callbacks.EarlyStopping):
    """EarlyStopping with its counters replayed on resume. Keras resets `wait` and `best`, so each
    resume used to grant `patience` more epochs: a run that spans sessions might never stop early."""

    def replay(self, epoch: int, value: float) -> None:
        """on_epoch_end's counting, without touching the model."""
        self.wait += 1
        if self._is_improvement(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0

    def best_before_resume(self) -> bool:
        """The best epoch so far is an earlier session's: no weights of it are in memory."""
        return self.best_weights is None and self.best_epoch < len(self.past)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        past_best = self.best_before_resume()
        best, best_epoch = self.best, self.best_epoch
        super().on_epoch_end(epoch, logs)
        if past_best and self.best == best:
            # Keras takes the first epoch's weights as the best when it holds none. After a resume
            # the best is an earlier session's epoch, whose weights are in best.keras, not memory:
            # restoring the first resumed epoch at the end would silently replace them.
            self.best_epoch, self.best_weights = best_epoch, None

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.best_before_resume():
            log.info("best epoch %d was before the resume: its weights are in %s", self.best_epoch, BEST_FILE)
        super().on_train_end(logs)


class ResumedReduceLROnPlateau(_ReplaysPastEpochs, keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau with its counters replayed on resume (Keras resets them, so each resume
    delayed the next cut by up to `patience` epochs). The rate itself is not replayed: the
    optimizer's variables in the backup hold it."""

    def replay(self, epoch: int, value: float) -> None:
        """on_epoch_end's counting, without touching the optimizer."""
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(value, self.best):
            self.best, self.wait = value, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                # A cut happened here (or the rate was at its floor, where a cut is a no-op).
                self.cooldown_counter, self.wait = self.cooldown, 0


def run_backup(run_dir: str | Path) -> AtomicBackupAndRestore:
    """The run's backup callback (also where Keras puts its files)."""
    return AtomicBackupAndRestore(str(Path(run_dir) / BACKUP_DIR))


def backup_next_epoch(run_dir: str | Path) -> int | None:
    """The epoch the run's backup resumes at; None when there is no backup."""
    meta = Path(run_backup(run_dir)._training_metadata_path)
    return int(json.loads(meta.read_text())["epoch"]) if meta.is_file() else None


def completed_epochs(history: pd.DataFrame, run_dir: str | Path) -> pd.DataFrame:
    """The history rows of the epochs the backup holds (an epoch logged but killed before its
    backup was written runs again, so it is left out)."""
    next_epoch = backup_next_epoch(run_dir)
    if history.empty or next_epoch is None:
        return history
    return history[history.epoch < next_epoch]


def cosine_lr(config: TrainConfig, epoch: int) -> float:
    """Learning rate of an epoch: constant until cosine_start, then cosine down to min_lr."""
    if epoch < config.cosine_start:
        return config.learning_rate
    progress = (epoch - config.cosine_start) / max(1, config.epochs - 1 - config.cosine_start)
    return config.min_lr + 0.5 * (config.learning_rate - config.min_lr) * (1 + math.cos(math.pi * progress))


def step_lr(config: TrainConfig, epoch: int) -> float:
    """Learning rate of an epoch: constant until cosine_start, then x step_factor every step_every epochs."""
    steps = max(0, epoch - config.cosine_start) // config.step_every if epoch >= config.cosine_start else 0
    return max(config.min_lr, config.learning_rate * config.step_factor**steps)


def lr_callback(config: TrainConfig, past: pd.DataFrame | None = None) -> keras.callbacks.Callback:
    """ReduceLROnPlateau (its counters replayed from past, the epochs already done), or a cosine or
    step LearningRateScheduler (epoch-indexed: resumes exactly)."""
    if config.lr_schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(lambda epoch: cosine_lr(config, epoch), verbose=1)
    if config.lr_schedule == "step":
        return keras.callbacks.LearningRateScheduler(lambda epoch: step_lr(config, epoch), verbose=1)
    return ResumedReduceLROnPlateau(
        past_values(past, "val_loss"),
        monitor="val_loss",
        mode="min",
        factor=config.lr_factor,
        patience=config.lr_patience,
        min_lr=config.min_lr,
        verbose=1,
    )


def past_values(past: pd.DataFrame | None, column: str) -> list[float]:
    """One column of the epochs already done, in epoch order ([] for a fresh run)."""
    if past is None or column not in past:
        return []
    return [float(v) for v in past.sort_values("epoch")[column]]


def make_callbacks(config: TrainConfig, history: pd.DataFrame) -> list[keras.callbacks.Callback]:
    """Checkpoint, early stopping, LR schedule, CSV log and backup/restore; history is the run's log
    so far (read_history)."""
    run = Path(config.run_dir)
    # ModelCheckpoint forgets its best score across restarts; seed it from the log
    # so a resumed run never overwrites a better checkpoint with a worse one.
    best_so_far = float(history.val_accuracy.max()) if "val_accuracy" in history else None
    done = completed_epochs(history, run)
    # With EMA the averaged weights are what validation measures and what the checkpoint and
    # the backup hold at the end of an epoch (swap_on_epoch); training continues on the raw ones.
    ema = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema > 0 else []
    callbacks: list[keras.callbacks.Callback] = [
        *ema,
        EpochClock(run),
        keras.callbacks.CSVLogger(str(run / HISTORY_FILE), append=True),
        keras.callbacks.ModelCheckpoint(
            str(run / BEST_FILE),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        ResumedEarlyStopping(
            past_values(done, "val_accuracy"),
            monitor="val_accuracy",
            mode="max",
            patience=config.patience,
            restore_best_weights=True,
            verbose=1,
        ),
        lr_callback(config, done),
        # Last, so the epoch is fully logged and checkpointed before it counts as done.
        run_backup(run),
    ]
    if config.tensorboard:
        callbacks.insert(0, keras.callbacks.TensorBoard(str(run / "tensorboard")))
    return callbacks

"""A resumed run keeps its early-stopping and plateau counters (replayed from history.csv).

Keras resets both callbacks in on_train_begin, so before this every resume granted `patience`
more epochs to early stopping and delayed the next learning-rate cut: a run spanning several
sessions could run to its last epoch although its config says it should have stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from training.callbacks import (
    BACKUP_DIR,
    ResumedEarlyStopping,
    ResumedReduceLROnPlateau,
    make_callbacks,
)
from training.config import TrainConfig


@pytest.fixture
def model() -> keras.Model:
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    return net


def rate(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_early_stopping_counts_the_epochs_done_before_the_resume(model: keras.Model) -> None:
    # Best at epoch 1, then two epochs without a better one: one more and patience 3 is spent.
    stopper = ResumedEarlyStopping([0.50, 0.60, 0.55, 0.58], monitor="val_accuracy", mode="max", patience=3)
    stopper.set_model(model)
    stopper.on_train_begin()
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (0.60, 1, 2)
    stopper.on_epoch_end(4, {"val_accuracy": 0.59})
    assert model.stop_training


def fill(model: keras.Model, value: float) -> None:
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])


@pytest.mark.parametrize(
    ("resumed", "best_epoch", "weights_at_end"),
    [
        # The best epoch (1) was in an earlier session: its weights are in best.keras, not in
        # memory. Keras took the first epoch it saw as the best when it held no weights, so a
        # resumed run ended with the first resumed epoch's weights, logged as "the best epoch".
        ([0.58, 0.57], 1, 4.0),
        # A better epoch after the resume (4) is Keras's own case: its weights are restored.
        ([0.58, 0.65, 0.61], 4, 4.0),
    ],
    ids=["best-before-resume", "best-after-resume"],
)
def test_early_stopping_restores_only_weights_it_saw(
    model: keras.Model, resumed: list[float], best_epoch: int, weights_at_end: float
) -> None:
    stopper = ResumedEarlyStopping(
        [0.50, 0.60, 0.55], monitor="val_accuracy", mode="max", patience=3, restore_best_weights=True
    )
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, value in enumerate(resumed, start=3):
        fill(model, float(epoch))  # the weights at the end of epoch N are all N
        stopper.on_epoch_end(epoch, {"val_accuracy": value})
    stopper.on_train_end()
    assert stopper.best_epoch == best_epoch
    assert all((w == weights_at_end).all() for w in model.get_weights())


def test_early_stopping_of_a_fresh_run_is_keras_own(model: keras.Model) -> None:
    stopper = ResumedEarlyStopping([], monitor="val_accuracy", mode="max", patience=3)
    stopper.set_model(model)
    stopper.on_train_begin()
    assert (stopper.best, stopper.wait) == (None, 0)


def test_plateau_counts_the_epochs_done_before_the_resume(model: keras.Model) -> None:
    plateau = ResumedReduceLROnPlateau(
        [1.0, 0.9, 0.95, 0.96], monitor="val_loss", mode="min", factor=0.5, patience=3, min_lr=1e-5
    )
    plateau.set_model(model)
    plateau.on_train_begin()
    assert plateau.wait == 2
    plateau.on_epoch_end(4, {"val_loss": 0.97})
    assert rate(model) == pytest.approx(0.005)


def test_plateau_replay_counts_a_past_cut_but_leaves_the_rate_to_the_backup(model: keras.Model) -> None:
    """Three epochs without a better loss after epoch 0 triggered a cut at epoch 3: the replay
    restarts the count there and does not cut the optimizer's rate again."""
    plateau = ResumedReduceLROnPlateau(
        [1.0, 1.1, 1.2, 1.3], monitor="val_loss", mode="min", factor=0.5, patience=3, min_lr=1e-5
    )
    plateau.set_model(model)
    plateau.on_train_begin()
    assert plateau.wait == 0 and rate(model) == pytest.approx(0.01)
    plateau.on_epoch_end(4, {"val_loss": 1.4})
    assert plateau.wait == 1 and rate(model) == pytest.approx(0.01)


def test_make_callbacks_replays_the_epochs_the_backup_holds(tmp_path: Path) -> None:
    """Epoch 4 is in history.csv but the run was killed before its backup: it runs again, so
    only epochs 0-3 are replayed."""
    (tmp_path / BACKUP_DIR).mkdir()
    (tmp_path / BACKUP_DIR / "training_metadata.json").write_text(json.dumps({"epoch": 4, "batch": 0}))
    history = pd.DataFrame(
        {
            "epoch": [0, 1, 2, 3, 4],
            "val_accuracy": [0.5, 0.6, 0.55, 0.58, 0.7],
            "val_loss": [1.0, 0.9, 0.95, 0.96, 0.5],
        }
    )
    config = TrainConfig(run_dir=str(tmp_path), lr_schedule="plateau", patience=3, lr_patience=3)
    callbacks = make_callbacks(config, history)
    (stopper,) = [c for c in callbacks if isinstance(c, ResumedEarlyStopping)]
    (plateau,) = [c for c in callbacks if isinstance(c, ResumedReduceLROnPlateau)]
    assert stopper.past == [0.5, 0.6, 0.55, 0.58]
    assert plateau.past == [1.0, 0.9, 0.95, 0.96]

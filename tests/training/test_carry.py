"""training.carry: an interrupted run saved to a small folder resumes from it in another run folder
(another machine) at the same epoch, with the carried weights, history and best checkpoint."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.support.models import interrupt_at, tiny_config
from training import callbacks as cb
from training import carry
from training.epoch_clock import read_epoch_times
from training.errors import ModelDirError


def kernels(model: keras.Model) -> list[np.ndarray]:
    return [w for w in model.get_weights() if w.ndim > 1]


def test_a_saved_run_resumes_elsewhere_at_its_epoch(
    tmp_path: Path, tiny_dataset: Path, tiny_model_dir: Path, monkeypatch
) -> None:
    from training.train import train

    config = tiny_config(
        tmp_path / "first", tiny_dataset, epochs=3, patience=10, ema=0.9, optimizer="sgd",
        teachers=(str(tiny_model_dir / "model.keras"),),
    )  # fmt: skip
    original = cb.make_callbacks
    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [*original(c, h), interrupt_at(0)])
    with pytest.raises(KeyboardInterrupt):
        train(config)

    (targets,) = Path(config.run_dir).glob("teacher-targets-*.npz")  # minutes of teacher passes
    out = tmp_path / "carried"
    out.mkdir()
    (out / "README.md").write_text("kept")
    state = carry.save(config, out)
    assert state["next_epoch"] == 1 and state["optimizer_iterations"] > 0
    assert {p.name for p in out.iterdir()} == {
        "latest.keras",
        "best.keras",
        "history.csv",
        "epoch_times.csv",
        "state.json",
        "README.md",
        targets.name,
    }
    assert json.loads((out / "state.json").read_text())["best_epoch"] == 0
    latest = keras.models.load_model(out / "latest.keras")
    assert getattr(latest, "optimizer", None) is None  # weights only: the folder stays small

    moved = dataclasses.replace(config, run_dir=str(tmp_path / "elsewhere" / "run"))
    carry.restore(moved, out)
    with pytest.raises(ModelDirError, match="own backup"):
        carry.restore(moved, out)  # never over a run folder's own (newer) state

    seen: dict[int, list[np.ndarray]] = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs=None) -> None:
            seen[epoch] = kernels(self.model)

    from training import distill

    def refuse(path: object) -> None:
        raise AssertionError("teacher reloaded: the carried targets were not used")

    monkeypatch.setattr(distill, "load_teacher", refuse)
    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [*original(c, h), Record()])
    version_dir = train(moved)
    assert sorted(seen) == [1, 2]  # resumed at the carried epoch, not from 0
    # The first machine's epoch and the second's: the training record sums every session.
    assert list(read_epoch_times(moved.run_dir).epoch) == [0, 1, 2]
    compute = json.loads((version_dir / "metadata.json").read_text())["training"]["compute_time"]
    assert compute["epochs_timed"] == compute["epochs_run"] == 3 and compute["wall_hours"] >= 0
    for got, want in zip(seen[1], kernels(latest), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert list(cb.read_history(moved.run_dir).epoch) == [0, 1, 2]


def test_a_plateau_runs_learning_rate_is_carried(tmp_path: Path, tiny_dataset: Path, monkeypatch) -> None:
    """Reduce-on-plateau keeps its lowered rate only in the optimizer: the carry keeps it too."""
    from training.train import train

    config = tiny_config(
        tmp_path / "first", tiny_dataset, epochs=3, patience=10, optimizer="sgd", learning_rate=0.01,
        lr_schedule="plateau", lr_patience=10,
    )  # fmt: skip

    class Lower(keras.callbacks.Callback):  # as if the plateau had cut the rate
        def on_epoch_end(self, epoch: int, logs=None) -> None:
            self.model.optimizer.learning_rate = 0.00123

    original = cb.make_callbacks
    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [Lower(), *original(c, h), interrupt_at(0)])
    with pytest.raises(KeyboardInterrupt):
        train(config)
    state = carry.save(config, tmp_path / "carried")
    assert state["learning_rate"] == pytest.approx(0.00123)

    moved = dataclasses.replace(config, run_dir=str(tmp_path / "elsewhere"))
    carry.restore(moved, tmp_path / "carried")
    rates: dict[int, float] = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs=None) -> None:
            rates[epoch] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [*original(c, h), Record()])
    train(moved)
    assert rates[1] == pytest.approx(0.00123)  # not the config's 0.01


def test_restore_refuses_another_architecture(tmp_path: Path, tiny_dataset: Path, monkeypatch) -> None:
    from training.errors import ConfigError
    from training.train import train

    config = tiny_config(tmp_path / "first", tiny_dataset, epochs=2, patience=10)
    original = cb.make_callbacks
    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [*original(c, h), interrupt_at(0)])
    with pytest.raises(KeyboardInterrupt):
        train(config)
    carry.save(config, tmp_path / "carried")
    wider = dataclasses.replace(config, run_dir=str(tmp_path / "other"), width=8)
    with pytest.raises(ConfigError, match="width"):
        carry.restore(wider, tmp_path / "carried")
    with pytest.raises(ModelDirError, match="no backup"):
        carry.save(dataclasses.replace(config, run_dir=str(tmp_path / "other")), tmp_path / "x")

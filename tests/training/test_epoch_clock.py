"""Epoch timing across sessions and machines (training.epoch_clock) and what the records make of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.epoch_clock import EPOCH_TIMES_FILE, EpochClock, read_epoch_times, time_summary


def test_every_finished_epoch_appends_a_row(tmp_path: Path) -> None:
    """Two sessions append to one file; the header is written once."""
    for epoch in (0, 1):  # one clock per session, as make_callbacks builds them
        clock = EpochClock(tmp_path)
        clock.on_epoch_begin(epoch)
        sum(range(10_000))  # some CPU
        clock.on_epoch_end(epoch)
    times = read_epoch_times(tmp_path)
    assert list(times.epoch) == [0, 1] and (times.wall_s >= 0).all() and (times.cpu_s >= 0).all()
    assert times.cores.min() >= 1 and times.cpu_model.notna().all()
    assert (tmp_path / EPOCH_TIMES_FILE).read_text().count("epoch,wall_s") == 1


def test_summary_is_per_machine_and_counts_a_redone_epoch_once() -> None:
    """Epoch 1 was timed on machine A, then redone on B after a restore from an older carry:
    the later row counts."""
    times = pd.DataFrame(
        [
            (0, 3600.0, 7000.0, "A", 2, "t"),
            (1, 3600.0, 7000.0, "A", 2, "t"),
            (1, 1800.0, 3600.0, "B", 2, "t"),
            (2, 1800.0, 3600.0, "B", 2, "t"),
        ],
        columns=["epoch", "wall_s", "cpu_s", "cpu_model", "cores", "finished"],
    )
    summary = time_summary(times, epochs_run=3)
    assert summary["epochs_timed"] == 3 and summary["wall_hours"] == 2.0 and summary["cpu_hours"] == 3.94
    assert summary["machines"] == {
        "A": {"epochs": 1, "wall_hours": 1.0, "cpu_hours": 1.94, "median_wall_s_per_epoch": 3600.0},
        "B": {"epochs": 2, "wall_hours": 1.0, "cpu_hours": 2.0, "median_wall_s_per_epoch": 1800.0},
    }
    assert time_summary(read_epoch_times("/nonexistent"), epochs_run=5) == {
        "epochs_timed": 0,
        "epochs_run": 5,
    }


def test_model_card_states_the_compute_time() -> None:
    from training.model_card import compute_line

    compute = {
        "epochs_timed": 3,
        "epochs_run": 4,
        "wall_hours": 2.0,
        "cpu_hours": 3.94,
        "machines": {
            "A": {"epochs": 3, "wall_hours": 2.0, "cpu_hours": 3.94, "median_wall_s_per_epoch": 2400.0}
        },
    }
    line = compute_line(compute)
    assert "3 timed epochs of 4: 2.0 h wall, 3.94 CPU-hours (A: 3 epochs, 2.0 h (2400.0 s an epoch))" in line
    assert compute_line({"epochs_timed": 0, "epochs_run": 4}) == compute_line(None) == ""

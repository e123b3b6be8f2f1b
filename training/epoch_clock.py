"""Each finished epoch's wall and CPU time and the machine it ran on, kept across resumes.

A long run spans sessions and machines (BackupAndRestore, `make carry`), so the seconds of the
last session alone (metadata "seconds_this_session") say little about what the run cost. This
callback appends one row per finished epoch to <run_dir>/epoch_times.csv; the training record
and the model card sum it into hours per machine. An epoch cut off by an interruption has no
row (its work is redone on resume, and that redone epoch is the one timed).
"""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import pandas as pd

EPOCH_TIMES_FILE = "epoch_times.csv"
FIELDS = ("epoch", "wall_s", "cpu_s", "cpu_model", "cores", "finished")


class EpochClock(keras.callbacks.Callback):
    """Appends epoch, wall seconds, process CPU seconds, CPU model and cores after every epoch."""

    def __init__(self, run_dir: str | Path) -> None:
        from contract.cpu import cpu_model, usable_cores

        super().__init__()
        self.path = Path(run_dir) / EPOCH_TIMES_FILE
        self._machine = [cpu_model(), usable_cores()]  # fixed for the process: read once, not per epoch
        self._started = (0.0, 0.0)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        wall, cpu = time.perf_counter() - self._started[0], time.process_time() - self._started[1]
        row = [epoch, round(wall, 1), round(cpu, 1), *self._machine]
        row.append(datetime.now(UTC).isoformat(timespec="seconds"))
        new = not self.path.is_file()
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(FIELDS)
            writer.writerow(row)


def read_epoch_times(run_dir: str | Path) -> pd.DataFrame:
    """The run's epoch_times.csv (empty, with its columns, when there is none)."""
    path = Path(run_dir) / EPOCH_TIMES_FILE
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=list(FIELDS))


def time_summary(times: pd.DataFrame, epochs_run: int) -> dict[str, Any]:
    """Hours of wall and CPU time over the timed epochs, per CPU model, for the training record."""
    if times.empty:
        return {"epochs_timed": 0, "epochs_run": epochs_run}
    times = times.drop_duplicates("epoch", keep="last")  # an epoch timed twice: the run that counted
    per_machine = {
        str(model): {
            "epochs": len(rows),
            "wall_hours": round(rows.wall_s.sum() / 3600, 2),
            "cpu_hours": round(rows.cpu_s.sum() / 3600, 2),
            "median_wall_s_per_epoch": round(float(rows.wall_s.median()), 1),
        }
        for model, rows in times.groupby("cpu_model")
    }
    return {
        "epochs_timed": len(times),
        "epochs_run": epochs_run,
        "wall_hours": round(times.wall_s.sum() / 3600, 2),
        "cpu_hours": round(times.cpu_s.sum() / 3600, 2),
        "machines": per_machine,
    }

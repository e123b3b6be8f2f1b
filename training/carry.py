"""Carry an unfinished training run to another machine through a small committed folder, and back.

python -m training.carry save --config f.toml --out models/checkpoints/NAME
python -m training.carry restore --config f.toml --from models/checkpoints/NAME

A run's BackupAndRestore state (runs/NAME/backup) holds the weights and the optimizer (SGD momentum
and the weight average: three copies of the network, 60 MB for 5 M parameters) and lives only on
the machine that trained it. `save` keeps what continuing needs, without optimizer state:
`latest.keras` (the weights the backup held after its last epoch: the averaged ones when
ema > 0, since that is what SwapEMAWeights leaves in the model at an epoch's end), `best.keras`
(the best validation epoch so far), `history.csv`, `epoch_times.csv` (training.epoch_clock),
`state.json` (the next epoch, the optimizer's step count and learning rate, which a plateau
schedule keeps only there) and a distillation run's cached teacher targets. `restore` rebuilds
the run folder from it on a new machine, so that the usual `make train ARGS="--config f.toml"`
resumes at the same epoch, on the same learning-rate schedule, history and best-so-far, as
BackupAndRestore would have. What is not carried: SGD's momentum (it restarts at zero and
rebuilds within a few hundred steps) and the separate raw weights behind the average (the
average continues from the carried weights).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras

from training import callbacks as cb
from training import distill  # noqa: F401  (registers DistillationLoss for compiled checkpoints)
from training.cli import command
from training.config import TrainConfig, add_arguments, config_from_args
from training.epoch_clock import EPOCH_TIMES_FILE, read_epoch_times
from training.errors import ConfigError, ModelDirError
from training.keras_models import load_checkpoint
from training.model import compile_model, make_model

LATEST, STATE = "latest.keras", "state.json"
TEACHER_TARGETS = "teacher-targets-*.npz"  # training.distill's cache, keyed by teachers and split


def training_model(config: TrainConfig, num_classes: int) -> keras.Model:
    """The network compiled as `make train` compiles it, its optimizer state created (so a backup's
    weights file, which holds the optimizer too, loads into it)."""
    model = compile_model(make_model(config, num_classes), config)
    model.optimizer.build(model.trainable_variables)
    return model


def _weights_only(model: keras.Model, path: Path) -> None:
    """Save a model as .keras without optimizer state (an uncompiled view of the same layers)."""
    keras.Model(model.input, model.output, name=model.name).save(path)


def _read_backup(run_dir: Path) -> tuple[int, Path]:
    """The next epoch of the run's backup, read so that a backup replaced meanwhile is noticed."""
    epoch, weights = cb.backup_next_epoch(run_dir), Path(cb.run_backup(run_dir)._weights_path)
    if epoch is None or not weights.is_file():
        raise ModelDirError(f"{run_dir} has no backup to carry (a finished run is published by make export)")
    return epoch, weights


def save(config: TrainConfig, out: Path) -> dict[str, Any]:
    """Write latest.keras, best.keras, history.csv and state.json to out, replacing it whole."""
    run_dir = Path(config.run_dir)
    _read_backup(run_dir)  # a run with nothing to carry fails here, before any loading
    best_path = run_dir / cb.BEST_FILE
    if not best_path.is_file():
        raise ModelDirError(f"{best_path} does not exist yet: let the run finish its first epoch")
    best = load_checkpoint(best_path, compile=False)
    model = training_model(config, int(best.output_shape[-1]))
    for _ in range(5):  # a live run may replace its backup while it is being read: read it again
        epoch, weights = _read_backup(run_dir)
        model.load_weights(weights)
        if _read_backup(run_dir)[0] == epoch:
            break
        time.sleep(1.0)
    else:
        raise ModelDirError(f"the backup of {run_dir} kept changing: stop the run, then save")
    history = cb.read_history(run_dir)
    history = history[history.epoch < epoch]
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _weights_only(model, staging / LATEST)
    _weights_only(best, staging / cb.BEST_FILE)
    history.to_csv(staging / cb.HISTORY_FILE, index=False)
    times = read_epoch_times(run_dir)
    times[times.epoch < epoch].to_csv(staging / EPOCH_TIMES_FILE, index=False)
    for targets in run_dir.glob(TEACHER_TARGETS):  # small, and minutes of teacher passes to redo
        shutil.copy2(targets, staging / targets.name)
    best_row = history.loc[history.val_accuracy.idxmax()] if len(history) else None
    state = {
        "config": config.to_dict(),
        "next_epoch": epoch,
        "optimizer_iterations": int(model.optimizer.iterations.numpy()),
        # Where a plateau schedule has lowered it to (cosine and step set it again each epoch).
        "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        "best_epoch": None if best_row is None else int(best_row.epoch),
        "best_val_accuracy": None if best_row is None else round(float(best_row.val_accuracy), 4),
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (staging / STATE).write_text(json.dumps(state, indent=2) + "\n")
    if out.is_dir():  # files of our own (e.g. a README) stay
        ours = {LATEST, cb.BEST_FILE, cb.HISTORY_FILE, EPOCH_TIMES_FILE, STATE}
        for extra in out.iterdir():
            if extra.name not in ours and not extra.match(TEACHER_TARGETS):
                shutil.move(str(extra), staging / extra.name)
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(out)
    return state


def restore(config: TrainConfig, source: Path) -> dict[str, Any]:
    """Rebuild config.run_dir (backup, best.keras, history.csv) from a saved folder."""
    if not (source / STATE).is_file():
        raise ModelDirError(f"{source} has no {STATE}: not a folder written by `make carry ARGS=save ...`")
    state = json.loads((source / STATE).read_text())
    run_dir = Path(config.run_dir)
    backup_dir = run_dir / cb.BACKUP_DIR
    if backup_dir.is_dir() and any(backup_dir.iterdir()):
        raise ModelDirError(
            f"{run_dir} has its own backup, newer than any carried one: resume with make train"
        )
    changed = sorted(
        k for k, v in state["config"].items() if k in ("width", "depth", "epochs", "ema", "crop_size")
        and getattr(config, k) != (tuple(v) if isinstance(v, list) else v)
    )  # fmt: skip
    if changed:
        raise ConfigError(f"{source} was saved under another config ({', '.join(changed)} differ)")
    latest = load_checkpoint(source / LATEST, compile=False)
    model = training_model(config, int(latest.output_shape[-1]))
    model.set_weights(latest.get_weights())
    optimizer = model.optimizer
    for variable, average in zip(
        optimizer._trainable_variables,
        getattr(optimizer, "_model_variables_moving_average", []),
        strict=False,
    ):
        average.assign(variable)  # the average continues from the carried weights, not from zero
    optimizer.iterations.assign(state["optimizer_iterations"])
    if "learning_rate" in state:  # carries saved before 2026-12-07 have none (all were cosine)
        optimizer.learning_rate = state["learning_rate"]
    backup = cb.run_backup(run_dir)
    backup._current_epoch, backup._last_batch_seen = state["next_epoch"], 0
    backup.set_model(model)
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / cb.BEST_FILE, run_dir / cb.BEST_FILE)
    shutil.copy2(source / cb.HISTORY_FILE, run_dir / cb.HISTORY_FILE)
    if (source / EPOCH_TIMES_FILE).is_file():  # carries saved before 2026-12-06 have none
        shutil.copy2(source / EPOCH_TIMES_FILE, run_dir / EPOCH_TIMES_FILE)
    for targets in source.glob(TEACHER_TARGETS):
        shutil.copy2(targets, run_dir / targets.name)
    backup._save_model()  # last: a run folder with a backup is one that resumes
    return state


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: save a run's state to a folder, or restore a run folder from one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("--out", help="save: the folder to write (replaced whole)")
    parser.add_argument("--from", dest="source", help="restore: a folder written by save")
    add_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if args.action == "save":
        if not args.out:
            raise ConfigError("save needs --out")
        state = save(config, Path(args.out))
        print(f"saved {config.run_dir} (next epoch {state['next_epoch']}) to {args.out}")
    else:
        if not args.source:
            raise ConfigError("restore needs --from")
        state = restore(config, Path(args.source))
        print(f"restored {config.run_dir} at epoch {state['next_epoch']}: resume with make train")
    return 0


if __name__ == "__main__":
    sys.exit(main())

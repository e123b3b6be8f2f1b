"""Does bf16 training learn what float32 learns? The same short run twice, once per precision.

python -m training.precision_check --config f.toml --data-dir DIR [--check-epochs 4] [--check-steps 150]
    [--out runs/precision-check] [--teacher-cache runs/<long run>] [--start-from runs/<long run>/best.keras]

Both runs use the config's own train/validation split, the same seed (same initial weights,
same shuffle and augmentation stream), the same schedule squeezed into the short run, and the
same teachers; they differ only in the Keras mixed-precision policy. A short run from scratch
of a slow recipe learns nothing yet (the single-network recipe predicts the majority class for
its first 3 epochs), so --start-from continues a checkpoint of the long run instead: its
weights, rebuilt under each policy, with a fresh optimizer. Reported per precision:
validation accuracy after every epoch (EMA weights when the config has EMA, as in the real
run) and seconds per epoch, the first epoch (tracing, cache fill) apart. Nothing is exported
and the test split is not read. Writes <out>/precision-check.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from contract import cpu
from training import callbacks as cb
from training.cli import command
from training.config import TrainConfig, add_arguments, config_from_args
from training.devices import configure_devices
from training.run import load_run

PRECISIONS = {"float32": "off", "bf16": "bf16"}


def epoch_timer():
    """A Keras callback keeping every epoch's wall seconds in `.seconds` (Keras imported lazily)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall time of each epoch, validation included."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            """Start the clock."""
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            """Stop it."""
            self.seconds.append(round(time.perf_counter() - self._start, 2))

    return EpochTimer()


def short_config(config: TrainConfig, precision: str, epochs: int, steps: int, out: Path) -> TrainConfig:
    """The config as a short run of one precision in its own folder under out."""
    return dataclasses.replace(
        config,
        mixed_precision=PRECISIONS[precision],
        epochs=epochs,
        steps_per_epoch=steps,
        run_dir=str(out / precision),
        patience=max(config.patience, epochs),  # no early stop inside a short run
    )


def reuse_teacher_targets(source_run_dir: Path, run_dir: Path) -> None:
    """Copy the long run's cached teacher targets (keyed by teachers and images) to skip recomputing them."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for cached in source_run_dir.glob("teacher-targets-*.npz"):
        if not (run_dir / cached.name).exists():
            shutil.copy2(cached, run_dir / cached.name)


def start_checkpoint(source: Path, config: TrainConfig, path: Path) -> Path:
    """source's weights in a network built (and compiled) under the current policy, saved as path.

    A checkpoint keeps the dtype policy it was trained under: loaded as it is, a bf16
    checkpoint would train in bf16 in the float32 run too.
    """
    from training.keras_models import load_checkpoint
    from training.model import compile_model, rebuilt

    model = rebuilt(load_checkpoint(source, compile=False), config)
    path.parent.mkdir(parents=True, exist_ok=True)
    compile_model(model, config).save(path)
    return path


def run_one(config: TrainConfig, start_from: Path | None = None) -> dict[str, Any]:
    """Train one short run (no export); its validation curve, s/epoch and the policy that ran."""
    import keras

    from training.data import stream_seed
    from training.train import fit

    if Path(config.run_dir).joinpath("backup").exists():
        raise SystemExit(f"{config.run_dir} holds an earlier check: remove it or pick another --out")
    cb.prepare_run_dir(config.run_dir)
    strategy = configure_devices(config.mixed_precision)
    # One stream for both precisions: the seed of a continued run depends on the checkpoint's
    # path, so it is taken from the shared source, not from each run's rebuilt copy.
    seed = stream_seed(dataclasses.replace(config, init_from=str(start_from) if start_from else None), 0)
    if start_from:
        start = start_checkpoint(start_from, config, Path(config.run_dir) / "start.keras")
        config = dataclasses.replace(config, init_from=str(start))
    run = load_run(config)
    keras.utils.set_random_seed(seed)
    timer = epoch_timer()
    model, _ = fit(run, strategy, seed, extra_callbacks=[timer])
    history = pd.read_csv(Path(config.run_dir) / "history.csv")
    return {
        "policy": keras.mixed_precision.global_policy().name,
        "seed": seed,
        # What the trained layers computed in: the proof that each run trained in its precision.
        "compute_dtypes": sorted(
            {layer.dtype_policy.compute_dtype for layer in model.layers if layer.weights}
        ),
        "val_accuracy": [round(float(v), 4) for v in history["val_accuracy"]],
        "seconds_per_epoch": timer.seconds,
        "steps_per_epoch": config.steps_per_epoch,
    }


def steady(seconds: list[float]) -> float:
    """Mean seconds of the epochs after the first (tracing and cache fill); the first if alone."""
    later = seconds[1:] or seconds
    return sum(later) / len(later)


def compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Final validation accuracy difference and the speed ratio (epochs after the first)."""
    f32, bf16 = results["float32"], results["bf16"]
    return {
        "final_val_accuracy_bf16_minus_f32": round(bf16["val_accuracy"][-1] - f32["val_accuracy"][-1], 4),
        "best_val_accuracy_bf16_minus_f32": round(max(bf16["val_accuracy"]) - max(f32["val_accuracy"]), 4),
        "speedup_bf16": round(steady(f32["seconds_per_epoch"]) / steady(bf16["seconds_per_epoch"]), 2),
    }


def render(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    epochs = len(report["runs"]["float32"]["val_accuracy"])
    lines = [
        "# bf16 vs float32 training: the same short run twice",
        "",
        f"{report['date']}, {report['cpu']} ({', '.join(report['cpu_flags'])}), native bf16: "
        f"{report['native_bf16']}, config "
        f"`{report['config']}`, {epochs} epochs of {report['runs']['float32']['steps_per_epoch']} steps"
        + (f", both continuing `{report['start_from']}`." if report["start_from"] else " from scratch."),
        "",
        "| precision | validation accuracy by epoch | s/epoch (first, then mean of the rest) |",
        "|---|---|---|",
    ]
    for name, run in report["runs"].items():
        seconds = run["seconds_per_epoch"]
        lines.append(
            f"| {name} (`{run['policy']}`) | {', '.join(f'{v:.4f}' for v in run['val_accuracy'])} | "
            f"{seconds[0]:.1f}, then {steady(seconds):.1f} |"
        )
    c = report["comparison"]
    lines += [
        "",
        f"bf16 minus float32: final {c['final_val_accuracy_bf16_minus_f32']:+.4f}, best "
        f"{c['best_val_accuracy_bf16_minus_f32']:+.4f}; bf16 is {c['speedup_bf16']}x as fast per epoch.",
        "",
    ]
    return "\n".join(lines)


def check(
    base: TrainConfig,
    epochs: int,
    steps: int,
    out: Path,
    teacher_cache: Path | None = None,
    source: str = "(command line)",
    start_from: Path | None = None,
) -> dict[str, Any]:
    """Both short runs of base under out/<precision>; the report, also written to out/precision-check.*."""
    results = {}
    for precision in PRECISIONS:
        config = short_config(base, precision, epochs, steps, out)
        if teacher_cache:
            reuse_teacher_targets(teacher_cache, Path(config.run_dir))
        results[precision] = run_one(config, start_from)
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu.cpu_model(),
        "cpu_flags": cpu.relevant_flags(cpu.cpu_flags()),
        "native_bf16": cpu.native_bf16(cpu.cpu_flags()),
        "config": source,
        "start_from": str(start_from) if start_from else None,
        "runs": results,
        "comparison": compare(results),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "precision-check.json").write_text(json.dumps(report, indent=2))
    (out / "precision-check.md").write_text(render(report))
    return report


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: both short runs, then the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("runs/precision-check"))
    parser.add_argument("--check-epochs", type=int, default=4, help="epochs of each short run")
    parser.add_argument("--check-steps", type=int, default=150, help="training steps per epoch")
    parser.add_argument("--teacher-cache", type=Path, help="a run folder whose teacher targets to reuse")
    parser.add_argument("--start-from", type=Path, help="a .keras checkpoint both runs continue from")
    args = parser.parse_args(argv)
    report = check(
        config_from_args(args),
        args.check_epochs,
        args.check_steps,
        args.out,
        args.teacher_cache,
        args.config or "(command line)",
        args.start_from,
    )
    print(render(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

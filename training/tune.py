"""Hyperparameter search (keras-tuner) over learning rate, dropout, width and batch size.

python -m training.tune --data-dir DIR [--trials 8] [--epochs 3] [--steps-per-epoch 0]

Selection uses the validation split carved from train: the rows `make train` validates on, from
the same constructor (training.run.load_run). Test images are only hashed, as for training, so
drop_test_duplicates drops the same train rows; their labels are never used.
Writes a results table (CSV and Markdown) sorted by validation accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from training.cli import command
from training.config import TrainConfig, add_arguments, config_from_args

log = logging.getLogger(__name__)

SEARCH_SPACE = {
    "learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
    "dropout": {"min": 0.1, "max": 0.5, "step": 0.05},
    "width": [16, 32, 48],
    "batch_size": [32, 64, 128],
}


def make_hypermodel(
    base: TrainConfig, train_df: pd.DataFrame, val_df: pd.DataFrame, class_names: list[str]
) -> Any:
    """A keras_tuner.HyperModel whose fit() also tunes the batch size."""
    import keras_tuner as kt

    from training.data import make_augmenter, make_dataset
    from training.model import compile_model, make_model

    def trial_config(hp: kt.HyperParameters) -> TrainConfig:
        lr, dr = SEARCH_SPACE["learning_rate"], SEARCH_SPACE["dropout"]
        return dataclasses.replace(
            base,
            learning_rate=hp.Float("learning_rate", lr["min"], lr["max"], sampling=lr["sampling"]),
            dropout=hp.Float("dropout", dr["min"], dr["max"], step=dr["step"]),
            width=hp.Choice("width", SEARCH_SPACE["width"]),
            batch_size=hp.Choice("batch_size", SEARCH_SPACE["batch_size"]),
        )

    class EmotionHyperModel(kt.HyperModel):
        def build(self, hp: kt.HyperParameters) -> Any:
            config = trial_config(hp)
            return compile_model(make_model(config, len(class_names)), config)

        def fit(self, hp: kt.HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
            config = trial_config(hp)
            train_ds = make_dataset(
                train_df, class_names, config, training=True, augmenter=make_augmenter(config)
            )
            if config.steps_per_epoch:
                train_ds = train_ds.repeat()
                kwargs["steps_per_epoch"] = config.steps_per_epoch
            val_ds = make_dataset(val_df, class_names, config, training=False)
            return model.fit(train_ds, *args, validation_data=val_ds, shuffle=False, **kwargs)

    return EmotionHyperModel()


def results_table(tuner: Any) -> pd.DataFrame:
    """One row per finished trial: its hyperparameters and best validation accuracy."""
    rows = []
    for trial in tuner.oracle.trials.values():
        if trial.score is None:
            continue
        rows.append(
            {
                "trial": trial.trial_id,
                **trial.hyperparameters.values,
                "val_accuracy": round(float(trial.score), 4),
            }
        )
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("val_accuracy", ascending=False).reset_index(drop=True)


def tune(config: TrainConfig, trials: int, out_dir: Path) -> pd.DataFrame:
    """Run the search and write results.csv / results.md into out_dir."""
    import keras
    import keras_tuner as kt

    from training.data import stream_seed
    from training.run import load_run

    keras.utils.set_random_seed(stream_seed(config, 0))
    run = load_run(config)
    tuner = kt.RandomSearch(
        make_hypermodel(config, run.train_rows, run.val_rows, run.class_names),
        objective=kt.Objective("val_accuracy", direction="max"),
        max_trials=trials,
        seed=config.seed,
        directory=str(out_dir),
        project_name="search",
        overwrite=True,
    )
    tuner.search(
        epochs=config.epochs,
        verbose=1,
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience)
        ],
    )
    table = results_table(tuner)
    if table.empty:
        raise RuntimeError("every trial failed; see the log above")
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "results.csv", index=False)
    (out_dir / "results.md").write_text(table.to_markdown(index=False) + "\n")
    return table


@command
def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="budget: number of trials")
    parser.add_argument("--out", default="reports/tune", help="results folder")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 3
    table = tune(config_from_args(args), args.trials, Path(args.out))
    print(table.to_string(index=False))
    print(f"results written to {args.out}/results.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())

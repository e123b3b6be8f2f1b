"""Model folders for tests: the shipped model, a tiny training config, metadata edits, a crash."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "models" / "emotion"
FER2013 = REPO.parent / "shared" / "datasets" / "fer2013"  # slow tests only


def tiny_config(tmp: Path, data_dir: Path, **overrides):
    """A TrainConfig for a model small enough to train in seconds."""
    from training.config import TrainConfig

    values = dict(
        data_dir=str(data_dir),
        model_dir=str(tmp / "models"),
        run_dir=str(tmp / "run"),
        epochs=1,
        batch_size=16,
        width=4,
        depth=2,
        dense_units=8,
        dropout=0.1,
        dense_dropout=0.1,
        patience=2,
        tta="none",
        seed=7,
    )
    values.update(overrides)
    return TrainConfig(**values)


def checkpoint_cli_args(tmp: Path, data_dir: Path, policy: str = "float32") -> list[str]:
    """An untrained tiny network built under the dtype policy and saved as <tmp>/c.keras, and
    the arguments that point a checkpoint CLI (choose-tta, recall-floor) at it and at its recipe
    (<tmp>/c.json: the tiny dataset, a run folder in tmp)."""
    import keras

    from training.model import make_model

    config = tiny_config(tmp, data_dir)
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(policy)
    try:
        make_model(config, 7).save(tmp / "c.keras")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    (tmp / "c.json").write_text(json.dumps(config.to_dict()))
    return ["--checkpoint", str(tmp / "c.keras"), "--config", str(tmp / "c.json")]


def publish_ensemble(tmp: Path, data_dir: Path, crops: tuple[int, ...], tta: str, version: str = "6"):
    """Tiny untrained networks of the given input sides (48, or a random-crop size), published
    with `make ensemble --publish` into <tmp>/models/<version>: (version folder, members)."""
    import keras

    from training.ensemble import main
    from training.model import make_model

    members, args = [], []
    for seed, crop in enumerate(crops):
        keras.utils.set_random_seed(seed)  # different weights, so the average is observable
        members.append(make_model(tiny_config(tmp, data_dir, crop_size=crop), 7))
        args += ["--member", str(tmp / f"m{seed}.keras")]
        members[-1].save(args[-1])
    args += ["--data-dir", str(data_dir), "--model-dir", str(tmp / "models"), "--run-dir", str(tmp / "run")]
    assert main([*args, "--tta", tta, "--version", version, "--publish"]) == 0
    return tmp / "models" / version, members


def edit_metadata(version_dir: Path, **changes: object) -> None:
    """Rewrite metadata.json with some keys changed."""
    path = version_dir / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def interrupt_at(epoch: int) -> object:
    """A Keras callback that simulates a crash right after `epoch` has been backed up."""
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, done: int, logs=None) -> None:
            if done == epoch:
                raise KeyboardInterrupt

    return Interrupt()

"""Training configuration: defaults, a JSON/TOML config file, then command-line flags."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a training run; recorded in the exported metadata."""

    data_dir: str = "data"
    model_dir: str = "models/emotion"
    run_dir: str = "runs/default"
    model_name: str = "emotion"
    version: int = 0  # 0 = next free version number under model_dir
    # Replace an existing version folder (otherwise refused: published models are never written into).
    overwrite: bool = False
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 1e-3
    # Model shape.
    width: int = 32
    depth: int = 4
    convs_per_block: int = 2
    dropout: float = 0.25
    dense_units: int = 256
    dense_dropout: float = 0.5
    head: str = "flatten"  # flatten | gap
    l2: float = 0.0
    label_smoothing: float = 0.0
    # Data.
    val_fraction: float = 0.1
    seed: int = 1337  # the validation split; also training randomness unless train_seed is set
    # Weight init, shuffle order, augmentation and dropout. A different train_seed with the same
    # seed gives an independent network validated on the same images (an ensemble member).
    train_seed: int = 0
    drop_test_duplicates: bool = False
    drop_blank: bool = False
    class_weight: str = "none"  # none | balanced | sqrt
    oversample: bool = False
    augment: tuple[str, ...] = ("flip", "rotate", "zoom", "translate", "brightness", "contrast")
    rotation_deg: float = 10.0
    zoom: float = 0.1
    translate: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    # Schedule and stopping. plateau: ReduceLROnPlateau on val_loss; cosine: constant until
    # cosine_start, then cosine decay to min_lr at the last epoch (a fixed CPU budget wants a
    # decay that is sure to finish; a LearningRateScheduler also survives a resumed run).
    # step: learning_rate x step_factor every step_every epochs from cosine_start on.
    lr_schedule: str = "plateau"
    cosine_start: int = 0  # the epoch the cosine or step decay starts
    step_every: int = 10
    step_factor: float = 0.5
    # adam, or sgd with (Nesterov) momentum as in the strongest FER2013 recipes; weight_decay
    # is Keras' decoupled decay (variable -= lr * weight_decay * variable each step).
    optimizer: str = "adam"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    # Random crops of crop_size x crop_size from the 48x48 face in training (48 = off); the
    # model then takes crop_size inputs and the serving signature crops the views it averages.
    crop_size: int = 48
    # Random erasing: with this probability a rectangle of 2-25% of the face becomes noise.
    erase_prob: float = 0.0
    # Exponential moving average of the weights (0 = off, e.g. 0.999): validation, checkpoints
    # and the export use the averaged weights.
    ema: float = 0.0
    # Knowledge distillation: soft targets from these committed checkpoints (.keras files or
    # version folders with model.keras / ensemble members), averaged, softened by
    # distill_temperature and mixed with the hard labels: (1 - alpha) CE + alpha T^2 KL.
    teachers: tuple[str, ...] = ()
    # The views each teacher averages, through its own serving signature (see training.signature):
    # "none" is one pass (the central crop for a network trained on random crops), so teachers
    # of any crop size can be mixed; "flip-zoom" gives the teachers' served accuracy.
    teacher_tta: str = "none"
    distill_alpha: float = 0.5
    distill_temperature: float = 4.0
    # How a detector box becomes model input (contract.crop): "calibrated", "legacy" or a JSON
    # file; recorded in metadata.json and used by the service, --detect datasets and evaluation.
    crop_policy: str = "calibrated"
    # The dataset holds uncropped photos: every image goes through detector + crop policy once
    # (cached in the run folder); photos with no face are skipped, with several the largest
    # face is used (multi_face = largest) or the photo is skipped (multi_face = skip).
    detect: bool = False
    multi_face: str = "largest"
    patience: int = 10
    lr_patience: int = 4
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    # none | flip | flip-zoom (flip x central 90% crop): averaged inside the serving signature.
    tta: str = "flip"
    # Added to the log of the served probabilities, one value per class (empty = none): a
    # validation-fitted lift of weak classes' recall (make recall-floor), inside the signature.
    class_bias: tuple[float, ...] = ()
    # model.keras with Adam's state (twice the weights again) so training can continue from
    # it; --no-export-optimizer keeps a wide network's export under a size budget.
    export_optimizer: bool = True
    # --no-export-keras: no model.keras at all. For an ensemble whose members are committed
    # as their own versions, a second copy of every weight would break the size budget;
    # training.keras_models.load_keras_model rebuilds it from the members listed in metadata.
    export_keras: bool = True
    tensorboard: bool = False
    # auto: mixed_float16 on a GPU; on: mixed_float16; bf16: mixed_bfloat16 (CPUs with native
    # bf16: AMX or AVX512_BF16); off: float32.
    mixed_precision: str = "auto"
    steps_per_epoch: int = 0  # 0 = the whole training set; >0 caps it (tuning, smoke tests)
    init_from: str = ""  # a .keras checkpoint to continue from (e.g. on a new machine)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the config."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


AUGMENTATIONS = ("flip", "rotate", "zoom", "translate", "brightness", "contrast")
# Test-time augmentation modes -> number of views the model sees per face (training.signature).
# With crop_size < 48 the base view is the central crop, "zoom" the whole face resized to
# crop_size, and flip-crop5 the four corner crops and the centre, each also mirrored.
TTA_VIEWS = {"none": 1, "flip": 2, "flip-zoom": 4, "flip-crop5": 10}
_CHOICES = {
    "head": ("flatten", "gap"),
    "lr_schedule": ("plateau", "cosine", "step"),
    "optimizer": ("adam", "sgd"),
    "multi_face": ("largest", "skip"),
    "class_weight": ("none", "balanced", "sqrt"),
    "tta": tuple(TTA_VIEWS),
    "teacher_tta": tuple(TTA_VIEWS),
    "mixed_precision": ("auto", "on", "bf16", "off"),
}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a .json or .toml config file into a dict of TrainConfig fields."""
    path = Path(path)
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:  # missing file, or not valid TOML / JSON
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    unknown = set(data) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown keys in {path}: {', '.join(sorted(unknown))}")
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (defaults None so the config file can fill in)."""
    parser.add_argument("--config", help="JSON or TOML file with any of the options below")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.type == "bool":
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=f"(default: {default})"
            )
        elif f.name == "teachers":
            parser.add_argument(flag, default=None, help="comma list of teacher checkpoints (default: none)")
        elif f.name == "class_bias":
            parser.add_argument(flag, default=None, help="comma list of one bias per class (default: none)")
        elif f.name == "augment":
            parser.add_argument(
                flag,
                default=None,
                help=f"comma list of {','.join(AUGMENTATIONS)} or 'none' (default: {','.join(default)})",
            )
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(
                flag, type=kind, default=None, choices=_CHOICES.get(f.name), help=f"(default: {default})"
            )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, overridden by --config, overridden by explicit flags; validated."""
    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    for f in dataclasses.fields(TrainConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    augment = values.get("augment")
    if isinstance(augment, str):
        values["augment"] = () if augment in ("", "none") else tuple(augment.split(","))
    elif augment is not None:
        values["augment"] = tuple(augment)
    teachers = values.get("teachers")
    if isinstance(teachers, str):
        values["teachers"] = tuple(t for t in teachers.split(",") if t)
    elif teachers is not None:
        values["teachers"] = tuple(teachers)
    bias = values.get("class_bias")
    if bias is not None:
        values["class_bias"] = _floats(bias)
    config = TrainConfig(**values)
    try:
        validate(config)
    except TypeError as exc:  # e.g. epochs = "ten" in a config file
        raise ConfigError(f"a config value has the wrong type: {exc}") from exc
    return config


def _floats(value: str | list[Any] | tuple[Any, ...]) -> tuple[float, ...]:
    """class_bias from a comma list (command line) or a list (config file)."""
    try:
        items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return tuple(float(v) for v in items)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"class_bias must be numbers, one per class: {value!r}") from exc


def validate(config: TrainConfig) -> None:
    """Reject values that would fail late or silently."""
    bad = set(config.augment) - set(AUGMENTATIONS)
    if bad:
        raise ConfigError(f"unknown augmentation(s): {', '.join(sorted(bad))}")
    for name, choices in _CHOICES.items():
        if getattr(config, name) not in choices:
            raise ConfigError(f"{name} must be one of {choices}")
    if not 0.0 < config.val_fraction < 0.5:
        raise ConfigError("val_fraction must be in (0, 0.5)")
    if config.epochs < 1 or config.batch_size < 1 or config.depth < 1 or config.width < 1:
        raise ConfigError("epochs, batch_size, depth and width must be positive")
    if not 0 <= config.cosine_start < config.epochs:
        raise ConfigError("cosine_start must be in [0, epochs)")
    if not 0.0 <= config.dropout < 1.0 or not 0.0 <= config.dense_dropout < 1.0:
        raise ConfigError("dropout must be in [0, 1)")
    if not 16 <= config.crop_size <= 48:
        raise ConfigError("crop_size must be in [16, 48] (48 = no random crops)")
    if config.tta == "flip-crop5" and config.crop_size == 48:
        raise ConfigError("tta flip-crop5 needs crop_size < 48")
    if not 0.0 <= config.erase_prob <= 1.0:
        raise ConfigError("erase_prob must be in [0, 1]")
    if not (config.ema == 0.0 or 0.0 < config.ema < 1.0):
        raise ConfigError("ema must be 0 (off) or in (0, 1)")
    if not 0.0 <= config.distill_alpha <= 1.0 or config.distill_temperature <= 0:
        raise ConfigError("distill_alpha must be in [0, 1] and distill_temperature > 0")
    if not all(math.isfinite(b) and abs(b) <= 5.0 for b in config.class_bias):
        raise ConfigError("class_bias values must be finite and within [-5, 5]")
    if config.step_every < 1 or not 0.0 < config.step_factor <= 1.0:
        raise ConfigError("step_every must be >= 1 and step_factor in (0, 1]")

"""Config precedence and validation; split, class weights, oversampling, augmentation."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from training.config import TrainConfig, add_arguments, config_from_args
from training.data import class_weights, make_augmenter, oversample, split_train_val, stream_seed


def parse(*argv: str) -> TrainConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_flags_override_config_file_which_overrides_defaults(tmp_path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('epochs = 7\nwidth = 16\naugment = ["flip"]\ndrop_blank = true\n')
    config = parse("--config", str(toml), "--width", "24", "--no-drop-blank")
    assert (config.epochs, config.width, config.augment, config.drop_blank) == (7, 24, ("flip",), False)
    assert config.batch_size == TrainConfig().batch_size
    assert parse("--augment", "none").augment == ()
    assert parse("--class-bias", "0,0,0.19,0,0,0,0").class_bias == (0.0, 0.0, 0.19, 0.0, 0.0, 0.0, 0.0)
    toml.write_text("class_bias = [0, 0.5]\n")
    assert parse("--config", str(toml)).class_bias == (0.0, 0.5)


@pytest.mark.parametrize(
    "argv",
    [["--augment", "flip,warp"], ["--val-fraction", "0.9"], ["--epochs", "0"], ["--dropout", "1.5"]],
    ids=["unknown-augment", "val-fraction", "epochs", "dropout"],
)
def test_invalid_values_are_rejected(argv) -> None:
    with pytest.raises(ValueError):
        parse(*argv)


def test_unknown_config_file_keys_are_rejected(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"epochs": 2, "learnin_rate": 0.1}')
    with pytest.raises(ValueError, match="learnin_rate"):
        parse("--config", str(path))


def manifest_frame() -> pd.DataFrame:
    rows = []
    for label, n in (("a", 50), ("b", 10), ("c", 40)):
        rows += [
            {
                "path": f"{label}{i}",
                "split": "train",
                "label": label,
                "status": "ok",
                "sha256": f"{label}{i}",
                "blank": i == 0,
            }
            for i in range(n)
        ]
    rows += [{"path": "t0", "split": "test", "label": "a", "status": "ok", "sha256": "a1", "blank": False}]
    return pd.DataFrame(rows)


def test_split_is_stratified_seeded_and_disjoint() -> None:
    config = TrainConfig(val_fraction=0.2, seed=3)
    train, val = split_train_val(manifest_frame(), config)
    assert val.label.value_counts().to_dict() == {"a": 10, "c": 8, "b": 2}
    assert set(train.index).isdisjoint(val.index)
    assert len(train) + len(val) == 100
    _again_train, again_val = split_train_val(manifest_frame(), config)
    assert list(again_val.index) == list(val.index)
    assert "test" not in set(train.split) | set(val.split)


def test_split_can_drop_test_duplicates_and_blanks() -> None:
    train, val = split_train_val(manifest_frame(), TrainConfig(drop_test_duplicates=True, drop_blank=True))
    kept = set(train.sha256) | set(val.sha256)
    assert "a1" not in kept  # byte-identical to a test image
    assert not {"a0", "b0", "c0"} & kept  # blank
    assert len(kept) == 100 - 1 - 3


def test_class_weights_modes() -> None:
    labels = pd.Series(["a"] * 30 + ["b"] * 10)
    assert class_weights(labels, ["a", "b"], "none") is None
    balanced = class_weights(labels, ["a", "b"], "balanced")
    assert balanced == pytest.approx({0: 40 / 60, 1: 40 / 20})
    assert class_weights(labels, ["a", "b"], "sqrt") == pytest.approx(
        {k: np.sqrt(v) for k, v in balanced.items()}
    )


def test_oversample_equalises_classes() -> None:
    frame = manifest_frame()
    counts = oversample(frame[frame.split == "train"], seed=1).label.value_counts()
    assert set(counts) == {50}


def test_augmentation_is_inactive_at_inference_and_active_in_training() -> None:
    augmenter = make_augmenter(TrainConfig(seed=5))
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(augmenter(x, training=False)), x)
    assert not np.allclose(np.asarray(augmenter(x, training=True)), x)
    assert [layer.name.split("_")[0] for layer in augmenter.layers] == [
        "random",
        "random",
        "random",
        "random",
        "random",
        "random",
    ]
    assert len(make_augmenter(TrainConfig(augment=("flip",))).layers) == 1


def test_stream_seed_is_fresh_for_every_resumed_or_warm_started_session() -> None:
    fresh = TrainConfig(seed=5)
    warm = TrainConfig(seed=5, init_from="models/emotion/1/model.keras")
    seeds = [stream_seed(fresh, 0), stream_seed(fresh, 3), stream_seed(fresh, 4), stream_seed(warm, 0)]
    assert seeds[0] == 5  # a fresh run is exactly reproducible from config.seed
    assert len(set(seeds)) == 4  # a resumed session must not replay epochs already fitted
    assert stream_seed(fresh, 3) == seeds[1]  # ...but is itself deterministic
    assert all(0 <= s < 2**31 for s in seeds)


def test_train_seed_changes_training_randomness_but_not_the_validation_split() -> None:
    frame = manifest_frame()
    _, val_a = split_train_val(frame, TrainConfig(seed=5))
    _, val_b = split_train_val(frame, TrainConfig(seed=5, train_seed=9))
    assert list(val_a.index) == list(val_b.index)
    assert stream_seed(TrainConfig(seed=5, train_seed=9), 0) == 9
    assert stream_seed(TrainConfig(seed=5, train_seed=9), 3) != stream_seed(TrainConfig(seed=5), 3)


def test_augmentation_stream_follows_the_seed() -> None:
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    config = TrainConfig(augment=("rotate", "zoom"))

    def draw(seed: int) -> np.ndarray:
        return np.asarray(make_augmenter(config, seed)(x, training=True))

    np.testing.assert_allclose(draw(11), draw(11))
    assert not np.allclose(draw(11), draw(12))


def test_cosine_schedule_holds_then_decays_to_min_lr() -> None:
    from training.callbacks import cosine_lr, lr_callback

    config = TrainConfig(epochs=10, cosine_start=4, learning_rate=1e-3, min_lr=1e-5, lr_schedule="cosine")
    rates = [cosine_lr(config, epoch) for epoch in range(10)]
    assert rates[:5] == [1e-3] * 5
    assert all(a > b for a, b in itertools.pairwise(rates[4:]))
    assert rates[-1] == pytest.approx(1e-5)
    assert type(lr_callback(config)).__name__ == "LearningRateScheduler"
    assert isinstance(lr_callback(TrainConfig()), keras.callbacks.ReduceLROnPlateau)


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.toml")),
    ids=lambda p: p.name,
)
def test_committed_configs_parse_to_what_they_say(path: Path) -> None:
    """Every recipe parses, and each key it sets arrives in TrainConfig unchanged (a long run
    resumes from fer2013-single.toml: a dropped or renamed field would change its meaning)."""
    import tomllib

    written = tomllib.loads(path.read_text())
    config = parse("--config", str(path))
    for key, value in written.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(config, key) == expected, key


def test_config_has_no_dead_extra_field(tmp_path: Path) -> None:
    """TrainConfig.extra was never read; an `extra` key in a recipe is an unknown key now."""
    assert "extra" not in TrainConfig().to_dict()
    recipe = tmp_path / "c.toml"
    recipe.write_text("epochs = 2\n[extra]\nnote = 1\n")
    with pytest.raises(ValueError, match=r"unknown keys.*extra"):
        parse("--config", str(recipe))


def test_teacher_views_from_a_config_file_are_checked(tmp_path: Path) -> None:
    """A recipe file bypasses argparse's choices: validate() must still refuse unknown views."""
    toml = tmp_path / "c.toml"
    toml.write_text('teacher_tta = "flip-twice"\n')
    with pytest.raises(ValueError, match="teacher_tta"):
        parse("--config", str(toml))
    toml.write_text('teacher_tta = "flip-zoom"\n')
    assert parse("--config", str(toml)).teacher_tta == "flip-zoom"

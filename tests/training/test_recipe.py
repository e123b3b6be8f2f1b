"""The training recipe's parts on tiny data: SGD, schedules, random crops + crop views, erasing, EMA,
distillation, bf16 training exported as float32."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.support.models import tiny_config
from training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_sgd_nesterov_with_weight_decay() -> None:
    from training.model import make_optimizer

    opt = make_optimizer(TrainConfig(optimizer="sgd", momentum=0.8, weight_decay=1e-4, learning_rate=0.05))
    assert isinstance(opt, keras.optimizers.SGD)
    assert opt.nesterov and opt.momentum == 0.8 and opt.weight_decay == 1e-4
    assert isinstance(make_optimizer(TrainConfig()), keras.optimizers.Adam)


def test_step_schedule() -> None:
    from training.callbacks import step_lr

    config = TrainConfig(lr_schedule="step", learning_rate=0.1, cosine_start=5, step_every=3, step_factor=0.5)
    assert [step_lr(config, e) for e in (0, 4, 5, 7, 8, 11)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.025]
    )


def batch(n: int = 6) -> tf.Tensor:
    """Distinct images: pixel value = 1000 * image + 48 * row + col (so every window is recognisable)."""
    grid = np.arange(48)[:, None] * 48 + np.arange(48)[None, :]
    return tf.constant(np.stack([grid + 10_000 * i for i in range(n)])[..., None], tf.float32)


def test_random_crop_takes_a_window_of_each_image_independently() -> None:
    from training.data import random_crop

    x = batch()
    crops = random_crop(x, 44, tf.constant(123, tf.int64)).numpy()
    assert crops.shape == (6, 44, 44, 1)
    offsets = set()
    for i, crop in enumerate(crops):
        top, left = divmod(int(crop[0, 0, 0]) - 10_000 * i, 48)
        np.testing.assert_array_equal(crop, x.numpy()[i, top : top + 44, left : left + 44])
        offsets.add((top, left))
    assert len(offsets) > 1  # not one offset for the whole batch


def test_centre_crop_is_the_middle() -> None:
    from training.data import centre_crop

    np.testing.assert_array_equal(centre_crop(batch(), 44).numpy(), batch().numpy()[:, 2:46, 2:46])


def test_random_erase() -> None:
    from training.data import random_erase

    x = tf.fill((32, 48, 48, 1), 100.0)
    untouched = random_erase(x, 0.0, tf.constant(5, tf.int64)).numpy()
    np.testing.assert_array_equal(untouched, x.numpy())
    erased = random_erase(x, 1.0, tf.constant(5, tf.int64)).numpy()
    fraction = (erased != 100.0).mean(axis=(1, 2, 3))
    assert (fraction > 0.005).all() and (fraction <= 0.26).all()
    assert erased.min() >= 0 and erased.max() <= 255


def test_flip_crop5_averages_ten_windows() -> None:
    from training.signature import serving_function

    config = TrainConfig(width=4, depth=2, dense_units=8, crop_size=40)
    from training.model import make_model

    model = make_model(config, 7)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    x = faces.astype(np.float32)
    windows = [(4, 4), (0, 0), (0, 8), (8, 0), (8, 8)]
    views = [x[:, t : t + 40, left : left + 40] for t, left in windows]
    views += [v[:, :, ::-1] for v in views]
    expected = np.mean([np.asarray(model(v, training=False)) for v in views], axis=0)
    served = serving_function(model, "flip-crop5")(faces)["probabilities"].numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)


@pytest.mark.parametrize("size", [40, 44, 46])
def test_area_resize_is_tensorflows_area_resize(size: int) -> None:
    """The flip-zoom view of a crop network: two matrix products give ResizeArea's numbers."""
    from training.signature import area_resize

    x = tf.constant(np.random.default_rng(size).integers(0, 256, (3, 48, 48, 1)).astype(np.float32))
    expected = tf.image.resize(x, (size, size), method="area").numpy()
    np.testing.assert_allclose(area_resize(x, size).numpy(), expected, atol=2e-3)  # of 0..255


def test_ema_weights_are_what_validation_and_checkpoints_see(
    tmp_path: Path, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ema on, best.keras holds the averaged weights, not the raw ones of the last step."""
    from training import callbacks as cb
    from training.train import train

    raw: list[list[np.ndarray]] = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raw.append([w.copy() for w in self.model.get_weights()])

    original = cb.make_callbacks
    monkeypatch.setattr(
        cb, "make_callbacks", lambda config, history: [Recorder(), *original(config, history)]
    )  # before the swap
    config = tiny_config(tmp_path, tiny_dataset, epochs=1, ema=0.5, optimizer="sgd", learning_rate=0.5)
    train(config)
    best = keras.models.load_model(Path(config.run_dir) / cb.BEST_FILE).get_weights()
    trainable = [i for i, w in enumerate(best) if w.ndim > 1]  # conv / dense kernels
    assert any(not np.allclose(best[i], raw[-1][i]) for i in trainable)


def test_distillation_loss() -> None:
    from training.distill import DistillationLoss

    rng = np.random.default_rng(1)
    student = tf.nn.softmax(rng.normal(size=(5, 7))).numpy().astype(np.float32)
    hard = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 5)]
    plain = keras.losses.CategoricalCrossentropy(reduction=None)(hard, student).numpy()
    targets = np.concatenate([hard, student], axis=1)  # teacher == student: KL is 0
    only_hard = DistillationLoss(alpha=0.0, temperature=4.0, reduction=None)(targets, student).numpy()
    np.testing.assert_allclose(only_hard, plain, rtol=1e-5)
    same = DistillationLoss(alpha=1.0, temperature=4.0, reduction=None)(targets, student).numpy()
    np.testing.assert_allclose(same, 0.0, atol=1e-5)
    other = np.concatenate([hard, np.roll(student, 1, axis=1)], axis=1)
    assert (DistillationLoss(alpha=1.0, reduction=None)(other, student).numpy() > 1e-3).all()
    config = DistillationLoss(0.3, 2.0).get_config()
    assert DistillationLoss.from_config(config).alpha == 0.3


def linear_teacher(side: int, seed: int) -> keras.Model:
    """A tiny softmax-of-pixels network taking side x side faces (0-255 floats, like ours)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((side, side, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_teachers_of_both_crop_sizes_average_their_views() -> None:
    """A 44x44 crop network and a 48x48 one teach together: "none" gives the crop network its
    central crop, "flip" averages each with its mirror image, and the mean is over teachers."""
    from training.distill import teacher_probabilities

    images = np.random.default_rng(3).integers(0, 256, (5, 48, 48, 1)).astype(np.uint8)
    crop, full = linear_teacher(44, 1), linear_teacher(48, 2)
    x = images.astype(np.float32)
    centre = x[:, 2:46, 2:46]
    np.testing.assert_allclose(
        teacher_probabilities([crop, full], images), (crop(centre) + full(x)) / 2, rtol=1e-5, atol=1e-6
    )
    mirrored = (crop(centre) + crop(centre[:, :, ::-1])) / 2
    np.testing.assert_allclose(teacher_probabilities([crop], images, "flip"), mirrored, rtol=1e-5, atol=1e-6)
    assert not np.allclose(teacher_probabilities([crop], images, "flip"), crop(centre), atol=1e-4)


def test_recipe_trains_distils_and_exports(
    tmp_path: Path, tiny_dataset: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SGD + random 44 crops + erasing + EMA + step LR + a teacher + bf16, end to end; the export
    computes in float32, serves 48x48 faces, and records its crop policy and network input."""
    from contract.crop import CALIBRATED, policy_from_metadata
    from contract.modeldir import read_metadata
    from contract.savedmodel import load_predict_fn
    from training import distill
    from training.train import train

    config = tiny_config(
        tmp_path,
        tiny_dataset,
        epochs=1,
        optimizer="sgd",
        learning_rate=0.01,
        weight_decay=1e-4,
        crop_size=44,
        erase_prob=0.5,
        ema=0.9,
        lr_schedule="step",
        teachers=(str(tiny_model_dir / "model.keras"),),
        mixed_precision="bf16",
        tta="flip-crop5",
    )
    try:
        version_dir = train(config)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    metadata = read_metadata(version_dir)
    assert metadata["network_input"] == 44 and metadata["tta"] == "flip-crop5"
    assert policy_from_metadata(metadata) == CALIBRATED
    model = keras.models.load_model(version_dir / "model.keras", compile=False)
    assert all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers)
    probs = load_predict_fn(version_dir)(np.zeros((2, 48, 48, 1), np.uint8))
    assert probs.shape == (2, 7)
    # The teacher targets were cached in the run folder: a resumed run does not load the teachers.
    assert list(Path(config.run_dir).glob("teacher-targets-*.npz"))
    # `make export` of the run's best checkpoint, in a fresh process (this one has imported
    # training.distill already): its DistillationLoss must load without the training code path.
    exported = subprocess.run(
        [sys.executable, "-m", "training.export", "--checkpoint", str(Path(config.run_dir) / "best.keras"),
         "--data-dir", str(tiny_dataset), "--model-dir", str(tmp_path / "exported"), "--version", "1",
         "--tta", "none", "--run-dir", str(tmp_path / "export-run"), "--crop-size", "44",
         "--width", "4", "--depth", "2", "--dense-units", "8", "--seed", "7"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (tmp_path / "exported" / "1" / "saved_model.pb").is_file()

    def refuse(path: object) -> None:
        raise AssertionError("teacher reloaded")

    from training.data import split_train_val
    from training.manifest import build_manifest
    from training.manifest import class_names as names

    monkeypatch.setattr(distill, "load_teacher", refuse)
    manifest = build_manifest(tiny_dataset)
    train_df, val_df = split_train_val(manifest, config)
    soft, _ = distill.cached_teacher_targets(config, train_df, val_df, names(manifest), Path(config.run_dir))
    assert soft.shape == (len(train_df), 7)
    # Other teacher views are other targets: the cache must not answer for them.
    flipped = dataclasses.replace(config, teacher_tta="flip")
    with pytest.raises(AssertionError, match="teacher reloaded"):
        distill.cached_teacher_targets(flipped, train_df, val_df, names(manifest), Path(config.run_dir))


def test_precision_check_trains_both_policies_and_reports_them(tmp_path: Path, tiny_dataset: Path) -> None:
    """training.precision_check: the same short run under float32 and mixed_bfloat16, each curve
    and s/epoch recorded, nothing exported, the global policy restored for whatever runs next."""
    from training import precision_check

    base = tiny_config(tmp_path, tiny_dataset, ema=0.9)
    try:
        report = precision_check.check(base, epochs=2, steps=2, out=tmp_path / "check")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    runs = report["runs"]
    assert [runs[p]["policy"] for p in ("float32", "bf16")] == ["float32", "mixed_bfloat16"]
    assert runs["float32"]["compute_dtypes"] == ["float32"] and "bfloat16" in runs["bf16"]["compute_dtypes"]
    for run in runs.values():
        assert len(run["val_accuracy"]) == len(run["seconds_per_epoch"]) == 2
    assert set(report["comparison"]) == {
        "final_val_accuracy_bf16_minus_f32",
        "best_val_accuracy_bf16_minus_f32",
        "speedup_bf16",
    }
    assert (tmp_path / "check" / "precision-check.md").read_text().count("| ") >= 4
    assert not (tmp_path / "models").exists()  # no export, so the test split is never read


def test_precision_check_continues_a_bf16_checkpoint_in_float32(tmp_path: Path, tiny_dataset: Path) -> None:
    """--start-from a checkpoint trained under mixed_bfloat16: the float32 run rebuilds it in float32
    (loaded as saved, it would keep computing in bf16 and the comparison would compare nothing)."""
    from training import precision_check
    from training.model import compile_model, make_model

    base = tiny_config(tmp_path, tiny_dataset)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        source = tmp_path / "bf16.keras"
        compile_model(make_model(base, 7), base).save(source)
        report = precision_check.check(base, epochs=1, steps=2, out=tmp_path / "check", start_from=source)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert report["runs"]["float32"]["compute_dtypes"] == ["float32"]
    assert "bfloat16" in report["runs"]["bf16"]["compute_dtypes"]
    assert report["start_from"] == str(source)
    # Same shuffle and augmentation stream, although each run continues its own rebuilt copy.
    assert report["runs"]["float32"]["seed"] == report["runs"]["bf16"]["seed"]

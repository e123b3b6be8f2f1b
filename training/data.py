"""tf.data input pipeline: manifest -> split -> decode/resize (contract) -> cache -> batches."""

from __future__ import annotations

import zlib

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from contract import CHANNELS, IMAGE_SIZE, load_face
from training.config import TrainConfig
from training.manifest import usable


def split_train_val(manifest: pd.DataFrame, config: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded validation split carved from train (test is never touched)."""
    train = usable(manifest[manifest.split == "train"])
    if config.drop_blank:
        train = train[~train.blank]
    if config.drop_test_duplicates:
        test_hashes = set(manifest.loc[manifest.split == "test", "sha256"])
        train = train[~train.sha256.isin(test_hashes)]
    rng = np.random.default_rng(config.seed)
    val_index = []
    for _, group in train.groupby("label"):
        n_val = max(1, round(len(group) * config.val_fraction)) if len(group) > 1 else 0
        val_index.extend(rng.choice(group.index.to_numpy(), size=n_val, replace=False))
    val = train.loc[sorted(val_index)]
    return train.drop(index=val.index), val


def class_weights(labels: pd.Series, class_names: list[str], mode: str) -> dict[int, float] | None:
    """Per-class loss weights: none, balanced (n / (k * count)) or its square root."""
    if mode == "none":
        return None
    counts = labels.value_counts().reindex(class_names, fill_value=0).to_numpy(dtype=float)
    weights = len(labels) / (len(class_names) * np.maximum(counts, 1))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    return {i: float(w) for i, w in enumerate(weights)}


def oversample(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Repeat rows of smaller classes (with replacement) up to the largest class size."""
    target = frame.label.value_counts().max()
    parts = [
        g.sample(n=target, replace=len(g) < target, random_state=seed) for _, g in frame.groupby("label")
    ]
    return pd.concat(parts).sample(frac=1.0, random_state=seed)


def stream_seed(config: TrainConfig, epochs_done: int) -> int:
    """Seed for the shuffle order and augmentations of one training session.

    tf.data's shuffle and Keras' Random* layers restart their streams in every process, so
    a resumed run (or a warm restart from another run's checkpoint) with config.seed would
    replay exactly the batches and augmentations of epochs the model has already fitted.
    Fresh runs use train_seed (default: seed) as is, so they stay reproducible.
    """
    base = config.train_seed or config.seed
    if epochs_done == 0 and not config.init_from:
        return base
    return zlib.crc32(f"{base}:{epochs_done}:{config.init_from}".encode()) % 2**31


def make_augmenter(config: TrainConfig, seed: int | None = None) -> keras.Sequential:
    """Keras preprocessing layers; they only act when called with training=True."""
    base = stream_seed(config, 0) if seed is None else seed
    options = {
        "flip": lambda s: keras.layers.RandomFlip("horizontal", seed=s),
        "rotate": lambda s: keras.layers.RandomRotation(
            config.rotation_deg / 360.0, fill_mode="reflect", seed=s
        ),
        "zoom": lambda s: keras.layers.RandomZoom((-config.zoom, config.zoom), fill_mode="reflect", seed=s),
        "translate": lambda s: keras.layers.RandomTranslation(
            config.translate, config.translate, fill_mode="reflect", seed=s
        ),
        "brightness": lambda s: keras.layers.RandomBrightness(
            config.brightness, value_range=(0, 255), seed=s
        ),
        "contrast": lambda s: keras.layers.RandomContrast(config.contrast, value_range=(0, 255), seed=s),
    }
    # One seed per layer: equal seeds would make e.g. rotation and zoom draw the same numbers.
    layers = [options[name](base + i) for i, name in enumerate(config.augment)]
    return keras.Sequential(layers, name="augment")


def _load(path: tf.Tensor) -> tf.Tensor:
    """Decode and resize one file with the contract function (runs inside tf.data)."""
    image = tf.numpy_function(load_face, [path], tf.uint8, stateful=False)
    image.set_shape((IMAGE_SIZE, IMAGE_SIZE, CHANNELS))
    return image


def make_dataset(
    frame: pd.DataFrame,
    class_names: list[str],
    config: TrainConfig,
    *,
    training: bool,
    augmenter: keras.Sequential | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batched (float32 image, one-hot label) dataset; shuffled and augmented only for training."""
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[label] for label in frame.label], dtype=np.int32)
    ds = tf.data.Dataset.from_tensor_slices((frame.path.to_numpy(dtype=str), labels))
    ds = ds.map(lambda p, y: (_load(p), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.cache()  # decode once; every later epoch reads 48x48 uint8 tensors from memory
    if training:
        ds = ds.shuffle(
            min(len(frame), 30_000),
            seed=stream_seed(config, 0) if seed is None else seed,
            reshuffle_each_iteration=True,
        )
    ds = ds.batch(config.batch_size)
    num_classes = len(class_names)

    def to_float(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(x, tf.float32), tf.one_hot(y, num_classes)

    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    if training and augmenter is not None and len(augmenter.layers) > 0:
        ds = ds.map(
            lambda x, y: (tf.clip_by_value(augmenter(x, training=True), 0.0, 255.0), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(frame: pd.DataFrame, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All images of a frame as one uint8 array plus integer labels (for evaluation)."""
    images = (
        np.stack([load_face(p) for p in frame.path])
        if len(frame)
        else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), np.uint8)
    )
    index = {name: i for i, name in enumerate(class_names)}
    return images, np.array([index[label] for label in frame.label], dtype=np.int64)

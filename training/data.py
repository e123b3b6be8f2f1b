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


F32 = "float32"


def make_augmenter(config: TrainConfig, seed: int | None = None) -> keras.Sequential:
    """Keras preprocessing layers; they only act when called with training=True."""
    base = stream_seed(config, 0) if seed is None else seed
    options = {
        "flip": lambda s: keras.layers.RandomFlip("horizontal", seed=s, dtype=F32),
        "rotate": lambda s: keras.layers.RandomRotation(
            config.rotation_deg / 360.0, fill_mode="reflect", seed=s, dtype=F32
        ),
        "zoom": lambda s: keras.layers.RandomZoom(
            (-config.zoom, config.zoom), fill_mode="reflect", seed=s, dtype=F32
        ),
        "translate": lambda s: keras.layers.RandomTranslation(
            config.translate, config.translate, fill_mode="reflect", seed=s, dtype=F32
        ),
        "brightness": lambda s: keras.layers.RandomBrightness(
            config.brightness, value_range=(0, 255), seed=s, dtype=F32
        ),
        "contrast": lambda s: keras.layers.RandomContrast(
            config.contrast, value_range=(0, 255), seed=s, dtype=F32
        ),
    }
    # One seed per layer: equal seeds would make e.g. rotation and zoom draw the same numbers.
    layers = [options[name](base + i) for i, name in enumerate(config.augment)]
    # float32 whatever the global policy: under mixed_bfloat16 the layers would otherwise round
    # pixels to bf16's 8 significant bits and hand bf16 tensors to the crop/erase steps.
    return keras.Sequential(layers, name="augment")


def random_crop(x: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """An independent random size x size crop of every image of a float [N,H,W,C] batch."""
    n = tf.shape(x)[0]
    limit = tf.shape(x)[1] - size + 1
    offsets = tf.random.stateless_uniform(
        [n, 2], seed=_stateless(seed), minval=0, maxval=limit, dtype=tf.int32
    )
    rows = offsets[:, :1] + tf.range(size)[None, :]  # [N, size]
    cols = offsets[:, 1:] + tf.range(size)[None, :]
    x = tf.gather(x, rows, axis=1, batch_dims=1)  # [N, size, W, C]
    return tf.gather(x, cols, axis=2, batch_dims=1)


def centre_crop(x: tf.Tensor, size: int) -> tf.Tensor:
    """The central size x size window of a [N,H,W,C] batch (the view the model validates on)."""
    top = (x.shape[1] - size) // 2
    left = (x.shape[2] - size) // 2
    return x[:, top : top + size, left : left + size, :]


def random_erase(
    x: tf.Tensor, probability: float, seed: tf.Tensor, area: tuple[float, float] = (0.02, 0.25)
) -> tf.Tensor:
    """Zhong et al.'s random erasing: per image, with `probability`, one rectangle of `area` of
    the image (aspect 0.3-3.3) becomes uniform noise in 0..255."""
    n, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    draws = tf.random.stateless_uniform([n, 5], seed=_stateless(seed))
    h_f, w_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    target = (area[0] + (area[1] - area[0]) * draws[:, 0]) * h_f * w_f
    aspect = tf.exp(tf.math.log(0.3) + (tf.math.log(3.3) - tf.math.log(0.3)) * draws[:, 1])
    eh = tf.minimum(tf.sqrt(target * aspect), h_f)
    ew = tf.minimum(tf.sqrt(target / aspect), w_f)
    top = (h_f - eh) * draws[:, 2]
    left = (w_f - ew) * draws[:, 3]
    ys = tf.range(h_f)[None, :, None]
    xs = tf.range(w_f)[None, None, :]
    inside = (
        (ys >= top[:, None, None])
        & (ys < (top + eh)[:, None, None])
        & (xs >= left[:, None, None])
        & (xs < (left + ew)[:, None, None])
        & (draws[:, 4] < probability)[:, None, None]
    )
    noise = tf.random.stateless_uniform(tf.shape(x), seed=_stateless(seed + 1), maxval=255.0)
    return tf.where(inside[..., None], noise, x)


def _stateless(seed: tf.Tensor) -> tf.Tensor:
    """A [2] stateless seed from a per-batch random int64 (tf.data.Dataset.random)."""
    return tf.stack([tf.cast(seed % 2_147_483_647, tf.int32), tf.constant(7, tf.int32)])


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
    soft_targets: np.ndarray | None = None,
    weights: dict[int, float] | None = None,
) -> tf.data.Dataset:
    """Batched (float32 image, target[, sample weight]) dataset; shuffled and augmented only for training.

    The target is the one-hot label, or [one-hot | teacher probabilities] when soft_targets
    (one row per frame row) are given; then class weights become per-sample weights, since
    Keras' class_weight cannot read such targets.
    """
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[label] for label in frame.label], dtype=np.int32)
    num_classes = len(class_names)
    soft = (
        np.zeros((len(frame), 0), np.float32)
        if soft_targets is None
        else np.asarray(soft_targets, np.float32)
    )
    if len(soft) != len(frame):
        raise ValueError(f"{len(soft)} soft targets for {len(frame)} images")
    table = np.ones(num_classes, np.float32)
    for i, w in (weights or {}).items():
        table[i] = w
    sample_weight = table[labels]
    ds = tf.data.Dataset.from_tensor_slices((frame.path.to_numpy(dtype=str), labels, soft, sample_weight))
    ds = ds.map(
        lambda p, y, s, w: (_load(p), y, s, w), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    ds = ds.cache()  # decode once; every later epoch reads 48x48 uint8 tensors from memory
    if training:
        ds = ds.shuffle(
            min(len(frame), 30_000),
            seed=stream_seed(config, 0) if seed is None else seed,
            reshuffle_each_iteration=True,
        )
    ds = ds.batch(config.batch_size)
    distilling = soft_targets is not None
    base = stream_seed(config, 0) if seed is None else seed
    crop = config.crop_size

    def to_model(batch: tuple, r: tf.Tensor) -> tuple[tf.Tensor, ...]:
        x, y, s, w = batch
        x = tf.cast(x, tf.float32)
        if training and augmenter is not None and len(augmenter.layers) > 0:
            x = tf.clip_by_value(augmenter(x, training=True), 0.0, 255.0)
        if crop < IMAGE_SIZE:
            x = random_crop(x, crop, r) if training else centre_crop(x, crop)
        if training and config.erase_prob > 0:
            x = random_erase(x, config.erase_prob, r + 1)
        target = tf.one_hot(y, num_classes)
        if distilling:
            return x, tf.concat([target, s], axis=-1), w
        return x, target

    # One random int64 per batch, a new stream every epoch, seeds the crop and erase draws.
    draws = tf.data.Dataset.random(seed=base, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, draws)).map(to_model, num_parallel_calls=tf.data.AUTOTUNE)
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

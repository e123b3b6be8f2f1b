"""The serving signature: uint8 faces in, class probabilities averaged over the TTA views out."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from contract import CHANNELS, IMAGE_SIZE, INPUT_NAME, OUTPUT_NAME
from training.config import TTA_VIEWS
from training.keras_models import members_of, model_crop_size

ZOOM_FRACTION = 0.9  # flip-zoom: the central 90% (44x44 of 48x48), resized back to 48x48


def tta_views(x: tf.Tensor, tta: str, crop_size: int = IMAGE_SIZE) -> list[tf.Tensor]:
    """The views of a float [N,48,48,1] batch whose predictions are averaged.

    A network trained on random crop_size crops sees the central crop as its base view;
    its "zoom" view is the whole face resized to crop_size, and flip-crop5 adds the four
    corner crops, each view also mirrored.
    """
    if crop_size < IMAGE_SIZE:
        return _crop_views(x, tta, crop_size)
    views = [x]
    if tta in ("flip", "flip-zoom"):
        views.append(tf.reverse(x, axis=[2]))
    if tta == "flip-zoom":
        zoomed = tf.image.resize(tf.image.central_crop(x, ZOOM_FRACTION), (IMAGE_SIZE, IMAGE_SIZE))
        views += [zoomed, tf.reverse(zoomed, axis=[2])]
    return views


def _crop_views(x: tf.Tensor, tta: str, size: int) -> list[tf.Tensor]:
    """Views of a 48x48 batch for a crop_size network (see tta_views)."""
    margin = IMAGE_SIZE - size
    centre = margin // 2
    windows = [(centre, centre)]
    if tta == "flip-crop5":
        windows += [(0, 0), (0, margin), (margin, 0), (margin, margin)]
    views = [x[:, top : top + size, left : left + size, :] for top, left in windows]
    if tta == "flip-zoom":
        views.append(area_resize(x, size))
    if tta != "none":
        views += [tf.reverse(v, axis=[2]) for v in list(views)]
    return views


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights of an area (box-filter) resize along one axis: output pixel i
    averages the input span [i, i + 1) * n_in / n_out, partly covered pixels by their share."""
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in), np.float64)
    for i in range(n_out):
        low, high = i * scale, (i + 1) * scale
        for j in range(int(np.floor(low)), int(np.ceil(high))):
            weights[i, j] = (min(high, j + 1) - max(low, j)) / scale
    return weights


def area_resize(x: tf.Tensor, size: int) -> tf.Tensor:
    """Area resize of a float [N,S,S,1] batch to [N,size,size,1] as two matrix products.

    The same numbers as tf.image.resize(method="area") to float rounding, but OpenVINO's
    TensorFlow frontend converts MatMul, while a SavedModel with ResizeArea failed to convert
    ("Data batch channel count (44) does not match filter input channel count (1)"), which
    left a 44x44 network served with flip-zoom on TensorFlow only.
    """
    weights = tf.constant(area_matrix(int(x.shape[1]), size), tf.float32)
    rows = tf.matmul(weights, x[..., 0])  # [N, size, S]: one channel, the contract's gray face
    return tf.matmul(rows, weights, transpose_b=True)[..., None]


def networks(model: keras.Model) -> list[keras.Model]:
    """The networks a model averages: an ensemble's members, or the model itself."""
    return members_of(model) or [model]


def view_groups(model: keras.Model) -> list[tuple[keras.Model, int]]:
    """What to call on which views: [(callable model, face side of its views)].

    A single network, or an ensemble whose members all take the model's own input side, is
    called whole (one call for all views). An ensemble of networks trained on random crops
    (training.keras_models.build_ensemble gives each a central crop of the 48x48 input) is
    split into its members, each given the views of its own crop size, so the average is
    exactly the mean of what each member's own signature would serve.
    """
    members = networks(model)
    if {model_crop_size(network) for network in members} == {model_crop_size(model)}:
        return [(model, model_crop_size(model))]
    return [(network, model_crop_size(network)) for network in members]


def averaged_views(model: keras.Model, x: tf.Tensor, tta: str, classes: int) -> tf.Tensor:
    """float [N,48,48,1] -> float32 [N,K]: the mean over view groups of each one's mean over its views."""
    per_group = []
    for network, side in view_groups(model):
        views = tta_views(x, tta, side)
        # All views stacked into one call (one pass through the graph, not one per view).
        probabilities = tf.cast(network(tf.concat(views, axis=0), training=False), tf.float32)
        # A static class count keeps the signature's output shape [None, K], not [None, None].
        per_view = tf.reshape(probabilities, [len(views), tf.shape(x)[0], classes])
        per_group.append(tf.reduce_mean(per_view, axis=0))
    return per_group[0] if len(per_group) == 1 else tf.add_n(per_group) / len(per_group)


def serving_function(
    model: keras.Model, tta: str, class_bias: Sequence[float] = ()
) -> tf.types.experimental.GenericFunction:
    """uint8 [N,48,48,1] -> {'probabilities': float32 [N,K]}, averaged over the tta views.

    class_bias (one per class, empty = none) is added to the log of the averaged probabilities,
    i.e. p * exp(b) renormalised: training.recall_floor fits it on validation.
    """
    if tta not in TTA_VIEWS:
        raise ValueError(f"unknown tta {tta!r}; expected one of {sorted(TTA_VIEWS)}")
    if tta == "flip-crop5" and any(side >= IMAGE_SIZE for _, side in view_groups(model)):
        raise ValueError("tta flip-crop5 needs networks trained on crops smaller than 48x48")
    classes = int(model.output_shape[-1])
    class_bias = tuple(float(b) for b in class_bias)  # a numpy array has no truth value
    if class_bias and len(class_bias) != classes:
        raise ValueError(f"class_bias has {len(class_bias)} values for a model of {classes} classes")
    weights = tf.constant(np.exp(np.asarray(class_bias, np.float64)), tf.float32) if class_bias else None

    @tf.function(
        input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], tf.uint8, name=INPUT_NAME)]
    )
    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        averaged = averaged_views(model, tf.cast(image, tf.float32), tta, classes)
        if weights is not None:
            weighted = averaged * weights
            averaged = weighted / tf.reduce_sum(weighted, axis=1, keepdims=True)
        return {OUTPUT_NAME: averaged}

    return serve


def served_probabilities(
    model: keras.Model, images: np.ndarray, tta: str, class_bias: Sequence[float] = (), batch: int = 512
) -> np.ndarray:
    """What the serving signature returns for uint8 faces [N,48,48,1], in batches: float [N,K]."""
    serve = serving_function(model, tta, class_bias)
    parts = [
        np.asarray(serve(images[start : start + batch])[OUTPUT_NAME])
        for start in range(0, len(images), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, int(model.output_shape[-1])), np.float32)

"""The CNN: Conv2D(3x3)/BatchNorm/ReLU blocks with pooling and dropout, dense softmax head."""

from __future__ import annotations

import keras
from keras import layers

from contract import CHANNELS, IMAGE_SIZE
from training.config import TrainConfig


def make_model(config: TrainConfig, num_classes: int) -> keras.Model:
    """Build (not compile) the classifier; takes float 0..255 faces of shape crop_size^2 x 1."""
    reg = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    # With random-crop training the network sees crop_size faces; the serving signature crops them.
    side = config.crop_size or IMAGE_SIZE
    inputs = keras.Input(shape=(side, side, CHANNELS), name="image")
    # Normalisation lives in the model so every consumer feeds raw 0..255 pixels.
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for block in range(config.depth):
        filters = config.width * 2**block
        for conv in range(config.convs_per_block):
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=False,
                kernel_regularizer=reg,
                name=f"block{block}_conv{conv}",
            )(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
        x = layers.Dropout(config.dropout, name=f"block{block}_dropout")(x)
    if config.head == "gap":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(config.dense_units, use_bias=False, kernel_regularizer=reg, name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    x = layers.Activation("relu", name="dense_relu")(x)
    x = layers.Dropout(config.dense_dropout, name="dense_dropout")(x)
    # float32 softmax keeps probabilities exact under a mixed_float16 policy.
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="emotion_cnn")


def rebuilt(model: keras.Model, config: TrainConfig) -> keras.Model:
    """model's weights in a fresh network of config, built under the current global dtype policy.

    A Keras model keeps the policy it was built under; this is how a network moves between
    mixed_bfloat16 and float32 (export, training.precision_check).
    """
    copy = make_model(config, int(model.output_shape[-1]))
    copy.set_weights(model.get_weights())
    return copy


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """Adam, or SGD with (Nesterov) momentum; optional decoupled weight decay and weight EMA."""
    common = {
        "learning_rate": config.learning_rate,
        "weight_decay": config.weight_decay or None,
        "use_ema": config.ema > 0,
        "ema_momentum": config.ema or 0.99,
    }
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=config.momentum, nesterov=config.nesterov, **common)
    return keras.optimizers.Adam(**common)


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The configured optimizer + cross-entropy (or the distillation loss) with accuracy metrics."""
    from training.distill import DistillationLoss, HardAccuracy

    if config.teachers:
        # Targets are [one-hot | teacher probabilities]: the metrics read the one-hot half.
        loss: keras.losses.Loss = DistillationLoss(
            config.distill_alpha, config.distill_temperature, config.label_smoothing
        )
        metrics: list = [HardAccuracy(name="accuracy"), HardAccuracy(name="categorical_accuracy")]
    else:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        metrics = ["accuracy", keras.metrics.CategoricalAccuracy(name="categorical_accuracy")]
    model.compile(optimizer=make_optimizer(config), loss=loss, metrics=metrics)
    return model

"""Export a trained Keras model: .keras file, TF-Serving SavedModel, and metadata JSON."""

from __future__ import annotations

import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from contract import CHANNELS, IMAGE_SIZE, INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME, contract_dict
from contract.crop import METADATA_KEY as CROP_POLICY_KEY
from contract.crop import CropPolicy
from contract.modeldir import ModelDirError, write_metadata
from training.config import TTA_VIEWS

KERAS_FILE = "model.keras"
# A version being written: <root>/.<version>.partial-<random>, renamed to <root>/<version> when
# complete. Loaders only look at numeric folder names, so a server never sees a half-written one.
PARTIAL = ".partial-"


def next_version(model_root: str | Path) -> int:
    """One more than the highest version folder under model_root, counting ones still being written."""
    root = Path(model_root)
    names = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    staged = [name[1:].partition(PARTIAL)[0] for name in names if name.startswith(".") and PARTIAL in name]
    return max((int(n) for n in names + staged if n.isdigit()), default=0) + 1


def check_version_free(version_dir: str | Path, overwrite: bool = False) -> None:
    """Refuse an existing version folder (published models are never written into) unless overwrite."""
    target = Path(version_dir)
    if target.exists() and not overwrite:
        raise ModelDirError(
            f"{target} already exists: a published version is never replaced; choose another --version "
            "(or none, for the next free one) or pass --overwrite to replace it"
        )


@contextmanager
def staged_version_dir(version_dir: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """An empty folder beside version_dir, renamed to it once the block completes.

    A failure (or a crash) inside the block never leaves a folder named like a version: the
    staging folder is removed, and an existing version stays untouched. With overwrite, the old
    folder is renamed aside, the new one renamed in, and only then the old one deleted.
    """
    target = Path(version_dir)
    check_version_free(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{PARTIAL}", dir=target.parent))
    aside = None
    try:
        yield staging
        check_version_free(target, overwrite)  # another run may have published it meanwhile
        if target.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.replaced-", dir=target.parent))
            target.rename(aside / target.name)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if aside is not None and not target.exists():
            (aside / target.name).rename(target)  # the swap failed half-way: put the old one back
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


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
        views.append(tf.image.resize(x, (size, size), method="area"))
    if tta != "none":
        views += [tf.reverse(v, axis=[2]) for v in list(views)]
    return views


def model_crop_size(model: keras.Model) -> int:
    """The face side the network takes (48, or the random-crop size it was trained on)."""
    return int(model.input_shape[1] or IMAGE_SIZE)


def serving_function(model: keras.Model, tta: str) -> tf.types.experimental.GenericFunction:
    """uint8 [N,48,48,1] -> {'probabilities': float32 [N,K]}, averaged over the tta views."""
    if tta not in TTA_VIEWS:
        raise ValueError(f"unknown tta {tta!r}; expected one of {sorted(TTA_VIEWS)}")
    crop_size = model_crop_size(model)
    if tta == "flip-crop5" and crop_size >= IMAGE_SIZE:
        raise ValueError("tta flip-crop5 needs a network trained on crops smaller than 48x48")

    @tf.function(
        input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], tf.uint8, name=INPUT_NAME)]
    )
    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        views = tta_views(tf.cast(image, tf.float32), tta, crop_size)
        # All views stacked into one model call (one pass through the graph, not one per view).
        probabilities = tf.cast(model(tf.concat(views, axis=0), training=False), tf.float32)
        # A static class count keeps the signature's output shape [None, K], not [None, None].
        per_view = tf.reshape(probabilities, [len(views), tf.shape(image)[0], probabilities.shape[-1]])
        return {OUTPUT_NAME: tf.reduce_mean(per_view, axis=0)}

    return serve


def library_versions() -> dict[str, str]:
    """Versions that matter for reproducing or loading the model."""
    import cv2
    import numpy

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
    }


def export_model(
    model: keras.Model,
    version_dir: str | Path,
    *,
    class_names: list[str],
    tta: str,
    extra: dict[str, Any],
    crop_policy: CropPolicy | None = None,
    include_optimizer: bool = True,
    include_keras: bool = True,
) -> Path:
    """Write model.keras (unless include_keras is False), the SavedModel and metadata.json.

    crop_policy (how the service turns a detector box into this model's input) is recorded
    in metadata.json; None leaves it out, so the service uses contract.crop.LEGACY.
    """
    out = Path(version_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):  # publish() stages a fresh folder: this never writes into a published one
        raise ModelDirError(f"{out} is not empty: export_model writes only into a new folder")
    if include_keras:
        keras_model = model
        if not include_optimizer:
            # An uncompiled functional view of the same layers is saved without the optimizer.
            keras_model = keras.Model(model.input, model.output, name=model.name)
        keras_model.save(out / KERAS_FILE)
    # No archive.track(model): the endpoint already tracks the variables it uses, and
    # tracking the model as well stores every weight twice (double-sized SavedModel).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(SIGNATURE_NAME, serving_function(model, tta))
    archive.write_out(str(out), verbose=False)
    metadata = {
        "name": extra.pop("name", "emotion"),
        "version": int(out.name) if out.name.isdigit() else out.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "class_names": list(class_names),
        "input": contract_dict(),
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "shape": [None, len(class_names)],
            "meaning": "class probabilities in class_names order (softmax)",
        },
        "tta": tta,
        "network_input": model_crop_size(model),
        **({CROP_POLICY_KEY: crop_policy.to_dict()} if crop_policy is not None else {}),
        "versions": library_versions(),
        **extra,
    }
    write_metadata(out, metadata)
    return out

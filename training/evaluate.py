"""Evaluate an exported SavedModel on a dataset's test split; write every artefact.

python -m training.evaluate --model-dir DIR --data-dir DIR [--out DIR] [--detect]

The numbers come from the SavedModel's serving signature, i.e. exactly what the
service computes for a 48x48 face (test-time augmentation included). publish evaluates a new
version on the test rows its run already scanned (evaluate_rows, evaluate_photo_rows); the CLI
scans the folder first (evaluate_dir, evaluate_photos).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.artifacts import classification_report, write_artifacts, write_photo_artifacts
from training.cli import command
from training.errors import DatasetError
from training.scoring import compute_metrics, predict_in_slices

Predict = Callable[[np.ndarray], np.ndarray]


def split_rows(data_dir: str | Path, split: str, class_names: list[str]) -> pd.DataFrame:
    """The usable rows of data_dir/<split>/, refused when a class is unknown to the model."""
    from training.manifest import build_manifest, usable

    frame = usable(build_manifest(data_dir, splits=(split,)))
    unknown = sorted(set(frame.label) - set(class_names))
    if unknown:
        raise DatasetError(f"classes not known to the model: {', '.join(unknown)}")
    return frame


def evaluate_rows(
    predict: Predict,
    frame: pd.DataFrame,
    class_names: list[str],
    out_dir: str | Path,
    record: dict[str, Any],
    history: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Metrics of predict on the face crops of frame, with record (model_dir, data_dir, split) added;
    artefacts (and training curves of history) written to out_dir."""
    from training.data import load_arrays

    images, labels = load_arrays(frame, class_names)
    metrics = {**compute_metrics(predict_in_slices(predict, images), labels, class_names), **record}
    write_artifacts(metrics, class_names, Path(out_dir), history)
    return metrics


def evaluate_dir(
    model_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    history: pd.DataFrame | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Evaluate an exported model on data_dir/<split>/ and write artefacts to out_dir."""
    from contract.modeldir import read_metadata, resolve_version_dir
    from contract.savedmodel import load_predict_fn

    version_dir = resolve_version_dir(model_dir)
    class_names = read_metadata(version_dir)["class_names"]
    frame = split_rows(data_dir, split, class_names)
    record = {"model_dir": str(version_dir), "data_dir": str(data_dir), "split": split}
    return evaluate_rows(load_predict_fn(version_dir), frame, class_names, out_dir, record, history)


def evaluate_photo_rows(
    predict: Predict,
    frame: pd.DataFrame,
    class_names: list[str],
    policy: Any,
    detector_name: str,
    out_dir: str | Path,
    record: dict[str, Any],
) -> dict[str, Any]:
    """Top-face accuracy of predict on the photos of frame through the service's detect + crop path."""
    from contract.detect import make_detector
    from training.photos import photo_metrics, photo_predictions

    labels = np.array([class_names.index(c) for c in frame.label], dtype=np.int64)
    probs, crops, _ = photo_predictions(frame, policy, make_detector(detector_name), predict)
    metrics = photo_metrics(probs, labels, class_names)
    metrics.update(
        record,
        path="photos: detect + crop policy",
        detector=detector_name,
        crop_policy=policy.to_dict(),
    )
    write_photo_artifacts(metrics, probs, labels, crops, class_names, Path(out_dir))
    return metrics


def evaluate_photos(
    model_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    split: str = "test",
    detector_name: str = "yunet",
) -> dict[str, Any]:
    """Top-face accuracy on data_dir/<split>/<class>/<photo> through the service's detect + crop path."""
    from contract.crop import policy_from_metadata
    from contract.modeldir import read_metadata, resolve_version_dir
    from contract.savedmodel import load_predict_fn

    version_dir = resolve_version_dir(model_dir)
    metadata = read_metadata(version_dir)
    class_names = metadata["class_names"]
    frame = split_rows(data_dir, split, class_names)
    record = {"model_dir": str(version_dir), "data_dir": str(data_dir), "split": split}
    return evaluate_photo_rows(
        load_predict_fn(version_dir),
        frame,
        class_names,
        policy_from_metadata(metadata),
        detector_name,
        out_dir,
        record,
    )


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: python -m training.evaluate --model-dir DIR --data-dir DIR [--out DIR] [--detect]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="model root or version folder")
    parser.add_argument("--data-dir", required=True, help="folder with <split>/<class>/ images")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", default="reports/evaluation", help="where artefacts go")
    parser.add_argument(
        "--detect",
        action="store_true",
        help="the images are uncropped photos: detect + crop like the service",
    )
    parser.add_argument("--detector", default="yunet", choices=("yunet", "haar"))
    args = parser.parse_args(argv)
    if args.detect:
        metrics = evaluate_photos(args.model_dir, args.data_dir, args.out, args.split, args.detector)
        print(
            f"photos {metrics['photos']}: top-face accuracy {metrics['accuracy']:.4f}, "
            f"faces found {metrics['face_found_rate']:.4f}"
        )
    else:
        metrics = evaluate_dir(args.model_dir, args.data_dir, args.out, split=args.split)
    if "per_class" in metrics:
        print(classification_report(metrics))
    print(f"artefacts written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

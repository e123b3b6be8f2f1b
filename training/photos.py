"""Datasets of uncropped photos: faces found and cropped exactly as the service does.

- `make train ... ARGS="--detect"`: every photo of train/ and test/ goes through the detector
  and the crop policy once; the 48x48 crops are cached under <run_dir>/faces (keyed by the
  photo's hash, the policy and the detector), so later epochs and resumed runs never
  re-detect. Photos with no face are skipped; with several, the largest face is used
  (multi_face = "largest") or the photo is skipped ("skip"). The data report lists both.
- `make evaluate ... ARGS="--detect"`: top-face accuracy on a folder of photos through
  contract.faces.find_faces (the service's detect=auto path), face-found rate, per-class
  recall, confusion matrix with a "no face" column, and a contact sheet of what the model saw.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from contract import decode_image, to_model_input
from contract.crop import CropPolicy, crop_face
from contract.detect import Detector
from contract.faces import find_faces
from training.manifest import build_manifest, usable
from training.scoring import compute_metrics, predict_in_slices

log = logging.getLogger(__name__)
FACES_DIR = "faces"
INDEX_FILE = "index.json"
NO_FACE = "no face"


def largest(boxes: list) -> Any:
    """The face with the largest box (the subject of a portrait, not a face in the background)."""
    return max(boxes, key=lambda b: b.width * b.height)


def detect_dataset(
    manifest: pd.DataFrame, run_dir: str | Path, policy: CropPolicy, detector: Detector, multi_face: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Crop every usable photo's face into <run_dir>/faces; the manifest of the crops and a report."""
    root = Path(run_dir) / FACES_DIR
    index_path = root / INDEX_FILE
    index: dict[str, dict[str, Any]] = json.loads(index_path.read_text()) if index_path.exists() else {}
    # The runtime too: YuNet in bf16 moves boxes by a pixel or two, so its crops are not native's.
    salt = json.dumps([policy.to_dict(), detector.name, detector.runtime, multi_face], sort_keys=True)
    report: dict[str, Any] = {"no_face": [], "multi_face": [], "skipped_multi_face": [], "photos": 0}
    fresh = 0
    for row in usable(manifest).itertuples():
        report["photos"] += 1
        key = hashlib.sha256(f"{row.sha256}:{salt}".encode()).hexdigest()[:20]
        entry = index.get(key)
        if entry is None:
            entry = _crop_one(Path(row.path), root / row.split / row.label, key, policy, detector, multi_face)
            index[key] = entry
            fresh += 1
        if entry["faces"] == 0:
            report["no_face"].append(row.path)
        elif entry["faces"] > 1:
            report["multi_face"].append(row.path)
            if entry["crop"] is None:
                report["skipped_multi_face"].append(row.path)
    root.mkdir(parents=True, exist_ok=True)
    partial = index_path.with_suffix(".partial")
    partial.write_text(json.dumps(index))
    partial.replace(index_path)  # a killed run never leaves a half-written index
    log.info(
        "--detect: %d photos, %d detected now, %d cached", report["photos"], fresh, report["photos"] - fresh
    )
    wanted = {e["crop"] for e in index.values() if e["crop"]}
    faces = build_manifest(root)
    faces = faces[faces.path.isin(wanted)].reset_index(drop=True)
    report["faces"] = len(faces)
    return faces, report


def _crop_one(
    path: Path, out_dir: Path, key: str, policy: CropPolicy, detector: Detector, multi_face: str
) -> dict[str, Any]:
    """Detect and crop one photo; writes <out_dir>/<stem>-<key>.png unless it is skipped."""
    image = decode_image(path.read_bytes())
    boxes = detector.detect(image)
    entry: dict[str, Any] = {"faces": len(boxes), "crop": None, "source": str(path)}
    if not boxes or (len(boxes) > 1 and multi_face == "skip"):
        return entry
    crop = to_model_input(crop_face(image, largest(boxes), policy))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}-{key}.png"
    cv2.imwrite(str(target), crop[:, :, 0])
    entry["crop"] = str(target)
    return entry


def format_photo_report(report: dict[str, Any], multi_face: str) -> str:
    """The --detect part of the data report, for the terminal."""
    lines = [
        f"photos: {report['photos']}, faces used: {report['faces']}, "
        f"no face (skipped): {len(report['no_face'])}, several faces: {len(report['multi_face'])} "
        f"({'skipped' if multi_face == 'skip' else 'largest face used'})"
    ]
    lines += [f"  no face: {p}" for p in report["no_face"][:20]]
    lines += [f"  several faces: {p}" for p in report["multi_face"][:20]]
    return "\n".join(lines)


def photo_predictions(
    frame: pd.DataFrame, policy: CropPolicy, detector: Detector, predict: Any
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Top-face probabilities per photo (NaN row when no face), the model inputs, and per-photo faces."""
    inputs, details = [], []
    for path in frame.path:
        regions = find_faces(decode_image(Path(path).read_bytes()), detector, "auto", policy)
        details.append({"faces": len(regions.faces), "detected": regions.detection_used})
        inputs.append(regions.inputs[0] if len(regions.inputs) else None)
    found = [i for i, x in enumerate(inputs) if x is not None]
    probs = None
    if found:
        got = predict_in_slices(predict, np.stack([inputs[i] for i in found]))
        probs = np.full((len(frame), got.shape[1]), np.nan, np.float32)
        probs[found] = got
    blank = np.zeros((48, 48, 1), np.uint8)
    crops = np.stack([x if x is not None else blank for x in inputs]) if inputs else np.zeros((0, 48, 48, 1))
    return (probs if probs is not None else np.full((len(frame), 1), np.nan)), crops, details


def photo_metrics(probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Top-face accuracy over all photos (no face = wrong), face-found rate, recall, and the
    confusion matrix with a no-face column."""
    found = ~np.isnan(probs).any(axis=1)
    k = len(class_names)
    predicted = np.where(found, np.nan_to_num(probs).argmax(axis=1), k)
    matrix = np.zeros((k, k + 1), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    metrics = compute_metrics(probs[found], labels[found], class_names) if found.any() else {}
    recall = {
        name: round(float(matrix[i, i] / max(1, matrix[i].sum())), 4) for i, name in enumerate(class_names)
    }
    return {
        **metrics,
        "photos": len(labels),
        "accuracy": round(float((predicted == labels).mean()) if len(labels) else 0.0, 4),
        "accuracy_on_found_faces": metrics.get("accuracy"),
        "face_found_rate": round(float(found.mean()) if len(labels) else 0.0, 4),
        "recall_with_missed": recall,
        "confusion_matrix_with_no_face": matrix.tolist(),
        "confusion_columns": [*class_names, NO_FACE],
    }


def contact_sheet(
    crops: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: list[str],
    path: Path,
    limit: int = 96,
) -> Path:
    """A PNG grid of the model inputs with true and predicted labels (wrong ones in red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = np.linspace(0, len(crops) - 1, min(limit, len(crops))).round().astype(int) if len(crops) else []
    cols = 12
    rows = max(1, int(np.ceil(len(picks) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.55), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, picks, strict=False):
        found = not np.isnan(probs[i]).any()
        predicted = class_names[int(np.argmax(probs[i]))] if found else NO_FACE
        ax.imshow(crops[i][:, :, 0], cmap="gray", vmin=0, vmax=255)
        ok = predicted == class_names[labels[i]]
        ax.set_title(f"{class_names[labels[i]]}\n-> {predicted}", fontsize=7, color="black" if ok else "red")
    fig.suptitle("What the model saw: true -> predicted (red = wrong)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path

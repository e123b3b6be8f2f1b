"""Calibrate the crop policy from data: detector boxes on upscaled training faces, choice on validation.

python -m training.calibrate_crop --data-dir DIR --model-dir models/emotion [--out runs/calibrate-crop]
    [--size-scan POLICY | --compare-models DIR,DIR]

1. Measure: every sampled *train* face (a tight 48x48 crop: the framing the model learnt) is
   upscaled to UPSCALE px, given a reflected border so the detector sees context, and
   detected. For each reference length of the box (max side, height, width, sqrt(area)) the
   ratio frame side / reference and the offset of the frame centre from the box centre are
   recorded; their medians give one candidate policy per reference, their spread the
   framing jitter that training augmentation should cover.
2. Choose: the candidates (plus LEGACY and each with eye-line alignment) crop *validation*
   faces pasted into real photos at several sizes and rolls; the highest top-face accuracy
   through detector + crop + model wins. Test images are never read.
Writes calibration.json (statistics, candidates, validation table, winner) to --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from contract import to_model_input
from contract.crop import LEGACY, REFERENCES, CropPolicy, crop_face
from contract.detect import Detection, make_detector
from training.cli import command
from training.scoring import predict_in_slices

log = logging.getLogger(__name__)
UPSCALE = 192
SIDES = (64, 128, 256)


def frame_statistics(faces: list[np.ndarray], detector: Any) -> pd.DataFrame:
    """One row per detected face: the tight frame measured in units of the detector's box."""
    rows = []
    pad = UPSCALE // 2
    for face in faces:
        big = cv2.resize(face, (UPSCALE, UPSCALE), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REFLECT)
        centre = pad + UPSCALE / 2
        found = [d for d in detector.detect(canvas) if _contains(d, centre)]
        if not found:
            rows.append({"detected": False})
            continue
        box = found[0]
        row: dict[str, Any] = {"detected": True, "width": box.width / UPSCALE, "height": box.height / UPSCALE}
        for reference in REFERENCES:
            row[f"scale_{reference}"] = UPSCALE / CropPolicy(reference=reference).reference_length(box)
        row["shift_x"] = (centre - (box.x + box.width / 2)) / UPSCALE
        row["shift_y"] = (centre - (box.y + box.height / 2)) / UPSCALE
        rows.append(row)
    return pd.DataFrame(rows)


def _contains(box: Detection, centre: float) -> bool:
    """The box's centre lies inside the original (unpadded) frame, not in a reflection."""
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    low, high = centre - UPSCALE / 2, centre + UPSCALE / 2
    return low <= cx <= high and low <= cy <= high


def candidates(stats: pd.DataFrame) -> dict[str, CropPolicy]:
    """LEGACY, one median-framed policy per reference length, and each with alignment."""
    found = stats[stats.detected]
    shift_x = round(float(found.shift_x.median()), 3)
    shift_y = round(float(found.shift_y.median()), 3)
    policies = {"legacy": LEGACY}
    for reference in REFERENCES:
        scale = round(float(found[f"scale_{reference}"].median()), 3)
        policies[reference] = CropPolicy(reference=reference, scale=scale, shift_x=shift_x, shift_y=shift_y)
    for name in list(policies):
        policies[f"{name}+align"] = dataclasses.replace(policies[name], align=True)
    return policies


def spread(stats: pd.DataFrame, reference: str) -> dict[str, float]:
    """Framing jitter of the detector relative to the tight frame: what augmentation must cover."""
    found = stats[stats.detected]
    log_scale = np.log(found[f"scale_{reference}"])
    return {
        "detected_fraction": round(float(stats.detected.mean()), 4),
        "scale_log_std": round(float(log_scale.std()), 4),
        "scale_p10_p90": [round(float(np.exp(log_scale.quantile(q))), 3) for q in (0.1, 0.9)],
        "shift_x_std": round(float(found.shift_x.std()), 4),
        "shift_y_std": round(float(found.shift_y.std()), 4),
    }


def scene_crops(
    faces: list[np.ndarray], policies: dict[str, CropPolicy], detector: Any, seed: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Every face pasted at every size, detected once, cropped by each policy: the model inputs per
    policy, and per scene its face index, size and whether a face was found."""
    from training.scenes import MAX_ANGLE, scenes

    crops: dict[str, list[np.ndarray]] = {name: [] for name in policies}
    records = []
    for index, scene in scenes(faces, SIDES, MAX_ANGLE, seed=seed):
        detections = detector.detect(scene.image)
        records.append((index, scene.side, bool(detections)))
        for name, policy in policies.items():
            crop = crop_face(scene.image, detections[0], policy) if detections else scene.image
            crops[name].append(to_model_input(crop))
    index, side, found = (np.array(v) for v in zip(*records, strict=True))
    return {name: np.stack(c) for name, c in crops.items()}, index, side, found


def scene_rows(
    name: str,
    predicted: np.ndarray,
    labels: np.ndarray,
    index: np.ndarray,
    side: np.ndarray,
    found: np.ndarray,
) -> list[dict[str, Any]]:
    """Top-face accuracy per face size and overall of one set of predictions (a miss is wrong)."""
    correct = (predicted == labels[index]) & found
    rows = [{"policy": name, "side": s, "accuracy": float(correct[side == s].mean())} for s in SIDES]
    return [*rows, {"policy": name, "side": "all", "accuracy": float(correct.mean())}]


def scene_accuracy(
    faces: list[np.ndarray],
    labels: np.ndarray,
    policies: dict[str, CropPolicy],
    predict: Any,
    detector: Any,
    seed: int = 0,
) -> pd.DataFrame:
    """Top-face accuracy per policy and face size on pasted scenes (a missed face counts as wrong)."""
    crops, index, side, found = scene_crops(faces, policies, detector, seed)
    rows = []
    for name in policies:
        predicted = predict_in_slices(predict, crops[name]).argmax(1)
        rows += scene_rows(name, predicted, labels, index, side, found)
    table = pd.DataFrame(rows).pivot(index="policy", columns="side", values="accuracy")
    table["found"] = float(found.mean())
    return table.sort_values("all", ascending=False)


def crop_accuracy(faces: list[np.ndarray], labels: np.ndarray, predict: Any) -> float:
    """Accuracy on the faces themselves, as crops."""
    stacked = np.stack([to_model_input(f) for f in faces])
    return float((predict_in_slices(predict, stacked).argmax(1) == labels).mean())


def compare_models(
    faces: list[np.ndarray], labels: np.ndarray, model_dirs: list[str], detector: Any, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per model, top-face accuracy on the same pasted scenes (each model with its own crop policy;
    a missed face counts as wrong) and on the same faces as crops: how two models compare on
    photos without reading test images. The scenes are detected once for all models."""
    from contract.crop import policy_from_metadata
    from contract.modeldir import read_metadata, resolve_version_dir
    from contract.savedmodel import load_predict_fn

    versions = {str(d): resolve_version_dir(d) for d in model_dirs}
    policies = {name: policy_from_metadata(read_metadata(v)) for name, v in versions.items()}
    crops, index, side, found = scene_crops(faces, policies, detector, seed)
    rows = {}
    for name, version in versions.items():
        predict = load_predict_fn(version)
        predicted = predict_in_slices(predict, crops[name]).argmax(1)
        row = {
            str(r["side"]): round(r["accuracy"], 4)
            for r in scene_rows(name, predicted, labels, index, side, found)
        }
        rows[name] = {
            **row,
            "found": round(float(found.mean()), 4),
            "crops": round(crop_accuracy(faces, labels, predict), 4),
        }
    return rows


SCAN_SIDES = (16, 20, 24, 32, 40, 48, 64)
# MIN_FACE_SIZE: the smallest face side at which the faces the detector finds are still classified
# with this share of the crop accuracy (sides with fewer found faces than MIN_FOUND say nothing).
MIN_FACE_SHARE = 0.9
MIN_FOUND = 20


def size_scan(
    faces: list[np.ndarray],
    labels: np.ndarray,
    policy: CropPolicy,
    predict: Any,
    detector: Any,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy of small pasted faces (by side, no roll) against the crops: where MIN_FACE_SIZE goes."""
    from training.scenes import scenes

    crop_acc = crop_accuracy(faces, labels, predict)
    inputs, index, sides, found = [], [], [], []
    for i, scene in scenes(faces, SCAN_SIDES, 0.0, seed=seed):
        detections = detector.detect(scene.image)
        found.append(bool(detections))
        inputs.append(
            to_model_input(crop_face(scene.image, detections[0], policy) if detections else scene.image)
        )
        index.append(i)
        sides.append(scene.side)
    predicted = predict_in_slices(predict, np.stack(inputs)).argmax(1)
    correct = (predicted == labels[np.array(index)]) & np.array(found)
    rows, found_arr = {}, np.array(found)
    for side in SCAN_SIDES:
        at = np.array(sides) == side
        hits = int(found_arr[at].sum())
        rows[str(side)] = {
            "accuracy": round(float(correct[at].mean()), 4),
            "found": round(float(found_arr[at].mean()), 4),
            # What MIN_FACE_SIZE decides: is a face the detector *did* find at this size worth answering?
            "accuracy_on_found": round(float(correct[at].sum() / hits), 4) if hits else None,
            "found_faces": hits,
        }
    return {
        "crop_accuracy": round(crop_acc, 4),
        "sides": rows,
        "share": MIN_FACE_SHARE,
        "min_face_size": choose_min_face_size(rows, crop_acc),
    }


def choose_min_face_size(rows: dict[str, dict[str, Any]], crop_accuracy: float) -> int:
    """Drop only what is measured to be worse: faces below the largest side whose found faces score
    under MIN_FACE_SHARE of the crop accuracy; 0 when none does. Sides with fewer than MIN_FOUND
    found faces (the detector's own limit) decide nothing."""
    failing = [
        int(side)
        for side, row in rows.items()
        if row["found_faces"] >= MIN_FOUND and row["accuracy_on_found"] < MIN_FACE_SHARE * crop_accuracy
    ]
    if not failing:
        return 0
    larger = sorted(int(side) for side in rows if int(side) > max(failing))
    return larger[0] if larger else max(failing) + 1


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: measure on train, choose on validation, write calibration.json."""
    from contract.savedmodel import load_predict_fn
    from training.config import TrainConfig
    from training.data import load_arrays, split_train_val
    from training.manifest import build_manifest
    from training.manifest import class_names as get_class_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--model-dir", default="models/emotion")
    parser.add_argument("--out", default="runs/calibrate-crop")
    parser.add_argument("--train-faces", type=int, default=3000)
    parser.add_argument("--val-faces", type=int, default=600)
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--size-scan",
        metavar="POLICY",
        help="only measure accuracy by face size with this policy (calibrated, legacy, a JSON file)",
    )
    parser.add_argument(
        "--compare-models",
        metavar="DIRS",
        help="only score these model folders (comma list) on the validation scenes and crops",
    )
    args = parser.parse_args(argv)
    manifest = build_manifest(args.data_dir)
    class_names = get_class_names(manifest)
    train_df, val_df = split_train_val(manifest, TrainConfig(drop_test_duplicates=True, drop_blank=True))
    rng = np.random.default_rng(args.seed)
    train_pick = train_df.iloc[rng.permutation(len(train_df))[: args.train_faces]]
    val_pick = val_df.iloc[rng.permutation(len(val_df))[: args.val_faces]]
    detector = make_detector(args.detector)
    if args.compare_models:
        val_faces, val_labels = load_arrays(val_pick, class_names)
        rows = compare_models(
            [f[:, :, 0] for f in val_faces], val_labels, args.compare_models.split(","), detector, args.seed
        )
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        report = {"validation_faces": len(val_pick), "sides": list(SIDES), "models": rows}
        (out / "compare-models.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return 0
    if args.size_scan:
        from contract.crop import resolve_policy

        val_faces, val_labels = load_arrays(val_pick, class_names)
        scan = size_scan(
            [f[:, :, 0] for f in val_faces],
            val_labels,
            resolve_policy(args.size_scan),
            load_predict_fn(args.model_dir),
            detector,
            args.seed,
        )
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "size-scan.json").write_text(json.dumps({"policy": args.size_scan, **scan}, indent=2) + "\n")
        print(json.dumps(scan, indent=2))
        return 0
    train_faces, _ = load_arrays(train_pick, class_names)
    stats = frame_statistics([f[:, :, 0] for f in train_faces], detector)
    policies = candidates(stats)
    log.info(
        "measured %d train faces; candidates: %s", len(stats), {k: v.to_dict() for k, v in policies.items()}
    )
    val_faces, val_labels = load_arrays(val_pick, class_names)
    table = scene_accuracy(
        [f[:, :, 0] for f in val_faces],
        val_labels,
        policies,
        load_predict_fn(args.model_dir),
        detector,
        args.seed,
    )
    print(table.round(4).to_string(), flush=True)
    winner = str(table.index[0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "detector": args.detector,
        "train_faces": len(stats),
        "upscale_px": UPSCALE,
        "spread": {r: spread(stats, r) for r in REFERENCES},
        "candidates": {k: v.to_dict() for k, v in policies.items()},
        "validation_faces": len(val_pick),
        "validation_scene_accuracy": json.loads(table.to_json(orient="index")),
        "model_dir": args.model_dir,
        "winner": winner,
        "winner_policy": policies[winner].to_dict(),
    }
    (out / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    stats.to_csv(out / "frames.csv", index=False)
    print(f"winner on validation: {winner} {policies[winner].to_dict()} -> {out / 'calibration.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the scene benchmark's points go: the same faces framed four ways, one model, in-process.

python -m benchmarks.photo_gap [--model-dir models/emotion] [--data-dir ../shared/datasets/fer2013]
    [--faces 500] [--out benchmarks/results]   ->  photo-gap.{json,md}

benchmarks/photo_accuracy.py measures what users get (photos through gunicorn). This explains
the difference to the crops: the same test faces and scenes (same seeds), each face classified
from
  detector   the detector's top face through the model's crop policy (what the service does;
             its numbers match the service's scene rows)
  box, roll undone    the detector's box and the policy's square, rotated back by the known roll
  pasted, roll kept   the exact square the face was pasted into, not rotated back
  pasted              that square rotated back: the training images' own framing (the oracle)
against the 48x48 files themselves. pasted - pasted-roll-kept is what the roll costs; pasted -
box-roll-undone what the detector's framing costs; the rest is faces the detector misses. A
scene where the detector finds nothing counts as wrong in the two detector rows only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks import machine
from benchmarks.photo_accuracy import SIDES, scene_arguments, test_faces
from benchmarks.report import save_named
from contract import cpu
from contract.crop import crop_face, crop_region, policy_from_metadata
from contract.detect import Detection
from contract.image import to_model_input
from training.scenes import MAX_ANGLE, Scene, scenes, to_jpeg

FRAMINGS = ("detector", "box_roll_undone", "pasted_roll_kept", "pasted")


def _box_roll_undone(image: np.ndarray, box: Detection, policy: Any, angle: float) -> np.ndarray:
    """The policy's square around the detector's box, rotated back by the paste's roll."""
    cx, cy, side = crop_region(box, policy)
    region = Scene(image=image, side=side, angle=angle, centre=(cx, cy))
    return region.pasted_region(image)


def framings(
    image: np.ndarray, scene: Scene, box: Detection | None, policy: Any
) -> dict[str, np.ndarray | None]:
    """One scene's face under each framing (None where the detector found nothing)."""
    return {
        "detector": None if box is None else crop_face(image, box, policy),
        "box_roll_undone": None if box is None else _box_roll_undone(image, box, policy, scene.angle),
        "pasted_roll_kept": scene.pasted_region(image, undo_roll=False),
        "pasted": scene.pasted_region(image),
    }


def tally(correct: dict[str, list[bool]], crop_ok: np.ndarray, index: list[int]) -> dict[str, Any]:
    """Accuracy of each framing and its ratio to the same faces as crops."""
    crops = float(crop_ok[index].mean())
    row: dict[str, Any] = {"crops": round(crops, 4)}
    for name, hits in correct.items():
        accuracy = float(np.mean(hits))
        row[name] = {"accuracy": round(accuracy, 4), "ratio": round(accuracy / crops, 4) if crops else None}
    return row


def run(model_dir: Path, data_dir: Path, faces: int, cache_dir: str = "") -> dict[str, Any]:
    """Every framing of every scene, classified by the runtime a worker would load (cache_dir:
    RUNTIME_CACHE_DIR, empty for the service's default)."""
    from service.runtime.select import load_predictor, runtime_info
    from service.settings import Settings
    from service.stages.faces import settings_detector

    settings = Settings(
        model_dir=str(model_dir),
        tf_threads=cpu.usable_cores(),
        runtime_cache_dir=cache_dir,
        log_level="warning",
    )
    predictor = load_predictor(settings)
    detector = settings_detector(settings)
    policy = policy_from_metadata(predictor.metadata)
    files, labels = test_faces(data_dir, faces)
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
    truth = np.array([predictor.class_names.index(name) for name in labels])
    crop_ok = predictor.predict_batch(np.stack([to_model_input(f) for f in images])).argmax(1) == truth

    per_side: dict[int, dict[str, list[bool]]] = {s: {f: [] for f in FRAMINGS} for s in SIDES}
    found: dict[int, list[bool]] = {s: [] for s in SIDES}
    index: dict[int, list[int]] = {s: [] for s in SIDES}
    for i, scene in scenes(images, SIDES, MAX_ANGLE, seed=0):  # photo_accuracy's faces and scenes
        uploaded = cv2.imdecode(np.frombuffer(to_jpeg(scene.image), np.uint8), cv2.IMREAD_COLOR)
        boxes = detector.detect(uploaded)
        found[scene.side].append(bool(boxes))
        index[scene.side].append(i)
        for name, crop in framings(uploaded, scene, boxes[0] if boxes else None, policy).items():
            hit = (
                crop is not None
                and predictor.predict_batch(to_model_input(crop)[None])[0].argmax() == truth[i]
            )
            per_side[scene.side][name].append(bool(hit))
    return {
        "machine": machine.describe("photo-gap"),
        "model_dir": machine.display_path(model_dir),
        "runtime": runtime_info(predictor),
        "detector": {"name": detector.name, "runtime": detector.runtime},
        "policy": policy.to_dict(),
        "faces": len(files),
        "crop_accuracy": round(float(crop_ok.mean()), 4),
        "sizes": {
            str(s): {
                "face_found": round(float(np.mean(found[s])), 4),
                **tally(per_side[s], crop_ok, index[s]),
            }
            for s in SIDES
        },
    }


def render(results: dict[str, Any]) -> str:
    """One table: accuracy (ratio to crops) of each framing per face size."""
    m, rt = results["machine"], results["runtime"]
    lines = [
        f"# Where the scene benchmark's points go ({results['model_dir']}, "
        f"{results['faces']} FER2013 test faces)",
        "",
        f"{m['date']}, {m['cpu_model']}, {m['cores']} cores, git {m['git']}; model on "
        f"{rt['backend']}/{rt['precision']}, detector {results['detector']['name']} on "
        f"{results['detector']['runtime']}, in-process. Accuracy (ratio to the same faces as crops).",
        "",
        "| face px | found | detector (the service) | box, roll undone | pasted square, roll kept "
        "| pasted square (oracle) | crops |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side, row in results["sizes"].items():
        cells = " | ".join(f"{row[f]['accuracy']:.4f} ({row[f]['ratio']:.3f})" for f in FRAMINGS)
        lines.append(f"| {side} | {row['face_found']:.3f} | {cells} | {row['crops']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: write photo-gap.{json,md} to --out and print the table."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scene_arguments(parser, faces=500)
    args = parser.parse_args(argv)
    results = run(args.model_dir, args.data_dir, args.faces)
    save_named(results, render(results), args.out, "photo-gap")
    return 0


if __name__ == "__main__":
    sys.exit(main())

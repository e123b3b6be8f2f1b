"""Classify the faces in photos (or face crops) with an exported SavedModel.

python -m training.predict --model models/emotion photo.jpg face.png [--json] [--annotate DIR] [--no-detect]

By default every image goes through the service's path: faces are detected (YuNet) and
cropped with the model's crop policy (metadata.json), one line per face with its box; an
image of at most 96 px is taken to be a crop already, as the service's detect=auto does.
--no-detect classifies each file whole as a face crop (the reload check of an export: it
needs TensorFlow, OpenCV and the SavedModel's folder, nothing else). --annotate DIR writes
each photo with its boxes and labels drawn.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from contract import ImageDecodeError, decode_image
from contract.crop import policy_from_metadata
from contract.faces import find_faces
from contract.modeldir import read_metadata, resolve_version_dir
from contract.savedmodel import load_predict_fn
from training.cli import command


def predict_files(model_dir: str, paths: list[str], detect: bool = True) -> list[dict[str, Any]]:
    """Per image: its faces (box, label, confidence, probabilities) or an error."""
    version_dir = resolve_version_dir(model_dir)
    metadata = read_metadata(version_dir)
    class_names = metadata["class_names"]
    policy = policy_from_metadata(metadata)
    predict = load_predict_fn(version_dir)
    detector = None
    if detect:
        from contract.detect import make_detector

        detector = make_detector("yunet")
    results: list[dict[str, Any]] = []
    for path in paths:
        try:
            image = decode_image(Path(path).read_bytes())
        except (OSError, ImageDecodeError) as exc:
            results.append({"path": path, "error": str(exc)})
            continue
        regions = find_faces(image, detector, "auto" if detect else "never", policy)
        probabilities = predict(regions.inputs) if len(regions.inputs) else np.zeros((0, len(class_names)))
        faces = []
        for box, probs in zip(regions.faces, probabilities, strict=True):
            top = int(np.argmax(probs))
            faces.append(
                {
                    "box": {"x": box.x, "y": box.y, "width": box.width, "height": box.height},
                    "label": class_names[top],
                    "confidence": float(probs[top]),
                    "probabilities": {n: float(p) for n, p in zip(class_names, probs, strict=True)},
                }
            )
        results.append({"path": path, "detection_used": regions.detection_used, "faces": faces})
    return results


def annotate(result: dict[str, Any], out_dir: Path) -> Path:
    """The photo with each face's box and label drawn, written to out_dir under its own name."""
    image = decode_image(Path(result["path"]).read_bytes())
    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, :3].copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for face in result["faces"]:
        b = face["box"]
        cv2.rectangle(
            image, (b["x"], b["y"]), (b["x"] + b["width"], b["y"] + b["height"]), (0, 200, 0), thickness
        )
        text = f"{face['label']} {face['confidence']:.2f}"
        cv2.putText(
            image,
            text,
            (b["x"], max(12, b["y"] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            (0, 200, 0),
            thickness,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (Path(result["path"]).stem + ".png")
    cv2.imwrite(str(target), image)
    return target


def format_line(result: dict[str, Any]) -> list[str]:
    """The terminal lines of one image: one per face."""
    if "error" in result:
        return [f"{result['path']}: error: {result['error']}"]
    if not result["faces"]:
        return [f"{result['path']}: no face found"]
    lines = []
    for i, face in enumerate(result["faces"], 1):
        b = face["box"]
        probs = "  ".join(f"{n} {p:.3f}" for n, p in face["probabilities"].items())
        where = (
            f"face {i} at x={b['x']} y={b['y']} w={b['width']} h={b['height']}"
            if result["detection_used"]
            else "whole image"
        )
        lines.append(f"{result['path']}: {where}: {face['label']} ({face['confidence']:.3f})  [{probs}]")
    return lines


@command
def main(argv: list[str] | None = None) -> int:
    """CLI entry point: exit 2 for a bad model dir, 1 if any image failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/emotion", help="model root or version folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument(
        "--no-detect", action="store_true", help="each image is a face crop: classify it whole"
    )
    parser.add_argument("--annotate", type=Path, metavar="DIR", help="write each photo with boxes and labels")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    results = predict_files(args.model, args.images, detect=not args.no_detect)
    if args.annotate:
        for result in results:
            if "error" not in result:
                result["annotated"] = str(annotate(result, args.annotate))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            print("\n".join(format_line(result)))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

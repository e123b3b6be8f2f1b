"""Classify face images with an exported SavedModel, using TensorFlow alone.

python -m training.predict --model models/emotion face1.jpg face2.png [--json]

Each image is treated as a face crop (use the service for photos that need
face detection). No project model code is imported: the SavedModel and its
metadata.json are all that is needed.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from contract import ImageDecodeError, load_face
from contract.modeldir import ModelDirError, read_metadata, resolve_version_dir
from training.savedmodel import load_predict_fn


def predict_files(model_dir: str, paths: list[str]) -> list[dict[str, object]]:
    """Predicted label and per-class probabilities for each readable image file."""
    version_dir = resolve_version_dir(model_dir)
    class_names = read_metadata(version_dir)["class_names"]
    predict = load_predict_fn(version_dir)
    results: list[dict[str, object]] = []
    faces, indices = [], []
    for i, path in enumerate(paths):
        try:
            faces.append(load_face(path))
            indices.append(i)
            results.append({"path": path})
        except (OSError, ImageDecodeError) as exc:
            results.append({"path": path, "error": str(exc)})
    if faces:
        probabilities = predict(np.stack(faces))
        for i, probs in zip(indices, probabilities, strict=True):
            top = int(np.argmax(probs))
            results[i].update(
                label=class_names[top],
                confidence=float(probs[top]),
                probabilities={n: float(p) for n, p in zip(class_names, probs, strict=True)},
            )
    return results


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: exit 2 for a bad model dir, 1 if any image failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/emotion", help="model root or version folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    try:
        results = predict_files(args.model, args.images)
    except ModelDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, indent=2))
    for result in [] if args.json else results:
        if "error" in result:
            print(f"{result['path']}: error: {result['error']}")
            continue
        probs = "  ".join(f"{n} {p:.3f}" for n, p in result["probabilities"].items())
        print(f"{result['path']}: {result['label']} ({result['confidence']:.3f})  [{probs}]")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

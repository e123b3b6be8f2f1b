"""Test accuracy of every backend x precision on a dataset's test split, each against the TF signature.

python -m benchmarks.accuracy --model-dir models/emotion --data-dir ../shared/datasets/fer2013
    [--calibration-dir DIR] [--runtimes tensorflow/f32,openvino/bf16,...]

Every runtime runs in its own child process, loaded exactly as a worker loads it
(service.runtime.select with INFERENCE_BACKEND / INFERENCE_PRECISION), because
TensorFlow's bf16 rewrite is process-wide and would leak into the f32 reference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import ROOT
from benchmarks.runtimes import load_runtime

RUNTIMES = ("tensorflow/f32", "tensorflow/bf16", "openvino/f32", "openvino/bf16", "openvino/int8")
REFERENCE = "tensorflow/f32"


def test_split(data_dir: Path, limit: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Test images as model input (all, or `limit` evenly spaced), class indices, class names (sorted)."""
    from contract import IMAGE_EXTENSIONS, load_face

    root = Path(data_dir) / "test"
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = [
        (f, i)
        for i, name in enumerate(classes)
        for f in sorted((root / name).iterdir())
        if f.suffix.lower() in IMAGE_EXTENSIONS
    ]
    if limit and len(files) > limit:
        files = files[:: len(files) // limit][:limit]
    images = np.stack([load_face(str(f)) for f, _ in files])
    return images, np.array([i for _, i in files]), classes


def predict_in_child(
    runtime: str, model_dir: Path, images: Path, out: Path, cache_dir: str, calibration: str
):
    """Probabilities of one runtime over the saved images, computed in a fresh process; seconds taken."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.accuracy",
        "--child",
        runtime,
        "--model-dir",
        str(model_dir),
        "--images",
        str(images),
        "--out",
        str(out),
        "--cache-dir",
        cache_dir,
        "--calibration-dir",
        calibration,
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(runtime: str, model_dir: str, images: Path, out: Path, cache_dir: str, calibration: str) -> None:
    """Load the runtime like a worker does and write its probabilities for every image."""
    from service.runtime.select import runtime_info

    predictor = load_runtime(runtime, model_dir, cache_dir, calibration)
    data = np.load(images)
    started = time.perf_counter()
    outputs = np.concatenate([predictor.predict_batch(data[i : i + 128]) for i in range(0, len(data), 128)])
    seconds = time.perf_counter() - started
    np.save(out, outputs)
    print(json.dumps({**runtime_info(predictor), "seconds": round(seconds, 1)}))


def run(
    model_dir: Path,
    data_dir: Path,
    *,
    runtimes: tuple[str, ...] = RUNTIMES,
    cache_dir: str = "",
    calibration_dir: str = "",
    limit: int = 0,
) -> dict[str, Any]:
    """Accuracy, agreement with the reference's labels and the largest probability change, per runtime."""
    images, labels, classes = test_split(data_dir, limit)
    rows, reference = [], None
    with tempfile.TemporaryDirectory(prefix="accuracy-") as tmp:
        np.save(Path(tmp) / "images.npy", images)
        ordered = [REFERENCE, *(r for r in runtimes if r != REFERENCE)]
        for runtime in ordered:
            out = Path(tmp) / f"{runtime.replace('/', '-')}.npy"
            info = predict_in_child(
                runtime, model_dir, Path(tmp) / "images.npy", out, cache_dir, calibration_dir
            )
            probabilities = np.load(out)
            reference = probabilities if reference is None else reference
            predicted = probabilities.argmax(axis=1)
            rows.append(
                {
                    "runtime": runtime,
                    "reported": f"{info['backend']}/{info['precision']}",
                    "accuracy": round(float((predicted == labels).mean()), 5),
                    "agreement_with_reference": round(
                        float((predicted == reference.argmax(axis=1)).mean()), 5
                    ),
                    "max_probability_diff": round(float(np.abs(probabilities - reference).max()), 5),
                    "images_per_s": round(len(images) / info["seconds"], 1) if info["seconds"] else None,
                }
            )
    base = rows[0]["accuracy"]
    for row in rows:
        row["points_vs_reference"] = round(100 * (row["accuracy"] - base), 2)
    return {"images": len(images), "classes": classes, "reference": REFERENCE, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    """Print the accuracy table as JSON (or, with --child, be one runtime's worker)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "emotion")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets" / "fer2013")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    parser.add_argument("--cache-dir", default="")
    parser.add_argument("--calibration-dir", default="", help="face images for int8 if none is cached")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--images", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, str(args.model_dir), args.images, args.out, args.cache_dir, args.calibration_dir)
        return 0
    result = run(
        args.model_dir,
        args.data_dir,
        runtimes=tuple(args.runtimes.split(",")),
        cache_dir=args.cache_dir,
        calibration_dir=args.calibration_dir,
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

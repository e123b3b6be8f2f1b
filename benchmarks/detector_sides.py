"""DETECTOR_MAX_SIDE sweep: what a smaller first detection pass saves in latency and costs in faces.

python -m benchmarks.detector_sides [--sides 640,480,416,320] [--model-dir models/emotion]
    [--data-dir ../shared/datasets/fer2013] [--faces 300] [--out benchmarks/results]

For each side, one gunicorn server with the production config and DETECTOR_MAX_SIDE set:
  load      workload (b) of `make bench` (640x480 JPEG scenes with 1-4 faces) at concurrency
            1 and 8: photos/s, faces found per photo, p50/p99 latency;
  accuracy  the scene benchmark (benchmarks.photo_accuracy: FER2013 test faces pasted at 64,
            128 and 256 px into 640x480 photos): faces found and top-face accuracy per size.
Everything runs in one process on the same payloads, so the rows compare; the CPU is recorded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import machine, photo_accuracy, server
from benchmarks.markdown import machine_line
from benchmarks.report import save_named
from benchmarks.serving import loadgen
from benchmarks.workloads import scenes, write_payloads

SIDES = (640, 480, 416, 320)
CONCURRENCY = (1, 8)


def sweep(
    model_dir: Path, data_dir: Path, sides: list[int], faces: int, duration: float, log_dir: Path
) -> dict[str, Any]:
    """Load and accuracy rows for every side, on one set of payloads."""
    folder = write_payloads(log_dir / "scenes", scenes(data_dir, 120))
    files, labels = photo_accuracy.test_faces(data_dir, faces)
    bodies = photo_accuracy.scene_bodies(files)
    results: dict[str, Any] = {
        "machine": machine.describe("detector-sides"),
        "model_dir": machine.display_path(model_dir),
        "faces": len(files),
        "sides": {},
    }
    for side in sides:
        env = {"MODEL_DIR": str(model_dir), "LOG_LEVEL": "warning", "DETECTOR_MAX_SIDE": str(side)}
        srv = server.start_service(log_dir / f"side{side}.log", env)
        try:
            server.settle(srv)
            load = loadgen(f"{srv.url}/predict", folder, list(CONCURRENCY), duration, 2.0)
            accuracy = photo_accuracy.score(srv.url, files, labels, bodies)
        finally:
            srv.stop()
        results["sides"][str(side)] = {
            "load": [
                {
                    "concurrency": r["concurrency"],
                    "photos_per_s": r["images_per_s"],
                    "faces_per_photo": round(r["faces_per_s"] / r["images_per_s"], 3)
                    if r["images_per_s"]
                    else 0,
                    "p50_ms": r["latency_ms"]["p50"],
                    "p99_ms": r["latency_ms"]["p99"],
                    "errors": r["errors"],
                }
                for r in load
            ],
            "scene_accuracy": accuracy,
        }
    return results


def render(results: dict[str, Any]) -> str:
    """Two Markdown tables: latency and throughput, then faces found and accuracy per face size."""
    m = results["machine"]
    lines = [
        f"# DETECTOR_MAX_SIDE sweep ({results['model_dir']})",
        "",
        machine_line(m),
        "",
        "## Workload (b) of `make bench`: 640x480 JPEG scenes, 1-4 faces each",
        "",
        "| DETECTOR_MAX_SIDE | conc. | photos/s | faces found per photo | p50 ms | p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side, row in results["sides"].items():
        for r in row["load"]:
            lines.append(
                f"| {side} | {r['concurrency']} | {r['photos_per_s']} | {r['faces_per_photo']} | "
                f"{r['p50_ms']} | {r['p99_ms']} | {r['errors']} |"
            )
    lines += [
        "",
        f"## Scene benchmark: {results['faces']} FER2013 test faces in 640x480 photos (top face)",
        "",
        "| DETECTOR_MAX_SIDE | face px | found | accuracy | same faces as crops | ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for side, row in results["sides"].items():
        for px, cell in row["scene_accuracy"]["sizes"].items():
            lines.append(
                f"| {side} | {px} | {cell['face_found']:.3f} | {cell['service']:.4f} | "
                f"{cell['crops']:.4f} | {cell['ratio']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: write detector-sides.{json,md} to --out and print the tables."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default=",".join(map(str, SIDES)))
    photo_accuracy.scene_arguments(parser, faces=300)
    parser.add_argument("--duration", type=float, default=12.0, help="measured seconds per load run")
    parser.add_argument("--name", default="detector-sides")
    args = parser.parse_args(argv)
    sides = [int(s) for s in args.sides.split(",")]
    with tempfile.TemporaryDirectory(prefix="detector-sides-") as logs:
        results = sweep(args.model_dir, args.data_dir, sides, args.faces, args.duration, Path(logs))
    save_named(results, render(results), args.out, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

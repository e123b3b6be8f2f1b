"""Probe, not part of the service: would MTCNN as a last pass find the small faces YuNet misses?

    .venv/bin/pip install mtcnn==1.0.0   # weights inside the wheel; not a project dependency
    .venv/bin/python -m benchmarks.probes.mtcnn_last_pass [--val-faces 800]

MTCNN (the `mtcnn` wheel, TensorFlow, weights bundled) runs only on photos where YuNet's default
passes found nothing, as a third detector pass would. Same data as `make calibrate-retry`:
validation FER2013 faces pasted into scenes (seed 1) and 120 face-free photos (seed 0), each after
an upload's JPEG round trip. Adoption rule, written before the first run: calibrate-retry's rule
against today's default (false positives at most its count, found at 64 / 96 / 128 px at most 0.5
points below it, then the most 64 px faces; within 0.5 points, the cheaper). Validation only.
Result (2026-12-07) and what it means: docs/photos.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from contract.detect import YuNetDetector
from training.calibrate_retry import face_free_photos, uploaded
from training.config import TrainConfig
from training.data import load_arrays, split_train_val
from training.manifest import build_manifest, class_names
from training.scenes import MAX_ANGLE, scenes

SIDES = (48, 64, 96, 128)
CONFIDENCES = (0.8, 0.9, 0.95, 0.98, 0.99)
FLOORS = (0, 24, 32)  # smallest box side kept, px of the 640 px scenes (calibrate-retry's floors)


def main() -> None:
    from mtcnn import MTCNN

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/datasets/fer2013")
    parser.add_argument("--val-faces", type=int, default=800)
    parser.add_argument("--out", default="runs/probe-mtcnn")
    args = parser.parse_args()
    manifest = build_manifest(args.data_dir)
    _, val_df = split_train_val(manifest, TrainConfig(drop_test_duplicates=True, drop_blank=True))
    pick = val_df.iloc[np.random.default_rng(0).permutation(len(val_df))[: args.val_faces]]
    faces = [f[:, :, 0] for f in load_arrays(pick, class_names(manifest))[0]]
    yunet, mtcnn, seconds = YuNetDetector(), MTCNN(stages="face_detection_only"), []

    def last_pass(bgr: np.ndarray) -> list[tuple[float, int, SimpleNamespace]]:
        """MTCNN's boxes at its loosest final threshold: (score, smaller side, box)."""
        start = time.perf_counter()
        found = mtcnn.detect_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), min_face_size=20, threshold_onet=0.5)
        seconds.append(time.perf_counter() - start)
        out = []
        for d in found:
            x, y, w, h = d["box"]
            out.append((d["confidence"], min(w, h), SimpleNamespace(x=x, y=y, width=w, height=h)))
        return out

    rows = []
    for _, scene in scenes(faces, SIDES, MAX_ANGLE, seed=1):
        image = uploaded(scene.image)
        first = yunet.detect(image)
        extra = [] if first else [(s, side, scene.covers(b)) for s, side, b in last_pass(image)]
        rows.append({"side": scene.side, "yunet": any(map(scene.covers, first)), "extra": extra})
    free = []
    for photo in face_free_photos(seed=0):
        image = uploaded(photo)
        first = yunet.detect(image)
        extra = [] if first else [(s, side, False) for s, side, _ in last_pass(image)]
        free.append({"yunet": bool(first), "extra": extra})

    def table_row(name: str, keep) -> str:
        found = [
            np.mean([r["yunet"] or any(keep(e) and e[2] for e in r["extra"]) for r in of_side])
            for of_side in ([r for r in rows if r["side"] == side] for side in SIDES)
        ]
        fp = sum(r["yunet"] or any(keep(e) for e in r["extra"]) for r in free)
        return f"| {name} | " + " / ".join(f"{f:.3f}" for f in found) + f" | {fp} |"

    lines = [
        f"{args.val_faces} validation faces, {len(free)} face-free photos; "
        f"MTCNN median {np.median(seconds) * 1000:.0f} ms a photo over {len(seconds)} photos",
        f"| last pass | found {' / '.join(map(str, SIDES))} px | face-free photos with a face |",
        "|---|---|---:|",
        table_row("none (today's YuNet passes)", lambda e: False),
    ]
    for conf in CONFIDENCES:
        for floor in FLOORS:
            keep = lambda e, c=conf, f=floor: e[0] >= c and e[1] >= f  # noqa: E731
            lines.append(table_row(f"MTCNN >= {conf} min{floor}", keep))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "raw.json").write_text(json.dumps({"rows": rows, "free": free, "mtcnn_seconds": seconds}))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Face-detector recall on real photos available offline; also a CLI printing the numbers.

python -m tests.service.detector_recall [--fer2013 ../shared/datasets/fer2013] [--scenes 40]

Sources: scikit-image's bundled photos (astronaut, camera man), its LFW subset
(100 real 25x25 faces) and, when present, FER2013 test crops. Face crops are
upscaled and pasted into 1280x960 scenes built from real background photos, so
ground-truth boxes are known and each scene holds several faces at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from contract.detect import Detection, make_detector

SCENE = (960, 1280)  # height, width
GRID = (3, 3)


def iou(a: tuple[int, int, int, int], b: Detection) -> float:
    """Intersection over union of an (x, y, w, h) box and a detection."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b.x + b.width, b.y + b.height
    inter = max(0, min(ax1, bx1) - max(a[0], b.x)) * max(0, min(ay1, by1) - max(a[1], b.y))
    return inter / float(a[2] * a[3] + b.width * b.height - inter)


def backgrounds() -> list[np.ndarray]:
    """Real, face-free photos from scikit-image as BGR scene backgrounds."""
    from skimage import data

    photos = [data.coffee(), data.chelsea(), data.rocket(), data.brick(), data.grass(), data.gravel()]
    bgr = [
        cv2.cvtColor(p, cv2.COLOR_GRAY2BGR) if p.ndim == 2 else cv2.cvtColor(p, cv2.COLOR_RGB2BGR)
        for p in photos
    ]
    return [cv2.resize(p, SCENE[::-1], interpolation=cv2.INTER_LINEAR) for p in bgr]


def compose(
    faces: list[np.ndarray], background: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Paste up to 9 gray face crops, one per grid cell, at random sizes; returns scene and boxes."""
    scene, boxes = background.copy(), []
    cell_h, cell_w = SCENE[0] // GRID[0], SCENE[1] // GRID[1]
    for i, face in enumerate(faces[: GRID[0] * GRID[1]]):
        side = int(rng.integers(90, min(cell_h, cell_w) - 10))
        row, col = divmod(i, GRID[1])
        x = col * cell_w + int(rng.integers(0, cell_w - side))
        y = row * cell_h + int(rng.integers(0, cell_h - side))
        big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        scene[y : y + side, x : x + side] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR) if big.ndim == 2 else big
        boxes.append((x, y, side, side))
    return scene, boxes


def lfw_faces() -> list[np.ndarray]:
    """The 100 face images of scikit-image's LFW subset as uint8."""
    from skimage import data

    return [(f * 255).astype(np.uint8) for f in data.lfw_subset()[:100]]


def fer_faces(root: Path, count: int, seed: int = 0) -> list[np.ndarray]:
    """A random sample of FER2013 test crops."""
    paths = sorted((root / "test").glob("*/*.jpg"))
    picks = np.random.default_rng(seed).choice(len(paths), size=min(count, len(paths)), replace=False)
    return [cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE) for i in picks]


def scenes(faces: list[np.ndarray], seed: int = 0) -> Iterator[tuple[np.ndarray, list]]:
    """Scenes of 9 faces each over the backgrounds in turn."""
    rng, bgs = np.random.default_rng(seed), backgrounds()
    per = GRID[0] * GRID[1]
    for n, start in enumerate(range(0, len(faces) - per + 1, per)):
        yield compose(faces[start : start + per], bgs[n % len(bgs)], rng)


def photos() -> Iterator[tuple[np.ndarray, list]]:
    """Whole real photos with hand-checked face boxes (x, y, w, h)."""
    from skimage import data

    yield cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), [(170, 50, 105, 130)]
    yield cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR), [(190, 100, 80, 100)]


def recall(
    detector_name: str, samples: Iterator[tuple[np.ndarray, list]], min_iou: float = 0.3
) -> dict[str, float]:
    """Found/total faces and false detections over the samples."""
    detector = make_detector(detector_name)
    found = total = false = 0
    for image, truth in samples:
        detections = detector.detect(image)
        hits = [any(iou(t, d) >= min_iou for d in detections) for t in truth]
        found, total = found + sum(hits), total + len(truth)
        false += sum(not any(iou(t, d) >= min_iou for t in truth) for d in detections)
    return {"recall": found / max(1, total), "found": found, "faces": total, "false_detections": false}


def main(argv: list[str] | None = None) -> None:
    """Print a recall table for both detectors on every available source."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fer2013",
        type=Path,
        default=Path(__file__).resolve().parents[3] / "shared" / "datasets" / "fer2013",
    )
    parser.add_argument("--scenes", type=int, default=40, help="FER2013 scenes (9 faces each)")
    args = parser.parse_args(argv)
    sources = {"skimage photos": lambda: photos(), "LFW subset scenes": lambda: scenes(lfw_faces())}
    if (args.fer2013 / "test").is_dir():
        fer = fer_faces(args.fer2013, 9 * args.scenes)
        sources["FER2013 scenes"] = lambda: scenes(fer, seed=1)
    for source, make in sources.items():
        for name in ("yunet", "haar"):
            r = recall(name, make())
            print(
                f"{source:18s} {name:6s} recall {r['recall']:.3f} ({r['found']}/{r['faces']}), "
                f"false detections {r['false_detections']}"
            )


if __name__ == "__main__":
    main()

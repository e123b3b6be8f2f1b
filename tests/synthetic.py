"""Synthetic face images and datasets for tests (no ../shared needed).

Each class draws a cartoon face with a class-specific mouth and brows, so a
tiny CNN can learn something in one epoch and predictions are not constant.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def make_face(class_index: int, size: int = 48, *, seed: int = 0, color: bool = False) -> np.ndarray:
    """A size x size cartoon face (uint8 gray, or BGR when color=True)."""
    rng = np.random.default_rng(seed)
    canvas = np.full((96, 96), int(rng.integers(20, 60)), np.uint8)
    cx, cy = 48 + int(rng.integers(-3, 4)), 48 + int(rng.integers(-3, 4))
    cv2.ellipse(canvas, (cx, cy), (30, 38), 0, 0, 360, int(rng.integers(150, 200)), -1)
    for dx in (-12, 12):
        cv2.circle(canvas, (cx + dx, cy - 10), 4, 30, -1)
    mouth = class_index % 7
    if mouth == 3:  # happy: smile
        cv2.ellipse(canvas, (cx, cy + 14), (12, 7), 0, 0, 180, 30, 3)
    elif mouth == 5:  # sad: frown
        cv2.ellipse(canvas, (cx, cy + 20), (12, 7), 0, 180, 360, 30, 3)
    elif mouth == 6:  # surprise: open mouth
        cv2.circle(canvas, (cx, cy + 17), 7, 30, -1)
    elif mouth == 0:  # angry: slanted brows
        cv2.line(canvas, (cx - 18, cy - 22), (cx - 6, cy - 16), 30, 3)
        cv2.line(canvas, (cx + 18, cy - 22), (cx + 6, cy - 16), 30, 3)
        cv2.line(canvas, (cx - 10, cy + 17), (cx + 10, cy + 17), 30, 3)
    elif mouth == 2:  # fear: raised brows, small mouth
        cv2.line(canvas, (cx - 18, cy - 18), (cx - 6, cy - 24), 30, 3)
        cv2.line(canvas, (cx + 18, cy - 18), (cx + 6, cy - 24), 30, 3)
        cv2.circle(canvas, (cx, cy + 17), 3, 30, -1)
    elif mouth == 1:  # disgust: wavy mouth
        pts = np.array([[cx - 12, cy + 16], [cx - 4, cy + 12], [cx + 4, cy + 20], [cx + 12, cy + 16]])
        cv2.polylines(canvas, [pts], False, 30, 3)
    else:  # neutral
        cv2.line(canvas, (cx - 10, cy + 17), (cx + 10, cy + 17), 30, 2)
    noise = rng.normal(0, 6, canvas.shape)
    canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    face = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) if color else face


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    """Encode an image array to bytes with OpenCV."""
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


def write_image(path: Path, image: np.ndarray) -> Path:
    """Write an image, choosing the codec from the (case-insensitive) extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(image, path.suffix.lower()))
    return path


def make_dataset(
    root: Path, per_class: int = 6, test_per_class: int = 2, classes: tuple[str, ...] = CLASSES
) -> Path:
    """A clean train/test image-folder dataset of synthetic faces."""
    for split, count, offset in (("train", per_class, 0), ("test", test_per_class, 10_000)):
        for ci, name in enumerate(classes):
            for i in range(count):
                seed = offset + ci * 1000 + i
                ext = (".png", ".jpg", ".bmp", ".webp")[i % 4]
                write_image(root / split / name / f"{name}_{i}{ext}", make_face(ci, seed=seed))
    return root


def make_messy_dataset(root: Path) -> dict[str, int]:
    """A dataset with every problem the report must find; returns the expected numbers.

    Base: 7 classes x 6 train + 2 test. Added: one within-train duplicate, one
    train/test duplicate, one duplicate with a conflicting label, a blank image,
    a truncated (corrupt) JPEG, a non-image file, an upper-case extension and a
    nested folder.
    """
    make_dataset(root)
    train, test = root / "train", root / "test"
    shutil.copy(train / "happy" / "happy_0.png", train / "happy" / "happy_copy.png")
    shutil.copy(test / "sad" / "sad_0.png", train / "sad" / "leaked_from_test.png")
    shutil.copy(train / "angry" / "angry_1.jpg", train / "fear" / "conflict.jpg")
    write_image(train / "neutral" / "blank.png", np.full((48, 48), 128, np.uint8))
    jpeg = encode(make_face(2, seed=77), ".jpg")
    (train / "fear" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (train / "fear" / "notes.txt").write_text("not an image")
    write_image(train / "surprise" / "UPPER.PNG", make_face(6, seed=78))
    write_image(train / "surprise" / "nested" / "deeper.png", make_face(6, seed=79))
    return {
        "files": 7 * 8 + 8,
        "images": 7 * 8 + 6,
        "train_images": 42 + 6,
        "test_images": 14,
        "unreadable": 1,
        "not_image": 1,
        "blank": 1,
        "duplicate_groups": 3,
        "extra_files": 3,
        "across_train_test": 1,
        "conflicting_labels": 1,
    }

"""Test images made on the fly from a real photo, so nothing binary is committed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def face_photo() -> np.ndarray:
    """NASA's portrait of astronaut Eileen Collins (smiling; public domain), as BGR."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def write_images(folder: Path) -> dict[str, Path]:
    """The files the page tests upload: one face, two faces, no face, and a non-image."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = face_photo()
    # Two copies side by side; the right one mirrored so the two faces are not pixel-identical.
    images = {
        "face": photo,
        "two_faces": np.hstack([photo, photo[:, ::-1]]),
        # Larger than the "small crop" size, so auto mode runs the detector, which finds nothing.
        "no_face": np.full((480, 640, 3), 200, np.uint8),
    }
    paths = {}
    for name, image in images.items():
        paths[name] = folder / f"{name}.png"
        cv2.imwrite(str(paths[name]), image)
    paths["not_image"] = folder / "notes.txt"
    paths["not_image"].write_text("This is a text file, not a photo.\n")
    return paths


def write_y4m(path: Path, image: np.ndarray, frames: int = 2) -> Path:
    """A YUV4MPEG2 clip of a still image: Chromium's fake webcam plays it in a loop."""
    height, width = (side - side % 2 for side in image.shape[:2])  # 4:2:0 needs even sides
    yuv = cv2.cvtColor(np.ascontiguousarray(image[:height, :width]), cv2.COLOR_BGR2YUV_I420)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + yuv.tobytes())
    return path

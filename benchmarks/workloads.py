"""The two request workloads: (a) 48x48 face crops as they are, (b) 640x480 JPEG scenes that need detection.

Scenes are composed offline and deterministically (seeded) from real images:
scikit-image's bundled photos `astronaut` (Eileen Collins) and `camera` (the
cameraman) as single-face portraits, and 1-4 test-split face crops upscaled to
110-170 px, placed on scikit-image's `coffee`, `rocket`, `chelsea` and `brick`
photos as backgrounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from contract import IMAGE_EXTENSIONS, decode_image, to_model_input

SCENE_SIZE = (640, 480)  # width, height
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Payload:
    """One request body: encoded image bytes and how many faces were put into it."""

    name: str
    data: bytes
    faces: int


def _test_files(data_dir: str | Path) -> list[Path]:
    """Every image of the test split, sorted by class then name."""
    root = Path(data_dir) / "test"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no test images under {root}")
    return files


def face_crops(data_dir: str | Path, count: int, seed: int = 0) -> list[Payload]:
    """Workload (a): `count` test crops drawn at random (seeded), sent as the original files."""
    files = _test_files(data_dir)
    picks = np.random.default_rng(seed).choice(len(files), size=min(count, len(files)), replace=False)
    return [Payload(files[i].name, files[i].read_bytes(), 1) for i in sorted(picks)]


def model_inputs(payloads: list[Payload]) -> np.ndarray:
    """The payloads decoded to the model's uint8 [N,48,48,1] input (for in-process timing)."""
    return np.stack([to_model_input(decode_image(p.data)) for p in payloads])


def _bgr(image: np.ndarray) -> np.ndarray:
    """An RGB or gray skimage array as OpenCV BGR."""
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, ::-1].copy()


def _backgrounds() -> list[np.ndarray]:
    """Real, face-free photos scaled to the scene size."""
    from skimage import data

    return [
        cv2.resize(_bgr(getattr(data, name)()), SCENE_SIZE, interpolation=cv2.INTER_AREA)
        for name in ("coffee", "rocket", "chelsea", "brick")
    ]


def _portrait(photo: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 512x512 portrait shrunk to 400 px and pasted at a random spot of the background."""
    canvas = background.copy()
    face = cv2.resize(photo, (400, 400), interpolation=cv2.INTER_AREA)
    x, y = int(rng.integers(0, SCENE_SIZE[0] - 400)), int(rng.integers(0, SCENE_SIZE[1] - 400))
    canvas[y : y + 400, x : x + 400] = face
    return canvas


def _crop_scene(crops: list[np.ndarray], background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crops upscaled and pasted left to right, one per 160 px column, at random heights."""
    canvas = background.copy()
    for column, crop in enumerate(crops):
        side = int(rng.integers(110, 151))
        face = cv2.resize(_bgr(crop), (side, side), interpolation=cv2.INTER_CUBIC)
        x = column * 160 + int(rng.integers(0, 160 - side + 1))
        y = int(rng.integers(0, SCENE_SIZE[1] - side))
        canvas[y : y + side, x : x + side] = face
    return canvas


def scenes(data_dir: str | Path, count: int, seed: int = 0) -> list[Payload]:
    """Workload (b): `count` 640x480 JPEG scenes; one in five is each portrait, the rest hold 1-4 crops."""
    from skimage import data

    rng = np.random.default_rng(seed)
    files = _test_files(data_dir)
    backgrounds = _backgrounds()
    portraits = {0: ("astronaut", _bgr(data.astronaut())), 1: ("camera", _bgr(data.camera()))}
    payloads = []
    for i in range(count):
        background = backgrounds[i % len(backgrounds)]
        if i % 5 in portraits:
            name, photo = portraits[i % 5]
            image, faces = _portrait(photo, background, rng), 1
        else:
            faces = 1 + i % 4
            crops = [
                cv2.imread(str(files[j]), cv2.IMREAD_GRAYSCALE)
                for j in rng.choice(len(files), size=faces, replace=False)
            ]
            name, image = f"crops{faces}", _crop_scene(crops, background, rng)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        payloads.append(Payload(f"scene{i:03d}_{name}.jpg", encoded.tobytes(), faces))
    return payloads


def write_payloads(folder: str | Path, payloads: list[Payload]) -> Path:
    """Write the payloads as files for the load generator (a separate process) to read."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for payload in payloads:
        (out / payload.name).write_bytes(payload.data)
    return out

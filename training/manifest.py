"""Scan a dataset folder into a pandas manifest: one row per file, decoded once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from contract import IMAGE_EXTENSIONS, ImageDecodeError, decode_image
from contract.image import to_gray
from training.errors import DatasetError

SPLITS = ("train", "test")
# Pixel std (on a 0..1 scale) below which an image carries no face: FER2013 has a
# dozen such blank frames, which only teach the model noise.
BLANK_STD = 0.01
COLUMNS = [
    "path",
    "split",
    "label",
    "status",
    "width",
    "height",
    "channels",
    "sha256",
    "pixel_std",
    "blank",
]


def _describe(path: Path) -> dict[str, object]:
    """Read one file and describe it; never raises for bad files."""
    row: dict[str, object] = {
        "path": str(path),
        "width": 0,
        "height": 0,
        "channels": 0,
        "sha256": "",
        "pixel_std": np.nan,
        "blank": False,
    }
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return {**row, "status": "not_image"}
    try:
        data = path.read_bytes()
    except OSError:
        return {**row, "status": "unreadable"}
    row["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        image = decode_image(data)
    except ImageDecodeError:
        return {**row, "status": "unreadable"}
    std = float(to_gray(image).std() / 255.0)
    return {
        **row,
        "status": "ok",
        "height": image.shape[0],
        "width": image.shape[1],
        "channels": 1 if image.ndim == 2 else image.shape[2],
        "pixel_std": std,
        "blank": std < BLANK_STD,
    }


def _class_files(class_dir: Path) -> list[Path]:
    """All regular files below a class folder (nested folders included), sorted."""
    files = []
    for root, dirs, names in os.walk(class_dir):
        dirs.sort()
        files.extend(Path(root) / name for name in sorted(names))
    return files


def scan_split(data_dir: Path, split: str) -> pd.DataFrame:
    """Manifest rows for one split; raises DatasetError when the split is missing."""
    split_dir = data_dir / split
    if not split_dir.is_dir():
        raise DatasetError(
            f"missing '{split}/' folder in {data_dir} (expected {data_dir}/{split}/<class>/<image files>)"
        )
    class_dirs = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"'{split_dir}' has no class subfolders")
    rows = []
    for class_dir in class_dirs:
        for path in _class_files(class_dir):
            rows.append({**_describe(path), "split": split, "label": class_dir.name})
        if not any(r["label"] == class_dir.name and r["status"] == "ok" for r in rows):
            raise DatasetError(f"class folder '{class_dir}' has no readable images")
    return pd.DataFrame(rows, columns=COLUMNS)


def build_manifest(data_dir: str | Path, splits: tuple[str, ...] = SPLITS) -> pd.DataFrame:
    """Manifest of every file in the given splits, validated for consistent labels."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"dataset folder '{data_dir}' does not exist")
    manifest = pd.concat([scan_split(data_dir, s) for s in splits], ignore_index=True)
    if "train" in splits and "test" in splits:
        train_labels = set(manifest.loc[manifest.split == "train", "label"])
        missing = sorted(set(manifest.loc[manifest.split == "test", "label"]) - train_labels)
        if missing:
            raise DatasetError(f"test classes missing from train: {', '.join(missing)}")
    return manifest


def class_names(manifest: pd.DataFrame) -> list[str]:
    """Sorted label names of the training split: the model's output order."""
    split = "train" if (manifest.split == "train").any() else manifest.split.iloc[0]
    return sorted(manifest.loc[manifest.split == split, "label"].unique())


def usable(manifest: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that decode as images."""
    return manifest[manifest.status == "ok"]


def fingerprint(manifest: pd.DataFrame) -> str:
    """A stable hash of the usable dataset: labels and content, order-independent."""
    ok = usable(manifest)
    lines = sorted(f"{s}/{lbl}/{h}" for s, lbl, h in zip(ok.split, ok.label, ok.sha256, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()

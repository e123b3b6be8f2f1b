"""The exported-model layout: <root>/<version>/saved_model.pb plus metadata.json.

Both the exporter (training) and the loader (service) use this, as does
TensorFlow Serving, which picks the highest numeric version the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METADATA_FILE = "metadata.json"
# The Keras model beside the SavedModel (training reads it back: teachers, ensembles, exports).
KERAS_FILE = "model.keras"


class ModelDirError(Exception):
    """An exported model directory is missing, incomplete or inconsistent."""


def resolve_version_dir(model_dir: str | Path) -> Path:
    """A version folder itself, or the highest numeric version below a model root."""
    path = Path(model_dir)
    if (path / "saved_model.pb").exists():
        return path
    versions = (
        sorted(
            (p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()),
            key=lambda p: int(p.name),
        )
        if path.is_dir()
        else []
    )
    if not versions:
        raise ModelDirError(
            f"no SavedModel found in '{model_dir}' (expected saved_model.pb or <version>/saved_model.pb)"
        )
    return versions[-1]


def read_metadata(version_dir: str | Path) -> dict[str, Any]:
    """Load and minimally validate metadata.json of an exported model."""
    path = Path(version_dir) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelDirError(f"missing {METADATA_FILE} in '{version_dir}'") from exc
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"unreadable {path}: {exc}") from exc
    names = metadata.get("class_names") if isinstance(metadata, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelDirError(f"{path} has no valid 'class_names' list")
    return metadata


def write_metadata(version_dir: str | Path, metadata: dict[str, Any]) -> None:
    """(Re)write metadata.json, e.g. after evaluation adds metrics."""
    (Path(version_dir) / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def model_identity(metadata: dict[str, Any], version_dir: str | Path) -> dict[str, Any]:
    """name, version and class_names of a loaded model, as every predictor reports them."""
    return {
        "name": str(metadata.get("name", "emotion")),
        "version": str(metadata.get("version", Path(version_dir).name)),
        "class_names": list(metadata["class_names"]),
    }

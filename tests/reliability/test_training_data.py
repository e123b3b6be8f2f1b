"""A whole training run on a dataset with every kind of mess: it skips and reports, never crashes.

tests/training/test_manifest_report.py checks each problem's counting and the clear errors
(missing train/, empty class folder, unknown test class); tests/training/test_kill_resume.py
the interrupted run. Here they all meet in one real `train()` that must export a model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.support.models import tiny_config
from tests.synthetic import make_messy_dataset
from training.manifest import build_manifest

LOCKED = "locked.png"


def add_more_mess(root: Path) -> None:
    """On top of make_messy_dataset: symlinks (good and dangling), an empty file, an unreadable file."""
    train = root / "train"
    (train / "happy" / "link.png").symlink_to(train / "sad" / "sad_0.png")
    (train / "happy" / "dangling.png").symlink_to(root / "nowhere.png")
    (train / "angry" / "empty.jpg").write_bytes(b"")
    (train / "neutral" / LOCKED).write_bytes((train / "neutral" / "neutral_0.png").read_bytes())


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading LOCKED fails with EACCES, as a file without read permission does (root ignores chmod)."""
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == LOCKED:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_permission_denied_is_counted_unreadable(tmp_path: Path, unreadable) -> None:
    """A file the process may not read is skipped and reported, not fatal."""
    root = tmp_path / "data"
    make_messy_dataset(root)
    add_more_mess(root)
    manifest = build_manifest(root)
    status = manifest.set_index(manifest.path.map(lambda p: Path(p).name)).status
    assert status[LOCKED] == "unreadable"
    assert status["link.png"] == "ok"
    assert status["dangling.png"] == status["empty.jpg"] == "unreadable"


def test_messy_dataset_trains_and_reports_what_it_skipped(tmp_path: Path, unreadable) -> None:
    """Corrupt, non-image, nested, upper-case, symlinked, empty and unreadable files: a valid export."""
    from contract.savedmodel import load_predict_fn
    from training.train import train

    root = tmp_path / "data"
    expected = make_messy_dataset(root)
    add_more_mess(root)
    config = tiny_config(tmp_path, root, epochs=1)
    version = train(config)

    report = json.loads((Path(config.run_dir) / "report" / "dataset_report.json").read_text())
    skipped = {os.path.basename(path) for path in report["unreadable"]}
    assert skipped == {"truncated.jpg", "dangling.png", "empty.jpg", LOCKED}
    assert len(report["not_image"]) == expected["not_image"]
    assert report["counts"]["train"]["surprise"] == 8  # UPPER.PNG and nested/deeper.png are used
    probabilities = load_predict_fn(version)(np.zeros((2, 48, 48, 1), np.uint8))
    assert probabilities.shape == (2, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

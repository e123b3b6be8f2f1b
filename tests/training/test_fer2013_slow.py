"""Slow: a brief training run on a real FER2013 subset (needs ../shared)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.models import tiny_config

pytestmark = pytest.mark.slow


def test_fer2013_report_finds_known_problems(fer2013_dir: Path) -> None:
    from training.manifest import build_manifest
    from training.report import dataset_report

    report = dataset_report(build_manifest(fer2013_dir))
    assert report["totals"] == {"train": 28709, "test": 7178}
    dup = report["duplicates"]  # numbers from ../shared/datasets/fer2013/SOURCE.md
    assert (dup["groups"], dup["extra_files"], dup["across_train_test"], dup["conflicting_labels"]) == (
        1516,
        1853,
        531,
        57,
    )
    assert sum(report["blank"]["paths"][i].count("/train/") for i in range(report["blank"]["count"])) == 12


def test_brief_training_on_fer2013_subset(fer2013_dir: Path, tmp_path: Path) -> None:
    from contract.modeldir import read_metadata
    from training.train import train

    subset = tmp_path / "fer_subset"
    for split, n in (("train", 150), ("test", 40)):
        for class_dir in sorted((fer2013_dir / split).iterdir()):
            target = subset / split / class_dir.name
            target.mkdir(parents=True)
            for path in sorted(class_dir.iterdir())[:n]:
                shutil.copy(path, target / path.name)
    version_dir = train(tiny_config(tmp_path, subset, epochs=3, width=16, depth=3, dense_units=64))
    metrics = read_metadata(version_dir)["metrics"]
    assert metrics["samples"] == 7 * 40
    assert metrics["accuracy"] > 1 / 7  # better than chance after a few epochs

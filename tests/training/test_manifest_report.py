"""Manifest and dataset report numbers are exactly right; bad layouts fail clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.synthetic import make_dataset, make_messy_dataset
from training.errors import DatasetError
from training.manifest import build_manifest, class_names, fingerprint
from training.report import dataset_report, format_report, save_report


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("messy")
    return root, make_messy_dataset(root)


def test_manifest_columns_and_rows(messy) -> None:
    root, expected = messy
    manifest = build_manifest(root)
    assert len(manifest) == expected["files"]
    assert set(manifest.columns) >= {"path", "split", "label", "width", "height", "channels", "sha256"}
    ok = manifest[manifest.status == "ok"]
    assert len(ok) == expected["images"]
    assert (ok.width == 48).all() and (ok.height == 48).all()
    webp = ok.path.str.endswith(".webp")
    assert (ok[webp].channels == 3).all() and (ok[~webp].channels == 1).all()  # WebP has no gray mode
    assert class_names(manifest) == sorted(class_names(manifest))


def test_report_numbers(messy) -> None:
    root, expected = messy
    report = dataset_report(build_manifest(root))
    assert report["totals"] == {"train": expected["train_images"], "test": expected["test_images"]}
    assert report["counts"]["train"]["surprise"] == 8  # UPPER.PNG and nested/ are included
    assert len(report["unreadable"]) == expected["unreadable"]
    assert len(report["not_image"]) == expected["not_image"]
    assert report["blank"]["count"] == expected["blank"]
    dup = report["duplicates"]
    assert dup["groups"] == expected["duplicate_groups"]
    assert dup["extra_files"] == expected["extra_files"]
    assert dup["across_train_test"] == expected["across_train_test"]
    assert dup["conflicting_labels"] == expected["conflicting_labels"]
    assert report["imbalance_ratio"] == pytest.approx(8 / 6, abs=1e-3)
    assert "duplicate groups: 3" in format_report(report)


def test_report_files_are_written(messy, tmp_path) -> None:
    root, _ = messy
    report = dataset_report(build_manifest(root))
    paths = save_report(report, tmp_path)
    assert [p.name for p in paths] == ["dataset_report.json", "dataset_counts.csv", "dataset_counts.png"]
    written = json.loads(paths[0].read_text())
    assert (written["files"], written["counts"]) == (report["files"], report["counts"])
    assert paths[2].read_bytes()[:4] == b"\x89PNG"


def test_fingerprint_is_order_independent_and_content_sensitive(tmp_path) -> None:
    root = make_dataset(tmp_path / "a")
    first = fingerprint(build_manifest(root))
    assert fingerprint(build_manifest(root).sample(frac=1.0, random_state=1)) == first
    (root / "train" / "happy" / "happy_0.png").unlink()
    assert fingerprint(build_manifest(root)) != first


def _missing_train(root: Path) -> None:
    shutil.rmtree(root / "train")


def _empty_class(root: Path) -> None:
    shutil.rmtree(root / "train" / "sad")
    (root / "train" / "sad").mkdir()
    (root / "train" / "sad" / "readme.txt").write_text("no images here")


def _test_class_not_in_train(root: Path) -> None:
    shutil.copytree(root / "test" / "sad", root / "test" / "contempt")
    for path in (root / "test" / "contempt").iterdir():
        path.rename(path.with_name("x" + path.name))


@pytest.mark.parametrize(
    ("breaker", "message"),
    [
        (_missing_train, "missing 'train/' folder"),
        (_empty_class, "has no readable images"),
        (_test_class_not_in_train, "test classes missing from train: contempt"),
        (lambda root: shutil.rmtree(root), "does not exist"),
    ],
    ids=["missing-train", "empty-class", "test-class-not-in-train", "no-dataset"],
)
def test_bad_layouts_raise_clear_errors(tmp_path, breaker, message) -> None:
    root = make_dataset(tmp_path / "ds", per_class=2, test_per_class=1)
    breaker(root)
    with pytest.raises(DatasetError, match=message):
        build_manifest(root)


@pytest.mark.skipif(not hasattr(__import__("os"), "symlink"), reason="no symlinks")
def test_symlinks_and_unreadable_files_are_counted_not_fatal(tmp_path) -> None:
    root = make_dataset(tmp_path / "ds", per_class=2, test_per_class=1)
    (root / "train" / "happy" / "link.png").symlink_to(root / "train" / "sad" / "sad_0.png")
    (root / "train" / "happy" / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    manifest = build_manifest(root)
    statuses = manifest.set_index(manifest.path.str.rsplit("/", n=1).str[-1]).status
    assert statuses["link.png"] == "ok"
    assert statuses["dangling.png"] == "unreadable"

"""Atomic exports: a version folder appears complete or not at all, and a published one is never rewritten.

publish (used by make train, make export and make ensemble --publish) writes into a staging folder
beside the version folder and renames it into place at the end; failures are injected at two
points (during the test-split evaluation, and writing metadata.json, the last file).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from contract.modeldir import ModelDirError, read_metadata
from tests.support.models import tiny_config
from training.export import main as export_main
from training.versions import PARTIAL, next_version

# The last write of a version (metadata.json) and the middle of its test-split evaluation.
INJECTION_POINTS = ["training.publish.write_metadata", "training.publish.evaluate_rows"]


def publish_cli(checkpoint_dir: Path, data: Path, tmp: Path, *flags: str) -> int:
    """`python -m training.export` (make export) of the tiny checkpoint into tmp/models as version 3."""
    args = ["--checkpoint", str(checkpoint_dir / "model.keras"), "--data-dir", str(data)]
    args += [
        "--model-dir",
        str(tmp / "models"),
        "--version",
        "3",
        "--tta",
        "none",
        "--run-dir",
        str(tmp / "run"),
    ]
    return export_main([*args, *flags])


def digest(folder: Path) -> dict[str, str]:
    """Every file under folder and the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def fail_with(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """Make `target` raise, as a full disk or a crash half-way would."""

    def broken(*args, **kwargs):
        raise OSError(f"injected failure in {target}")

    monkeypatch.setattr(target, broken)


@pytest.mark.parametrize("point", INJECTION_POINTS)
def test_a_failure_mid_export_leaves_no_version_folder(
    tiny_model_dir, tiny_dataset, tmp_path, monkeypatch, point
):
    """Nothing named like a version, and no staging folder either."""
    fail_with(monkeypatch, point)
    assert publish_cli(tiny_model_dir, tiny_dataset, tmp_path) == 2
    assert list((tmp_path / "models").iterdir()) == []


@pytest.fixture
def published(tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Version 3 published once; its folder and the digest of its files."""
    assert publish_cli(tiny_model_dir, tiny_dataset, tmp_path) == 0
    version = tmp_path / "models" / "3"
    return version, digest(version)


def test_an_existing_version_is_refused_and_untouched(
    published, tiny_model_dir, tiny_dataset, tmp_path, capsys
):
    """Publishing version 3 again fails with a clear error; every byte of 3 stays as it was."""
    version, before = published
    assert publish_cli(tiny_model_dir, tiny_dataset, tmp_path) == 2
    error = capsys.readouterr().err
    assert "already exists" in error and "--overwrite" in error
    assert digest(version) == before


@pytest.mark.parametrize("point", INJECTION_POINTS)
def test_a_failed_overwrite_leaves_the_old_version_byte_for_byte(
    published, tiny_model_dir, tiny_dataset, tmp_path, monkeypatch, point
):
    """--overwrite replaces only a complete export: a failure keeps the published one."""
    version, before = published
    fail_with(monkeypatch, point)
    assert publish_cli(tiny_model_dir, tiny_dataset, tmp_path, "--overwrite") == 2
    assert digest(version) == before
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["3"]


def test_overwrite_replaces_the_version_in_one_rename(published, tiny_model_dir, tiny_dataset, tmp_path):
    """With --overwrite a complete new export takes the name; its records name the final folder."""
    version, before = published
    assert publish_cli(tiny_model_dir, tiny_dataset, tmp_path, "--overwrite") == 0
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["3"]
    metadata = read_metadata(version)
    assert metadata["version"] == 3 and digest(version)["metadata.json"] != before["metadata.json"]
    assert json.loads((version / "evaluation" / "metrics.json").read_text())["model_dir"] == str(version)


def test_next_version_counts_versions_still_being_written(tmp_path: Path) -> None:
    """Two runs started together must not both pick the same number."""
    (tmp_path / "1").mkdir()
    (tmp_path / f".2{PARTIAL}x1y2").mkdir()
    (tmp_path / "notes").mkdir()
    assert next_version(tmp_path) == 3
    assert next_version(tmp_path / "missing") == 1


def test_train_refuses_an_existing_version_before_training(tiny_model_dir, tiny_dataset, tmp_path) -> None:
    """make train with a version that exists fails at once, not after the epochs."""
    from training.train import train

    config = tiny_config(
        tmp_path, tiny_dataset, model_dir=str(tiny_model_dir.parent), version=int(tiny_model_dir.name)
    )
    before = digest(tiny_model_dir)
    with pytest.raises(ModelDirError, match="already exists"):
        train(config)
    assert not (tmp_path / "run").exists() and digest(tiny_model_dir) == before


def test_committed_configs_pin_no_version() -> None:
    """A recipe with `version = N` would refuse (or, with --overwrite, replace) a committed model."""
    configs = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.toml"))
    assert configs
    pinned = [
        p.name
        for p in configs
        if any(line.split("=")[0].strip() == "version" for line in p.read_text().splitlines())
    ]
    assert pinned == []

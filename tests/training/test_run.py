"""One pass from folder to version: each decision of a run is worked out once and handed on.

train, the export CLI and the ensemble CLI each build one Run (training.run.load_run); publish
and the evaluation read it. Counting the calls across every training module catches any stage
that scans the folder, re-splits, re-weighs, re-reads the history or rewrites metadata.json.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from contract.modeldir import read_metadata
from tests.support.models import tiny_config

COUNTED = {
    "build_manifest": "training.manifest",  # scans and hashes every file (test folder included)
    "split_train_val": "training.data",
    "class_weights": "training.data",
    "read_history": "training.callbacks",
    "load_run": "training.run",
    "write_metadata": "contract.modeldir",
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts of COUNTED functions, wherever a module imported them from."""
    import training.export
    import training.train  # noqa: F401

    counts: Counter = Counter()
    for name, home in COUNTED.items():
        original = getattr(sys.modules[home], name)

        def counting(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        ours = [m for m in list(sys.modules.values()) if m.__name__.startswith(("training", "contract"))]
        for module in ours:
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, counting)
    return counts


def test_train_works_out_each_decision_once(tmp_path: Path, tiny_dataset: Path, calls: Counter) -> None:
    from training.train import train

    version_dir = train(tiny_config(tmp_path, tiny_dataset, class_weight="balanced"))
    # The history is read before fitting (seed, best score so far) and once after it (the record).
    assert calls == Counter(
        build_manifest=1, split_train_val=1, class_weights=1, load_run=1, read_history=2, write_metadata=1
    )
    training = read_metadata(version_dir)["training"]
    assert training["epochs_run"] == 1 and len(training["class_weights"]) == 7


def test_export_and_ensemble_build_one_run_the_same_way(
    tmp_path: Path, tiny_dataset: Path, tiny_model_dir: Path, calls: Counter
) -> None:
    from training.ensemble import main as ensemble_main
    from training.export import main as export_main

    checkpoint = str(tiny_model_dir / "model.keras")
    common = ["--data-dir", str(tiny_dataset), "--model-dir", str(tmp_path / "models")]
    common += ["--run-dir", str(tmp_path / "run"), "--tta", "none", "--class-weight", "sqrt"]
    assert export_main(["--checkpoint", checkpoint, *common, "--version", "2"]) == 0
    once = Counter(
        build_manifest=1, split_train_val=1, class_weights=1, load_run=1, read_history=1, write_metadata=1
    )
    assert calls == once
    calls.clear()
    assert ensemble_main(["--member", checkpoint, "--member", checkpoint, *common, "--publish"]) == 0
    assert calls == once
    exported, averaged = (read_metadata(tmp_path / "models" / v)["training"] for v in ("2", "3"))
    for key in ("train_images", "validation_images", "class_weights"):
        assert exported[key] == averaged[key], key
    assert averaged["ensemble"]["validation_images"] == averaged["validation_images"]


def test_the_test_rows_evaluated_are_the_scanned_ones(tmp_path: Path, tiny_dataset: Path) -> None:
    """publish evaluates on the Run's test rows: the files of test/, as the manifest read them."""
    from training.run import load_run

    run = load_run(tiny_config(tmp_path, tiny_dataset))
    on_disk = sorted(str(p) for p in (tiny_dataset / "test").rglob("*") if p.is_file())
    assert sorted(run.test_rows.path) == on_disk
    assert set(run.val_rows.path).isdisjoint(run.train_rows.path)
    assert not set(run.test_rows.path) & set(run.train_rows.path)


def test_metadata_keeps_the_layout_of_the_committed_versions(tiny_model_dir: Path) -> None:
    """Written once now, metadata.json has the keys, in the order, of models/emotion/7 (the default)."""
    import json

    committed = json.loads(
        (Path(__file__).resolve().parents[2] / "models/emotion/7/metadata.json").read_text()
    )
    written = read_metadata(tiny_model_dir)
    assert list(written) == list(committed)
    # The last key is its source; compute_time (training.epoch_clock) joined after version 7.
    written_keys = [k for k in written["training"] if k != "compute_time"]
    assert written_keys[:-1] == list(committed["training"])[:-1]
    assert list(written["training"])[-1] == "seconds_this_session"
    # Config fields only ever join (a recipe of version 7 must still parse); these came after it.
    added_since_7 = {"teacher_tta", "class_bias"}
    assert (
        set(written["training"]["config"]) == set(committed["training"]["config"]) - {"extra"} | added_since_7
    )
    assert written["version"] == 1 and written["metrics"]["split"] == "test"
    assert "model_dir" not in written["metrics"]


def test_tune_searches_on_the_rows_train_validates_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With drop_test_duplicates, tune drops the train copy of a test image as train does (it used
    to scan train/ alone, so the leaked copy stayed in its training rows)."""
    from tests.synthetic import make_messy_dataset
    from training import tune
    from training.run import load_run

    data = tmp_path / "data"
    make_messy_dataset(data)
    config = tiny_config(tmp_path, data, drop_test_duplicates=True)
    seen = {}

    def capture(base, train_rows, val_rows, class_names):
        seen.update(train=train_rows, val=val_rows)
        raise RuntimeError("stop before the search")

    monkeypatch.setattr(tune, "make_hypermodel", capture)
    with pytest.raises(RuntimeError, match="stop before"):
        tune.tune(config, trials=1, out_dir=tmp_path / "tune")
    run = load_run(config)
    assert list(seen["train"].path) == list(run.train_rows.path)
    assert list(seen["val"].path) == list(run.val_rows.path)
    assert not any("leaked_from_test" in p for p in [*seen["train"].path, *seen["val"].path])

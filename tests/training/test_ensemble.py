"""Ensembles: exact averaging, save/load, validation-only selection, export through the CLI."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from contract.modeldir import read_metadata
from contract.savedmodel import load_predict_fn
from tests.support.models import publish_ensemble, tiny_config
from training.ensemble import accuracy, main
from training.errors import ModelDirError
from training.keras_models import build_ensemble, load_keras_model, members_of
from training.model import make_model
from training.model_card import render
from training.signature import served_probabilities


def _members(
    tmp_path: Path, tiny_dataset: Path, n: int = 2, classes: int = 7, crops: tuple[int, ...] = ()
) -> list[keras.Model]:
    """n tiny networks; crops gives each one's input side (48, or a random-crop size)."""
    models = []
    for seed, crop in enumerate(crops or (48,) * n):
        # Different seeds -> different random weights, so averaging is observable.
        keras.utils.set_random_seed(seed)
        models.append(make_model(tiny_config(tmp_path, tiny_dataset, crop_size=crop), classes))
    return models


def _centre(x: np.ndarray, side: int) -> np.ndarray:
    """The central side x side window of [N,48,48,1] faces."""
    top = (48 - side) // 2
    return x[:, top : top + side, top : top + side, :]


# Member input sides of ensembles that mix (or only hold) networks trained on random crops.
CROP_SETS = [(48, 44), (44, 44), (44, 40, 48)]


@pytest.fixture
def faces() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1), dtype=np.uint8)


def test_output_is_the_mean_of_the_members(tmp_path, tiny_dataset, faces) -> None:
    members = _members(tmp_path, tiny_dataset, n=3)
    x = faces.astype("float32")
    expected = np.mean([np.asarray(m(x, training=False)) for m in members], axis=0)
    ensemble = build_ensemble(members)
    np.testing.assert_allclose(np.asarray(ensemble(x)), expected, rtol=1e-5, atol=1e-6)
    assert [m.name for m in members_of(ensemble)] == ["member_1", "member_2", "member_3"]


@pytest.mark.parametrize(
    ("shape", "message"),
    [((1, 7), "at least two"), ((2, None), "number of classes")],
)
def test_rejects_bad_member_sets(tmp_path, tiny_dataset, shape, message) -> None:
    n, classes = shape
    members = _members(tmp_path, tiny_dataset, n=n)
    if classes is None:
        members.append(make_model(tiny_config(tmp_path, tiny_dataset), 5))
    with pytest.raises(ValueError, match=message):
        build_ensemble(members)


def test_save_and_load_round_trip(tmp_path, tiny_dataset, faces) -> None:
    ensemble = build_ensemble(_members(tmp_path, tiny_dataset))
    ensemble.save(tmp_path / "e.keras")
    loaded = keras.models.load_model(tmp_path / "e.keras")
    x = faces.astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(ensemble(x)), rtol=1e-5, atol=1e-6)
    assert len(members_of(loaded)) == 2


def test_accuracy_counts_what_the_signature_computes(tmp_path, tiny_dataset, faces) -> None:
    model = _members(tmp_path, tiny_dataset, n=1)[0]
    x = faces.astype("float32")
    both = (np.asarray(model(x)) + np.asarray(model(x[:, :, ::-1, :]))) / 2
    labels = both.argmax(axis=1)
    assert accuracy(model, faces, labels, "flip") == 1.0
    assert accuracy(model, faces, (labels + 1) % 7, "flip") == 0.0


@pytest.mark.parametrize(("shift", "expected"), [(0, 1.0), (1, 0.0)])
def test_validation_table_scores_members_and_mean_against_the_labels(
    tmp_path, tiny_dataset, faces, shift: int, expected: float
) -> None:
    """Labels equal to the ensemble's own answers score 1.0 for it, the next class 0.0."""
    from training.ensemble import validation_table

    network = _members(tmp_path, tiny_dataset, n=1)[0]
    paths = [str(tmp_path / "a.keras"), str(tmp_path / "b.keras")]
    for path in paths:
        network.save(path)
    config = tiny_config(tmp_path, tiny_dataset, tta="none")
    answers = np.asarray(network(faces.astype("float32"))).argmax(axis=1)  # the mean of two copies
    _, table = validation_table(paths, config, faces, (answers + shift) % 7)
    assert table["val_accuracy"] == expected
    assert [row["val_accuracy"] for row in table["members"]] == [expected, expected]  # same network twice


def test_cli_publishes_an_ensemble_that_serves_the_mean(tmp_path, tiny_dataset, faces, capsys) -> None:
    paths = []
    for i, member in enumerate(_members(tmp_path, tiny_dataset)):
        paths += ["--member", str(tmp_path / f"m{i}.keras")]
        member.save(paths[-1])
    common = ["--data-dir", str(tiny_dataset), "--model-dir", str(tmp_path / "models")]
    common += ["--run-dir", str(tmp_path / "run"), "--tta", "flip", "--version", "4"]

    assert main(paths + common) == 0  # compare only: nothing exported
    printed = capsys.readouterr().out
    assert printed.count("validation accuracy") == 3 and "ensemble (mean)" in printed
    assert not (tmp_path / "models").exists()

    assert main(paths + common + ["--publish"]) == 0
    version_dir = tmp_path / "models" / "4"
    table = read_metadata(version_dir)["training"]["ensemble"]
    assert [row["checkpoint"] for row in table["members"]] == paths[1::2]
    assert f"validation accuracy {table['val_accuracy']:.4f}  ensemble (mean)" in printed
    assert "accuracy" in read_metadata(version_dir)["metrics"]

    card = render(version_dir)
    assert "## Ensemble" in card and "4 forward passes" in card
    assert "Not trained as one network" in card and "Epochs run" not in card  # no template epoch count
    assert all(f"`{path}`" in card for path in paths[1::2])

    members = [keras.models.load_model(p) for p in paths[1::2]]
    x = faces.astype("float32")
    expected = np.mean([(np.asarray(m(x)) + np.asarray(m(x[:, :, ::-1, :]))) / 2 for m in members], axis=0)
    np.testing.assert_allclose(load_predict_fn(version_dir)(faces), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("crops", CROP_SETS)
def test_keras_output_is_the_mean_of_each_members_central_view(tmp_path, tiny_dataset, faces, crops) -> None:
    """The Keras model takes 48x48 faces and gives each member the central crop of its size."""
    members = _members(tmp_path, tiny_dataset, crops=crops)
    x = faces.astype("float32")
    expected = np.mean(
        [np.asarray(m(_centre(x, c), training=False)) for m, c in zip(members, crops, strict=True)], axis=0
    )
    ensemble = build_ensemble(members)
    assert ensemble.input_shape[1:] == (48, 48, 1)
    np.testing.assert_allclose(np.asarray(ensemble(x)), expected, rtol=1e-5, atol=1e-6)
    ensemble.save(tmp_path / "e.keras")
    loaded = keras.models.load_model(tmp_path / "e.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tta", ["none", "flip", "flip-zoom"])
@pytest.mark.parametrize("crops", CROP_SETS)
def test_signature_gives_each_member_its_own_views(tmp_path, tiny_dataset, faces, crops, tta) -> None:
    """An ensemble serves exactly the mean of what each member's own signature serves."""
    members = _members(tmp_path, tiny_dataset, crops=crops)
    expected = np.mean([served_probabilities(m, faces, tta) for m in members], axis=0)
    served = served_probabilities(build_ensemble(members), faces, tta)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("crops", "allowed"), [((44, 44), True), ((44, 48), False)])
def test_flip_crop5_needs_every_member_on_crops(tmp_path, tiny_dataset, faces, crops, allowed) -> None:
    ensemble = build_ensemble(_members(tmp_path, tiny_dataset, crops=crops))
    if allowed:
        assert served_probabilities(ensemble, faces, "flip-crop5").shape == (len(faces), 7)
    else:
        with pytest.raises(ValueError, match="flip-crop5"):
            served_probabilities(ensemble, faces, "flip-crop5")


def test_cli_publishes_an_ensemble_of_crop_networks(tmp_path, tiny_dataset, faces) -> None:
    """make ensemble with a 44x44-crop member (it used to fail on the 48x48 input): the published
    signature serves the mean of the members' own flip-zoom views."""
    version_dir, members = publish_ensemble(tmp_path, tiny_dataset, (44, 48), "flip-zoom")
    expected = np.mean([served_probabilities(m, faces, "flip-zoom") for m in members], axis=0)
    np.testing.assert_allclose(load_predict_fn(version_dir)(faces), expected, rtol=1e-4, atol=1e-5)
    rebuilt = load_keras_model(version_dir)
    np.testing.assert_allclose(
        served_probabilities(rebuilt, faces, "flip-zoom"), expected, rtol=1e-4, atol=1e-5
    )


def test_cli_needs_two_members(tmp_path, tiny_dataset, capsys) -> None:
    assert main(["--member", "a.keras", "--data-dir", str(tiny_dataset)]) == 2
    assert "at least twice" in capsys.readouterr().err


def test_published_without_model_keras_rebuilds_from_its_members(tmp_path, tiny_dataset, faces) -> None:
    paths = []
    for i, member in enumerate(_members(tmp_path, tiny_dataset)):
        paths += ["--member", str(tmp_path / f"m{i}.keras")]
        member.save(paths[-1])
    common = ["--data-dir", str(tiny_dataset), "--model-dir", str(tmp_path / "models")]
    common += ["--run-dir", str(tmp_path / "run"), "--tta", "none", "--version", "5", "--no-export-keras"]
    assert main([*paths, *common, "--publish"]) == 0
    version_dir = tmp_path / "models" / "5"
    assert not (version_dir / "model.keras").exists()

    rebuilt = load_keras_model(version_dir)
    assert len(members_of(rebuilt)) == 2
    served = load_predict_fn(version_dir)(faces)
    np.testing.assert_allclose(np.asarray(rebuilt(faces.astype("float32"))), served, rtol=1e-4, atol=1e-5)

    Path(paths[1]).unlink()
    with pytest.raises(ModelDirError, match="not found"):
        load_keras_model(version_dir)


def test_a_version_without_model_keras_or_members_is_an_error(tiny_model_dir, tmp_path) -> None:
    import shutil

    bare = tmp_path / "7"
    shutil.copytree(tiny_model_dir, bare)
    assert load_keras_model(bare).count_params() > 0
    (bare / "model.keras").unlink()
    with pytest.raises(ModelDirError, match=r"no model\.keras"):
        load_keras_model(bare)

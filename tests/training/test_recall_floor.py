"""Lifting weak classes to a recall floor with log-prior biases (training.recall_floor), and the
signature, export and metadata that carry the biases to the service."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from contract.savedmodel import load_predict_fn
from tests.support.models import checkpoint_cli_args, tiny_config
from training import recall_floor
from training.model import make_model


def probabilities(rows: list[tuple[int, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """(probability rows, labels) from (label, row) pairs."""
    return np.array([p for _, p in rows], float), np.array([y for y, _ in rows])


# Three classes; class 2 is predicted too rarely: 2 of its 4 examples are won by class 0 by a
# little (0.45 vs 0.40), one by a lot (0.80 vs 0.10).
ROWS = [
    (0, [0.8, 0.1, 0.1]),
    (0, [0.7, 0.2, 0.1]),
    (0, [0.50, 0.1, 0.40]),  # a class-0 face close to class 2: a lift of 0.23 or more takes it
    (1, [0.1, 0.8, 0.1]),
    (1, [0.2, 0.7, 0.1]),
    (2, [0.1, 0.1, 0.8]),
    (2, [0.45, 0.15, 0.40]),
    (2, [0.45, 0.15, 0.40]),
    (2, [0.80, 0.10, 0.10]),
]


@pytest.mark.parametrize(
    ("floor", "bias_2", "recall_2"),
    [
        (0.25, 0.0, 0.25),  # already there: no bias at all
        (0.75, 0.12, 0.75),  # the two close faces: ln(0.45 / 0.40) = 0.118, on the 0.01 grid
    ],
)
def test_the_lift_is_minimal_and_only_for_classes_under_the_floor(floor, bias_2, recall_2) -> None:
    probs, labels = probabilities(ROWS)
    bias = recall_floor.fit(probs, labels, floor)
    lifted = bias_2 > 0
    assert bias[0] == bias[1] == 0.0
    assert bias[2] == pytest.approx(bias_2)
    recalls = recall_floor.recalls(probs, labels, bias)
    assert recalls[2] == recall_2 and recalls.min() >= floor
    if lifted:  # one step less would miss the floor: the smallest lift that reaches it
        smaller = bias.copy()
        smaller[2] = round(bias[2] - recall_floor.STEP, 2)
        assert recall_floor.recalls(probs, labels, smaller)[2] < floor
        assert recall_floor.recalls(probs, labels, bias)[0] == 1.0  # 0.50 vs 0.40 * exp(0.12): kept


def test_a_lift_that_pushes_another_class_under_the_floor_lifts_that_one_too() -> None:
    """Lifting class 2 (its face A needs +0.12) takes faces C and D from class 1, leaving it at
    1/3; class 1 then gets the smallest lift that wins C back (+0.02), which leaves A alone."""
    probs, labels = probabilities(
        [
            (0, [0.8, 0.1, 0.1]),
            (1, [0.05, 0.50, 0.45]),  # C
            (1, [0.05, 0.49, 0.46]),  # D
            (1, [0.1, 0.8, 0.1]),
            (2, [0.45, 0.10, 0.40]),  # A
            (2, [0.9, 0.05, 0.05]),
        ]
    )
    bias = recall_floor.fit(probs, labels, 0.5)
    np.testing.assert_allclose(bias, [0.0, 0.02, 0.12])
    np.testing.assert_allclose(recall_floor.recalls(probs, labels, bias), [1.0, 2 / 3, 0.5])


def test_lifts_that_undo_each_other_end_in_a_refusal() -> None:
    """Class 2 needs b2 - b0 >= ln(0.45 / 0.40) = 0.118 for A; class 0 needs b2 - b0 <= 0.105
    for C (or less for D): no bias satisfies both, and the back and forth stops."""
    probs, labels = probabilities(
        [
            (2, [0.45, 0.15, 0.40]),  # A
            (2, [0.9, 0.05, 0.05]),
            (0, [0.50, 0.05, 0.45]),  # C
            (0, [0.49, 0.06, 0.45]),  # D
        ]
    )
    with pytest.raises(recall_floor.FloorUnreachable, match="did not settle"):
        recall_floor.fit(probs, labels, 0.5)


def test_a_floor_no_bias_can_reach_is_refused() -> None:
    """Class 2 has probability 0 on its only example: no finite bias makes it the argmax."""
    probs, labels = probabilities([(0, [0.9, 0.1, 0.0]), (1, [0.1, 0.9, 0.0]), (2, [0.6, 0.4, 0.0])])
    with pytest.raises(recall_floor.FloorUnreachable, match="class 2"):
        recall_floor.fit(probs, labels, 0.5)


def test_adjust_is_a_bias_on_the_log_probabilities() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(7), size=20)
    bias = rng.normal(0, 0.5, 7)
    adjusted = recall_floor.adjust(probs, bias)
    logits = np.log(probs) + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(adjusted, expected, rtol=1e-10)
    np.testing.assert_allclose(recall_floor.adjust(probs, np.zeros(7)), probs, rtol=1e-12)


@pytest.fixture(scope="module")
def tiny_network() -> keras.Model:
    """An untrained tiny CNN: the arithmetic of the signature does not need a trained one."""
    from training.config import TrainConfig

    keras.utils.set_random_seed(3)
    return make_model(TrainConfig(width=4, depth=2, dense_units=8), 7)


def test_the_signature_applies_the_bias_after_averaging_the_views(tiny_network: keras.Model) -> None:
    from training.signature import served_probabilities

    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48, 1), dtype=np.uint8)
    bias = (0.0, -0.3, 0.8, 0.0, 0.1, 0.0, -1.0)
    plain = served_probabilities(tiny_network, faces, "flip")
    biased = served_probabilities(tiny_network, faces, "flip", bias)
    np.testing.assert_allclose(biased, recall_floor.adjust(plain, bias), atol=1e-6)
    assert not np.allclose(biased, plain, atol=1e-3)
    with pytest.raises(ValueError, match="3 values for a model of 7 classes"):
        served_probabilities(tiny_network, faces, "flip", (0.1, 0.2, 0.3))


def test_export_carries_the_bias_into_the_savedmodel_and_metadata(tmp_path: Path, tiny_dataset: Path) -> None:
    """make export --class-bias: the served SavedModel applies it, metadata names it per class."""
    from training.keras_models import load_checkpoint
    from training.publish import publish
    from training.run import load_run
    from training.signature import served_probabilities

    keras.utils.set_random_seed(0)
    config = tiny_config(tmp_path, tiny_dataset, tta="flip", class_bias=(0.0, 0.0, 0.5, 0.0, 0.0, -0.2, 0.0))
    checkpoint = tmp_path / "c.keras"
    make_model(config, 7).save(checkpoint)
    model = load_checkpoint(str(checkpoint), compile=False)
    version_dir = publish(model, load_run(config), {"checkpoint": str(checkpoint)})
    metadata = json.loads((version_dir / "metadata.json").read_text())
    assert metadata["class_bias"] == dict(zip(metadata["class_names"], config.class_bias, strict=True))
    faces = np.random.default_rng(2).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    expected = recall_floor.adjust(served_probabilities(model, faces, "flip"), config.class_bias)
    np.testing.assert_allclose(load_predict_fn(version_dir)(faces), expected, atol=1e-5)
    # The service's default runtime converts the same signature, bias included.
    from service.runtime import select
    from service.settings import Settings

    settings = Settings(
        model_dir=str(version_dir.parent),
        runtime_cache_dir=str(tmp_path / "cache"),
        inference_backend="openvino",
        inference_precision="f32",
    )
    np.testing.assert_allclose(select.load_predictor(settings).predict_batch(faces), expected, atol=1e-4)
    from training.model_card import render

    names = metadata["class_names"]
    assert f"(`make recall-floor`): {names[2]} +0.50, {names[5]} -0.20." in render(version_dir)


def test_a_bias_of_the_wrong_length_is_refused_before_training(tmp_path: Path, tiny_dataset: Path) -> None:
    """load_run, which train, export, ensemble and both CLIs start from, checks the count against
    the dataset's classes: a wrong recipe fails in seconds, not at the export hours later."""
    from training.errors import ConfigError
    from training.run import load_run

    with pytest.raises(ConfigError, match="2 values for 7 classes"):
        load_run(tiny_config(tmp_path, tiny_dataset, class_bias=(0.1, 0.2)))


def test_cli_fits_on_validation_only_and_writes_the_biases(
    tmp_path: Path, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fit reads the run's validation rows (never a test file), takes the served probabilities
    of the chosen views without any bias, of the network as the export writes it (float32, from a
    bf16 checkpoint), and writes one bias per class. The probabilities are made up from the labels
    here (the network's arithmetic is tested above): every face right by a wide margin except
    those of the first validation face's class, which lose to a neighbour by 0.50 to 0.45, or
    have no probability at all when `hopeless` is set."""
    import training.data
    import training.signature

    argv = checkpoint_cli_args(tmp_path, tiny_dataset, policy="mixed_bfloat16")
    read: list[str] = []
    seen: dict[str, object] = {"hopeless": False}
    real = training.data.load_arrays

    def spy(rows, class_names):
        read.extend(str(p) for p in rows["path"])
        images, labels = real(rows, class_names)
        seen["labels"] = labels
        return images, labels

    def served(model, images, tta, class_bias=(), batch=512):
        seen["tta"], seen["bias"] = tta, class_bias
        seen["dtypes"] = {layer.dtype_policy.compute_dtype for layer in model.layers}
        labels = seen["labels"]
        probs = np.full((len(labels), 7), 0.05 / 5)
        probs[np.arange(len(labels)), labels] = 0.95
        weak = labels == labels[0]
        probs[weak] = 0.05 / 5
        probs[weak, labels[0]] = 0.0 if seen["hopeless"] else 0.45
        probs[weak, (labels[0] + 1) % 7] = 0.50
        return probs

    monkeypatch.setattr(training.data, "load_arrays", spy)
    monkeypatch.setattr(training.signature, "served_probabilities", served)
    out = tmp_path / "floor.json"
    assert recall_floor.main([*argv, "--tta", "flip", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    weak = int(seen["labels"][0])
    assert seen["tta"] == "flip" and not seen["bias"] and seen["dtypes"] == {"float32"}
    assert [i for i, b in enumerate(result["class_bias"]) if b] == [weak] and len(result["class_bias"]) == 7
    assert result["before"]["recall"][weak] == 0.0 and result["after"]["recall"][weak] == 1.0
    assert result["validation_images"] == len(read) > 0 and not [p for p in read if "/test/" in p]
    # No bias reaches the floor: exit 1, and the record says so (rule 7 reports it).
    seen["hopeless"] = True
    assert recall_floor.main([*argv, "--out", str(out)]) == 1
    result = json.loads(out.read_text())
    assert result["class_bias"] is None and result["after"] is None and f"class {weak}" in result["error"]

"""End to end on tiny data: train, export, reload, evaluate, resume, CLIs."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from contract import INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME
from contract.modeldir import read_metadata
from contract.savedmodel import load_predict_fn
from tests.support.models import interrupt_at, tiny_config
from tests.synthetic import make_face
from training import callbacks as cb

EVAL_FILES = {
    "metrics.json",
    "classification_report.txt",
    "confusion_matrix.csv",
    "confusion_matrix_normalized.csv",
    "confusion_matrix.png",
    "training_curves.png",
    "dataset_report.json",
    "dataset_counts.csv",
    "dataset_counts.png",
    "history.csv",
}


def faces(n: int = 14) -> np.ndarray:
    return np.stack([make_face(i % 7, seed=500 + i)[:, :, None] for i in range(n)])


def test_export_layout_and_metadata(tiny_model_dir: Path) -> None:
    assert tiny_model_dir.name == "1"
    assert (tiny_model_dir / "saved_model.pb").exists()
    assert (tiny_model_dir / "model.keras").exists()
    metadata = read_metadata(tiny_model_dir)
    assert metadata["class_names"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert metadata["input"]["input_name"] == INPUT_NAME
    assert metadata["tta"] == "flip"
    assert metadata["training"]["config"]["epochs"] == 2
    assert set(metadata["versions"]) >= {"tensorflow", "keras", "opencv"}
    assert len(metadata["dataset"]["fingerprint"]) == 64


def test_metadata_accuracy_is_the_exported_models_on_the_test_folder(
    tiny_model_dir: Path, tiny_dataset: Path
) -> None:
    """metrics.accuracy is what the SavedModel scores on test/, recounted here image by image."""
    paths = sorted((tiny_dataset / "test").glob("*/*"))
    classes = read_metadata(tiny_model_dir)["class_names"]
    truth = np.array([classes.index(path.parent.name) for path in paths])
    recounted = float(np.mean(answers(tiny_model_dir, paths) == truth))
    assert read_metadata(tiny_model_dir)["metrics"]["accuracy"] == pytest.approx(recounted, abs=1e-4)


def answers(model_dir: Path, paths: list[Path]) -> np.ndarray:
    """The exported model's class index for each image file."""
    from contract.image import load_face

    return np.asarray(load_predict_fn(model_dir)(np.stack([load_face(str(p)) for p in paths]))).argmax(axis=1)


@pytest.mark.parametrize(("shift", "expected"), [(0, 1.0), (1, 0.0)])
def test_evaluation_scores_against_the_folder_labels(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path, shift: int, expected: float
) -> None:
    """Test images filed under the model's own answer score 1.0, under the next class 0.0.

    The tiny model may answer one class for everything, so its own accuracy cannot tell a right
    count from a wrong one; filing the images by its answers can.
    """
    import shutil

    from training.evaluate import evaluate_dir

    classes = read_metadata(tiny_model_dir)["class_names"]
    paths = sorted((tiny_dataset / "test").glob("*/*"))
    for path, answer in zip(paths, answers(tiny_model_dir, paths), strict=True):
        target = tmp_path / "data" / "test" / classes[(answer + shift) % len(classes)] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    assert evaluate_dir(tiny_model_dir, tmp_path / "data", tmp_path / "eval")["accuracy"] == expected


def test_signature_names_dtypes_and_shapes(tiny_model_dir: Path) -> None:
    import tensorflow as tf

    signature = tf.saved_model.load(str(tiny_model_dir)).signatures[SIGNATURE_NAME]
    spec = signature.structured_input_signature[1][INPUT_NAME]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 48, 48, 1]
    output = signature.structured_outputs[OUTPUT_NAME]
    assert output.dtype == tf.float32 and output.shape.as_list() == [None, 7]


def test_savedmodel_matches_in_memory_model_with_flip_tta(tiny_model_dir: Path) -> None:
    model = keras.models.load_model(tiny_model_dir / "model.keras")
    x = faces()
    direct = model.predict(x.astype("float32"), verbose=0)
    flipped = model.predict(x[:, :, ::-1].astype("float32"), verbose=0)
    exported = load_predict_fn(tiny_model_dir)(x)
    assert np.abs(exported - (direct + flipped) / 2).max() < 1e-5
    np.testing.assert_allclose(exported.sum(axis=1), 1.0, atol=1e-5)


def test_flip_zoom_averages_four_views(tiny_model_dir: Path) -> None:
    import tensorflow as tf

    from training.config import TTA_VIEWS
    from training.signature import serving_function

    model = keras.models.load_model(tiny_model_dir / "model.keras")
    x = faces().astype("float32")
    # The central 90% of 48 px: tf.image.central_crop keeps rows/cols 2..45 (44 px).
    zoomed = tf.image.resize(x[:, 2:46, 2:46, :], (48, 48)).numpy()
    views = [x, x[:, :, ::-1], zoomed, zoomed[:, :, ::-1]]
    expected = np.mean([model.predict(v, verbose=0) for v in views], axis=0)
    served = serving_function(model, "flip-zoom")(faces())[OUTPUT_NAME].numpy()
    assert np.abs(served - expected).max() < 1e-5
    assert TTA_VIEWS == {"none": 1, "flip": 2, "flip-zoom": 4, "flip-crop5": 10}
    for tta in ("none", "flip", "flip-zoom"):  # TF Serving's metadata shows this static shape
        output = serving_function(model, tta).get_concrete_function().structured_outputs[OUTPUT_NAME]
        assert output.shape.as_list() == [None, 7], tta
    with pytest.raises(ValueError, match="unknown tta"):
        serving_function(model, "ten-crop")
    with pytest.raises(ValueError, match="crops smaller than 48"):
        serving_function(model, "flip-crop5")


def test_savedmodel_matches_in_memory_model_without_tta(tmp_path, tiny_dataset) -> None:
    from training.train import train

    version_dir = train(tiny_config(tmp_path, tiny_dataset, epochs=1))
    model = keras.models.load_model(version_dir / "model.keras")
    x = faces()
    direct = model.predict(x.astype("float32"), verbose=0)
    assert np.abs(load_predict_fn(version_dir)(x) - direct).max() < 1e-5
    # Inference is deterministic: no augmentation or dropout is active.
    np.testing.assert_array_equal(load_predict_fn(version_dir)(x), load_predict_fn(version_dir)(x))


def test_evaluation_writes_every_artefact(tiny_model_dir: Path) -> None:
    evaluation = tiny_model_dir / "evaluation"
    assert {p.name for p in evaluation.iterdir()} >= EVAL_FILES
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert metrics["samples"] == 14
    assert sum(map(sum, metrics["confusion_matrix"])) == 14
    assert set(metrics["per_class"]) == set(read_metadata(tiny_model_dir)["class_names"])
    assert {"accuracy", "categorical_accuracy", "loss", "macro_f1"} <= set(metrics)


def test_evaluate_cli_on_unseen_folder(tiny_model_dir: Path, tiny_dataset: Path, tmp_path) -> None:
    from training.evaluate import main

    assert (
        main(
            [
                "--model-dir",
                str(tiny_model_dir.parent),
                "--data-dir",
                str(tiny_dataset),
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    expected = EVAL_FILES - {
        "training_curves.png",
        "dataset_report.json",
        "dataset_counts.csv",
        "dataset_counts.png",
        "history.csv",
    }
    assert expected <= {p.name for p in (tmp_path / "eval").iterdir()}


def test_interrupted_run_resumes_where_it_stopped(tmp_path, tiny_dataset, monkeypatch) -> None:
    from training.train import train

    config = tiny_config(tmp_path, tiny_dataset, epochs=4, patience=10)
    original = cb.make_callbacks
    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [*original(c, h), interrupt_at(1)])
    with pytest.raises(KeyboardInterrupt):
        train(config)
    assert list(cb.read_history(config.run_dir).epoch) == [0, 1]
    assert (Path(config.run_dir) / cb.BACKUP_DIR).is_dir()

    started: list[int] = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs=None) -> None:
            started.append(epoch)

    monkeypatch.setattr(cb, "make_callbacks", lambda c, h: [*original(c, h), Record()])
    version_dir = train(config)
    assert started == [2, 3]
    assert list(cb.read_history(config.run_dir).epoch) == [0, 1, 2, 3]
    assert read_metadata(version_dir)["training"]["epochs_run"] == 4
    assert not (Path(config.run_dir) / cb.BACKUP_DIR).exists()


def test_predict_cli(tiny_model_dir: Path, tiny_dataset: Path, capsys) -> None:
    from training.predict import main

    image = next((tiny_dataset / "test" / "happy").iterdir())
    assert main(["--model", str(tiny_model_dir), "--json", str(image)]) == 0
    (face,) = json.loads(capsys.readouterr().out)[0]["faces"]  # a 48x48 crop: classified whole
    assert face["label"] in face["probabilities"]
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert main(["--model", str(tiny_model_dir), str(image), "missing.png"]) == 1
    assert main(["--model", "/nonexistent", str(image)]) == 2


def test_predict_cli_on_a_photo_detects_and_annotates(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    """A photo: one line per face with its box; --no-detect classifies it whole; --annotate draws."""
    import cv2
    import numpy as np
    from skimage import data

    from training.predict import main

    photo = tmp_path / "astronaut.png"
    original = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    cv2.imwrite(str(photo), original)
    assert main(["--model", str(tiny_model_dir), "--annotate", str(tmp_path / "out"), str(photo)]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert "face 1 at x=" in line
    drawn = cv2.imread(str(tmp_path / "out" / "astronaut.png"))
    assert drawn.shape == original.shape and not np.array_equal(drawn, original)
    assert main(["--model", str(tiny_model_dir), "--no-detect", str(photo)]) == 0
    assert "whole image" in capsys.readouterr().out


def test_export_cli_publishes_a_checkpoint(tiny_model_dir: Path, tiny_dataset: Path, tmp_path) -> None:
    from training.export import main

    assert (
        main(
            [
                "--checkpoint",
                str(tiny_model_dir / "model.keras"),
                "--data-dir",
                str(tiny_dataset),
                "--model-dir",
                str(tmp_path / "models"),
                "--version",
                "3",
                "--tta",
                "none",
                "--run-dir",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    assert read_metadata(tmp_path / "models" / "3")["training"]["checkpoint"].endswith("model.keras")


@pytest.mark.parametrize(
    ("layout", "message"),
    [("missing-train", "missing 'train/' folder"), ("no-dataset", "does not exist")],
)
def test_train_cli_reports_dataset_errors(tmp_path, capsys, layout, message) -> None:
    from training.train import main

    data = tmp_path / "data"
    if layout == "missing-train":
        (data / "test" / "happy").mkdir(parents=True)
    code = main(["--data-dir", str(data), "--run-dir", str(tmp_path / "run"), "--epochs", "1"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_tune_writes_results_table(tiny_dataset: Path, tmp_path) -> None:
    from training.tune import main

    assert (
        main(
            [
                "--data-dir",
                str(tiny_dataset),
                "--trials",
                "2",
                "--epochs",
                "1",
                "--depth",
                "2",
                "--dense-units",
                "8",
                "--out",
                str(tmp_path / "tune"),
            ]
        )
        == 0
    )
    table = (tmp_path / "tune" / "results.csv").read_text().splitlines()
    assert table[0].split(",") == ["trial", "learning_rate", "dropout", "width", "batch_size", "val_accuracy"]
    assert len(table) == 3


def test_backup_survives_a_kill_during_its_own_write(tmp_path, monkeypatch) -> None:
    """A crash while the backup is being written leaves the previous complete backup in place."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    backup = cb.AtomicBackupAndRestore(str(tmp_path))
    backup.set_model(model)
    backup.on_epoch_end(0)
    complete = (tmp_path / "latest.weights.h5").read_bytes()

    def killed_mid_write(filepath, overwrite=True):
        Path(filepath).write_bytes(b"\x89HDF truncated")
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save_weights", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        backup.on_epoch_end(1)
    assert (tmp_path / "latest.weights.h5").read_bytes() == complete
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 1


def test_model_card_numbers_come_from_the_metadata(tiny_model_dir: Path, tmp_path) -> None:
    from training.model_card import main, render

    meta = read_metadata(tiny_model_dir)
    card = render(tiny_model_dir, notes="RUN NOTES")
    assert f"**{meta['metrics']['accuracy']:.2%}** of {meta['metrics']['samples']}" in card
    for name, row in meta["metrics"]["per_class"].items():
        assert f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} |" in card
    assert "RUN NOTES" in card and "## Ensemble" not in card and "recall-floor" not in card
    assert f"Epochs run: {meta['training']['epochs_run']};" in card
    notes = tmp_path / "notes.md"
    notes.write_text("from a file")
    assert main([str(tiny_model_dir), "--notes", str(notes)]) == 0


def test_init_from_continues_a_checkpoint_with_or_without_its_optimizer(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path
) -> None:
    from training.train import train

    bare = keras.models.load_model(tiny_model_dir / "model.keras", compile=False)
    bare.save(tmp_path / "bare.keras")
    for name, checkpoint in [("full", tiny_model_dir / "model.keras"), ("bare", tmp_path / "bare.keras")]:
        config = tiny_config(tmp_path / name, tiny_dataset, init_from=str(checkpoint), version=2)
        assert (train(config) / "saved_model.pb").is_file()
        assert len(cb.read_history(config.run_dir)) == 1


def test_init_from_an_ensemble_is_refused(tiny_model_dir: Path, tiny_dataset: Path, tmp_path) -> None:
    from training.errors import ModelDirError
    from training.keras_models import build_ensemble
    from training.train import train

    members = [keras.models.load_model(tiny_model_dir / "model.keras") for _ in range(2)]
    build_ensemble(members).save(tmp_path / "ensemble.keras")
    with pytest.raises(ModelDirError, match="ensemble"):
        train(tiny_config(tmp_path, tiny_dataset, init_from=str(tmp_path / "ensemble.keras")))


def test_export_without_optimizer_is_smaller_and_still_continues(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path
) -> None:
    from training.export import main

    argv = ["--checkpoint", str(tiny_model_dir / "model.keras"), "--data-dir", str(tiny_dataset)]
    argv += ["--model-dir", str(tmp_path / "models"), "--run-dir", str(tmp_path / "run"), "--tta", "flip"]
    assert main([*argv, "--version", "2", "--no-export-optimizer"]) == 0
    bare, full = tmp_path / "models" / "2", tiny_model_dir
    assert (bare / "model.keras").stat().st_size < (full / "model.keras").stat().st_size
    loaded = keras.models.load_model(bare / "model.keras")
    assert getattr(loaded, "optimizer", None) is None
    # One output tensor, not a one-element list, so it can be an ensemble member.
    assert isinstance(loaded(keras.Input((48, 48, 1))), keras.KerasTensor)
    np.testing.assert_allclose(load_predict_fn(bare)(faces()), load_predict_fn(full)(faces()), atol=1e-6)


@pytest.fixture
def bf16_policy():
    """The global policy of a bf16 run (set as configure_devices sets it), restored afterwards."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_init_from_a_float32_checkpoint_trains_under_the_runs_policy(
    tiny_dataset: Path, tmp_path: Path, bf16_policy
) -> None:
    """A float32 checkpoint continued in a bf16 run is rebuilt under mixed_bfloat16 with its
    weights (a loaded model keeps the policy it was built under, which trained in float32)."""
    from training.model import make_model
    from training.train import built_under, initial_model

    config = tiny_config(tmp_path, tiny_dataset)
    keras.mixed_precision.set_global_policy("float32")
    make_model(config, 7).save(tmp_path / "f32.keras")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = initial_model(
        tiny_config(tmp_path, tiny_dataset, init_from=str(tmp_path / "f32.keras")), num_classes=7
    )
    assert built_under(model) == "mixed_bfloat16" and model.optimizer is not None
    original = keras.models.load_model(tmp_path / "f32.keras", compile=False)
    for ours, theirs in zip(model.get_weights(), original.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_init_from_a_checkpoint_the_config_does_not_describe_says_so(
    tiny_dataset: Path, tmp_path: Path, bf16_policy
) -> None:
    from training.errors import ModelDirError
    from training.model import make_model
    from training.train import initial_model

    keras.mixed_precision.set_global_policy("float32")
    make_model(tiny_config(tmp_path, tiny_dataset, width=6), 7).save(tmp_path / "wide.keras")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    with pytest.raises(ModelDirError, match="does not take its weights"):
        initial_model(tiny_config(tmp_path, tiny_dataset, init_from=str(tmp_path / "wide.keras")), 7)

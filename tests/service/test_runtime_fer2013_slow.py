"""Every backend x precision on all FER2013 test crops against the TF signature; the default through the app.

Slow (minutes): make test-slow. Needs ../shared/datasets/fer2013 and the shipped model.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.support.models import SHIPPED_MODEL

pytestmark = pytest.mark.slow
# Points of test accuracy a runtime may lose against the TensorFlow f32 signature. f32 is the same
# maths in another order; bf16 and int8 round (issue 15: a default may cost at most 0.2 through the
# service; int8 becomes a default only within 0.3).
MAX_LOSS = {"f32": 0.05, "bf16": 0.3, "int8": 0.3}


@pytest.fixture(scope="module")
def table(fer2013_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """benchmarks.accuracy over the whole test split, int8 calibrated on the train split if not cached."""
    pytest.importorskip("openvino")
    from benchmarks import accuracy

    return accuracy.run(
        SHIPPED_MODEL,
        fer2013_dir,
        cache_dir=str(tmp_path_factory.mktemp("runtime_cache")),
        calibration_dir=str(fer2013_dir / "train"),
    )


def test_every_runtime_keeps_the_signature_accuracy(table: dict) -> None:
    """Each runtime reports what it was asked for and loses at most MAX_LOSS points on 7,178 crops."""
    assert table["images"] == 7178
    rows = {r["runtime"]: r for r in table["rows"]}
    assert set(rows) == {
        "tensorflow/f32",
        "tensorflow/bf16",
        "openvino/f32",
        "openvino/bf16",
        "openvino/int8",
    }
    for name, row in rows.items():
        print(f"{name}: {100 * row['accuracy']:.2f}% ({row['points_vs_reference']:+.2f} points)")
        assert row["reported"] == name
        assert row["points_vs_reference"] >= -MAX_LOSS[name.split("/")[1]], row
    assert rows["openvino/f32"]["agreement_with_reference"] >= 0.999  # same maths, same labels


def test_default_runtime_through_the_app_matches_the_signature(table: dict, fer2013_dir: Path) -> None:
    """All test crops through POST /predict/batch of the default app: within 0.2 points of TF f32."""
    from service.app import create_app, shutdown
    from service.settings import Settings

    app = create_app(Settings(model_dir=str(SHIPPED_MODEL), log_level="warning"))
    client = app.test_client()
    classes = sorted(p.name for p in (fer2013_dir / "test").iterdir() if p.is_dir())
    files = [(f, c) for c in classes for f in sorted((fer2013_dir / "test" / c).glob("*.jpg"))]
    correct = 0
    try:
        for start in range(0, len(files), 16):
            chunk = files[start : start + 16]
            form = {"images": [(io.BytesIO(f.read_bytes()), f.name) for f, _ in chunk]}
            response = client.post("/predict/batch", data=form)
            assert response.status_code == 200, response.json
            labels = [r["faces"][0]["label"] for r in response.json["results"]]
            correct += sum(label == c for label, (_, c) in zip(labels, chunk, strict=True))
        runtime = app.extensions["engine"].runtime
    finally:
        shutdown(app)
    reference = next(r for r in table["rows"] if r["runtime"] == "tensorflow/f32")["accuracy"]
    served = correct / len(files)
    print(f"{runtime}: {100 * served:.2f}% through the app, TF f32 signature {100 * reference:.2f}%")
    assert runtime["backend"] == "openvino"
    assert abs(served - reference) <= 0.002

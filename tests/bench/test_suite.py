"""The whole suite in a tiny mode on the tiny model: it runs and writes well-formed results.

No timing is ever asserted: benchmarks report numbers, they do not pass or fail on them.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synthetic import encode, make_face

ROOT = Path(__file__).resolve().parents[2]


def test_naive_app_answers_like_a_service(tiny_model_dir: Path) -> None:
    """The baseline classifies a crop with model.predict and reports the model's classes."""
    from benchmarks.naive_app import create_app

    client = create_app(str(tiny_model_dir)).test_client()
    assert client.get("/health").status_code == 200
    response = client.post("/predict", data={"image": (io.BytesIO(encode(make_face(3))), "f.png")})
    assert response.status_code == 200
    (face,) = response.get_json()["faces"]
    assert len(face["probabilities"]) == 7 and face["label"] in face["probabilities"]


def test_naive_app_serves_what_the_signature_serves_for_a_mixed_ensemble(tmp_path, tiny_dataset) -> None:
    """An ensemble of a 44x44-crop and a 48x48 network: the baseline gives each member its own
    views, as the signature does, so both apps answer the same."""
    import numpy as np

    from benchmarks.naive_app import create_app
    from contract import decode_image, to_model_input
    from contract.savedmodel import load_predict_fn
    from tests.support.models import publish_ensemble

    version_dir, _ = publish_ensemble(tmp_path, tiny_dataset, (44, 48), "flip-zoom")
    image = encode(make_face(3))
    response = (
        create_app(str(version_dir))
        .test_client()
        .post("/predict", data={"image": (io.BytesIO(image), "f.png")})
    )
    (face,) = response.get_json()["faces"]
    served = load_predict_fn(version_dir)(to_model_input(decode_image(image))[None])[0]
    names = list(face["probabilities"])
    np.testing.assert_allclose([face["probabilities"][n] for n in names], served, rtol=1e-4, atol=1e-5)


@pytest.mark.e2e
def test_quick_suite_runs_end_to_end(
    tiny_model_dir: Path, tiny_dataset: Path, tiny_toml: Path, tmp_path: Path
) -> None:
    """All sections on real gunicorn processes, in tiny windows; results and report are complete."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--quick",
        "--model-dir",
        str(tiny_model_dir),
        "--reference-model-dir",  # itself: the speed-up path runs end to end
        str(tiny_model_dir),
        "--data-dir",
        str(tiny_dataset),
        "--config",
        str(tiny_toml),
        "--out",
        str(tmp_path),
        "--concurrency",
        "1,4",
        "--duration",
        "0.4",
        "--warmup",
        "0.2",
        "--profile-seconds",
        "1",
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "latest-quick.json").read_text())
    assert results["errors"] == {}
    assert {"cpu_model", "cores", "date", "versions"} <= set(results["machine"])
    assert results["raw_model"]["ceiling_images_per_s"] > 0
    assert results["raw_references"][0]["ceiling_images_per_s"] > 0
    assert set(results["derived"]["raw_speedup_over_reference"]) == {"1"}
    runtimes = results["runtimes"]["runtimes"]
    assert set(runtimes) == {
        "tensorflow/f32",
        "tensorflow/bf16",
        "openvino/f32",
        "openvino/bf16",
        "openvino/int8",
    }
    assert all(v["ceiling_images_per_s"] > 0 and v["peak_rss_mb"] > 0 for v in runtimes.values()), runtimes
    assert results["runtimes"]["default"] in runtimes
    accuracy = {r["runtime"]: r for r in results["accuracy"]["rows"]}
    assert set(accuracy) == set(runtimes) and accuracy["tensorflow/f32"]["points_vs_reference"] == 0
    assert results["machine"]["cpu_features"]["flags"]
    rows = results["serving"]["rows"]
    configs = {r["config"] for r in rows}
    # service_int8 runs too when the runtimes section left an int8 build in the cache, and
    # service_streams2 (INFERENCE_STREAMS=2) when OpenVINO is the default.
    both = {"service", "service_tensorflow", "service_no_batching", "naive"}
    assert both <= configs
    assert configs <= both | {"service_int8", "service_detector_native", "service_streams2"}
    # The native-detector service only runs the photos: crops need no detection.
    photos_only = {"service_detector_native"}
    assert {(r["config"], r["workload"], r["concurrency"]) for r in rows} == {
        (c, w, n) for c in configs - photos_only for w in ("a_crops", "b_scenes") for n in (1, 4)
    } | {(c, "b_scenes", n) for c in photos_only for n in (1, 4)}
    assert not [k for r in rows for k in r["error_kinds"] if k.startswith("http_4")]  # requests are valid
    for process in results["serving"]["processes"].values():
        assert process["ready_s"] > 0 and process["memory_ready"]["workers"][0]["rss_mb"] > 0
    assert set(results["stages"]) == {"a_crops", "b_scenes"}
    assert [(h["workload"], h["threads"]["busy_samples"] > 0, "gil" in h) for h in results["hotspots"]] == [
        ("a_crops", True, True),
        ("b_scenes", True, True),
    ]
    assert results["training"]["pipeline_to_step_ratio"] > 0
    for path in ("cli", "endpoint"):  # issue 16: sampled frames per second of video, both ways
        video = results["video"][path]
        assert video["frames_sampled"] == 4 * 4 and video["frames_per_s"] > 0
    assert len(results["derived"]["ratios"]) == 4
    markdown = (tmp_path / "latest-quick.md").read_text()
    assert markdown.startswith("# Benchmark results (quick mode)") and "## Training" in markdown
    assert "## Video (sampled frames per second)" in markdown
    assert len(list(tmp_path.glob("*-quick.json"))) == 2  # latest + dated copy

"""The benchmark building blocks: load-generator accounting, py-spy grouping, workloads, report shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import hotspots, loadgen
from benchmarks.markdown import render, table
from benchmarks.report import derive, write
from benchmarks.workloads import SCENE_SIZE, face_crops, scenes, write_payloads


def test_multipart_body_is_parsed_by_werkzeug() -> None:
    """The prebuilt body is a valid multipart upload with the image in field 'image'."""
    from werkzeug.test import EnvironBuilder

    body = loadgen.multipart_body("x.jpg", b"\xff\xd8\xffdata")
    builder = EnvironBuilder(
        method="POST", data=body, content_type=f"multipart/form-data; boundary={loadgen.BOUNDARY}"
    )
    assert builder.get_request().files["image"].read() == b"\xff\xd8\xffdata"


def test_every_request_gets_a_new_boundary_like_real_clients() -> None:
    """fresh_boundary swaps the boundary in header and body alike, keeps the length, and differs
    each time: a server's per-boundary cost is paid as with curl, requests or httpx."""
    from werkzeug.formparser import parse_form_data

    request = loadgen.requests_for(
        "http://127.0.0.1:8000/predict", [loadgen.multipart_body("a.jpg", b"JPEG")]
    )[0]
    first, second = loadgen.fresh_boundary(request), loadgen.fresh_boundary(request)
    assert len(first) == len(second) == len(request)
    assert loadgen.BOUNDARY.encode() not in first and first != second
    head, _, body = first.partition(b"\r\n\r\n")
    content_type = next(line for line in head.decode().split("\r\n") if line.startswith("Content-Type"))
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": content_type.split(": ", 1)[1],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    assert parse_form_data(environ)[2]["image"].read() == b"JPEG"


def test_summarise_counts_only_answers_inside_the_window() -> None:
    """Answers before the window (warm-up) or after it are left out; errors are counted by kind."""
    records = [
        (0.0, 0.5, 1, ""),  # warm-up
        (0.9, 1.2, 2, ""),
        (1.0, 1.5, 1, ""),
        (1.5, 1.7, 0, "http_503"),
        (2.9, 3.5, 1, ""),
    ]  # arrives after the window
    result = loadgen.summarise(records, (1.0, 3.0), concurrency=2, cpu_seconds=0.1)
    assert (result["requests"], result["ok"], result["errors"]) == (3, 2, 1)
    assert result["error_kinds"] == {"http_503": 1}
    assert result["requests_per_s"] == 1.0 and result["faces_per_s"] == 1.5
    assert set(result["latency_ms"]) == {"p50", "p95", "p99", "mean", "max"}


def test_summarise_with_no_answers_has_empty_latencies() -> None:
    """A run where nothing came back still yields a well-formed row."""
    result = loadgen.summarise([], (0.0, 1.0), concurrency=1, cpu_seconds=0.0)
    assert result["ok"] == 0 and result["latency_ms"]["p50"] is None


def hotspot_cases() -> list[tuple[str, str]]:
    """(sampled stack, category): stacks made of the frames of the service's real functions."""
    from contract.detect import YuNetDetector
    from service.batcher import Batcher
    from service.model import SavedModelPredictor
    from service.stages.decode import decode

    def stack(thread: int, *frames: str) -> str:
        return f"thread ({thread}): T" + "".join(f + "1)" if f.startswith(";") else f";{f}" for f in frames)

    api = "predict (service/api.py:37)"
    flask = "Flask.wsgi_app (flask/app.py:1)"
    model = hotspots.frame(SavedModelPredictor.predict_batch)
    return [
        (stack(1, hotspots.frame(Batcher.predict), model), "model"),
        (stack(2, api, hotspots.frame(YuNetDetector.detect)), "detect"),
        (stack(3, api, hotspots.frame(decode), "decode_image (contract/image.py:41)"), "decode"),
        (stack(4, flask, "FormDataParser.parse (werkzeug/formparser.py:252)"), "multipart_parsing"),
        (
            stack(5, "Batcher._collect (service/batcher.py:110)", "Condition.wait (threading.py:331)"),
            "waiting",
        ),
        (stack(6, "ThreadWorker.handle (gunicorn/workers/gthread.py:553)"), "gunicorn_http"),
        (stack(7, "something (elsewhere.py:1)"), "other"),
    ]


def test_hotspot_categories() -> None:
    """Each sampled stack lands in the stage it belongs to."""
    for stack, category in hotspot_cases():
        assert hotspots.categorise(stack) == category, stack


def test_hotspot_frames_are_named_as_py_spy_names_them() -> None:
    """Frames derived from functions occur verbatim in real py-spy output of the service.

    pyspy-sample.txt: three stacks copied from `make bench`'s recording of 20261201T102633Z.
    """
    from contract.detect import YuNetDetector
    from contract.faces import find_faces
    from service.runtime.openvino_backend import OpenVINOPredictor

    recorded = (Path(__file__).parent / "pyspy-sample.txt").read_text()
    for function in (find_faces, YuNetDetector.detect, OpenVINOPredictor.predict_batch):
        assert hotspots.frame(function) in recorded


def test_hotspot_summary_shares_add_up() -> None:
    """Shares are of busy samples only, and the top frames are innermost frames."""
    from service.model import SavedModelPredictor

    model = hotspots.frame(SavedModelPredictor.predict_batch)
    raw = (
        f"thread (1): b{model}46);run (tf.py:1) 30\n"
        "thread (2): t;Condition.wait (threading.py:331) 50\n"
        "thread (3): t;Flask.wsgi_app (flask/app.py:1);dispatch (flask/app.py:2) 10\n"
    )
    summary = hotspots.summarise(raw)
    assert summary["busy_samples"] == 40 and summary["waiting_samples"] == 50
    assert summary["share_of_busy"] == {"model": 0.75, "flask_werkzeug": 0.25}
    assert summary["top_frames"][0]["frame"] == "run (tf.py:1)"


def test_workloads(tiny_dataset: Path, tmp_path: Path) -> None:
    """Crops are the dataset's files; scenes are decodable 640x480 JPEGs with 1-4 faces put in."""
    crops = face_crops(tiny_dataset, 5)
    assert len(crops) == 5 and all(c.faces == 1 for c in crops)
    made = scenes(tiny_dataset, 6)
    assert [s.name for s in made] == [s.name for s in scenes(tiny_dataset, 6)]  # seeded
    for scene in made:
        image = cv2.imdecode(np.frombuffer(scene.data, np.uint8), cv2.IMREAD_COLOR)
        assert (image.shape[1], image.shape[0]) == SCENE_SIZE and 1 <= scene.faces <= 4
    folder = write_payloads(tmp_path / "b", made)
    assert len(loadgen.load_bodies(folder)) == 6


def test_markdown_table_rows_match_the_header() -> None:
    """Every row has as many cells as the header, and None prints as a dash."""
    lines = table(["a", "b"], [[1, None], ["x", 2.5]])
    assert lines[:2] == ["| a | b |", "|---|---|"] and lines[2] == "| 1 | – |"


def _fake_results() -> dict:
    """A minimal results document: one raw row, serving rows for the target, no training."""
    row = {
        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "mean": 1.5, "max": 4.0},
        "errors": 0,
        "ok": 10,
        "requests_per_s": 10.0,
        "faces_per_s": 10.0,
        "mean_batch_size": 4.0,
        "server_cpu_s": 0.5,
    }
    rows = [
        {**row, "config": c, "workload": "a_crops", "concurrency": 32, "images_per_s": v}
        for c, v in (("service", 80.0), ("service_no_batching", 40.0), ("naive", 20.0))
    ]
    memory = {"master": {"rss_mb": 50.0, "uss_mb": 20.0}, "workers": [{"rss_mb": 600.0, "uss_mb": 300.0}]}
    process = {"ready_s": 3.0, "workers": 1, "memory_ready": memory, "memory_after_load": memory}
    raw_row = {"caller": "signature", "batch_size": 32, "images_per_s": 100.0}
    return {
        "machine": {
            "date": "2026-01-01T00:00:00+00:00",
            "stamp": "20260101T000000Z",
            "mode": "quick",
            "cpu_model": "CPU",
            "cores": 2,
            "memory_gb": 8.0,
            "os": "Linux",
            "git": "abc",
            "load_average_at_start": [0.1, 0.1, 0.1],
            "versions": {"tensorflow": "2", "keras": "3", "python": "3.11", "opencv": "4"},
        },
        "settings": {"model_dir": "m", "model_version": 1, "tta": "flip"},
        "raw_model": {
            "tta": "flip",
            "rows": [raw_row],
            "ceiling_images_per_s": 100.0,
            "ceiling_batch_size": 32,
            "single_pass_speedup_over_signature": {"32": 2.0},
        },
        "serving": {
            "rows": rows,
            "processes": {"service": process},
            "settings": {"workers": 1, "threads": 8, "duration_s": 1, "warmup_s": 1, "batching_off": {}},
        },
        "errors": {},
        "elapsed_s": 1.0,
    }


def test_derived_ratios_and_targets() -> None:
    """Ratios divide the service's images/s by the ceiling, batching off and naive."""
    derived = derive(_fake_results())
    assert derived["ratios"] == [
        {
            "workload": "a_crops",
            "concurrency": 32,
            "service_images_per_s": 80.0,
            "service_to_ceiling": 0.8,
            "batching_on_to_off": 2.0,
            "service_to_naive": 4.0,
            "service_to_tensorflow": None,
            "service_to_detector_native": None,
            "service_to_streams2": None,
        }
    ]
    assert all(t["met"] for t in derived["targets"].values())


def test_runtime_ceiling_tensorflow_ratio_and_photo_target() -> None:
    """With a runtimes section the ratio uses the default runtime's ceiling; TF service and photos count."""
    results = _fake_results()
    base = results["serving"]["rows"][0]
    results["serving"]["rows"] += [
        {**base, "config": "service_tensorflow", "images_per_s": 20.0},
        {
            **base,
            "workload": "b_scenes",
            "concurrency": 8,
            "latency_ms": {**base["latency_ms"], "p99": 300.0},
        },
        {
            **base,
            "config": "service_detector_native",
            "workload": "b_scenes",
            "concurrency": 8,
            "images_per_s": 40.0,
        },
        {**base, "config": "service_streams2", "images_per_s": 64.0},
    ]
    results["runtimes"] = {"default": "openvino/bf16", "default_ceiling_images_per_s": 160.0, "runtimes": {}}
    derived = derive(results)
    crops = next(r for r in derived["ratios"] if r["workload"] == "a_crops")
    assert (crops["service_to_ceiling"], crops["service_to_tensorflow"]) == (0.5, 4.0)
    assert crops["service_to_streams2"] == 1.25  # 80 crops/s against two streams' 64
    assert derived["targets"]["service_to_tensorflow"]["met"] is True
    assert derived["targets"]["photos_c8_p99_ms"] == {"value": 300.0, "goal": "<= 250", "met": False}
    photos = next(r for r in derived["ratios"] if r["workload"] == "b_scenes")
    assert photos["service_to_detector_native"] == 2.0  # 80 photos/s against the native detector's 40


def test_each_precision_variant_is_checked_against_its_own_ceiling() -> None:
    """service_int8 is held to the int8 ceiling, not the default's, and to the same TF and naive rows."""
    results = _fake_results()
    base = results["serving"]["rows"][0]
    results["serving"]["rows"] += [
        {**base, "config": "service_tensorflow", "images_per_s": 20.0},
        {**base, "config": "service_int8", "images_per_s": 120.0},
        {**base, "config": "service_int8", "workload": "b_scenes", "concurrency": 8},
    ]
    measured = {"rows": [], "load_s": 1.0, "peak_rss_mb": 300.0}
    results["runtimes"] = {
        "default": "openvino/bf16",
        "default_ceiling_images_per_s": 100.0,
        "runtimes": {
            "openvino/bf16": {**measured, "ceiling_images_per_s": 100.0},
            "openvino/int8": {**measured, "ceiling_images_per_s": 200.0},
        },
    }
    derived = derive(results)
    assert derived["targets"]["service_to_ceiling"]["value"] == 0.8  # the default: 80 of 100
    int8 = derived["variant_targets"]["service_int8"]
    assert int8["service_to_ceiling"] == {"value": 0.6, "goal": ">= 0.7", "met": False}  # 120 of 200
    assert int8["service_to_tensorflow"]["value"] == 6.0 and int8["service_to_naive"]["value"] == 6.0
    assert int8["photos_c8_p99_ms"]["met"] is True and set(derived["variant_targets"]) == {"service_int8"}
    results["derived"] = derived
    assert "### Targets: workload (a) at concurrency 32, `service_int8`" in render(results)


def test_write_makes_latest_and_dated_copies(tmp_path: Path) -> None:
    """The same JSON (it loads back to the results) and Markdown under the dated and the latest name."""
    results = _fake_results()
    results["derived"] = derive(results)
    paths = write(results, tmp_path, "latest-quick")
    assert sorted(p.name for p in paths) == [
        "20260101T000000Z-quick.json",
        "20260101T000000Z-quick.md",
        "latest-quick.json",
        "latest-quick.md",
    ]
    for suffix in (".json", ".md"):
        dated = (tmp_path / f"20260101T000000Z-quick{suffix}").read_text()
        assert dated == (tmp_path / f"latest-quick{suffix}").read_text()
    assert json.loads((tmp_path / "latest-quick.json").read_text()) == results
    assert (tmp_path / "latest-quick.md").read_text().startswith("# Benchmark results (quick mode)")


def test_report_shows_the_measured_rows_and_the_derived_ratios() -> None:
    """Each serving row, the ratios (80 / 100, 80 / 40, 80 / 20 images/s), the targets and start-up appear."""
    results = _fake_results()
    results["derived"] = derive(results)
    text = render(results)
    lines = text.splitlines()
    for row in results["serving"]["rows"]:
        assert f"| {row['config']} | 32 | 10.0 | {row['images_per_s']} | 10.0 | 1.0 | 2.0 | 3.0 | 0 |" in text
    assert "| (a) | 32 | 0.8 | 2.0 | 4.0 | – | – | – |" in lines
    assert "| service_to_ceiling | 0.8 | >= 0.7 | yes |" in lines
    assert "| service_to_naive | 4.0 | >= 3.0 | yes |" in lines
    assert "| service | 3.0 | 1 | 600.0 | 600.0 | 300.0 | 50.0 |" in lines  # start-up and memory
    assert any(line.startswith("2026-01-01T00:00:00+00:00 · CPU, 2 cores") for line in lines)
    assert not any(line.startswith("## Training") for line in lines)  # no training section was run


def test_raw_model_times_one_member_of_an_ensemble(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path
) -> None:
    """For an ensemble the report also gives the cost of a single member network."""
    from benchmarks import raw_model
    from training.ensemble import main as ensemble_main

    member = str(tiny_model_dir / "model.keras")
    argv = ["--member", member, "--member", member, "--data-dir", str(tiny_dataset), "--publish"]
    argv += ["--model-dir", str(tmp_path / "models"), "--run-dir", str(tmp_path / "run"), "--tta", "flip"]
    assert ensemble_main(argv) == 0
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    raw = raw_model.run(tmp_path / "models", crops, min_seconds=0.0, batch_sizes=(1, 4))
    assert {r["caller"] for r in raw["rows"]} == {
        "signature",
        "keras_single",
        "keras_predict",
        "keras_member",
    }
    assert set(raw["one_member_speedup_over_signature"]) == {"1", "4"}
    results = _fake_results()
    results["raw_model"] = raw
    results["derived"] = derive(results)
    assert "One member network alone" in render(results)
    single = raw_model.run(tiny_model_dir, crops, min_seconds=0.0, batch_sizes=(1,))
    assert "one_member_speedup_over_signature" not in single
    assert "keras_member" not in {r["caller"] for r in single["rows"]}


@pytest.mark.parametrize("kind", ["44x44 network", "44x44 + 48x48 ensemble"])
def test_raw_model_runs_networks_trained_on_crops(kind: str, tiny_dataset: Path, tmp_path: Path) -> None:
    """The one-pass callers give a random-crop network its central crop (they used to feed it
    48x48 crops and fail), so they compute the signature's one view."""
    from benchmarks import raw_model
    from tests.support.models import publish_ensemble, tiny_config
    from training.keras_models import load_keras_model
    from training.signature import served_probabilities
    from training.train import train

    if kind == "44x44 network":
        version_dir = train(tiny_config(tmp_path, tiny_dataset, epochs=1, crop_size=44, tta="flip-zoom"))
    else:
        version_dir, _ = publish_ensemble(tmp_path, tiny_dataset, (44, 48), "flip-zoom")
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    one_view = served_probabilities(load_keras_model(version_dir), crops, "none")
    callers = raw_model.callers(version_dir)
    for name in ("keras_single", "keras_predict"):
        np.testing.assert_allclose(callers[name](crops), one_view, rtol=1e-4, atol=1e-5, err_msg=name)
    raw = raw_model.run(version_dir, crops, min_seconds=0.0, batch_sizes=(1,))
    assert {"signature", "keras_single", "keras_predict"} <= {r["caller"] for r in raw["rows"]}


def test_reference_models_are_timed_on_the_same_crops_and_tabled(tiny_model_dir: Path) -> None:
    """make bench --reference-model-dir: another model's signature ceiling, and the speed-up of
    the benchmarked model over it (the single-network issue's 2x over version 6) from one run."""
    from benchmarks import raw_model

    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    ref = raw_model.reference(tiny_model_dir, crops, min_seconds=0.0, batch_sizes=(1, 4))
    assert {r["caller"] for r in ref["rows"]} == {"signature"} and [r["batch_size"] for r in ref["rows"]] == [
        1,
        4,
    ]
    assert ref["ceiling_images_per_s"] == max(r["images_per_s"] for r in ref["rows"]) > 0
    assert ref["version"] == "1" and ref["tta"] == "flip"
    results = _fake_results()  # its signature ceiling: 100 images/s
    results["raw_references"] = [{**ref, "ceiling_images_per_s": 40.0, "version": "6"}]
    results["derived"] = derive(results)
    assert results["derived"]["raw_speedup_over_reference"] == {"6": 2.5}
    assert "| version 6 (`" in render(results) and "| 40.0 |" in render(results)
    assert "| 2.5 |" in render(results)
    del results["raw_references"]
    assert derive(results)["raw_speedup_over_reference"] == {}


def test_scene_score_counts_a_missed_face_as_wrong_per_size(tmp_path: Path, monkeypatch) -> None:
    """photo_accuracy.score: per face size, found rate, accuracy (no face = wrong) and the ratio to
    the same faces' crop accuracy; detector_sides renders those rows."""
    from benchmarks import detector_sides, photo_accuracy

    files = []
    for name in ("a", "b"):
        (tmp_path / f"{name}.png").write_bytes(b"x")
        files.append(tmp_path / f"{name}.png")
    labels = ["happy", "sad"]
    # Scenes: face 0 and face 1 at each of the three sizes.
    index = [0, 1] * len(photo_accuracy.SIDES)
    sides = [side for side in photo_accuracy.SIDES for _ in range(2)]
    bodies = [f"scene{i}".encode() for i in range(len(index))]
    answers = {
        b"x": ["happy", "happy"],  # crops: face 0 right, face 1 wrong -> crop accuracy 0.5
        b"scene0": [
            "happy",
            "sad",  # 64 px: both right
            "happy",
            None,  # 128 px: face 1 missed
            "sad",
            "sad",  # 256 px: face 0 wrong
        ],
    }
    monkeypatch.setattr(photo_accuracy, "post_all", lambda url, b, ct: answers[b[0]])
    result = photo_accuracy.score("http://x", files, labels, (bodies, index, sides))
    assert result["crop_accuracy"] == 0.5
    rows = result["sizes"]
    assert {k: v for k, v in rows["64"].items() if k not in ("ratio_ci", "ceiling")} == {
        "service": 1.0,
        "crops": 0.5,
        "ratio": 2.0,
        "face_found": 1.0,
    }
    assert {k: v for k, v in rows["128"].items() if k not in ("ratio_ci", "ceiling")} == {
        "service": 0.5,
        "crops": 0.5,
        "ratio": 1.0,
        "face_found": 0.5,
    }
    assert rows["256"]["service"] == 0.5 and rows["256"]["face_found"] == 1.0
    # Every face's outcome in file order, so two models can later be compared face by face.
    assert result["per_face"] == {"crops": "10", "64": "11", "128": "1-", "256": "01"}
    for row in rows.values():
        low, high = row["ratio_ci"]
        assert low <= row["ratio"] <= high
    machine = {
        "date": "d",
        "cpu_model": "cpu",
        "cores": 2,
        "cpu_features": {"flags": ["avx2"]},
        "git": "g",
        "load_average_at_start": [0.1],
    }
    load = [
        {
            "concurrency": 8,
            "photos_per_s": 30.0,
            "faces_per_photo": 1.8,
            "p50_ms": 200.0,
            "p99_ms": 400.0,
            "errors": 0,
        }
    ]
    text = detector_sides.render(
        {
            "machine": machine,
            "model_dir": "m",
            "faces": 2,
            "sides": {"480": {"load": load, "scene_accuracy": result}},
        }
    )
    assert "| 480 | 8 | 30.0 | 1.8 | 200.0 | 400.0 | 0 |" in text
    assert "| 480 | 128 | 0.500 | 0.5000 | 0.5000 | 1.000 |" in text


@pytest.mark.parametrize(
    ("scenes", "crops", "ceiling"),
    [
        ("1-0-", "1100", 0.5),  # of the two faces right as crops, the detector found one
        ("0000", "1100", 1.0),  # found but wrong: the network's part, not the detector's
        ("--11", "0011", 1.0),  # faces wrong as crops do not count
        ("----", "0000", None),  # nothing right as a crop: no ratio to bound
    ],
)
def test_detector_ceiling_is_the_share_of_crop_right_faces_found(
    scenes: str, crops: str, ceiling: float | None
) -> None:
    from benchmarks.photo_accuracy import detector_ceiling

    assert detector_ceiling(scenes, crops) == ceiling


def test_raw_ceiling_runtimes_use_every_core(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The raw ceiling is the machine's: a runtime is timed on every core, not on the 1-of-2 cores
    share a service worker gets (which made OpenVINO's ceiling look half its size)."""
    pytest.importorskip("openvino")
    from benchmarks import runtimes
    from contract import cpu

    predictor = runtimes.load_runtime("openvino/f32", str(tiny_model_dir), str(tmp_path))
    assert predictor.threads == cpu.usable_cores()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{"faces": []}', (200, b'{"faces": []}', True)),
        (
            b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"fa\r\n8\r\nces": 1}\r\n0\r\n\r\n',
            (200, b'{"faces": 1}', True),
        ),
        (
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
            (503, b"{}", False),
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (204, b"", True)),
    ],
)
def test_load_generator_reads_http_responses_off_the_socket(raw: bytes, expected: tuple) -> None:
    """Status, body and keep-alive of Content-Length, chunked and closing answers; the next answer
    on the same connection starts right after the body."""
    import asyncio

    async def read_two() -> tuple:
        reader = asyncio.StreamReader()
        reader.feed_data(raw + raw)
        reader.feed_eof()
        return await loadgen.read_response(reader), await loadgen.read_response(reader)

    first, second = asyncio.run(read_two())
    assert first == expected and second == expected


def test_prebuilt_requests_are_valid_http_posts() -> None:
    """Each prebuilt request is parsed by werkzeug as a POST to the path and query with its file."""
    from werkzeug.formparser import parse_form_data

    request = loadgen.requests_for(
        "http://127.0.0.1:8000/predict?detect=never", [loadgen.multipart_body("a.jpg", b"JPEG")]
    )[0]
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /predict?detect=never HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Host"] == "127.0.0.1:8000" and int(headers["Content-Length"]) == len(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": headers["Content-Type"],
        "CONTENT_LENGTH": headers["Content-Length"],
        "wsgi.input": io.BytesIO(body),
    }
    _, _, files = parse_form_data(environ)
    assert files["image"].read() == b"JPEG"


def test_compared_models_use_the_same_faces_and_are_tabled(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch
) -> None:
    """--compare-model-dir: every compared model is measured on the faces run() drew (same seed),
    and the table puts it beside the main model's default variant."""
    from benchmarks import photo_accuracy

    data = tmp_path / "data"
    for i in range(6):
        (data / "test" / ("happy" if i % 2 else "sad")).mkdir(parents=True, exist_ok=True)
        (data / "test" / ("happy" if i % 2 else "sad") / f"{i}.png").write_bytes(b"x")
    seen = []

    def fake_measure(model_dir, files, labels, log_dir):
        seen.append((model_dir, [f.name for f in files], labels))
        return {
            "crop_accuracy": 0.5,
            "sizes": {"64": {"service": 0.4, "crops": 0.5, "ratio": 0.8, "face_found": 0.9}},
            "per_face": {"crops": "1100", "64": "1110"},
        }

    monkeypatch.setattr(photo_accuracy, "measure", fake_measure)
    compared = photo_accuracy.compare([tiny_model_dir], data, 4, tmp_path)
    files, labels = photo_accuracy.test_faces(data, 4)
    assert [(names, lab) for _, names, lab in seen] == [([f.name for f in files], labels)]
    main = {
        "sizes": {"64": {"service": 0.3, "crops": 0.5, "ratio": 0.6, "face_found": 0.7}},
        "per_face": {"crops": "1100", "64": "1-00"},
    }
    text = photo_accuracy.render_compared(
        {"model_dir": "models/emotion/7", "variants": {"default": main}, "compared": compared}
    )
    assert "| models/emotion/7 | 64 | 0.700 | 0.3000 | 0.5000 | 0.600 |  |  |" in text
    (name,) = compared
    # Paired on the same faces: the compared model gets faces 1 and 2 right where the main one
    # does not, and never the reverse, so every resample's difference is >= 0.
    row = next(line for line in text.splitlines() if line.startswith(f"| {name} | 64 |"))
    assert row.startswith(f"| {name} | 64 | 0.900 | 0.4000 | 0.5000 | 0.800 |  | +0.5000 (+0.000 to +")
    assert photo_accuracy.render_compared({"compared": {}}) == ""


def test_photo_gap_oracle_framing_is_the_training_crop(tiny_dataset: Path) -> None:
    """The oracle rows take the pasted face back out: as model input it is the 48x48 file again
    (resampling aside), rotated back when asked; the detector rows are empty without a face."""
    from benchmarks import photo_gap
    from contract.crop import CALIBRATED
    from contract.image import to_model_input
    from training.scenes import backgrounds, paste_face

    face = cv2.imread(str(sorted((tiny_dataset / "test").glob("*/*"))[0]), cv2.IMREAD_GRAYSCALE)
    scene = paste_face(face, backgrounds()[0], 128, 12.0, np.random.default_rng(0))
    crops = photo_gap.framings(scene.image, scene, None, CALIBRATED)
    assert crops["detector"] is None and crops["box_roll_undone"] is None

    def gap(name: str) -> float:
        return float(np.abs(to_model_input(crops[name]).astype(float) - to_model_input(face)).mean())

    assert gap("pasted") < 8.0
    assert gap("pasted_roll_kept") > gap("pasted") + 4.0


def test_photo_gap_tables_every_framing_per_size(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    """An end-to-end run on the tiny model: every size, every framing, ratios to the same crops."""
    pytest.importorskip("openvino")
    from benchmarks import photo_gap

    results = photo_gap.run(tiny_model_dir, tiny_dataset, faces=4, cache_dir=str(tmp_path / "cache"))
    assert list(results["sizes"]) == [str(s) for s in photo_gap.SIDES]
    for row in results["sizes"].values():
        assert 0.0 <= row["face_found"] <= 1.0
        for name in photo_gap.FRAMINGS:
            assert 0.0 <= row[name]["accuracy"] <= 1.0
            if row["crops"]:
                assert row[name]["ratio"] == pytest.approx(row[name]["accuracy"] / row["crops"], abs=1e-3)
    table = photo_gap.render(results)
    assert len([line for line in table.splitlines() if line.startswith("| 64 |")]) == 1

"""Runtime selection: CPU flags, GPU detection, backend x precision choice, caching, fallback and parity."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from contract import cpu
from service.app import create_app
from service.runtime import select
from service.runtime.cache import model_hash
from service.runtime.convert import ConversionError
from service.runtime.gpu import gpu_visible
from service.settings import Settings, SettingsError
from tests.support.models import REPO
from tests.support.payloads import upload
from tests.synthetic import make_face

AMX = frozenset({"avx512f", "amx_tile", "amx_bf16", "amx_int8"})
ZEN4 = frozenset({"avx512f", "avx512_bf16", "avx512_vnni"})
SKYLAKE = frozenset({"avx2", "avx512f"})
# How far each precision may move a probability away from the TensorFlow signature on the tiny model.
TOLERANCE = {"f32": 1e-5, "bf16": 0.02, "int8": 0.05}


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        (
            "processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n",
            {"fpu", "avx2", "avx512_bf16"},
        ),
        ("processor\t: 0\nFeatures\t: fp asimd bf16\n", {"fp", "asimd", "bf16"}),
        ("processor\t: 0\nmodel name\t: x\n", set()),
    ],
)
def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path, text: str, flags: set[str]) -> None:
    """The first processor's flags (x86 'flags', arm64 'Features'); none when the line is missing."""
    (tmp_path / "cpuinfo").write_text(text)
    assert cpu.read_flags(tmp_path / "cpuinfo") == flags
    assert cpu.read_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("flags", "backend", "precision"),
    [
        (AMX, "openvino", "bf16"),
        (ZEN4, "openvino", "bf16"),
        (SKYLAKE, "openvino", "f32"),
        (AMX, "tensorflow", "f32"),
    ],
)
def test_auto_precision_follows_native_bf16(flags: frozenset[str], backend: str, precision: str) -> None:
    """bf16 only where AMX or AVX512_BF16 do it in hardware, and only on OpenVINO."""
    assert select.auto_precision(backend, flags) == precision


@pytest.mark.parametrize(
    ("env", "devices", "visible"),
    [
        ({}, [], False),
        ({}, ["nvidia0", "nvidiactl"], True),
        ({}, ["nvidiactl", "nvidia-uvm"], False),  # driver nodes without a GPU node
        ({"CUDA_VISIBLE_DEVICES": ""}, ["nvidia0"], False),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, ["nvidia0"], False),
        ({"NVIDIA_VISIBLE_DEVICES": "void"}, ["nvidia0"], False),
        ({"CUDA_VISIBLE_DEVICES": "0"}, ["nvidia1"], True),
    ],
)
def test_gpu_detection_without_tensorflow(
    tmp_path: Path, env: dict, devices: list[str], visible: bool
) -> None:
    """NVIDIA device nodes, unless CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES hide them."""
    for name in devices:
        (tmp_path / name).touch()
    assert gpu_visible(env, dev=tmp_path) is visible


@pytest.mark.parametrize(
    ("values", "gpu", "expected"),
    [
        ({}, False, ("openvino", "bf16")),
        ({}, True, ("tensorflow", "f32")),
        ({"inference_backend": "tensorflow"}, False, ("tensorflow", "f32")),
        ({"inference_precision": "int8"}, False, ("openvino", "int8")),
        ({"inference_backend": "openvino", "inference_precision": "f32"}, True, ("openvino", "f32")),
        ({"inference_backend": "tensorflow", "inference_precision": "bf16"}, False, ("tensorflow", "bf16")),
        ({"inference_backend": "tensorflow", "inference_precision": "int8"}, False, "not available"),
        ({"inference_precision": "int8"}, True, "not available"),
    ],
)
def test_backend_and_precision_choice(values: dict, gpu: bool, expected) -> None:
    """auto = OpenVINO without a GPU, TensorFlow with one; impossible combinations are refused."""
    settings = Settings(**values)
    if isinstance(expected, str):
        with pytest.raises(select.BackendError, match=expected):
            select.choose(settings, ZEN4, gpu)
    else:
        choice = select.choose(settings, ZEN4, gpu)
        assert (choice.backend, choice.precision) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INFERENCE_BACKEND": "onnx"}, "INFERENCE_BACKEND must be one of auto, tensorflow, openvino"),
        ({"INFERENCE_PRECISION": "fp16"}, "INFERENCE_PRECISION must be one of auto, f32, bf16, int8"),
    ],
)
def test_unknown_runtime_values_are_refused(env: dict, message: str) -> None:
    """A typo fails at startup, naming the variable and the allowed values."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_runtime_values_are_case_insensitive() -> None:
    """OPENVINO and BF16 are read like openvino and bf16."""
    settings = Settings.from_env({"INFERENCE_BACKEND": "OpenVINO", "INFERENCE_PRECISION": "BF16"})
    assert (settings.inference_backend, settings.inference_precision) == ("openvino", "bf16")


def test_model_hash_follows_weights_not_metadata(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Re-evaluating a model (metadata.json) keeps its cached conversion; new weights do not."""
    import shutil

    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "1"))
    before = model_hash(copy)
    (copy / "metadata.json").write_text(
        json.dumps({**json.loads((copy / "metadata.json").read_text()), "x": 1})
    )
    assert model_hash(copy) == before
    weights = next((copy / "variables").glob("*.data-*"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    assert model_hash(copy) != before


@pytest.fixture(scope="session")
def runtime_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One conversion cache for this module's OpenVINO predictors."""
    return tmp_path_factory.mktemp("runtime_cache")


def ov_settings(model_dir: Path, cache: Path, **values) -> Settings:
    """Settings for the tiny model on OpenVINO with a private cache."""
    return Settings(
        model_dir=str(model_dir), runtime_cache_dir=str(cache), inference_backend="openvino", **values
    )


def test_conversion_is_cached_by_content_hash(
    tiny_model_dir: Path, runtime_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load converts into <cache>/<hash>/f32; a restart reuses it without converting."""
    pytest.importorskip("openvino")
    first = select.load_predictor(ov_settings(tiny_model_dir, runtime_cache, inference_precision="f32"))
    assert first.ir_path == runtime_cache / model_hash(tiny_model_dir) / "f32" / "model.xml"
    assert not [
        p for p in tiny_model_dir.rglob("*") if p.suffix in (".xml", ".bin", ".blob")
    ]  # TF layout kept

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again despite the cache")

    monkeypatch.setattr("service.runtime.convert.run_child", no_conversion)
    again = select.load_predictor(ov_settings(tiny_model_dir, runtime_cache, inference_precision="f32"))
    assert again.ir_path == first.ir_path and any((again.ir_path.parents[1] / "compiled").iterdir())


def block_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import openvino` fail as if the package were not installed."""
    monkeypatch.setitem(sys.modules, "openvino", None)


def fail_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the converter child fail as on a model OpenVINO cannot read."""

    def broken(*args, **kwargs):
        raise ConversionError("service.runtime.convert failed (exit 1): unsupported op")

    monkeypatch.setattr("service.runtime.convert.run_child", broken)


@pytest.mark.parametrize("breakage", [block_openvino, fail_conversion])
def test_auto_falls_back_to_tensorflow_with_one_log_line(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, breakage
) -> None:
    """Runtime missing or conversion failing: auto logs one warning and serves with TensorFlow."""
    breakage(monkeypatch)
    settings = Settings(model_dir=str(tiny_model_dir), runtime_cache_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="service.runtime.select"):
        predictor = select.load_predictor(settings)
    assert select.runtime_info(predictor) == {"backend": "tensorflow", "precision": "f32", "device": "CPU"}
    warnings = [
        r for r in caplog.records if r.name == "service.runtime.select" and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1 and "serving with TensorFlow" in warnings[0].getMessage()


@pytest.mark.parametrize("breakage", [block_openvino, fail_conversion])
@pytest.mark.parametrize("values", [{"inference_backend": "openvino"}, {"inference_precision": "int8"}])
def test_explicit_openvino_fails_clearly(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breakage, values: dict
) -> None:
    """An explicit choice that cannot be honoured raises (wsgi turns it into exit 4), never falls back."""
    breakage(monkeypatch)
    with pytest.raises(select.BackendError, match="OpenVINO cannot serve"):
        create_app(Settings(model_dir=str(tiny_model_dir), runtime_cache_dir=str(tmp_path), **values))


def test_int8_without_a_calibrated_build_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    """int8 is an explicit step: no cached build and no CALIBRATION_DIR means a clear error."""
    pytest.importorskip("openvino")
    with pytest.raises(select.BackendError, match="make quantize"):
        select.load_predictor(ov_settings(tiny_model_dir, tmp_path, inference_precision="int8"))


@pytest.fixture(scope="session")
def parity_inputs(tiny_dataset: Path) -> np.ndarray:
    """Synthetic faces of every class plus the tiny dataset's test crops, as model input."""
    from contract import load_face

    faces = [make_face(i % 7, seed=900 + i)[..., None] for i in range(14)]
    files = sorted((tiny_dataset / "test").rglob("*.*"))
    return np.stack([*faces, *(load_face(str(p)) for p in files)])


def available_runtimes() -> list[tuple[str, str]]:
    """Every backend x precision this machine can run (OpenVINO ones only when it is installed)."""
    runtimes = [("tensorflow", "bf16")]
    try:
        import openvino  # noqa: F401
    except ImportError:
        return runtimes
    return [*runtimes, ("openvino", "f32"), ("openvino", "bf16"), ("openvino", "int8")]


@pytest.mark.parametrize(("backend", "precision"), available_runtimes())
def test_backends_agree_on_the_tiny_model(
    tiny_model_dir: Path,
    tiny_dataset: Path,
    runtime_cache: Path,
    predictor,
    parity_inputs,
    backend,
    precision,
) -> None:
    """Each runtime's probabilities stay within TOLERANCE[precision] of the TensorFlow f32 signature."""
    if backend == "tensorflow":
        # TF's bf16 rewrite is a process-wide switch: run it in a child so it cannot leak into other tests.
        got = tensorflow_bf16_in_child(tiny_model_dir, parity_inputs)
    else:
        settings = ov_settings(
            tiny_model_dir,
            runtime_cache,
            inference_precision=precision,
            calibration_dir=str(tiny_dataset / "train") if precision == "int8" else "",
        )
        other = select.load_predictor(settings)
        assert select.runtime_info(other) == {"backend": backend, "precision": precision, "device": "CPU"}
        got = other.predict_batch(parity_inputs)
    expected = predictor.predict_batch(parity_inputs)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=TOLERANCE[precision])
    print(f"{backend}/{precision}: max |diff| {np.abs(got - expected).max():.2e}")
    assert np.abs(got - expected).max() <= TOLERANCE[precision]


@pytest.mark.parametrize("tta", ["none", "flip", "flip-zoom", "flip-crop5"])
def test_a_crop_network_converts_to_openvino_with_every_view_set(
    tiny_dataset: Path, tmp_path: Path, tta: str
) -> None:
    """A network trained on 44x44 crops, exported with each view set, converts to OpenVINO IR and
    serves the signature's numbers (its flip-zoom export once failed to convert, so the service
    fell back to TensorFlow)."""
    import keras
    import openvino as ov

    from service.runtime.convert import convert
    from tests.support.models import tiny_config
    from training.model import make_model
    from training.savedmodel_writer import write_model_files
    from training.signature import served_probabilities

    keras.utils.set_random_seed(0)
    model = make_model(tiny_config(tmp_path, tiny_dataset, crop_size=44), 7)
    version_dir = write_model_files(model, tmp_path / "1", tta=tta, include_keras=False)
    compiled = ov.Core().compile_model(str(convert(version_dir, tmp_path / "ir")), "CPU")
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1), dtype=np.uint8)
    got = next(iter(compiled(faces).values()))
    np.testing.assert_allclose(got, served_probabilities(model, faces, tta), atol=TOLERANCE["f32"] * 10)


def tensorflow_bf16_in_child(model_dir: Path, inputs: np.ndarray) -> np.ndarray:
    """Probabilities from INFERENCE_BACKEND=tensorflow INFERENCE_PRECISION=bf16 in a fresh process."""
    code = (
        "import sys, numpy as np\n"
        "from service.runtime.select import load_predictor\n"
        "from service.settings import Settings\n"
        "p = load_predictor(Settings(model_dir=sys.argv[1], inference_backend='tensorflow', "
        "inference_precision='bf16'))\n"
        "assert p.precision == 'bf16'\n"
        "np.save(sys.argv[3], p.predict_batch(np.load(sys.argv[2])))\n"
    )
    folder = Path(model_dir).parent
    np.save(folder / "parity_in.npy", inputs)
    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(model_dir),
            str(folder / "parity_in.npy"),
            str(folder / "parity_out.npy"),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return np.load(folder / "parity_out.npy")


def test_openvino_worker_never_imports_tensorflow(tiny_model_dir: Path, runtime_cache: Path) -> None:
    """A fresh process builds the whole app on OpenVINO without TensorFlow entering sys.modules."""
    pytest.importorskip("openvino")
    code = (
        "import sys\n"
        "from service.app import create_app\n"
        "from service.settings import Settings\n"
        "app = create_app(Settings(model_dir=sys.argv[1], runtime_cache_dir=sys.argv[2], "
        "inference_backend='openvino'))\n"
        "print(app.extensions['engine'].runtime['backend'], 'tensorflow' in sys.modules, "
        "any(m.startswith('keras') for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiny_model_dir), str(runtime_cache)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["openvino", "False", "False"], done.stderr[-2000:]


def test_runtime_is_reported_in_health_metadata_and_metrics(
    make_app, tiny_model_dir: Path, runtime_cache: Path, face_png: bytes
) -> None:
    """/health, /metadata and the emotion_inference_runtime gauge name the backend and precision."""
    pytest.importorskip("openvino")
    settings = ov_settings(
        tiny_model_dir, runtime_cache, inference_precision="f32", tf_threads=2, inference_streams=2
    )
    predictor = select.load_predictor(settings)
    client = make_app(predictor).test_client()
    expected = {"backend": "openvino", "precision": "f32", "device": "CPU", "streams": 2}
    assert client.get("/health").json["runtime"] == expected
    assert client.get("/metadata").json["runtime"] == expected
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'emotion_inference_runtime{backend="openvino",device="CPU",precision="f32"} 1.0' in metrics
    response = client.post("/predict?detect=never", data=upload(face_png))
    assert response.status_code == 200 and len(response.json["faces"]) == 1


@pytest.mark.parametrize(
    ("cores", "values", "openvino", "expected"),
    [
        (8, {}, True, 4),  # one per two cores
        (16, {}, True, 4),  # capped: every worker has its own batcher
        (2, {}, True, 1),  # measured: 1 x 2 threads beats 2 x 1 on 2 cores (docs/runtimes.md)
        (1, {}, True, 1),
        (8, {"inference_backend": "tensorflow"}, True, 1),
        (8, {}, False, 1),  # auto will fall back to TensorFlow: its workers are ~700 MiB each
        (8, {"workers": 3}, True, 3),
    ],
)
def test_auto_worker_count(
    monkeypatch: pytest.MonkeyPatch, cores: int, values: dict, openvino: bool, expected: int
) -> None:
    """WORKERS=0: one OpenVINO worker per two cores (at most 4), one TensorFlow worker; the model
    threads share the cores out."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr("service.runtime.plan.openvino_installed", lambda: openvino)
    monkeypatch.setattr("service.runtime.plan.gpu_visible", lambda: False)
    settings = Settings(**values)
    assert settings.worker_count == expected
    assert settings.intra_op_threads == max(1, cores // expected)


def test_int8_becomes_auto_only_after_passing_the_gate(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    """make quantize --test-dir records int8 vs f32; auto picks int8 only for a build that passed."""
    pytest.importorskip("nncf")
    from service.runtime import gate
    from service.runtime.quantize import build_int8

    model_cache = tmp_path / model_hash(tiny_model_dir)
    ir = build_int8(tiny_model_dir, model_cache, tiny_dataset / "train", 42, test_dir=tiny_dataset / "test")
    note = json.loads((ir.parent / gate.NOTE).read_text())
    assert note["gate"]["images"] == 14 and note["gate"]["passed"] == (note["gate"]["points"] >= -0.3)
    for passed in (True, False):
        note["gate"]["passed"] = passed
        (ir.parent / gate.NOTE).write_text(json.dumps(note))
        auto = select.load_predictor(Settings(model_dir=str(tiny_model_dir), runtime_cache_dir=str(tmp_path)))
        fallback = "bf16" if cpu.native_bf16(cpu.cpu_flags()) else "f32"
        assert auto.precision == ("int8" if passed else fallback)


def test_auto_precision_prefers_a_gated_int8_build() -> None:
    """The gate's verdict outranks bf16 on OpenVINO and means nothing to TensorFlow."""
    assert select.choose(Settings(), ZEN4, False, int8_passed=True).precision == "int8"
    assert select.choose(Settings(), ZEN4, True, int8_passed=True).precision == "f32"
    assert (
        select.choose(Settings(inference_precision="bf16"), ZEN4, False, int8_passed=True).precision == "bf16"
    )


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        (1, [1]),
        (3, [2, 1]),
        (16, [16]),
        (17, [16, 1]),
        (23, [16, 4, 2, 1]),
        (31, [24, 4, 2, 1]),
        (200, [128, 64, 8]),
    ],
)
def test_a_batch_is_split_into_bucket_sizes_without_padding(count: int, sizes: list[int]) -> None:
    """Only bucket shapes are ever run, and they add up to the batch: no padding row is computed."""
    from service.runtime.openvino_backend import BUCKETS, split

    assert split(count) == sizes
    assert sum(sizes) == count and set(sizes) <= set(BUCKETS)


class RecordingRequest:
    """An infer request that records the batch shapes it runs and answers row i with i's mean pixel."""

    def __init__(self, shapes: list[int]) -> None:
        self.shapes, self.out = shapes, np.zeros((0, 7), np.float32)

    def infer(self, inputs: list[np.ndarray], share_inputs: bool) -> None:
        """Run one call: its output rows are the input rows' means."""
        self.shapes.append(len(inputs[0]))
        self.out = np.repeat(inputs[0].reshape(len(inputs[0]), -1).mean(axis=1, keepdims=True), 7, axis=1)

    def get_output_tensor(self, index: int):
        """The last call's output, as OpenVINO's tensor exposes it (.data)."""
        return type("Tensor", (), {"data": self.out})()


@pytest.mark.parametrize("count", [0, 1, 17, 23, 130])
def test_the_predictor_runs_only_real_rows_in_order(count: int) -> None:
    """Each call is a bucket of real rows (never padded up to one), and rows come back in input order."""
    from service.runtime.openvino_backend import OpenVINOPredictor, split

    shapes: list[int] = []
    compiled = type("Compiled", (), {"create_infer_request": lambda self: RecordingRequest(shapes)})()
    predictor = OpenVINOPredictor(
        "m", "1", [str(i) for i in range(7)], {}, Path("."), "f32", 2, Path("."), compiled
    )
    images = np.arange(count, dtype=np.uint8)[:, None, None, None] * np.ones((1, 48, 48, 1), np.uint8)
    out = predictor.predict_batch(images)
    assert out.shape == (count, 7)
    np.testing.assert_array_equal(out[:, 0], np.arange(count, dtype=np.float32))
    assert shapes == split(count)


def test_padding_and_slicing_leave_each_row_unchanged(
    tiny_model_dir: Path, runtime_cache: Path, parity_inputs
) -> None:
    """5 rows run as 4 + 1, 200 as 128 + 64 + 8: every row equals its own single-row answer."""
    pytest.importorskip("openvino")
    predictor = select.load_predictor(ov_settings(tiny_model_dir, runtime_cache, inference_precision="f32"))
    rows = np.concatenate([parity_inputs] * 8)[:200]
    single = np.concatenate([predictor.predict_batch(row[None]) for row in rows[:5]])
    np.testing.assert_allclose(predictor.predict_batch(rows[:5]), single, atol=1e-6)
    whole = predictor.predict_batch(rows)
    assert whole.shape == (200, 7)
    np.testing.assert_allclose(whole[128:133], predictor.predict_batch(rows[128:133]), atol=1e-6)


@pytest.mark.parametrize(
    ("backend", "threads", "asked", "expected"),
    [
        ("openvino", 2, 1, 1),  # the default: a lone request gets every thread
        ("openvino", 2, 2, 2),  # the throughput option (docs/runtimes.md#streams)
        ("openvino", 4, 3, 3),
        ("openvino", 2, 3, None),  # more streams than threads: refused
        ("openvino", 1, 2, None),
        ("tensorflow", 2, 1, 1),
        ("tensorflow", 2, 2, None),  # TensorFlow has one signature caller
    ],
)
def test_stream_count(backend: str, threads: int, asked: int, expected: int | None) -> None:
    """INFERENCE_STREAMS: honoured on OpenVINO up to one stream per model thread, else a clear error."""
    settings = Settings(tf_threads=threads, inference_streams=asked)
    if expected is None:
        with pytest.raises(select.BackendError, match="INFERENCE_STREAMS"):
            select.streams_for(settings, backend)
    else:
        assert select.streams_for(settings, backend) == expected


def test_explicit_streams_on_tensorflow_fail_before_loading(tiny_model_dir: Path) -> None:
    """INFERENCE_BACKEND=tensorflow INFERENCE_STREAMS=2 stops the start instead of silently running 1."""
    settings = Settings(model_dir=str(tiny_model_dir), inference_backend="tensorflow", inference_streams=2)
    with pytest.raises(select.BackendError, match="needs the openvino backend"):
        select.load_predictor(settings)


def test_auto_fallback_drops_streams_with_a_warning(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """Streams were asked of OpenVINO; when auto falls back to TensorFlow the worker still starts."""
    block_openvino(monkeypatch)
    settings = Settings(
        model_dir=str(tiny_model_dir), runtime_cache_dir=str(tmp_path), tf_threads=2, inference_streams=2
    )
    with caplog.at_level(logging.WARNING, logger="service.runtime.select"):
        predictor = select.load_predictor(settings)
    assert select.runtime_info(predictor)["backend"] == "tensorflow"
    assert any("INFERENCE_STREAMS=2 ignored" in r.getMessage() for r in caplog.records)


def test_streams_run_calls_at_once_with_the_same_answers(
    tiny_model_dir: Path, runtime_cache: Path, parity_inputs
) -> None:
    """Two streams: the plugin compiled two, two threads' calls overlap, and each gets its own rows."""
    pytest.importorskip("openvino")
    settings = ov_settings(
        tiny_model_dir, runtime_cache, inference_precision="f32", tf_threads=2, inference_streams=2
    )
    predictor = select.load_predictor(settings)
    assert predictor.streams == 2 and int(predictor._compiled.get_property("NUM_STREAMS")) == 2
    single = ov_settings(tiny_model_dir, runtime_cache, inference_precision="f32", inference_streams=1)
    expected = select.load_predictor(single).predict_batch(parity_inputs)
    inside, most = 0, 0
    lock = threading.Lock()

    class CountingPool:
        def __init__(self, pool) -> None:
            self.pool = pool

        def get(self):
            nonlocal inside, most
            request = self.pool.get()  # blocks while every request is busy
            with lock:
                inside += 1
                most = max(most, inside)
            return request

        def put(self, request) -> None:
            nonlocal inside
            with lock:
                inside -= 1
            self.pool.put(request)

    predictor._requests = CountingPool(predictor._requests)
    barrier = threading.Barrier(2)
    results: dict[int, np.ndarray] = {}

    def call(index: int) -> None:
        barrier.wait(timeout=10)
        for _ in range(200):
            results[index] = predictor.predict_batch(parity_inputs[index::2])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most == 2  # both requests of the pool were taken at once
    for index in range(2):
        np.testing.assert_allclose(results[index], expected[index::2], atol=1e-5)

"""The raw ceiling of every backend x precision, each in its own process, loaded as a worker loads it.

For each runtime a child process loads the model through service.runtime.select (the
INFERENCE_BACKEND / INFERENCE_PRECISION path, conversion cache included), reports its
load time and resident memory, then times batch sizes 1/8/32/128 on the same crops.
A runtime that cannot run here (no native bf16 does not stop it; a missing package
does) is reported with its error instead of numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.machine import ROOT

if TYPE_CHECKING:
    from service.model import Predictor

RUNTIMES = ("tensorflow/f32", "tensorflow/bf16", "openvino/f32", "openvino/bf16", "openvino/int8")
BATCH_SIZES = (1, 8, 32, 128)


def service_cache(cache_dir: str = "") -> str:
    """The runtime cache the service would use: the argument, else RUNTIME_CACHE_DIR, else the default."""
    return cache_dir or os.environ.get("RUNTIME_CACHE_DIR", "")


def default_runtime(model_dir: str | Path, cache_dir: str = "") -> str:
    """What INFERENCE_BACKEND=auto INFERENCE_PRECISION=auto resolves to for this model on this machine."""
    from contract import cpu
    from contract.modeldir import resolve_version_dir
    from service.runtime import gate, select
    from service.runtime.cache import cache_dir as resolve_cache
    from service.runtime.cache import model_hash
    from service.runtime.gpu import gpu_visible
    from service.settings import Settings

    root = resolve_cache(service_cache(cache_dir))
    passed = gate.int8_is_default(root / model_hash(resolve_version_dir(model_dir)))
    choice = select.choose(Settings(), cpu.cpu_flags(), gpu_visible(), passed)
    return f"{choice.backend}/{choice.precision}"


def int8_cached(model_dir: str | Path, cache_dir: str = "") -> bool:
    """Whether an int8 build of this model is in the runtime cache (gated or not)."""
    from contract.modeldir import resolve_version_dir
    from service.runtime.cache import cache_dir as resolve_cache
    from service.runtime.cache import model_hash

    folder = resolve_cache(service_cache(cache_dir)) / model_hash(resolve_version_dir(model_dir))
    return (folder / "int8" / "model.xml").exists()


def load_runtime(runtime: str, model_dir: str, cache_dir: str = "", calibration_dir: str = "") -> Predictor:
    """The predictor a worker loads for "backend/precision", through the service's own selection, but
    with every core to itself."""
    from contract.cpu import usable_cores
    from service.runtime.select import load_predictor
    from service.settings import Settings

    backend, precision = runtime.split("/")
    return load_predictor(
        Settings(
            model_dir=model_dir,
            inference_backend=backend,
            inference_precision=precision,
            # The machine's ceiling: one process on every core. A service worker gets cores / workers
            # threads, and its own ceiling is about that share (runs before 2026-12-01 16:00 timed
            # OpenVINO on the 1-of-2 share of the old two-worker default).
            tf_threads=usable_cores(),
            runtime_cache_dir=service_cache(cache_dir),
            calibration_dir=calibration_dir,
            log_level="warning",
        )
    )


def child(
    runtime: str, model_dir: str, crops: Path, min_seconds: float, cache: str, calibration: str
) -> None:
    """Load one runtime, time it per batch size, print one JSON line."""
    from benchmarks.machine import peak_rss_mib
    from benchmarks.raw_model import time_calls
    from contract.cpu import usable_cores

    started = time.perf_counter()
    predictor = load_runtime(runtime, model_dir, cache, calibration)
    predictor.predict_batch(np.load(crops)[:1])
    load_s = time.perf_counter() - started
    data = np.load(crops)
    rows = []
    for size in BATCH_SIZES:
        batch = np.resize(data, (size, *data.shape[1:]))
        rows.append({"batch_size": size, **time_calls(predictor.predict_batch, batch, min_seconds)})
    rss = peak_rss_mib()  # after the timing batches, as the report says
    threads = getattr(predictor, "threads", None) or usable_cores()  # TF's predictor has no attribute
    print(
        json.dumps(
            {"load_s": round(load_s, 2), "peak_rss_mb": round(rss, 1), "threads": threads, "rows": rows}
        )
    )


def run(
    model_dir: Path,
    crops: np.ndarray,
    *,
    min_seconds: float,
    tmp: Path,
    cache_dir: str = "",
    calibration_dir: str = "",
    runtimes: tuple[str, ...] = RUNTIMES,
) -> dict[str, Any]:
    """Rows per runtime and batch size, each runtime's ceiling, load time and peak RSS."""
    np.save(tmp / "crops.npy", crops)
    result: dict[str, Any] = {"default": default_runtime(model_dir, cache_dir), "runtimes": {}}
    for runtime in runtimes:
        command = [
            sys.executable,
            "-m",
            "benchmarks.runtimes",
            runtime,
            str(model_dir),
            str(tmp / "crops.npy"),
        ]
        command += [str(min_seconds), cache_dir, calibration_dir]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-2:])
            result["runtimes"][runtime] = {"error": tail[-500:]}
            continue
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        measured["ceiling_images_per_s"] = max(r["images_per_s"] for r in measured["rows"])
        result["runtimes"][runtime] = measured
    default = result["runtimes"].get(result["default"], {})
    result["default_ceiling_images_per_s"] = default.get("ceiling_images_per_s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Child entry point: RUNTIME MODEL_DIR CROPS MIN_SECONDS CACHE_DIR CALIBRATION_DIR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("runtime", "model_dir", "crops", "min_seconds", "cache_dir", "calibration_dir"):
        parser.add_argument(name)
    args = parser.parse_args(argv)
    child(
        args.runtime,
        args.model_dir,
        Path(args.crops),
        float(args.min_seconds),
        args.cache_dir,
        args.calibration_dir,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

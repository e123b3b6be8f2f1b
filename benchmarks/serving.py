"""The service under load on loopback: batching on, batching off, and the naive baseline.

Each configuration is started with its production command, timed to ready, and
driven by the load generator in a separate process for every workload and
concurrency; memory is read from /proc (psutil) once ready and again after the load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import server as srv
from benchmarks.machine import ROOT
from contract import cpu
from service.runtime import select
from service.settings import Settings

# Every request its own model call (still one model call at a time per worker).
BATCHING_OFF = {"BATCHING": "off"}


def configurations(
    workers: int, threads: int, default: str = "", int8_cached: bool = False
) -> dict[str, dict[str, Any]]:
    """name -> how to start it: the service (default runtime, TensorFlow, no batching, two model
    streams, photos with the native detector), the naive app.

    When the default is a gated int8 build (make quantize), the out-of-the-box OpenVINO precision
    (bf16 or f32, what a fresh install serves) runs too; when it is not but an int8 build is
    cached, INFERENCE_PRECISION=int8 runs too.
    """
    base = {"WORKERS": str(workers), "THREADS": str(threads), "LOG_LEVEL": "warning"}
    extra = {}
    if default == "openvino/int8":
        plain = select.auto_precision("openvino", cpu.cpu_flags())
        extra[f"service_{plain}"] = {"env": {**base, "INFERENCE_PRECISION": plain}, "naive": False}
    elif default.startswith("openvino/") and int8_cached:
        extra["service_int8"] = {"env": {**base, "INFERENCE_PRECISION": "int8"}, "naive": False}
    if default.startswith("openvino/") and Settings(workers=workers).intra_op_threads >= 2:
        # Two model calls at once, a thread each: the throughput option against the one-stream default.
        extra["service_streams2"] = {"env": {**base, "INFERENCE_STREAMS": "2"}, "naive": False}
    return {
        "service": {"env": base, "naive": False},
        **extra,
        # The service on the TensorFlow SavedModel signature: what the optimised runtime is compared with.
        "service_tensorflow": {"env": {**base, "INFERENCE_BACKEND": "tensorflow"}, "naive": False},
        "service_no_batching": {"env": {**base, **BATCHING_OFF}, "naive": False},
        # Photos with YuNet on the wheel's own build instead of OpenVINO (DETECTOR_RUNTIME=auto).
        "service_detector_native": {
            "env": {**base, "DETECTOR_RUNTIME": "native"},
            "naive": False,
            "workloads": ("b_scenes",),
        },
        # As many sync workers as the service has workers: the same processes, the tutorial way.
        "naive": {"env": {}, "naive": True, "workers": Settings(workers=workers).worker_count},
    }


def loadgen(
    url: str,
    payloads: Path,
    concurrency: list[int],
    duration: float,
    warmup: float,
    metrics_url: str | None = None,
    server_pid: int | None = None,
) -> list[dict[str, Any]]:
    """Run benchmarks.loadgen in its own process and return its per-concurrency results."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--url",
        url,
        "--payloads",
        str(payloads),
        "--concurrency",
        ",".join(map(str, concurrency)),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
    ]
    if metrics_url:
        command += ["--metrics-url", metrics_url]
    if server_pid:
        command += ["--server-pid", str(server_pid)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)["runs"]


def start_config(name: str, spec: dict[str, Any], model_dir: Path, log_dir: Path) -> srv.Server:
    """Start one configuration on a free port."""
    env = {"MODEL_DIR": str(model_dir), **spec["env"]}
    log = log_dir / f"{name}.log"
    if spec["naive"]:
        port = srv.free_port()
        return srv.start(srv.naive_command(port, spec["workers"]), env, port, log)
    return srv.start_service(log, env)


def run(
    model_dir: Path,
    payloads: dict[str, Path],
    *,
    concurrency: list[int],
    duration: float,
    warmup: float,
    workers: int,
    threads: int,
    log_dir: Path,
    after_load: Callable[[str, srv.Server], None] | None = None,
    default: str = "",
    int8_cached: bool = False,
) -> dict[str, Any]:
    """Every configuration x workload x concurrency, start-up time and memory per configuration.

    after_load(name, server) runs once each configuration's load runs are done, before it stops
    (the profiler uses it, so it needs no server of its own).
    """
    rows, processes = [], {}
    for name, spec in configurations(workers, threads, default, int8_cached).items():
        server = start_config(name, spec, model_dir, log_dir)
        try:
            settled = srv.settle(server) if len(srv.workers(server)) > 1 else 0.0
            idle = srv.memory(server)
            metrics_url = None if spec["naive"] else f"{server.url}/metrics"
            for workload, folder in payloads.items():
                if workload not in spec.get("workloads", payloads):
                    continue
                for result in loadgen(
                    f"{server.url}/predict",
                    folder,
                    concurrency,
                    duration,
                    warmup,
                    metrics_url,
                    server.process.pid,
                ):
                    rows.append({"config": name, "workload": workload, **result})
            processes[name] = {
                "ready_s": server.ready_s,
                "all_workers_settled_after_s": settled,
                "workers": len(srv.workers(server)),
                "memory_ready": idle,
                "memory_after_load": srv.memory(server),
                "env": spec["env"],
            }
            if after_load:
                after_load(name, server)
        finally:
            server.stop()
    return {
        "rows": rows,
        "processes": processes,
        "settings": {
            "workers": workers,
            "threads": threads,
            "duration_s": duration,
            "warmup_s": warmup,
            "concurrency": concurrency,
            "batching_off": BATCHING_OFF,
            "default_runtime": default,
        },
    }

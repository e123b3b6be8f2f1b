"""The OpenVINO CPU plugin properties both of the project's OpenVINO models compile with.

YuNet (contract/yunet_openvino.py) is called by one thread at a time per infer request and
wants one latency stream; the emotion model (service/runtime/openvino_backend.py) may run
INFERENCE_STREAMS calls at once, each on its own share of the cores.
"""

from __future__ import annotations

from typing import Any


def compile_config(precision: str, threads: int, streams: int = 1) -> dict[str, Any]:
    """CPU plugin properties: `streams` streams sharing `threads` cores, bf16 or f32 maths.

    One stream uses every thread for each call (the latency hint); several split the threads
    between calls that run at the same time (the throughput hint with that many streams).
    int8 graphs keep their unquantised layers in f32, so only their FakeQuantize ops change numbers.
    """
    if not 1 <= streams <= threads:
        raise ValueError(f"streams must be in [1, threads={threads}], got {streams}")
    return {
        "PERFORMANCE_HINT": "LATENCY" if streams == 1 else "THROUGHPUT",
        "NUM_STREAMS": streams,
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
    }

"""The OpenVINO CPU plugin properties both of the project's OpenVINO models compile with.

The emotion model (service/runtime/openvino_backend.py) and YuNet (contract/yunet_openvino.py)
are each called by one thread at a time per compiled model or infer request, so both want one
latency stream on a fixed number of cores; only the precision differs.
"""

from __future__ import annotations

from typing import Any


def compile_config(precision: str, threads: int) -> dict[str, Any]:
    """CPU plugin properties: one latency stream on `threads` cores, bf16 or f32 maths.

    int8 graphs keep their unquantised layers in f32, so only their FakeQuantize ops change numbers.
    """
    return {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
    }

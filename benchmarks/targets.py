"""What a benchmark run measures and the goals it is checked against (report and markdown both read them)."""

from __future__ import annotations

WORKLOADS = {"a_crops": "(a) 48x48 FER2013 crops", "b_scenes": "(b) 640x480 JPEG scenes, detection"}
TARGET = {
    "workload": "a_crops",
    "concurrency": 32,
    "min_ceiling_ratio": 0.7,
    "min_naive_ratio": 3.0,
    # issue 15, on a CPU with native bf16: 3x the INFERENCE_BACKEND=tensorflow service ...
    "min_tensorflow_ratio": 3.0,
    # ... and 640x480 photos at concurrency 8 with p99 <= 250 ms.
    "photos": {"workload": "b_scenes", "concurrency": 8, "max_p99_ms": 250.0},
}

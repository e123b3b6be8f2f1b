"""ms per 640x480 photo: yuface's libfacedetection vs YuNet on OpenVINO f32/bf16, 1 and 2 threads.

PYTHONPATH=/work/yunet OMP_NUM_THREADS=1 .venv/bin/python scratch/bench.py [seconds per case]
Short on purpose: the machine's two cores are shared with a background training job.
"""

from __future__ import annotations

import os
import sys
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from benchmarks.workloads import scenes
from contract.cpu import cpu_flags, cpu_model, relevant_flags
from contract.yunet_native import NativeYuNet
from contract.yunet_openvino import OpenVINOYuNet, detections, padded_size

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
CONF = 0.6


def timed(fn, photos: list[np.ndarray]) -> tuple[float, float]:
    """(ms per photo wall, ms per photo process CPU) over SECONDS, after a warm-up pass."""
    for img in photos[:3]:
        fn(img)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < SECONDS:
        fn(photos[n % len(photos)])
        n += 1
    return (time.perf_counter() - start) / n * 1e3, (time.process_time() - cpu) / n * 1e3


def parallel(make, photos: list[np.ndarray], workers: int = 2) -> float:
    """ms per photo (wall / photos) with `workers` Python threads, one detector each (throughput)."""
    detectors = [make() for _ in range(workers)]
    for det in detectors:
        det(photos[0])
    counts = [0] * workers
    stop = time.perf_counter() + SECONDS

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            detectors[i](photos[(counts[i] + i) % len(photos)])
            counts[i] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - start) / sum(counts) * 1e3


def _one_thread_detector(precision: str):
    """A static-shape, 1-thread OpenVINO detector as an image -> detections callable."""
    det = OpenVINOYuNet(precision, 1, dynamic=False)
    return lambda img: det.detect(img, CONF)


def main() -> None:
    photos = [
        cv2.imdecode(np.frombuffer(p.data, np.uint8), cv2.IMREAD_COLOR)
        for p in scenes("/work/shared/datasets/fer2013", 20)
    ]
    assert all(p.shape == (480, 640, 3) for p in photos)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, flags {' '.join(relevant_flags(cpu_flags()))}")
    print(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, {SECONDS:.0f} s a case")
    native = NativeYuNet()
    wall, cpu = timed(lambda img: native.detect(img, CONF), photos)
    print(f"yuface native       1 call at a time : {wall:6.2f} ms wall, {cpu:6.2f} ms CPU")
    ms = parallel(lambda: lambda img: native.detect(img, CONF), photos)
    print(f"yuface native       2 request threads: {ms:6.2f} ms/photo")
    for precision in ("f32", "bf16"):
        for dynamic in (True, False):
            for threads in (1, 2):
                det = OpenVINOYuNet(precision, threads, dynamic=dynamic)
                wall, cpu = timed(lambda img, d=det: d.detect(img, CONF), photos)
                label = f"OV {det.precision:4s} {'dyn' if dynamic else 'static'} {threads}t"
                print(f"{label:19s} 1 call at a time : {wall:6.2f} ms wall, {cpu:6.2f} ms CPU")
            if dynamic:
                continue
            ms = parallel(lambda p=precision: _one_thread_detector(p), photos)
            print(f"OV {precision:4s} static 1t  2 request threads: {ms:6.2f} ms/photo")
    # post-processing alone (decode + NMS), on the f32 outputs
    det = OpenVINOYuNet("f32", 1, dynamic=False)
    outs = [det.outputs(img).copy() for img in photos]
    rows, cols = padded_size(480, 640)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 1.0:
        detections(outs[n % len(outs)], rows, cols, CONF)
        n += 1
    print(f"decode + NMS alone: {(time.perf_counter() - start) / n * 1e3:.3f} ms/photo")


if __name__ == "__main__":
    main()

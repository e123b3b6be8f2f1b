"""Parity of the numpy reference / OpenVINO YuNet with yuface's libfacedetection on real photos.

PYTHONPATH=/work/yunet .venv/bin/python scratch/compare.py [numpy|f32|bf16 ...]
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from contract.yunet_native import NativeYuNet
from contract.yunet_openvino import NumpyYuNet, OpenVINOYuNet, reference_outputs

CONF = float(os.environ.get("CONF", "0.6"))


def images() -> list[tuple[str, np.ndarray]]:
    """The astronaut photo (file and skimage), and the benchmark's 640x480 scenes."""
    from skimage import data

    from benchmarks.workloads import scenes

    out = [("docs/astronaut.jpg", cv2.imread("/work/main/docs/astronaut.jpg"))]
    out.append(("skimage.astronaut", np.ascontiguousarray(data.astronaut()[:, :, ::-1])))
    for payload in scenes("/work/shared/datasets/fer2013", 20):
        out.append((payload.name, cv2.imdecode(np.frombuffer(payload.data, np.uint8), cv2.IMREAD_COLOR)))
    # odd sizes: padding to a multiple of 32 at the bottom/right
    out.append(("astronaut 500x375", cv2.resize(out[0][1], (500, 375), interpolation=cv2.INTER_AREA)))
    out.append(("astronaut 333x250", cv2.resize(out[0][1], (333, 250), interpolation=cv2.INTER_AREA)))
    return out


def match(ref, got) -> tuple[int, int, int, float, float, float]:
    """Greedy match by box IoU > 0.5: (matched, missed, extra, max box diff, max score diff, max lm diff)."""
    rs, rb, rl = ref
    gs, gb, gl = got
    used = set()
    box_d = score_d = lm_d = 0.0
    matched = 0
    for i in range(len(rs)):
        best, best_iou = -1, 0.5
        for j in range(len(gs)):
            if j in used:
                continue
            a, b = rb[i], gb[j]
            w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
            h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
            inter = max(w, 0) * max(h, 0)
            iou = inter / (a[2] * a[3] + b[2] * b[3] - inter)
            if iou > best_iou:
                best, best_iou = j, iou
        if best < 0:
            continue
        used.add(best)
        matched += 1
        box_d = max(box_d, float(np.abs(rb[i] - gb[best]).max()))
        score_d = max(score_d, abs(float(rs[i]) - float(gs[best])) / 100)
        lm_d = max(lm_d, float(np.abs(rl[i] - gl[best]).max()))
    return matched, len(rs) - matched, len(gs) - len(used), box_d, score_d, lm_d


def main() -> None:
    kinds = sys.argv[1:] or ["numpy"]
    native = NativeYuNet()
    pics = images()
    truth = [native.detect(img, CONF) for _, img in pics]
    for kind in kinds:
        precision, _, static = kind.partition("-")
        det = NumpyYuNet() if kind == "numpy" else OpenVINOYuNet(precision, 1, dynamic=not static)
        if kind != "numpy":
            raw = det.outputs(pics[0][1]) - reference_outputs(pics[0][1])
            print(f"{kind} ({det.precision}): max |output - numpy| on the astronaut: {np.abs(raw).max(0)}")
        totals = np.zeros(3, int)
        worst = np.zeros(3)
        for (name, img), ref in zip(pics, truth, strict=True):
            got = det.detect(img, CONF)
            m, miss, extra, bd, sd, ld = match(ref, got)
            totals += (m, miss, extra)
            worst = np.maximum(worst, (bd, sd, ld))
            if miss or extra or bd > 1 or sd > 0.01:
                print(f"  {kind} {name} {img.shape}: ref {ref[0].tolist()} {ref[1].tolist()}")
                print(f"  {kind} {name}: got {got[0].tolist()} {got[1].tolist()}")
        print(
            f"{kind}: {len(pics)} images, {totals[0]} matched, {totals[1]} missed, {totals[2]} extra; "
            f"max |box| {worst[0]:.0f} px, max |score| {worst[1]:.2f}, max |landmark| {worst[2]:.0f} px"
        )


if __name__ == "__main__":
    main()

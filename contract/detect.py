"""Face detectors that run offline: YuNet (libfacedetection via `yuface`, default) and a Haar cascade.

Shared by serving (contract.faces, used by service.stages.faces), training (`--detect`
datasets, photo evaluation, crop calibration) and the predict CLI, so every path finds faces
the same way. Both take a uint8 gray or BGR image and return face boxes in its own pixel
coordinates. YuNet is a small CNN with its weights compiled into the wheel; it finds far more
faces than the Haar cascade on real photos (see the report in tests/service/detector_recall.py),
which stays as the fallback (`DETECTOR=haar`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)
# YuNet's accuracy drops on inputs over ~960 px (yuface warns about it) and its cost grows with the
# area: measured 46 ms of CPU for a 640x480 photo, 22 ms at 480 px, 9 ms at 320 px on a 2-core
# EPYC. DETECTOR_MAX_SIDE trades small-face recall for that cost (docs/photos.md); this is its
# default, and service.settings validates the same range.
YUNET_MAX_SIDE = 640
YUNET_MAX_SIDE_RANGE = (160, 1280)
HAAR_MAX_SIDE = 1024
# When the first pass finds nothing, YuNet looks again at up to this long side. Small faces (under
# ~100 px) are YuNet's weak spot: on 64 px faces pasted into 640x480 photos a 2x second pass raised
# recall from 70% to 93% (docs/photos.md), at ~4x the first pass's cost, paid only by photos where
# the first pass found no face. 1920 = a third pass at 3x of the default first pass.
YUNET_RETRY_MAX_SIDE = 1920
# The later passes' defaults (DETECTOR_RETRY_SCALE, _THIRD_SCALE, _RETRY_MIN_SHARE), chosen on
# validation scenes and face-free photos by make calibrate-retry (training/configs/retry-calibration.json).
YUNET_RETRY_SCALE = 2.0
YUNET_THIRD_SCALE = 3.0
YUNET_RETRY_MIN_SHARE = 0.05  # 32 px in a 640 px photo


@dataclass(frozen=True)
class Detection:
    """One face box (x, y, width, height) in image pixels, the detector's score (None if it has none)
    and, from YuNet, five landmarks (x, y): the two eyes, the nose tip and the two mouth corners."""

    x: int
    y: int
    width: int
    height: int
    score: float | None
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def area(self) -> int:
        """Box area in pixels (the largest face is the 'main' one in a photo)."""
        return self.width * self.height


class Detector(Protocol):
    """Anything that finds faces."""

    name: str
    runtime: str  # what runs it, for /metadata and the startup log: "openvino/bf16", "native", ...

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Face boxes in image coordinates, best first."""


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most max_side; returns the image and the scale applied."""
    return _rescale(image, min(1.0, max_side / max(image.shape[:2])))


def _rescale(image: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """Resize by `scale` (area filter down, linear up); returns the image and the scale applied."""
    if scale == 1.0:
        return image, scale
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation), scale


def _to_image_coords(
    box: np.ndarray,
    scale: float,
    shape: tuple[int, ...],
    score: float | None,
    landmarks: np.ndarray | None = None,
) -> Detection | None:
    """Map a box from the detector's scaled image back, clipped to the image; None if nothing is left."""
    x0, y0, w, h = (float(v) / scale for v in box)
    height, width = shape[:2]
    x1, y1 = min(width, round(x0 + w)), min(height, round(y0 + h))
    x0, y0 = max(0, round(x0)), max(0, round(y0))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    points = None
    if landmarks is not None:
        flat = [float(v) / scale for v in landmarks]
        points = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    return Detection(x0, y0, x1 - x0, y1 - y0, score, points)


YUNET_RUNTIMES = ("auto", "native", "openvino")


class DetectorUnavailable(RuntimeError):
    """An explicitly chosen detector runtime cannot run here (e.g. DETECTOR_RUNTIME=openvino
    without a usable OpenVINO): the service refuses to start instead of silently detecting slower."""


class YuNetDetector:
    """libfacedetection's CNN (the YuNet family), with the weights of the `yuface` wheel.

    runtime: "native" runs the wheel's own libfacedetection build; "openvino" the same network and
    weights rebuilt on OpenVINO (contract/yunet_openvino.py: the same detections, bf16 where the CPU
    has native bf16, else f32, at 1/5 to 1/9 of the CPU); "auto" is openvino when it can be built
    and native otherwise, with one log line saying why. `self.runtime` says which one runs.
    """

    name = "yunet"

    def __init__(
        self,
        confidence: float = 0.6,
        retry_scale: float = YUNET_RETRY_SCALE,
        max_side: int = YUNET_MAX_SIDE,
        runtime: str = "auto",
        third_scale: float = YUNET_THIRD_SCALE,
        retry_min_share: float = YUNET_RETRY_MIN_SHARE,
    ) -> None:
        if retry_scale < 1.0:
            raise ValueError(f"retry_scale must be >= 1 (1 = no second pass), got {retry_scale}")
        if third_scale and third_scale <= retry_scale:
            message = f"third_scale must be 0 (none) or above retry_scale ({retry_scale}): {third_scale}"
            raise ValueError(message)
        if not 0.0 <= retry_min_share < 1.0:
            raise ValueError(f"retry_min_share must be in [0, 1), got {retry_min_share}")
        low, high = YUNET_MAX_SIDE_RANGE
        if not low <= max_side <= high:
            raise ValueError(f"max_side must be in [{low}, {high}] px, got {max_side}")
        if runtime not in YUNET_RUNTIMES:
            raise ValueError(f"unknown YuNet runtime {runtime!r} ({', '.join(YUNET_RUNTIMES)})")
        # libfacedetection parallelises each call with OpenMP. Requests already run in parallel
        # threads, and on a busy machine the extra OpenMP team spin-waits: measured 10x slower.
        # libgomp reads this once, when `import yuface` loads it.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import yuface  # imported here so the Haar path works without the wheel

        self._detect: Callable[[np.ndarray, float], Any] | None = None
        if runtime != "native":
            try:
                self._detect, self.runtime = self._openvino()
            except Exception as exc:  # any failure to build or compile it means "not on this machine"
                if runtime == "openvino":
                    raise DetectorUnavailable(f"DETECTOR_RUNTIME=openvino cannot run here: {exc}") from exc
                log.warning("YuNet on OpenVINO unavailable (%s): using the wheel's libfacedetection", exc)
        if self._detect is None:
            self._detect, self.runtime = self._native(yuface)
        self.confidence = confidence
        self.retry_scale = retry_scale
        self.third_scale = third_scale
        self.retry_min_share = retry_min_share
        self.max_side = max_side

    @staticmethod
    def _openvino() -> tuple[Callable[[np.ndarray, float], Any], str]:
        """The network on OpenVINO, one thread a call like the native path (request threads
        supply the parallelism), bf16 where the CPU has native bf16."""
        from contract.cpu import cpu_flags, native_bf16
        from contract.yunet_openvino import OpenVINOYuNet

        detector = OpenVINOYuNet("bf16" if native_bf16(cpu_flags()) else "f32", threads=1)
        return detector.detect, f"openvino/{detector.precision}"

    @staticmethod
    def _native(yuface: Any) -> tuple[Callable[[np.ndarray, float], Any], str]:
        """libfacedetection through ctypes, or yuface's own (leaky) binding if the symbol is missing."""
        try:  # no leak, and the GIL is released (contract/yunet_native.py)
            from contract.yunet_native import NativeYuNet

            return NativeYuNet().detect, "native"
        except (OSError, AttributeError) as exc:  # a yuface build without the expected symbol
            log.warning("yuface's libfacedetection entry point not usable (%s): using its leaky binding", exc)
            return (lambda bgr, conf: yuface.detect(bgr, conf=conf)), "yuface"

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces scoring above the confidence threshold; larger passes while none is found.

        The second pass (retry_scale) and the optional third (third_scale) only run when every
        pass before found nothing. Their boxes are kept only if their shorter side is at least
        retry_min_share of the photo's long side (0.05: 32 px in a 640 px photo): an enlarged
        photo shows the detector face-like texture at sizes where a real face the first pass
        missed rarely is (docs/photos.md has the measurement). A share, not pixels, so that a
        small upload (a 48 px crop with detect=always) keeps the face its retry finds.
        """
        first = min(1.0, self.max_side / max(image.shape[:2]))
        found = self._pass(image, first)
        cap = YUNET_RETRY_MAX_SIDE / max(image.shape[:2])
        tried = first
        for factor in (self.retry_scale, self.third_scale):
            scale = min(first * factor, cap)
            # Found; or off (retry 1 = one pass only, third 0 = none), or held at the cap.
            if found or scale <= tried * 1.05:
                break
            floor = self.retry_min_share * max(image.shape[:2])
            found = [d for d in self._pass(image, scale) if min(d.width, d.height) >= floor]
            tried = scale
        return found

    def _pass(self, image: np.ndarray, scale: float) -> list[Detection]:
        """One YuNet run on the image resized by `scale`, boxes mapped back to the image."""
        small, scale = _rescale(image, scale)
        bgr = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR) if small.ndim == 2 else small
        scores, boxes, landmarks = self._detect(np.ascontiguousarray(bgr), self.confidence)
        found = (
            _to_image_coords(box, scale, image.shape, round(float(s) / 100.0, 4), points)
            for s, box, points in zip(scores, boxes, landmarks, strict=True)
        )
        return sorted((d for d in found if d), key=lambda d: -(d.score or 0.0))


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: always available, but misses many real faces."""

    name = "haar"
    runtime = "opencv"

    def __init__(self) -> None:
        self._path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        if cv2.CascadeClassifier(self._path).empty():
            raise RuntimeError(f"cannot load the Haar cascade {self._path}")
        self._local = threading.local()  # a CascadeClassifier must not be shared between threads

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces the cascade accepts, largest first (it gives no usable score)."""
        cascade = getattr(self._local, "cascade", None)
        if cascade is None:
            cascade = self._local.cascade = cv2.CascadeClassifier(self._path)
        small, scale = _downscale(image, HAAR_MAX_SIDE)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        min_side = max(20, min(gray.shape) // 40)
        boxes = cascade.detectMultiScale(
            cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
        )
        found = (_to_image_coords(box, scale, image.shape, None) for box in boxes)
        return sorted((d for d in found if d), key=lambda d: -d.width * d.height)


def make_detector(
    name: str,
    confidence: float = 0.6,
    retry_scale: float = YUNET_RETRY_SCALE,
    max_side: int = YUNET_MAX_SIDE,
    runtime: str = "auto",
    third_scale: float = YUNET_THIRD_SCALE,
    retry_min_share: float = YUNET_RETRY_MIN_SHARE,
) -> Detector:
    """The detector named by the DETECTOR setting (retry_scale: YuNet's second pass, 1 = none;
    max_side: the long side of YuNet's first pass; runtime: DETECTOR_RUNTIME, what runs YuNet;
    third_scale: a third pass, 0 = none; retry_min_share: the smallest box the later passes keep,
    as a share of the photo's long side; the Haar cascade ignores them all)."""
    if name == "yunet":
        return YuNetDetector(confidence, retry_scale, max_side, runtime, third_scale, retry_min_share)
    if name == "haar":
        return HaarDetector()
    raise ValueError(f"unknown detector {name!r} (yunet or haar)")

"""YuNet through libfacedetection's C entry point, with a buffer we own.

The `yuface` wheel's Python binding allocates libfacedetection's 36 KiB result buffer on
every call and never frees it (RSS grows ~35 MiB per 1,000 detections: a video or a
long-running worker grows without bound), and it holds the GIL for the whole detection.
The shared library it ships exports `facedetect_cnn(result_buffer, bgr, width, height,
step)`; calling it through ctypes with one reused buffer per thread leaks nothing, and
ctypes releases the GIL during the call, so request threads detect in parallel.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

BUFFER_BYTES = 0x9000  # libfacedetection's DETECT_BUFFER_SIZE
SYMBOL = "_Z14facedetect_cnnPhS_iii"  # facedetect_cnn(unsigned char*, unsigned char*, int, int, int)
ROW = 16  # shorts per face: score, x, y, w, h, 5 landmark (x, y) pairs, 1 reserved


class NativeYuNet:
    """`detect(bgr, conf)` with yuface's return values (scores 0-100, XYWH boxes, 10 landmark values)."""

    def __init__(self) -> None:
        import yuface  # only to find the shared library it ships

        library = ctypes.CDLL(str(Path(yuface.__file__).parent / "libfacedetection.so"))
        self._fn = getattr(library, SYMBOL)
        self._fn.restype = ctypes.c_void_p
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._local = threading.local()
        # The library initialises its weights on the first call without a lock: make that call here.
        with threading.Lock():
            self.detect(np.zeros((64, 64, 3), np.uint8), 0.5)

    def detect(self, bgr: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces in a contiguous uint8 BGR image scoring above conf (0..1)."""
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = np.zeros(BUFFER_BYTES, np.uint8)
        image = np.ascontiguousarray(bgr, dtype=np.uint8)
        height, width = image.shape[:2]
        self._fn(buffer.ctypes.data, image.ctypes.data, width, height, image.strides[0])
        count = int(buffer[:4].view(np.int32)[0])
        count = max(0, min(count, (BUFFER_BYTES - 4) // (2 * ROW)))
        rows = buffer[4 : 4 + count * 2 * ROW].view(np.int16).reshape(count, ROW).astype(np.int32)
        rows = rows[rows[:, 0] > conf * 100]
        return rows[:, 0], rows[:, 1:5], rows[:, 5:15]

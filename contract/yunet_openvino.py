"""YuNet (libfacedetection v3, the network inside the `yuface` wheel) rebuilt on OpenVINO.

The wheel's libfacedetection is compiled without AVX-512 and with little AVX2, and YuNet is most of
the CPU a photo costs. Its weights are plain float32 arrays in the shared library's .data section,
exported as dynamic symbols named after the PyTorch modules (`backbone__model0_pw_weight`, ...).
This module reads them from the installed wheel's ELF file at runtime (nothing is copied into the
repository), rebuilds the same network as an OpenVINO graph and decodes its output the way
libfacedetection does, so `OpenVINOYuNet.detect` is a drop-in for `contract.yunet_native.NativeYuNet`.

The network (53 convolutions, NHWC maths in libfacedetection, NCHW here):
  * a 3x3 stride-2 convolution of the raw BGR image (0..255, zero-padded to a multiple of 32) to 16
    channels; libfacedetection runs it as a 1x1 convolution over a 27(+5 zero)-channel im2col,
  * "DP" units: a 1x1 convolution without ReLU, then a 3x3 depthwise one (BN folded in) with ReLU,
  * a backbone of DP units and 2x2 max pools giving stride 8/16/32 features, a top-down neck
    (nearest x2 upsampling + add, then one DP unit per level),
  * four heads per level, each one DP unit without ReLU: cls (1), bbox (4), obj (1), kps (10).
Decoding is anchor-free: score = sqrt(sigmoid(cls) * sigmoid(obj)), centre = prior + d * stride,
size = exp(d) * stride, landmarks = prior + d * stride, then greedy NMS.
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from contract.cpu import usable_cores
from contract.openvino_config import compile_config

STRIDES = (8, 16, 32)
PAD = 32  # libfacedetection pads the image to a multiple of its largest stride
# libfacedetection v3's detection_output: candidates need a score >= 0.5, the 1000 best go through
# greedy NMS at IoU 0.3, the 100 best survivors are returned. Kept as the library has them so the
# detections match yuface's (callers filter on their own, higher, confidence).
NMS_IOU = 0.3
MIN_SCORE = 0.5
TOP_K = 1000
KEEP_TOP_K = 100
HEAD_CHANNELS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}
# Columns of the per-anchor output row: score, bbox deltas (4), landmark deltas (10).
ROW = 15


def wheel_library() -> Path:
    """The libfacedetection shared library the installed `yuface` wheel ships (import-free lookup)."""
    from importlib.util import find_spec

    spec = find_spec("yuface")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the yuface wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "libfacedetection.so"


@dataclass(frozen=True)
class Symbol:
    """One exported data symbol of the ELF file: its name, virtual address, size and file offset."""

    name: str
    address: int
    size: int
    offset: int


def elf_data_symbols(path: Path) -> dict[str, Symbol]:
    """The defined object symbols of a little-endian ELF64 shared library's .dynsym, by name.

    Parsed by hand (the format is small and stable) so reading the weights needs neither pyelftools
    nor loading the library; file offsets come from the section holding each symbol's address.
    """
    blob = path.read_bytes()
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        raise ValueError(f"{path} is not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", blob, 0x3A)
    # Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * shentsize) for i in range(shnum)]
    symbols: dict[str, Symbol] = {}
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link][4]
        for pos in range(offset, offset + size, entsize):
            name_at, info, _, shndx, value, sym_size = struct.unpack_from("<IBBHQQ", blob, pos)
            if info & 0xF != 1 or shndx == 0 or shndx >= len(sections):  # STT_OBJECT, defined
                continue
            end = blob.index(b"\0", strtab + name_at)
            name = blob[strtab + name_at : end].decode()
            _, _, _, sec_addr, sec_offset, *_ = sections[shndx]
            symbols[name] = Symbol(name, value, sym_size, value - sec_addr + sec_offset)
    return symbols


@dataclass(frozen=True)
class Conv:
    """A folded convolution: a 1x1 (weight [out, in]) or a 3x3 depthwise (weight [9, channels],
    taps in row-major (ky, kx) order, as libfacedetection stores them), and its bias."""

    weight: np.ndarray
    bias: np.ndarray

    @property
    def depthwise(self) -> bool:
        return self.weight.shape[0] == 9 and self.weight.shape[1] == self.bias.size


Weights = dict[str, Conv]


def _unit_names() -> list[str]:
    """Every DP unit's symbol prefix, in libfacedetection's layer order (param_pConvInfo)."""
    names = ["backbone__model0_dp"]
    names += [f"backbone__model{i}_dp{j}" for i in range(1, 6) for j in (1, 2)]
    names += [f"neck__lateral_convs__{i}" for i in range(3)]
    names += [
        f"bbox_head__multi_level_{head}__{i}" for head in ("cls", "bbox", "obj", "kps") for i in range(3)
    ]
    return names


@cache
def read_weights(path: Path | None = None) -> Weights:
    """YuNet's 53 convolutions from the wheel's library, keyed by symbol prefix + '_pw'/'_dw'.

    'backbone__model0_pw' is the first 3x3 stride-2 convolution, returned as [16, 3, 3, 3] (out, ky,
    kx, BGR): libfacedetection stores it as [16, 32], 27 im2col columns in (ky, kx, channel) order
    then 5 zeros. Shapes are checked against the architecture, so a wheel with a different network
    fails here rather than detecting nonsense.
    """
    path = path or wheel_library()
    blob = path.read_bytes()
    symbols = elf_data_symbols(path)

    def array(name: str) -> np.ndarray:
        if name not in symbols:
            raise KeyError(f"{path} has no symbol {name}: not the YuNet (libfacedetection v3) build")
        sym = symbols[name]
        return np.frombuffer(blob, "<f4", sym.size // 4, sym.offset).copy()

    weights: Weights = {}
    first = array("backbone__model0_pw_weight").reshape(16, 32)
    if np.any(first[:, 27:]):
        raise ValueError("first convolution: the 5 im2col padding columns are not zero")
    weights["backbone__model0_pw"] = Conv(
        first[:, :27].reshape(16, 3, 3, 3), array("backbone__model0_pw_bias")
    )
    for unit in _unit_names():
        pw_bias = array(f"{unit}_pw_bias")
        pw = array(f"{unit}_pw_weight")
        weights[f"{unit}_pw"] = Conv(pw.reshape(pw_bias.size, pw.size // pw_bias.size), pw_bias)
        dw_bias = array(f"{unit}_dw_bias")
        weights[f"{unit}_dw"] = Conv(array(f"{unit}_dw_weight").reshape(9, dw_bias.size), dw_bias)
    _check_shapes(weights)
    return weights


def _check_shapes(weights: Weights) -> None:
    """Raise unless every layer has the shape YuNet v3 (libfacedetection 2023) has."""
    expected = {"backbone__model0_dp": (16, 16), "backbone__model1_dp1": (16, 16)}
    expected |= {"backbone__model1_dp2": (16, 32), "backbone__model2_dp1": (32, 32)}
    expected |= {"backbone__model2_dp2": (32, 64)}
    expected |= {f"backbone__model{i}_dp{j}": (64, 64) for i in range(3, 6) for j in (1, 2)}
    expected |= {f"neck__lateral_convs__{i}": (64, 64) for i in range(3)}
    for head, out in HEAD_CHANNELS.items():
        expected |= {f"bbox_head__multi_level_{head}__{i}": (64, out) for i in range(3)}
    for unit, (cin, cout) in expected.items():
        pw, dw = weights[f"{unit}_pw"], weights[f"{unit}_dw"]
        if pw.weight.shape != (cout, cin) or pw.bias.shape != (cout,) or dw.weight.shape != (9, cout):
            raise ValueError(f"{unit}: shapes {pw.weight.shape}, {dw.weight.shape} are not YuNet v3's")
    if len(weights) != 53:
        raise ValueError(f"expected 53 convolutions, found {len(weights)}")


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The input size libfacedetection runs: each side rounded up to a multiple of 32."""
    return -(-height // PAD) * PAD, -(-width // PAD) * PAD


def pad_image(bgr: np.ndarray) -> np.ndarray:
    """The uint8 BGR image zero-padded at the bottom and right to a multiple of 32 (a view if it is)."""
    height, width = bgr.shape[:2]
    rows, cols = padded_size(height, width)
    if (rows, cols) == (height, width):
        return np.ascontiguousarray(bgr)
    out = np.zeros((rows, cols, 3), np.uint8)
    out[:height, :width] = bgr
    return out


# ----------------------------------------------------------------------------------------------
# Slow numpy reference (float32, NHWC): the ground truth the OpenVINO graph is checked against.


def _np_pointwise(x: np.ndarray, conv: Conv) -> np.ndarray:
    return x @ conv.weight.T + conv.bias


def _np_depthwise(x: np.ndarray, conv: Conv, relu: bool) -> np.ndarray:
    height, width = x.shape[:2]
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.broadcast_to(conv.bias, x.shape).copy()
    for tap in range(9):
        ky, kx = divmod(tap, 3)
        out += padded[ky : ky + height, kx : kx + width] * conv.weight[tap]
    return np.maximum(out, 0) if relu else out


def _np_dp(x: np.ndarray, weights: Weights, unit: str, relu: bool = True) -> np.ndarray:
    return _np_depthwise(_np_pointwise(x, weights[f"{unit}_pw"]), weights[f"{unit}_dw"], relu)


def _np_pool(x: np.ndarray) -> np.ndarray:
    height, width, channels = x.shape
    return x.reshape(height // 2, 2, width // 2, 2, channels).max(axis=(1, 3))


def _np_up(x: np.ndarray) -> np.ndarray:
    return x.repeat(2, axis=0).repeat(2, axis=1)


def reference_outputs(bgr: np.ndarray, weights: Weights | None = None) -> np.ndarray:
    """YuNet in numpy: [anchors, 15] rows (score, 4 bbox deltas, 10 kps deltas), strides 8, 16, 32
    in turn, each level's anchors in row-major order (libfacedetection's concatenation order)."""
    weights = weights or read_weights()
    image = pad_image(bgr).astype(np.float32)
    rows, cols = image.shape[:2]
    # 3x3 stride-2 pad-1 convolution as taps over the zero-padded image.
    framed = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    first = weights["backbone__model0_pw"]
    x = np.broadcast_to(first.bias, (rows // 2, cols // 2, 16)).copy()
    for ky in range(3):
        for kx in range(3):
            x += framed[ky : ky + rows : 2, kx : kx + cols : 2] @ first.weight[:, ky, kx, :].T
    x = np.maximum(x, 0)
    x = _np_pool(_np_dp(x, weights, "backbone__model0_dp"))
    for i in (1, 2):
        x = _np_dp(_np_dp(x, weights, f"backbone__model{i}_dp1"), weights, f"backbone__model{i}_dp2")
    features = []
    for i in (3, 4, 5):
        x = _np_pool(x)
        x = _np_dp(_np_dp(x, weights, f"backbone__model{i}_dp1"), weights, f"backbone__model{i}_dp2")
        features.append(x)
    levels: list[np.ndarray] = [np.empty(0)] * 3
    top = None
    for level in (2, 1, 0):  # top-down: the stride-32 level first, each upsampled into the next
        x = features[level] if top is None else features[level] + _np_up(top)
        top = x = _np_dp(x, weights, f"neck__lateral_convs__{level}")
        heads = {
            head: _np_dp(x, weights, f"bbox_head__multi_level_{head}__{level}", relu=False)
            for head in HEAD_CHANNELS
        }
        score = np.sqrt(_sigmoid(heads["cls"]) * _sigmoid(heads["obj"]))
        levels[level] = np.concatenate([score, heads["bbox"], heads["kps"]], axis=-1).reshape(-1, ROW)
    return np.concatenate(levels)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -88.3762626647949, 88.3762626647949)))


# ----------------------------------------------------------------------------------------------
# Decoding and NMS (shared by the numpy reference and the OpenVINO model).


@cache
def priors(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's (x, y) top-left prior in pixels and its stride, for a padded rows x cols input."""
    points, strides = [], []
    for stride in STRIDES:
        ys, xs = np.mgrid[0 : rows // stride, 0 : cols // stride].astype(np.float32) * stride
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full(xs.size, stride, np.float32))
    return np.concatenate(points), np.concatenate(strides)


def decode(
    outputs: np.ndarray, rows: int, cols: int, min_score: float = MIN_SCORE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, corner boxes (x0, y0, x1, y1) and landmarks (10) of the anchors scoring >= min_score,
    best first (a stable sort, like libfacedetection's), before NMS."""
    keep = np.flatnonzero(outputs[:, 0] >= min_score)
    keep = keep[np.argsort(-outputs[keep, 0], kind="stable")][:TOP_K]
    points, strides = priors(rows, cols)
    rows_ = outputs[keep]
    point, stride = points[keep], strides[keep, None]
    centre = rows_[:, 1:3] * stride + point
    half = np.exp(rows_[:, 3:5]) * stride / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    landmarks = rows_[:, 5:15] * stride + np.tile(point, 5)
    return rows_[:, 0], boxes, landmarks


def nms(boxes: np.ndarray, iou: float = NMS_IOU, keep_top_k: int = KEEP_TOP_K) -> np.ndarray:
    """Indices kept by greedy NMS over boxes sorted best first (a box goes if IoU > iou with a kept one)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    alive = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        kept.append(i)
        if len(kept) == keep_top_k:
            break
        rest = np.flatnonzero(alive[i + 1 :]) + i + 1
        w = np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0])
        h = np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1])
        inter = np.where((w > 0) & (h > 0), w * h, 0.0)
        overlap = inter / (area[i] + area[rest] - inter)
        alive[rest[overlap > iou]] = False
    return np.asarray(kept, np.int64)


def detections(
    outputs: np.ndarray, rows: int, cols: int, conf: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NativeYuNet's return values from the network's output rows: integer scores 0-100 above
    conf * 100, XYWH boxes and 10 landmark values, truncated to integers as libfacedetection does."""
    scores, boxes, landmarks = decode(outputs, rows, cols)
    kept = nms(boxes)
    scores, boxes, landmarks = scores[kept], boxes[kept], landmarks[kept]
    # libfacedetection stores (short)(score * 100), (int) corners and (int)(x1 - x0): C truncation.
    ints = np.trunc(scores * 100).astype(np.int32)
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    xywh = np.trunc(xywh).astype(np.int32)
    points = np.trunc(landmarks).astype(np.int32)
    good = ints > conf * 100
    return ints[good], xywh[good], points[good]


class NumpyYuNet:
    """The numpy reference as a detector (slow: ~1 s a photo; for parity checks only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.weights = read_weights(path)

    def detect(self, bgr: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces scoring above conf (0..1), with NativeYuNet's return values."""
        rows, cols = padded_size(*bgr.shape[:2])
        return detections(reference_outputs(bgr, self.weights), rows, cols, conf)


# ----------------------------------------------------------------------------------------------
# OpenVINO graph.


def build_model(weights: Weights | None = None) -> Any:
    """YuNet as an `ov.Model`: input 'image' [1, rows, cols, 3] uint8 BGR (dynamic rows and cols,
    multiples of 32), output 'rows' [anchors, 15] like `reference_outputs`.

    Built op by op with openvino.opset13 rather than through Keras/TF + convert_model: the network
    is only 1x1, 3x3-depthwise and one 3x3 convolution, pools, a nearest upsample and adds, so the
    graph is ~150 lines with no extra framework to load, and the weights go straight from the wheel
    into OpenVINO constants.
    """
    import openvino as ov
    import openvino.opset13 as ops

    weights = weights or read_weights()
    image = ops.parameter([1, -1, -1, 3], ov.Type.u8, name="image")
    x = ops.transpose(ops.convert(image, ov.Type.f32), ops.constant(np.array([0, 3, 1, 2], np.int64)))

    def bias(node: Any, conv: Conv) -> Any:
        return ops.add(node, ops.constant(conv.bias.reshape(1, -1, 1, 1)))

    def pointwise(node: Any, conv: Conv) -> Any:
        kernel = ops.constant(conv.weight[:, :, None, None].copy())
        return bias(ops.convolution(node, kernel, [1, 1], [0, 0], [0, 0], [1, 1]), conv)

    def depthwise(node: Any, conv: Conv, relu: bool) -> Any:
        # [9, C] taps -> [C groups, 1 out, 1 in, 3, 3]
        kernel = ops.constant(conv.weight.T.reshape(-1, 1, 1, 3, 3).copy())
        out = bias(ops.group_convolution(node, kernel, [1, 1], [1, 1], [1, 1], [1, 1]), conv)
        return ops.relu(out) if relu else out

    def dp(node: Any, unit: str, relu: bool = True) -> Any:
        return depthwise(pointwise(node, weights[f"{unit}_pw"]), weights[f"{unit}_dw"], relu)

    def pool(node: Any) -> Any:
        return ops.max_pool(node, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0)

    def up(node: Any) -> Any:
        return ops.interpolate(
            node,
            ops.constant(np.array([2.0, 2.0], np.float32)),
            "nearest",
            "scales",
            axes=ops.constant(np.array([2, 3], np.int64)),
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )

    first = weights["backbone__model0_pw"]
    kernel = ops.constant(first.weight.transpose(0, 3, 1, 2).copy())  # [out, BGR, ky, kx]
    x = ops.relu(bias(ops.convolution(x, kernel, [2, 2], [1, 1], [1, 1], [1, 1]), first))
    x = pool(dp(x, "backbone__model0_dp"))
    for i in (1, 2):
        x = dp(dp(x, f"backbone__model{i}_dp1"), f"backbone__model{i}_dp2")
    features = []
    for i in (3, 4, 5):
        x = dp(dp(pool(x), f"backbone__model{i}_dp1"), f"backbone__model{i}_dp2")
        features.append(x)
    levels: list[Any] = [None] * 3
    top = None
    nhwc = ops.constant(np.array([0, 2, 3, 1], np.int64))
    flat = ops.constant(np.array([-1, ROW], np.int64))
    for level in (2, 1, 0):
        x = features[level] if top is None else ops.add(features[level], up(top))
        top = x = dp(x, f"neck__lateral_convs__{level}")
        heads = {head: dp(x, f"bbox_head__multi_level_{head}__{level}", relu=False) for head in HEAD_CHANNELS}
        score = ops.sqrt(ops.multiply(ops.sigmoid(heads["cls"]), ops.sigmoid(heads["obj"])))
        joined = ops.concat([score, heads["bbox"], heads["kps"]], axis=1)
        levels[level] = ops.reshape(ops.transpose(joined, nhwc), flat, special_zero=False)
    out = ops.concat(levels, axis=0)
    out.output(0).get_tensor().set_names({"rows"})
    return ov.Model([out], [image], "yunet")


class OpenVINOYuNet:
    """`detect(bgr, conf)` with NativeYuNet's return values, the network running on OpenVINO.

    One model with a dynamic input size is compiled once (a photo service sees dozens of aspect
    ratios). Thread-safe: the compiled model is shared, and a call borrows one of at most
    `max_requests` infer requests (made as needed), waiting while all are busy. Each request keeps
    its own buffers for the photo sizes it has seen, so one per request thread (32 in a worker)
    left a worker 15-25 MiB larger after photo load than 2 or 4 do, at the same photos a second:
    each call runs on one thread, so more calls at once than cores gain nothing
    (docs/configuration.md#process-model).
    """

    def __init__(
        self, precision: str = "f32", threads: int = 1, path: Path | None = None, max_requests: int = 0
    ) -> None:
        import openvino as ov

        self._compiled = ov.Core().compile_model(
            build_model(read_weights(path)), "CPU", compile_config(precision, threads)
        )
        self.max_requests = max_requests or 2 * usable_cores()  # one running, one decoding, per core
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._made = 0
        self._made_lock = threading.Lock()
        # What the plugin really runs: bf16 falls back to f32 on CPUs without native bf16.
        self.precision = self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()

    @property
    def requests_made(self) -> int:
        """Infer requests created so far (never more than max_requests)."""
        return self._made

    @contextmanager
    def _request(self) -> Iterator[Any]:
        """An idle infer request, a new one while fewer than max_requests exist, else the next freed."""
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            with self._made_lock:
                make = self._made < self.max_requests
                if make:
                    self._made += 1
            request = self._new_request() if make else self._idle.get()
        try:
            yield request
        finally:
            self._idle.put(request)

    def _new_request(self) -> Any:
        """A new infer request; if it cannot be made, its slot is given back so no caller waits for it."""
        try:
            return self._compiled.create_infer_request()
        except BaseException:
            with self._made_lock:
                self._made -= 1
            raise

    def outputs(self, bgr: np.ndarray) -> np.ndarray:
        """The network's [anchors, 15] rows for a uint8 BGR image (padded here to a multiple of 32)."""
        with self._request() as request:
            request.infer({0: pad_image(bgr)[None]})
            return request.get_output_tensor(0).data.copy()  # the buffer is the next caller's

    def detect(self, bgr: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces scoring above conf (0..1): integer scores 0-100, XYWH boxes, 10 landmark values."""
        rows, cols = padded_size(*bgr.shape[:2])
        return detections(self.outputs(bgr), rows, cols, conf)

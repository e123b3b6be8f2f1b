"""YuNet rebuilt on OpenVINO from the weights in the yuface wheel: the weights are the library's own,
and the detections equal libfacedetection's (f32 exactly, bf16 within a couple of pixels)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("yuface")

from contract.yunet_native import NativeYuNet
from contract.yunet_openvino import (
    NumpyYuNet,
    OpenVINOYuNet,
    elf_data_symbols,
    read_weights,
    wheel_library,
)


class ConvInfo(ctypes.Structure):
    """libfacedetection v3's ConvInfoStruct: the table init_parameters() builds its filters from."""

    _fields_ = [
        ("channels", ctypes.c_int),
        ("num_filters", ctypes.c_int),
        ("is_depthwise", ctypes.c_bool),
        ("is_pointwise", ctypes.c_bool),
        ("with_relu", ctypes.c_bool),
        ("weights", ctypes.c_void_p),
        ("biases", ctypes.c_void_p),
    ]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """The astronaut, mirrored, at an odd size (padding) and with pasted LFW faces."""
    import cv2
    from skimage import data

    from tests.service.detector_recall import lfw_faces
    from training.scenes import paste_face

    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    out = [photo, np.ascontiguousarray(photo[:, ::-1]), cv2.resize(photo, (333, 250))]
    rng = np.random.default_rng(0)
    out += [paste_face(face, photo, 120, 8.0, rng).image for face in lfw_faces()[:3]]
    return out


def test_weights_are_the_ones_libfacedetection_runs() -> None:
    """Every array read from the ELF file is the one the library's layer table points at, with its
    channel counts (the table is read from the loaded library, independently of the ELF parser)."""
    path = wheel_library()
    library = ctypes.CDLL(str(path))
    table = (ConvInfo * 53).in_dll(library, "param_pConvInfo")
    symbols = elf_data_symbols(path)
    base = (
        ctypes.addressof(ctypes.c_char.in_dll(library, "param_pConvInfo"))
        - symbols["param_pConvInfo"].address
    )
    by_address = {s.address: s.name for s in symbols.values()}
    weights = read_weights()
    assert len(weights) == 53
    for entry in table:
        name = by_address[entry.weights - base].removesuffix("_weight")
        assert by_address[entry.biases - base] == f"{name}_bias"
        conv = weights[name]
        count = entry.num_filters * (9 if entry.is_depthwise else entry.channels)
        loaded = np.ctypeslib.as_array(ctypes.cast(entry.weights, ctypes.POINTER(ctypes.c_float)), (count,))
        assert conv.bias.size == entry.num_filters
        if name == "backbone__model0_pw":  # 27 im2col columns + 5 zeros per filter in the library
            np.testing.assert_array_equal(loaded.reshape(16, 32)[:, :27], conv.weight.reshape(16, 27))
        else:
            np.testing.assert_array_equal(loaded, conv.weight.ravel())


@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_openvino_detections_match_yuface(images: list[np.ndarray], precision: str) -> None:
    """f32 gives libfacedetection's integers exactly; bf16 the same faces within 2 px and 2 points."""
    native = NativeYuNet()
    detector = OpenVINOYuNet(precision)
    exact = detector.precision == "f32"
    for image in images:
        expected, got = native.detect(image, 0.6), detector.detect(image, 0.6)
        assert len(expected[0]) == len(got[0])
        for a, b in zip(expected, got, strict=True):
            if exact:
                np.testing.assert_array_equal(a, b)
            else:
                assert np.abs(a.astype(np.int64) - b).max(initial=0) <= 2


def test_numpy_reference_matches_yuface(images: list[np.ndarray]) -> None:
    """The numpy network (the reference the OpenVINO graph was built against) on the padded image."""
    native, reference = NativeYuNet(), NumpyYuNet()
    image = images[2]
    for a, b in zip(native.detect(image, 0.6), reference.detect(image, 0.6), strict=True):
        np.testing.assert_array_equal(a, b)


def test_concurrent_calls_share_a_bounded_pool_of_infer_requests(images: list[np.ndarray]) -> None:
    """Eight threads at once make at most max_requests infer requests, and each gets its own
    image's detections (a request's output buffer is copied before the next caller reuses it)."""
    from concurrent.futures import ThreadPoolExecutor

    detector = OpenVINOYuNet("f32", max_requests=2)
    serial = [detector.detect(image, 0.6) for image in images]
    assert detector.requests_made == 1  # one caller at a time needs one request
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda image: detector.detect(image, 0.6), images * 4))
    assert detector.requests_made == 2
    for expected, got in zip(serial * 4, parallel, strict=True):
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)

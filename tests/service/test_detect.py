"""Face detection and cropping: real photos, the detect modes, margins at image borders."""

from __future__ import annotations

import numpy as np
import pytest

from contract.detect import Detection, HaarDetector, YuNetDetector, make_detector
from contract.faces import CROP_MAX_SIDE, find_faces
from tests.service.detector_recall import iou, lfw_faces, photos, recall, scenes
from tests.synthetic import make_face


class FixedDetector:
    """Returns preset boxes and counts its calls."""

    name = "fixed"
    runtime = "test"

    def __init__(self, boxes: list[Detection]) -> None:
        self.boxes, self.calls = boxes, 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The preset boxes."""
        self.calls += 1
        return self.boxes


@pytest.mark.parametrize(("name", "runtime"), [("yunet", "native"), ("yunet", "openvino"), ("haar", "auto")])
def test_detectors_find_the_astronaut(name: str, runtime: str) -> None:
    """Both detectors, YuNet on either runtime, box the face in a real photo, in colour and in gray."""
    image, (truth,) = next(photos())
    detector = make_detector(name, runtime=runtime)
    assert detector.runtime.startswith(runtime if name == "yunet" else "opencv")
    for variant in (image, image.mean(axis=2).astype(np.uint8)):
        found = detector.detect(variant)
        assert found and iou(truth, found[0]) > 0.4


def test_yunet_scores_and_scales_boxes_back() -> None:
    """Boxes found on a downscaled copy of a big image are reported in original pixels."""
    import cv2

    image, (truth,) = next(photos())
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)  # 1536 px > YUNET_MAX_SIDE
    (face, *_) = YuNetDetector().detect(big)
    assert iou(tuple(3 * v for v in truth), face) > 0.4
    assert 0.6 <= face.score <= 1.0


def test_yunet_finds_more_real_faces_than_haar() -> None:
    """The reason YuNet is the default: higher recall on real faces (LFW crops in real scenes)."""
    faces = lfw_faces()[:45]
    yunet, haar = recall("yunet", scenes(faces)), recall("haar", scenes(faces))
    assert yunet["recall"] >= 0.85
    assert yunet["recall"] >= haar["recall"]
    assert yunet["false_detections"] <= haar["false_detections"]


def test_no_faces_in_a_face_free_photo() -> None:
    """A real photo without people yields no detections."""
    from skimage import data

    assert YuNetDetector().detect(np.ascontiguousarray(data.coffee()[:, :, ::-1])) == []


@pytest.mark.parametrize(
    ("mode", "size", "boxes", "calls", "used", "faces"),
    [
        ("auto", 48, [], 0, False, 1),  # a FER2013-sized crop: classified whole, no detector call
        ("auto", CROP_MAX_SIDE, [Detection(1, 1, 5, 5, 0.9)], 0, False, 1),
        ("auto", 200, [], 1, False, 1),  # small and nothing found: whole image
        ("auto", 200, [Detection(10, 10, 50, 50, 0.9)], 1, True, 1),
        ("auto", 400, [], 1, True, 0),  # a real photo without faces: an empty list
        ("always", 48, [], 1, True, 0),
        ("always", 400, [Detection(0, 0, 40, 40, 0.8), Detection(100, 100, 60, 60, 0.7)], 1, True, 2),
        ("never", 400, [Detection(0, 0, 40, 40, 0.8)], 0, False, 1),
    ],
)
def test_detect_modes(mode: str, size: int, boxes: list, calls: int, used: bool, faces: int) -> None:
    """detect=auto|always|never decide whether the detector runs and what is classified."""
    detector = FixedDetector(boxes)
    regions = find_faces(np.zeros((size, size), np.uint8), detector, mode)
    assert detector.calls == calls
    assert regions.detection_used is used
    assert len(regions.faces) == faces == len(regions.inputs)
    assert regions.inputs.shape[1:] == (48, 48, 1) and regions.inputs.dtype == np.uint8
    if faces == 1 and not used:
        assert regions.faces[0] == Detection(0, 0, size, size, None)


def test_whole_crop_input_is_the_contract_resize() -> None:
    """A crop classified whole is exactly contract.to_model_input of the image (no second resize path)."""
    from contract import to_model_input

    face = make_face(3, size=80, color=True)
    regions = find_faces(face, FixedDetector([]), "never")
    np.testing.assert_array_equal(regions.inputs[0], to_model_input(face))


def test_haar_detector_is_thread_safe_per_thread() -> None:
    """Each thread gets its own cascade (CascadeClassifier must not be shared)."""
    from concurrent.futures import ThreadPoolExecutor

    image, _ = next(photos())
    detector = HaarDetector()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(detector.detect, [image] * 8))
    assert all(r == results[0] for r in results) and results[0]


def test_native_yunet_equals_yuface_and_does_not_leak() -> None:
    """The ctypes call returns exactly yuface's rows, and 1,000 calls leave RSS flat (yuface's own
    binding leaks its 36 KiB result buffer per call, ~35 MiB per 1,000)."""
    import psutil
    import yuface
    from skimage import data

    from contract.yunet_native import NativeYuNet
    from training.scenes import paste_face

    native = NativeYuNet()
    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    images = [photo, np.ascontiguousarray(photo[:, ::-1])]
    rng = np.random.default_rng(0)
    for face in lfw_faces()[:8]:
        images.append(paste_face(face, photo, 120, 8.0, rng).image)
    for image in images:
        expected = yuface.detect(image, conf=0.6)
        got = native.detect(image, 0.6)
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(np.asarray(a, np.int64), np.asarray(b, np.int64))
    assert YuNetDetector(runtime="native").runtime == "native"
    # The leaked buffer does not depend on the image size: a small image makes 1,000 calls cheap.
    small = np.ascontiguousarray(photo[::4, ::4])
    process = psutil.Process()
    before = process.memory_info().rss
    for _ in range(1000):
        native.detect(small, 0.6)
    assert process.memory_info().rss - before < 5 * 2**20


def test_auto_runtime_falls_back_to_native_with_a_log_line(monkeypatch, caplog) -> None:
    """DETECTOR_RUNTIME=auto: YuNet on OpenVINO unbuildable -> the wheel's build, and it says why."""

    def broken() -> None:
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(YuNetDetector, "_openvino", staticmethod(broken))
    with caplog.at_level("WARNING", logger="contract.detect"):
        detector = YuNetDetector(runtime="auto")
    assert detector.runtime == "native"
    assert "no CPU plugin" in caplog.text
    image, (truth,) = next(photos())
    assert iou(truth, detector.detect(image)[0]) > 0.4


def test_explicit_openvino_runtime_that_cannot_run_is_an_error(monkeypatch) -> None:
    """DETECTOR_RUNTIME=openvino never degrades silently: the worker refuses to start."""
    from contract.detect import DetectorUnavailable

    def broken() -> None:
        raise ImportError("No module named 'openvino'")

    monkeypatch.setattr(YuNetDetector, "_openvino", staticmethod(broken))
    with pytest.raises(DetectorUnavailable, match=r"DETECTOR_RUNTIME=openvino.*openvino"):
        YuNetDetector(runtime="openvino")
    with pytest.raises(ValueError, match="unknown YuNet runtime"):
        YuNetDetector(runtime="onnx")


def test_auto_runtime_is_openvino_where_it_runs() -> None:
    """Where OpenVINO works (here), auto picks it, in bf16 exactly where the CPU has native bf16."""
    pytest.importorskip("openvino")
    from contract.cpu import cpu_flags, native_bf16

    precision = "bf16" if native_bf16(cpu_flags()) else "f32"
    assert YuNetDetector(runtime="auto").runtime == f"openvino/{precision}"

"""Property-based fuzzing of upload decoding and preprocessing (hypothesis).

Random bytes and mutated real images (bit flips, cuts, splices, inserted bytes, patched
header dimensions) go through the decode stage and then `to_model_input`, exactly as an
upload does. The only exception allowed out is the stage's DecodeError (shown as 400/413/415);
anything that decodes must come out as a valid 48x48x1 uint8 model input.
"""

from __future__ import annotations

import os
import struct

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import to_model_input
from service.errors import api_error
from service.limits import Limits
from service.stages.decode import DecodeError, decode
from tests.reliability import corpus
from tests.synthetic import encode, make_face

LIMITS = Limits(image_bytes=2 * 1024 * 1024, pixels=4_000_000, batch_items=1, video_bytes=1)
SEEDS = [encode(make_face(3, seed=1, color=ext == ".jpg"), ext) for ext in (".png", ".jpg", ".bmp", ".webp")]
SEEDS += [
    encode(make_face(2).astype(np.uint16) * 257),
    encode(cv2.cvtColor(make_face(1, color=True), cv2.COLOR_BGR2BGRA)),
    corpus.cmyk_jpeg(),
    corpus.truncated_jpeg(),
]
# Where each seed format keeps its width and height (JPEG: the frame header after the marker).
DIMENSIONS = {b"\x89PNG": (16, ">II"), b"BM": (18, "<ii"), b"\xff\xd8": (None, ">HH")}


def preprocess(data: bytes) -> np.ndarray | None:
    """What the service does to an upload before detection; None for a documented refusal."""
    try:
        image = decode(data, LIMITS)
    except DecodeError as exc:
        assert api_error(exc).status_code in (400, 413, 415), exc
        return None
    assert image.dtype == np.uint8 and image.ndim in (2, 3)
    assert image.shape[0] * image.shape[1] <= LIMITS.pixels
    return to_model_input(image)


def check(data: bytes) -> None:
    """No exception but DecodeError; a decoded image always becomes a valid model input."""
    model_input = preprocess(data)
    if model_input is not None:
        assert model_input.shape == (48, 48, 1) and model_input.dtype == np.uint8


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed image with one kind of damage applied."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    kind = draw(st.sampled_from(["flip", "cut", "splice", "insert", "dimensions"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=16)):
            data[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "cut":
        del data[at:]
    elif kind == "splice":
        chunk = draw(st.binary(min_size=1, max_size=64))
        data[at : at + len(chunk)] = chunk
    elif kind == "insert":
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    else:
        patch_dimensions(data, draw(st.integers(0, 2**16 - 1)), draw(st.integers(0, 2**16 - 1)))
    return bytes(data)


def patch_dimensions(data: bytearray, width: int, height: int) -> None:
    """Make the header claim another size (a lie the decoder must survive)."""
    for magic, (offset, layout) in DIMENSIONS.items():
        if data.startswith(magic):
            if offset is None:  # JPEG: after the SOF0/SOF2 marker, length and precision
                found = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
                if found < 0:
                    return
                offset, (width, height) = found + 5, (height, width)
            data[offset : offset + struct.calcsize(layout)] = struct.pack(layout, width, height)


def fuzz(examples: int) -> settings:
    """Hypothesis settings: `examples` cases, or FUZZ_EXAMPLES (make soak)."""
    return settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", examples)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@fuzz(250)
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    """Arbitrary bytes never escape as anything but a documented error."""
    check(data)


@fuzz(250)
@given(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 "]),
    st.binary(max_size=512),
)
def test_valid_magic_then_garbage(magic: bytes, rest: bytes) -> None:
    """Right magic bytes, wrong everything else: the header parsers must not crash."""
    check(magic + rest)


@fuzz(400)
@given(mutated())
def test_mutated_images(data: bytes) -> None:
    """Damaged real images: refused with a documented error or decoded into a valid model input."""
    check(data)

"""service.stages.single_part reads the one-file multipart bodies clients send, and never disagrees
with werkzeug: every body it accepts, werkzeug reads to the same field and bytes."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from service.limits import Limits
from service.stages import read as rd
from service.stages.single_part import single_file

B = b"c0ffee1234"
LIMITS = Limits(image_bytes=20_000, pixels=10_000, batch_items=3, video_bytes=50_000)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def body(
    content: bytes = PNG, head: bytes = b'Content-Disposition: form-data; name="image"; filename="a.png"'
) -> bytes:
    """One part, framed the way curl, requests and httpx frame it."""
    return (
        b"--"
        + B
        + b"\r\n"
        + head
        + b"\r\nContent-Type: image/png\r\n\r\n"
        + content
        + b"\r\n--"
        + B
        + b"--\r\n"
    )


def werkzeug_files(data: bytes, boundary: bytes = B) -> dict[str, list[bytes]] | None:
    """What werkzeug's own parser makes of the body: file field -> contents (None if it refuses it)."""
    environ = EnvironBuilder(
        method="POST", data=data, content_type=f"multipart/form-data; boundary={boundary.decode()}"
    ).get_environ()
    try:
        _, _, files = parse_form_data(environ, silent=False)
    except ValueError:
        return None
    return {name: [f.read() for f in files.getlist(name)] for name in files}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (body(), ("image", PNG)),
        (body()[:-2], ("image", PNG)),  # no CRLF after the closing delimiter
        (body(b""), ("image", b"")),
        (body(head=b'Content-Disposition: form-data; name="file"; filename=""'), ("file", PNG)),
        (body(head=b"content-disposition: form-data; name=image; filename=a.png"), ("image", PNG)),
        (body(PNG + b"\r\n--" + B + b"x"), None),  # the boundary string inside the content
        (body(PNG + b"\n--" + B + b"\r\n"), None),  # werkzeug splits after a bare LF
        (body(head=b'Content-Disposition: form-data; name="image"'), None),  # a field, not a file
        (body(head=b'Content-Disposition: form-data; filename="a.png"'), None),  # no name
        (body(head=b'Content-Disposition: attachment; name="image"; filename="a"'), None),
        (body(head=b'Content-Disposition: form-data; name="image"; filename="a"\r\n X'), None),
        (body(head=b'X-Other: 1\r\nContent-Disposition: form-data; name="image"; filename="a"'), None),
        (body(head=b'Content-Disposition: form-data; name="image"; filename="a"\nX: 1'), None),  # bare LF
        (body(head=b'Content-Disposition: form-data; name="image"; filename="a"\rX: 1'), None),  # bare CR
        (b"preamble\r\n" + body(), None),
        (body().replace(b"\r\n", b"\n"), None),  # bare LF line breaks
        (body() + b"epilogue", None),
        (body()[:-4] + b"\r\n", None),  # not closed
        (body() + b"--" + B + b"\r\n" + body()[len(B) + 4 :], None),  # two parts
    ],
)
def test_single_file_table(data: bytes, expected: tuple[str, bytes] | None) -> None:
    """The usual body is read; anything unusual is left to werkzeug, which agrees on the rest."""
    assert single_file(data, B) == expected
    if expected is not None:
        assert werkzeug_files(data) == {expected[0]: [expected[1]]}


def test_an_empty_boundary_is_never_read() -> None:
    assert single_file(body(), b"") is None


PIECES = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b"--",
        B,
        b"--" + B,
        b"\r\n--" + B,
        b"--\r\n",
        b" ",
        b"\t",
        b":",
        b";",
        b'"',
        b"a",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    content=st.lists(st.one_of(PIECES, st.binary(max_size=6)), max_size=8).map(b"".join),
    head=st.sampled_from(
        [
            b'Content-Disposition: form-data; name="image"; filename="a.png"',
            b'Content-Disposition: form-data; name="file"; filename=x',
            b'Content-Disposition: form-data; name="image"',
            b"Content-Disposition: form-data; name=\"im\xc3\xa9\"; filename*=UTF-8''a%20b",
            b'Content-Disposition: form-data; name="image"; filename="a"\nContent-Type: x',
            b'Content-Disposition: form-data; name="image"; filename="a\rb"',
        ]
    ),
    cut=st.integers(min_value=0, max_value=6),
    tail=st.sampled_from([b"", b"\r\n", b"  \r\n", b"x", b"\r\n\r\n"]),
)
def test_whatever_it_accepts_werkzeug_reads_the_same(
    content: bytes, head: bytes, cut: int, tail: bytes
) -> None:
    """Generated bodies, many of them malformed: an accepted one is one file werkzeug reads identically."""
    data = body(content, head)
    data = (data[: len(data) - cut] if cut else data) + tail
    got = single_file(data, B)
    if got is not None:
        assert werkzeug_files(data) == {got[0]: [got[1]]}


def test_read_image_takes_the_fast_path_and_werkzeug_still_sees_the_body(request_of) -> None:
    """The stage returns the part's bytes; the body stays readable for werkzeug (request.files)."""
    request = request_of(data=body(b"x" * 100), content_type=f"multipart/form-data; boundary={B.decode()}")
    assert rd.read_image(request, LIMITS) == b"x" * 100
    assert request.files["image"].read() == b"x" * 100


def test_read_image_falls_back_to_werkzeug_for_other_bodies(request_of) -> None:
    """A body with two parts is parsed by werkzeug: the image field is still found."""
    request = request_of(data={"note": "hi", "image": (io.BytesIO(PNG), "f.png")})
    assert rd.read_image(request, LIMITS) == PNG


def test_large_uploads_go_to_werkzeug(request_of, monkeypatch) -> None:
    """Over FAST_PATH_MAX_BYTES the body is not kept twice in memory: werkzeug (which spools the
    file to disk) reads it, and the answer is the same."""
    calls = []
    monkeypatch.setattr(rd, "single_file", lambda *a: calls.append(1))
    big = b"x" * (rd.FAST_PATH_MAX_BYTES + 1)
    limits = Limits(image_bytes=4 * rd.FAST_PATH_MAX_BYTES, pixels=10_000, batch_items=3, video_bytes=50_000)
    request = request_of(data=body(big), content_type=f"multipart/form-data; boundary={B.decode()}")
    assert rd.read_image(request, limits) == big and calls == []
    small = request_of(data=body(b"y" * 10), content_type=f"multipart/form-data; boundary={B.decode()}")
    rd.read_image(small, LIMITS)
    assert calls == [1]

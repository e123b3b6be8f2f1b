"""service.framing: where a request ends, however its bytes are split across reads."""

from __future__ import annotations

import pytest

from service.framing import Framing

LIMITS = {"max_line": 100, "max_head": 400, "max_body": 1000}
POST = b"POST /predict HTTP/1.1\r\nHost: x\r\n"
# name, request bytes, bytes after which it is complete (None: never complete), expects 100-continue
CASES = [
    ("get", b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", None, False),
    ("leading-empty-lines", b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", None, False),
    ("content-length", POST + b"Content-Length: 5\r\n\r\nhello", None, False),
    (
        "pipelined-tail",
        POST + b"Content-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\n",
        len(POST + b"Content-Length: 2\r\n\r\nhi"),
        False,
    ),
    ("chunked", POST + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n", None, False),
    (
        "chunked-trailers",
        POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n",
        None,
        False,
    ),
    ("expect-continue", POST + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", None, True),
    # Odd framing is complete at the end of the head: gunicorn's parser refuses it.
    ("two-lengths", POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n", None, False),
    ("length-not-a-number", POST + b"Content-Length: 3x\r\n\r\n", None, False),
    ("length-and-chunked", POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", None, False),
    ("over-body-limit", POST + b"Content-Length: 1001\r\n\r\n", None, False),
    ("bad-chunk-size", POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", None, False),
    ("line-too-long", b"GET /" + b"a" * 200, 101, False),
    ("head-too-long", b"GET / HTTP/1.1\r\n" + b"X: aaaaaaaa\r\n" * 40, 401, False),
]


def complete_after(data: bytes, step: int) -> int | None:
    """Feed `step` bytes at a time; how many bytes were fed when it said complete."""
    framing = Framing(**LIMITS)
    for end in range(step, len(data) + step, step):
        if framing.feed(data[end - step : end]):
            return min(end, len(data))
    return None


@pytest.mark.parametrize("step", [1, 3, 7, 10_000], ids=lambda s: f"{s}-byte-reads")
@pytest.mark.parametrize(("name", "data", "at", "expects"), CASES, ids=[c[0] for c in CASES])
def test_complete_exactly_at_the_end_whatever_the_reads(name, data, at, expects, step) -> None:
    """Never before the last byte of the request, never later than the read that brings it."""
    at = len(data) if at is None else at
    got = complete_after(data, step)
    assert got is not None and at <= got < at + step
    framing = Framing(**LIMITS)
    framing.feed(data)
    assert framing.expects_continue is expects


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\n",
        POST + b"Content-Length: 5\r\n\r\nhell",
        POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        POST + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
    ],
    ids=["headers", "body", "between-chunks", "trailers"],
)
def test_incomplete_requests_wait(partial: bytes) -> None:
    """One byte short of the end is never complete."""
    assert complete_after(partial, 1) is None

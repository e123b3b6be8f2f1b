"""Slow and idle clients against real gunicorn: they cannot starve valid requests, and they time out.

The first test holds 80 connections (request line or headers a byte at a time, bodies a byte at
a time, idle new and idle kept-alive connections) on ONE worker with THREADS=32, with timeouts
long enough that the server never closes them during the test: valid requests must still all be
answered. Stock gthread fails it (every thread blocks in a dripping read; checked by running the
same test with GUNICORN_CMD_ARGS="--worker-class gthread"). The second set checks each timeout.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.server import Server
from tests.reliability.slowclients import SlowClients, valid_requests
from tests.support.payloads import crop
from tests.support.servers import serve_live

pytestmark = pytest.mark.e2e
LONG = {"REQUEST_LINE_TIMEOUT_S": "600", "HEADER_TIMEOUT_S": "600", "BODY_TIMEOUT_S": "600"}
SHORT = {"REQUEST_LINE_TIMEOUT_S": "1", "HEADER_TIMEOUT_S": "2", "BODY_TIMEOUT_S": "1"}


@pytest.fixture(scope="module")
def one_worker(served_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker with the default 32 threads; the slow connections are never timed out."""
    running = serve_live(served_model, tmp_path_factory.mktemp("slow") / "gunicorn.log", WORKERS="1", **LONG)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def short_timeouts(served_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose request-line, header and body timeouts are a second or two."""
    log = tmp_path_factory.mktemp("timeouts") / "gunicorn.log"
    running = serve_live(served_model, log, WORKERS="1", **SHORT)
    yield running
    running.stop()


def port_of(server: Server) -> int:
    """The server's TCP port."""
    return int(server.url.rsplit(":", 1)[1])


def test_slow_and_idle_connections_do_not_starve_valid_requests(one_worker) -> None:
    """80 slow or idle connections (more than the worker's 32 threads) held while 16 requests succeed."""
    slow = SlowClients("127.0.0.1", port_of(one_worker), per_kind=16).start()
    try:
        statuses = valid_requests(one_worker.url, crop(3), count=16, timeout_s=120)
        closed = slow.closed_by_server()
    finally:
        slow.stop()
    assert slow.count == 80
    assert statuses == [200] * 16
    assert sum(closed.values()) == 0, f"the slow connections must still be open: {closed}"


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(60)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def drip(sock: socket.socket, stop: threading.Event) -> None:
    """A byte every 0.2 s until stopped or the server closes the connection."""
    while not stop.wait(0.2):
        try:
            sock.send(b"a")
        except OSError:
            return


# name, bytes sent, keep dripping afterwards, phase named in the 408 (None: closed without answer)
TIMEOUT_CASES = [
    ("idle-connection", b"", False, None),
    ("request-line-stalls", b"GET /hea", False, "request line"),
    ("request-line-drips", b"GET /", True, "request line"),
    ("headers-stall", b"GET /health HTTP/1.1\r\nHost: x\r\n", False, "headers"),
    # A byte every 0.2 s never leaves a read waiting long: the header deadline is for the whole head.
    ("headers-drip", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Drip: ", True, "headers"),
    (
        "body-lies-about-its-length",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\nabc",
        False,
        "body",
    ),
    (
        "chunked-body-stalls",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nab",
        False,
        "body",
    ),
]


@pytest.mark.parametrize(
    ("name", "opening", "keep_dripping", "phase"), TIMEOUT_CASES, ids=[c[0] for c in TIMEOUT_CASES]
)
def test_each_phase_times_out_with_a_json_408(short_timeouts, name, opening, keep_dripping, phase) -> None:
    """Past its deadline a connection gets 408 JSON naming the phase (or, having sent nothing, is closed)."""
    stop = threading.Event()
    with socket.create_connection(("127.0.0.1", port_of(short_timeouts))) as sock:
        sock.sendall(opening)
        dripper = threading.Thread(target=drip, args=(sock, stop), daemon=True)
        if keep_dripping:
            dripper.start()
        try:
            response = answer(sock)
        finally:
            stop.set()
    if phase is None:
        assert response == b""
    else:
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), response[:200]
        assert b"Content-Type: application/json" in head and b"X-Content-Type-Options: nosniff" in head
        error = json.loads(body)["error"]
        assert error["code"] == "request_timeout" and phase in error["message"]
    assert (
        httpx.post(
            f"{short_timeouts.url}/predict", files={"image": ("a.png", crop(1))}, timeout=60
        ).status_code
        == 200
    )


def test_a_slow_but_steady_upload_is_served(short_timeouts) -> None:
    """BODY_TIMEOUT_S is the longest pause between reads: a body arriving in pieces still succeeds."""
    image = crop(2)
    head = (
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nConnection: close\r\n"
        f"Content-Length: {len(image)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port_of(short_timeouts))) as sock:
        sock.sendall(head)
        pieces = [image[i : i + 128] for i in range(0, len(image), 128)]
        gate = threading.Event()
        for piece in pieces:
            sock.sendall(piece)
            gate.wait(0.3)  # 0.3 s pauses (< BODY_TIMEOUT_S=1) for a body that takes seconds overall
        response = answer(sock)
    assert len(pieces) * 0.3 > float(SHORT["BODY_TIMEOUT_S"])
    assert response.startswith(b"HTTP/1.1 200 "), response[:300]

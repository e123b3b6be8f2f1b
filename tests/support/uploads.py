"""Uploads held open on a raw socket, and waiting for another process's state.

A worker's event loop reads a request completely before a thread sees it (service/worker.py),
so an upload missing its last bytes is "in flight" for as long as a test wants: the gate that
makes server-side tests deterministic without time windows.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import pytest

from benchmarks.server import Server
from tests.support.checks import metric

ARRIVING = "emotion_http_requests_arriving"  # the gauge of requests still being read
HELD_BACK = 10  # bytes of the body a held upload has not sent yet
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll condition, pausing between polls, until it is truthy; fail after timeout seconds.

    Only for state of another process, which offers nothing to block on (its logs, its metrics).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval)
    pytest.fail(f"no {what} after {timeout:.0f} s")


def address(server: Server) -> tuple[str, int]:
    """(host, port) of the server's URL."""
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def start_upload(server: Server, body: bytes, path: str = "/predict", content_type: str = "image/png"):
    """A raw POST whose last HELD_BACK body bytes are held back: in flight until finish_upload."""
    sock = socket.create_connection(address(server), timeout=120)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:-HELD_BACK])
    return sock


def release(sock: socket.socket, body: bytes) -> None:
    """Send the held-back end of the body: the worker hands the request to a thread."""
    sock.sendall(body[-HELD_BACK:])


def read_reply(sock: socket.socket) -> bytes:
    """The whole reply on a Connection: close socket, which is closed afterwards."""
    with sock:
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def finish_upload(sock: socket.socket, body: bytes) -> bytes:
    """Send the rest of the body and read the whole reply."""
    release(sock, body)
    return read_reply(sock)


def wait_until_arrived(server: Server, count: int, timeout: float = 60.0) -> None:
    """Until the workers hold `count` uploads still arriving (summed over workers)."""
    wait_for(
        lambda: metric(httpx.get(f"{server.url}/metrics").text, ARRIVING) >= count,
        timeout,
        f"{count} uploads arriving at the workers",
    )

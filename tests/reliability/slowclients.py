"""Slow and idle connections held open against a server, and valid requests timed meanwhile.

Used by tests/reliability/test_slow_clients.py (real gunicorn) and by `make container-test`
(the standalone image): `python -m tests.reliability.slowclients http://127.0.0.1:18000`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import select
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

# Each kind: what is sent at once, then the byte sent again at every tick (b"" = nothing more).
KINDS = {
    "request-line-drip": (b"GET /", b"a"),
    "header-drip": (b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Drip: ", b"a"),
    "body-drip": (
        b"POST /predict HTTP/1.1\r\nHost: slow\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n",
        b"\x00",
    ),
    "idle-new": (b"", b""),
    "idle-keepalive": (b"GET /health HTTP/1.1\r\nHost: slow\r\n\r\n", b""),
}


@dataclass
class SlowClients:
    """Connections of every kind, fed one byte per tick by a background thread until stop()."""

    host: str
    port: int
    per_kind: int
    tick_s: float = 0.25
    sockets: dict[str, list[socket.socket]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SlowClients:
        """Open every connection, send each its opening bytes, start dripping."""
        # Kept-alive connections first: a complete exchange each (before anything can block it),
        # then they idle.
        for kind in sorted(KINDS, key=lambda kind: kind != "idle-keepalive"):
            opening = KINDS[kind][0]
            self.sockets[kind] = []
            for _ in range(self.per_kind):
                sock = socket.create_connection((self.host, self.port), timeout=30)
                if opening:
                    sock.sendall(opening)
                if kind == "idle-keepalive":
                    _read_response(sock)
                self.sockets[kind].append(sock)
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()
        return self

    @property
    def count(self) -> int:
        """Connections held."""
        return sum(len(socks) for socks in self.sockets.values())

    def _drip(self) -> None:
        """One byte per tick on every dripping connection."""
        while not self._stop.wait(self.tick_s):
            for kind, (_, byte) in KINDS.items():
                for sock in self.sockets[kind] if byte else ():
                    with contextlib.suppress(OSError):  # closed by the server: closed_by_server() says so
                        sock.send(byte)

    def closed_by_server(self) -> dict[str, int]:
        """Per kind, how many connections the server has closed or answered."""
        closed = {}
        for kind, socks in self.sockets.items():
            readable, _, _ = select.select(socks, [], [], 0)
            closed[kind] = len(readable)
        return closed

    def stop(self) -> None:
        """Stop dripping and close every connection."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        for sock in itertools.chain.from_iterable(self.sockets.values()):
            sock.close()


def _read_response(sock: socket.socket) -> bytes:
    """One small HTTP response (headers and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def valid_requests(url: str, image: bytes, count: int, timeout_s: float) -> list[int | str]:
    """`count` POST /predict in parallel, each on its own new connection; status codes or errors."""

    def one(_: int) -> int | str:
        try:
            with httpx.Client(base_url=url, timeout=timeout_s) as client:
                return client.post("/predict", files={"image": ("face.png", image)}).status_code
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def main() -> int:
    """Command line for the container test: exit 1 unless every valid request got a 200."""
    from tests.synthetic import encode, make_face

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--per-kind", type=int, default=16, help="connections of each of the 5 kinds")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=120.0, help="per valid request, seconds")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    slow = SlowClients(parts.hostname or "127.0.0.1", parts.port or 80, args.per_kind).start()
    try:
        started = time.monotonic()
        statuses = valid_requests(args.url, encode(make_face(3)), args.requests, args.timeout)
        took = time.monotonic() - started
        closed = slow.closed_by_server()
    finally:
        slow.stop()
    ok = statuses.count(200)
    print(f"{slow.count} slow/idle connections held; {ok}/{len(statuses)} valid requests 200 in {took:.1f} s")
    print(f"closed by the server meanwhile, per kind: {closed}")
    if ok != len(statuses):
        print(f"FAILED: {statuses}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

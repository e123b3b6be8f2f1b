"""A throwaway redis-server on a free loopback port (Debian package redis-server: `make redis-deps`)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from benchmarks.server import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
MISSING = (
    f"no redis-server at {REDIS_SERVER}: run `make redis-deps` (apt-get install redis-server; needs root "
    "or sudo and a Debian mirror)"
)


def available() -> bool:
    """Whether a redis-server binary is installed."""
    return Path(REDIS_SERVER).is_file()


@contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """Run redis-server (no persistence) until the block ends; yields its redis:// URL."""
    port = port or free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([REDIS_SERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start (exit {process.poll()})") from None
                time.sleep(0.05)  # it listens within milliseconds; nothing to block on
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)

"""Run the real service under gunicorn on a free loopback port, as production does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    """Return once /health says ready; fail with gunicorn's log if it exits or never gets there."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("ready", True):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)  # nothing to block on: the port opens when the worker is up
    raise RuntimeError(f"gunicorn not ready after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def gunicorn(model_dir: Path, log: Path, **env: str) -> Iterator[str]:
    """`gunicorn -c gunicorn.conf.py service.wsgi:app` with one worker; yields its base URL."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(
        MODEL_DIR=str(model_dir),
        HOST="127.0.0.1",
        PORT=str(port),
        WORKERS="1",
        THREADS="4",
        LOG_LEVEL="warning",
        **env,
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

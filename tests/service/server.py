"""Start real gunicorn exactly as deployed (`gunicorn -c gunicorn.conf.py "service.wsgi:app"`) on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn master, its URL and its log file."""

    process: subprocess.Popen
    url: str
    log: Path

    def logs(self) -> str:
        """Everything gunicorn and the app wrote so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start(log: Path, **env: str) -> Server:
    """Launch gunicorn with extra environment variables; returns at once (see wait_ready)."""
    port = free_port()
    environ = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "THREADS": "4",
        "LOG_LEVEL": "info",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **env,
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a private one
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "service.wsgi:app"],
        cwd=REPO,
        env=environ,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    return Server(process=process, url=f"http://127.0.0.1:{port}", log=log)


def wait_ready(server: Server, timeout: float = 240.0) -> None:
    """Poll /health until 200 (every worker loads TensorFlow and the model first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.logs()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s:\n{server.logs()}")

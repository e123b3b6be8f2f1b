"""Start a gunicorn server on loopback, time it to ready, read its workers' memory, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.machine import ROOT

HOST = "127.0.0.1"


class ServerError(RuntimeError):
    """The server exited or never became ready; the message ends with its log."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn master and what it took to get it ready."""

    name: str
    process: subprocess.Popen
    port: int
    log_path: Path
    ready_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL, no trailing slash."""
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's combined output, for error messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def service_command() -> list[str]:
    """The production start command of the service (gunicorn.conf.py reads the environment)."""
    return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]


def naive_command(port: int, workers: int = 1) -> list[str]:
    """The tutorial baseline: sync workers, one request at a time each."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "sync",
        "-w",
        str(workers),
        "-b",
        f"{HOST}:{port}",
        "--timeout",
        "300",
        "--log-level",
        "warning",
        "benchmarks.naive_app:create_app()",
    ]


def start(
    name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path, timeout: float = 180.0
) -> Server:
    """Launch the command and wait for GET /health to answer 200; ready_s is measured from launch."""
    log_path = Path(log_dir) / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, process, port, log_path)
    with httpx.Client(timeout=5.0) as client:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise ServerError(f"{name} exited with code {process.returncode}:\n{server.log_tail()}")
            try:
                if client.get(f"{server.url}/health").status_code == 200:
                    server.ready_s = round(time.perf_counter() - started, 2)
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # readiness has no event to block on: poll the endpoint
    stop(server)
    raise ServerError(f"{name} not ready after {timeout:.0f} s:\n{server.log_tail()}")


def settle(server: Server, timeout: float = 120.0, interval: float = 0.5) -> float:
    """Wait until every worker is idle (the first /health 200 may come from one of several); seconds waited.

    Workers load TensorFlow and the model in parallel after the fork; a worker still loading burns CPU,
    so 'all workers idle for one interval' means all of them are ready.
    """
    started = time.perf_counter()
    previous = cpu_seconds(server)
    while time.perf_counter() - started < timeout:
        time.sleep(interval)
        now = cpu_seconds(server)
        if now - previous < 0.05 * interval * max(1, len(workers(server))):
            break
        previous = now
    return round(time.perf_counter() - started, 2)


def workers(server: Server) -> list[psutil.Process]:
    """The master's worker processes."""
    try:
        return psutil.Process(server.process.pid).children(recursive=False)
    except psutil.NoSuchProcess:
        return []


def memory(server: Server) -> dict[str, Any]:
    """RSS and USS (private memory) of the master and of each worker, in MiB."""

    def sizes(proc: psutil.Process) -> dict[str, float]:
        """RSS and USS of one process in MiB."""
        info = proc.memory_full_info()
        return {"rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1)}

    master = psutil.Process(server.process.pid)
    return {"master": sizes(master), "workers": [sizes(w) for w in workers(server)]}


def cpu_seconds(server: Server) -> float:
    """User + system CPU time used so far by the master and its workers."""
    procs = [psutil.Process(server.process.pid), *workers(server)]
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def stop(server: Server, timeout: float = 30.0) -> None:
    """SIGTERM to the master (graceful), SIGKILL to its process group if it does not exit in time."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)  # our own session: only our processes
            server.process.wait(5)

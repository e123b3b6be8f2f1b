"""The one launcher of real gunicorn on loopback, for benchmarks and tests alike.

Launch a command, wait until GET /health answers 200 (polled with a pause, under a deadline),
read the workers' memory and CPU, stop it (SIGTERM, then SIGKILL to its own process group).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.machine import ROOT

HOST = "127.0.0.1"
# Every worker imports TensorFlow and loads (or converts) the model before /health says ready; on
# a loaded 2-core machine that has taken over two minutes.
READY_TIMEOUT_S = 240.0
POLL_INTERVAL_S = 0.1  # readiness has no event to block on: poll /health, pausing between polls
STOP_TIMEOUT_S = 90.0  # above the tests' longest GRACEFUL_TIMEOUT (60 s)


class ServerError(RuntimeError):
    """The server exited or never became ready; the message ends with its log."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn master, its log, and how long it took to get ready."""

    name: str
    process: subprocess.Popen
    port: int
    log_path: Path
    launched: float  # time.monotonic() at launch
    ready_s: float = 0.0

    @property
    def url(self) -> str:
        """Base URL, no trailing slash."""
        return f"http://{HOST}:{self.port}"

    def logs(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for error messages."""
        return "\n".join(self.logs().splitlines()[-lines:])

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> Server:
        """Block until /health answers 200; ServerError (and the server stopped) if it exits or times out."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        self.ready_s = round(time.monotonic() - self.launched, 2)
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(POLL_INTERVAL_S)
        self.stop()
        raise ServerError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM to the master (graceful), SIGKILL to its process group if it lingers; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # our own session: only our processes
        return self.process.wait(10)


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


def launch(command: list[str], env: Mapping[str, str], port: int, log_path: Path) -> Server:
    """Start the command in its own session with the extra environment; returns at once."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # gunicorn.conf.py makes a private metrics folder unless one is inherited: never share one.
    inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env = {**inherited, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    launched = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(log_path.stem, process, port, log_path, launched)


def start(
    command: list[str], env: Mapping[str, str], port: int, log_path: Path, timeout: float = READY_TIMEOUT_S
) -> Server:
    """Launch the command and wait until it is ready; ready_s is measured from launch."""
    return launch(command, env, port, log_path).wait_ready(timeout)


def start_service(log_path: Path, env: Mapping[str, str], *, wait: bool = True) -> Server:
    """The service as deployed (`gunicorn -c gunicorn.conf.py service.wsgi:app`) on a free loopback port.

    env holds the settings (MODEL_DIR, WORKERS, ...); HOST and PORT are the launcher's. With
    wait=False it returns at once, for a caller that expects the server never to get ready.
    """
    port = free_port()
    server = launch(service_command(), {**env, "HOST": HOST, "PORT": str(port)}, port, log_path)
    return server.wait_ready() if wait else server


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


def worker_pids(server: Server) -> set[int]:
    """PIDs of the master's current workers."""
    return {worker.pid for worker in workers(server)}


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

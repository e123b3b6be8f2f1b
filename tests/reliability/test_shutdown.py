"""SIGTERM during load on real gunicorn: in-flight requests finish, new connections are refused, exit 0.

Runs after the other live-server tests (file order); the shared server is restarted if a
later test needs it.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.server import Server
from tests.reliability.load import run_load
from tests.support.payloads import crop
from tests.support.servers import LIVE_ENV
from tests.support.uploads import address, finish_upload, start_upload, wait_until_arrived

pytestmark = pytest.mark.e2e
GRACEFUL = float(LIVE_ENV["GRACEFUL_TIMEOUT"])


def test_sigterm_drains_in_flight_and_exits_zero(live: Server, shots, figures) -> None:
    """Held uploads and the load in flight get answers; afterwards connections are refused; exit code 0."""
    body = crop(4)
    held = [start_upload(live, body) for _ in range(4)]
    wait_until_arrived(live, len(held))
    log_offset = len(live.logs())
    loaded = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        # No keep-alive: every request is a new connection, so "refused" means the listener is closed.
        load = pool.submit(
            run_load, live.url, shots, total=3000, concurrency=16, keepalive=False, milestones={80: loaded}
        )
        assert loaded.wait(timeout=300), "load never got going"
        terminated = time.monotonic()
        live.process.terminate()
        replies = [finish_upload(sock, body) for sock in held]
        code = live.process.wait(timeout=GRACEFUL)  # a bound: gunicorn kills stragglers after it
        exited = time.monotonic()
        result = load.result(timeout=600)

    assert code == 0, live.logs()[-3000:]
    assert all(reply.startswith(b"HTTP/1.1 200") for reply in replies), [r[:200] for r in replies]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address(live), timeout=5).close()
    before = [o for o in result.outcomes if o.ended < terminated]
    assert all(o.kind == "ok" for o in before), [o for o in before if o.kind != "ok"][:5]
    assert result.count("failed") == 0, [o for o in result.outcomes if o.kind == "failed"][:5]
    # Every request the app took on was answered: the access log has no line the clients did not get.
    tail = live.logs()[log_offset:]
    answered = result.count("ok", "backpressure") + len(replies)
    assert tail.count('"POST /predict') == answered
    assert "Traceback" not in tail and "SIGKILL" not in tail
    figures.add(
        "sigterm",
        requests=len(result.outcomes),
        held_uploads_completed=len(replies),
        answered_after_sigterm=sum(o.kind == "ok" and o.ended >= terminated for o in result.outcomes),
        backpressure_503=result.count("backpressure"),
        refused=result.count("refused"),
        reset_before_accept=result.count("dropped"),
        exit_code=code,
        drain_s=round(exited - terminated, 2),
        graceful_timeout_s=GRACEFUL,
    )

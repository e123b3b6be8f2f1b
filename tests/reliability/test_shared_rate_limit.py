"""RATE_LIMIT_STORAGE=redis://: one budget for every worker, and RATE_LIMIT_ON_ERROR when Redis is down.

A real redis-server (Debian package, `make redis-deps`) and real gunicorn with two workers: the
budget is spent exactly once, whichever worker serves a request. With memory:// each worker would
count on its own and the same requests would get up to twice the budget.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from benchmarks.server import free_port
from service.app import create_app, shutdown
from service.settings import Settings
from tests.reliability import redis_server as rs
from tests.support.fakes import FakePredictor
from tests.support.servers import serve_live

pytestmark = pytest.mark.skipif(not rs.available(), reason=f"shared rate limit tests skipped: {rs.MISSING}")
BUDGET = 12


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server for this module."""
    with rs.redis_server() as url:
        yield url


@pytest.mark.e2e
def test_two_workers_share_one_budget(redis_url: str, served_model: Path, tmp_path: Path) -> None:
    """3 x BUDGET requests in parallel on new connections over 2 workers: exactly BUDGET get 200."""
    server = serve_live(
        served_model,
        tmp_path / "gunicorn.log",
        WORKERS="2",
        THREADS="2",  # few threads per worker, so parallel requests spread over both workers
        RATE_LIMIT=f"{BUDGET}/hour",  # a window from the first hit: no boundary inside the test
        RATE_LIMIT_STORAGE=redis_url,
    )
    try:

        def one(_: int) -> int:
            return httpx.get(f"{server.url}/metadata", timeout=60).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = Counter(pool.map(one, range(3 * BUDGET)))
        workers_on_redis = [
            client
            for client in redis.Redis.from_url(redis_url).client_list()
            if client["cmd"] != "client|list"
        ]
    finally:
        server.stop()
    assert statuses == {200: BUDGET, 429: 2 * BUDGET}
    assert len({client["addr"] for client in workers_on_redis}) >= 2, (
        "both workers must have counted in Redis"
    )


def build(storage: str, on_error: str):
    """An app around a fake model with a 3/hour limit kept in `storage`."""
    settings = Settings(rate_limit="3/hour", rate_limit_storage=storage, rate_limit_on_error=on_error)
    return create_app(settings, FakePredictor())


@pytest.mark.parametrize(("on_error", "status"), [("open", 200), ("closed", 503)])
def test_redis_down_fails_open_or_closed_as_configured_and_logs_it(on_error, status, caplog) -> None:
    """Nothing listens on the storage port: open serves, closed answers 503 JSON; logged; never 500."""
    app = build(f"redis://127.0.0.1:{free_port()}/0", on_error)
    try:
        client = app.test_client()
        with caplog.at_level(logging.WARNING):
            responses = [client.get("/metadata") for _ in range(5)]  # more than the 3 allowed
        probe = client.get("/health")
    finally:
        shutdown(app)
    assert [r.status_code for r in responses] == [status] * 5
    if status == 503:
        assert (
            responses[0].json["error"]["code"] == "unavailable" and responses[0].headers["Retry-After"] == "1"
        )
    assert probe.status_code == 200, "probes are never rate limited, so never refused for Redis"
    assert any("rate limit" in record.getMessage().lower() for record in caplog.records)


@pytest.mark.parametrize(("on_error", "status"), [("open", 200), ("closed", 503)])
def test_limits_resume_when_redis_comes_back(on_error: str, status: int) -> None:
    """Counted in Redis; Redis stops (RATE_LIMIT_ON_ERROR applies); Redis restarts: counting resumes."""
    port = free_port()
    with rs.redis_server(port) as url:
        app = build(url, on_error)
        client = app.test_client()
        before = [client.get("/metadata").status_code for _ in range(2)]
    during = [client.get("/metadata").status_code for _ in range(3)]
    try:
        with rs.redis_server(port):  # empty again: a fresh budget of 3
            after = [client.get("/metadata").status_code for _ in range(4)]
    finally:
        shutdown(app)
    assert before == [200, 200] and during == [status] * 3 and after == [200, 200, 200, 429]

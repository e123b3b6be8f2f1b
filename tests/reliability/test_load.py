"""Load on real gunicorn: every request answered as documented; 503 backpressure is the only allowed miss."""

from __future__ import annotations

import http.client
import os
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from benchmarks.server import Server, worker_pids
from tests.reliability import corpus
from tests.reliability.load import LoadResult, Shot, run_load
from tests.support.payloads import crop
from tests.support.servers import serve_live
from tests.synthetic import encode, make_face

pytestmark = pytest.mark.e2e
CONCURRENCY = 64


def check_load(result: LoadResult, requests: int) -> None:
    """All sent, none failed, dropped or refused; 503s only as documented backpressure."""
    assert len(result.outcomes) == requests
    assert result.count("failed", "dropped", "refused") == 0, result.failures()
    assert result.count("ok") + result.count("backpressure") == requests


@pytest.mark.parametrize(
    ("section", "requests"),
    [
        pytest.param("load", 1000, id="1000"),
        pytest.param("load_5000", 5000, id="5000", marks=[pytest.mark.soak, pytest.mark.slow]),
    ],
)
def test_load_answers_every_request(live: Server, shots, figures, section: str, requests: int) -> None:
    """N requests at concurrency 64: expected statuses only (incl. the deliberate 400/415 shots)."""
    before = worker_pids(live)
    result = run_load(live.url, shots, total=requests, concurrency=CONCURRENCY)
    figures.add(section, concurrency=CONCURRENCY, workers=len(before), **result.figures())
    check_load(result, requests)
    assert worker_pids(live) == before, "a worker died under load"
    assert "Traceback" not in live.logs()


@pytest.mark.soak
@pytest.mark.slow
def test_overload_is_shed_with_retryable_503(served_model: Path, tmp_path: Path, shots, figures) -> None:
    """A batch queue far too small for the load: the excess gets 503 + Retry-After, and only that.

    The shed requests, sent again one at a time (what a client backing off after Retry-After
    ends up doing), all succeed: 503 here means "later", never "lost".
    """
    server = serve_live(served_model, tmp_path / "gunicorn.log", BATCH_MAX_SIZE="2", BATCH_QUEUE_SIZE="2")
    try:
        result = run_load(server.url, shots, total=2000, concurrency=CONCURRENCY)
        by_name = {shot.name: shot for shot in shots}
        shed = [by_name[o.shot] for o in result.outcomes if o.kind == "backpressure"]
        retried = run_load(server.url, shed or shots, total=len(shed) or 1, concurrency=1)  # backing off
    finally:
        server.stop()
    figures.add(
        "overload",
        batch_queue_size=2,
        concurrency=CONCURRENCY,
        **result.figures(),
        retried_ok=retried.count("ok"),
        retried=len(retried.outcomes),
    )
    check_load(result, 2000)
    assert result.count("backpressure") > 0, "the queue never filled: the test proves nothing"
    assert retried.count("ok") == len(retried.outcomes), retried.failures()


def test_idle_keepalive_connection_is_still_served(live: Server) -> None:
    """A connection idle longer than common client limits (httpx, requests: 5 s) still gets answers.

    A server that closes idle connections first races the client's next request on them: under
    load that request fails unanswered (seen: 1-3 resets per 5,000 requests with a 5 s keep-alive).
    """
    host, port = live.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "image/png"}
    try:
        for pause in (0.0, 6.0):
            time.sleep(pause)
            connection.request("POST", "/predict", body=crop(1), headers=headers)
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Connection") == "keep-alive"
            response.read()
            if pause == 0.0:
                first_socket = connection.sock
        assert connection.sock is first_socket  # the same TCP connection served both
    finally:
        connection.close()


def hostile_shots() -> list[Shot]:
    """Corpus uploads for the soak: error paths of the decoder must not leak either."""
    raw = {
        "truncated-jpeg": (corpus.truncated_jpeg(), 400),
        "broken-crc": (corpus.png_broken_crc(), 400),
        "pixel-bomb": (corpus.bilevel_png(20_000, 20_000), 413),
        "gif": (corpus.animated_gif(), 415),
        "png-16-bit": (encode(make_face(2).astype(np.uint16) * 257), 200),
        "cmyk": (corpus.cmyk_jpeg(), 200),
    }
    return [
        Shot(name, "/predict", {"files": {"image": (name, data)}}, status)
        for name, (data, status) in raw.items()
    ]


def rss_mb(pids: set[int]) -> dict[int, float]:
    """Resident memory of each process, in MiB."""
    return {pid: psutil.Process(pid).memory_info().rss / 2**20 for pid in pids}


@pytest.mark.soak
@pytest.mark.slow
def test_soak_worker_memory_stays_flat(live: Server, shots, figures) -> None:
    """SOAK_SECONDS (default 300) of mixed load: worker RSS after warm-up grows < 10%, nothing fails."""
    seconds = float(os.environ.get("SOAK_SECONDS", "300"))
    mix = shots + hostile_shots()
    run_load(live.url, mix, duration=max(30.0, seconds / 5), concurrency=32)  # every batch size seen
    pids = worker_pids(live)
    baseline, peak, stop = rss_mb(pids), rss_mb(pids), threading.Event()

    def sample() -> None:
        """Track each worker's peak RSS every few seconds until stopped."""
        while not stop.wait(5.0):
            for pid, mb in rss_mb(pids).items():
                peak[pid] = max(peak[pid], mb)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = run_load(live.url, mix, duration=seconds, concurrency=32)
    stop.set()
    sampler.join()
    final = rss_mb(pids)
    growth = max((final[pid] - baseline[pid]) / baseline[pid] for pid in pids)
    figures.add(
        "soak",
        concurrency=32,
        **result.figures(),
        rss_after_warmup_mb=round(sum(baseline.values())),
        rss_end_mb=round(sum(final.values())),
        rss_peak_mb=round(sum(peak.values())),
        rss_growth_max_worker_pct=round(100 * growth, 2),
    )
    check_load(result, len(result.outcomes))
    assert worker_pids(live) == pids, "a worker died during the soak"
    assert growth < 0.10, {"after_warmup": baseline, "end": final}

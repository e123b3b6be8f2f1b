"""Real gunicorn on loopback: concurrent answers, batching across requests, SIGTERM, startup faults."""

from __future__ import annotations

import json
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from benchmarks.server import Server
from tests.support.checks import metric
from tests.support.models import FER2013
from tests.support.payloads import astronaut_jpeg
from tests.support.servers import serve
from tests.synthetic import encode, make_face

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(served_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """Two workers, eight threads each; a long batch wait so concurrent requests surely meet."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    running = serve(
        served_model,
        log,
        WORKERS="2",
        THREADS="8",
        BATCH_MAX_WAIT_MS="300",
        BATCH_MAX_SIZE="32",
        GRACEFUL_TIMEOUT="60",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def images() -> list[tuple[str, bytes]]:
    """Real FER2013 crops when ../shared exists (else synthetic ones) and one real photo."""
    crops = sorted((FER2013 / "test").glob("*/*.jpg"))[::500][:15] if (FER2013 / "test").is_dir() else []
    files = [(p.name, p.read_bytes()) for p in crops]
    files += [(f"synthetic{i}.png", encode(make_face(i % 7, seed=i))) for i in range(15 - len(files))]
    return [*files, ("astronaut.jpg", astronaut_jpeg())]


def test_concurrent_requests_are_answered_and_batched(server: Server, images: list) -> None:
    """Sixteen simultaneous uploads all get answers, and some model calls served several requests."""
    with httpx.Client(base_url=server.url, timeout=120) as client, ThreadPoolExecutor(len(images)) as pool:
        responses = list(pool.map(lambda item: client.post("/predict", files={"image": item}), images))
    assert [r.status_code for r in responses] == [200] * len(images)
    for (name, _), response in zip(images, responses, strict=True):
        body = response.json()
        assert body["faces_found"] and len(body["faces"]) == 1, name
        assert body["detection"]["used"] is (name == "astronaut.jpg")
    text = httpx.get(f"{server.url}/metrics").text  # aggregated over both workers
    assert metric(text, 'emotion_http_requests_total{endpoint="/predict",method="POST",status="200"') >= len(
        images
    )
    batches, faces = metric(text, "emotion_batch_size_count"), metric(text, "emotion_batch_size_sum")
    single = metric(text, 'emotion_batch_size_bucket{le="1.0"')
    assert faces >= len(images)
    assert single < batches, "every model call had one face: concurrent requests were never batched"


def test_sigterm_lets_in_flight_requests_finish(server: Server, images: list) -> None:
    """A request still uploading when SIGTERM arrives is answered in full, then gunicorn exits 0."""
    body = images[0][1]
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        head = (
            f"POST /predict?detect=never HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + body[:10])
        # The worker's event loop holds the upload until its body is complete (service/worker.py).
        arriving = "emotion_http_requests_arriving"
        for _ in range(200):  # until the worker has accepted it and is waiting for the rest of the body
            if metric(httpx.get(f"{server.url}/metrics").text, arriving) >= 1:
                break
        else:
            pytest.fail("the request never reached the worker")
        server.process.terminate()
        sock.sendall(body[10:])
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status, _, payload = reply.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), reply[:500]
    assert json.loads(payload)["faces_found"] is True
    assert server.stop() == 0, server.logs()[-3000:]
    assert "Traceback" not in server.logs()


def corrupt_copy(source: Path, target: Path) -> Path:
    """A model folder whose graph file is garbage (metadata intact, so only TF can notice)."""
    version = (
        next(p for p in sorted(source.glob("*")) if (p / "saved_model.pb").exists())
        if not (source / "saved_model.pb").exists()
        else source
    )
    shutil.copytree(version, target / "1")
    (target / "1" / "saved_model.pb").write_bytes(b"\x08\x01not a graph" * 50)
    return target


@pytest.mark.parametrize(
    ("fault", "message"), [("missing", "no SavedModel found"), ("corrupt", "cannot load SavedModel")]
)
def test_startup_faults_exit_non_zero(served_model: Path, tmp_path: Path, fault: str, message: str) -> None:
    """A missing or corrupt model: a clear log line and a non-zero exit, never a half-working server."""
    model_dir = tmp_path / "empty" if fault == "missing" else corrupt_copy(served_model, tmp_path / "bad")
    running = serve(model_dir, tmp_path / "gunicorn.log", wait=False)
    try:
        code = running.process.wait(timeout=240)
    finally:
        running.stop()
    assert code != 0
    logs = running.logs()
    assert "cannot start:" in logs and message in logs

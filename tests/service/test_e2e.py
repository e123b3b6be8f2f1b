"""Real gunicorn on loopback: concurrent answers, batching across requests, SIGTERM, startup faults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from benchmarks.server import Server
from tests.support.checks import metric
from tests.support.models import FER2013
from tests.support.payloads import astronaut_jpeg
from tests.support.servers import serve
from tests.support.uploads import finish_upload, read_reply, release, start_upload, wait_until_arrived
from tests.synthetic import encode, make_face

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(served_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """Two workers, eight threads each, adaptive batching (the default)."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    running = serve(
        served_model,
        log,
        WORKERS="2",
        THREADS="8",
        BATCH_MAX_WAIT_MS="2000",  # adaptive batching: only ever waited for requests being prepared
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
    """Sixteen uploads held at the workers until all have arrived, then completed together: all are
    answered, and some model calls served several requests (the adaptive batcher waits for the
    requests it knows are being prepared, so no time window decides it)."""
    held = [(start_upload(server, body, content_type=mimetype(name)), body) for name, body in images]
    wait_until_arrived(server, len(held))
    for sock, body in held:
        release(sock, body)
    replies = [parse(read_reply(sock)) for sock, _ in held]
    for (name, _), (status, body) in zip(images, replies, strict=True):
        assert status == 200, (name, body)
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


def mimetype(name: str) -> str:
    """The image type of a file name."""
    return "image/jpeg" if name.endswith(".jpg") else "image/png"


def parse(reply: bytes) -> tuple[int, dict]:
    """Status and JSON body of a raw HTTP reply."""
    head, _, payload = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_sigterm_lets_in_flight_requests_finish(server: Server, images: list) -> None:
    """A request still uploading when SIGTERM arrives is answered in full, then gunicorn exits 0."""
    body = images[0][1]
    sock = start_upload(server, body, "/predict?detect=never", mimetype(images[0][0]))
    wait_until_arrived(server, 1)  # the worker accepted it and waits for the rest of the body
    server.process.terminate()
    status, answer = parse(finish_upload(sock, body))
    assert status == 200 and answer["faces_found"] is True
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

"""gunicorn settings for the emotion service: `gunicorn -c gunicorn.conf.py "service.wsgi:app"`.

Every value comes from the environment through service.settings (docs/configuration.md lists them).
This file runs in the master process, which must never import TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from contract.modeldir import ModelDirError, read_metadata, resolve_version_dir
from service.malloc import limit_arenas
from service.settings import Settings, SettingsError

try:
    _settings = Settings.from_env()
except SettingsError as _exc:
    sys.exit(f"error: invalid configuration: {_exc}")

# Two malloc arenas for the master and so for every worker it forks, instead of one per request
# thread (service/malloc.py; MALLOC_ARENA_MAX in the environment overrides it).
limit_arenas()

bind = f"{_settings.host}:{_settings.port}"
# gthread: a worker serves THREADS requests at once, which is what lets the batcher group
# concurrent requests into one model call; decoding and detection run in those threads (OpenCV
# releases the GIL) while one batcher thread per worker owns every TensorFlow call.
# service/worker.py is gthread that reads each request completely in its event loop before a
# thread sees it, so slow or idle clients hold no thread (REQUEST_LINE/HEADER/BODY_TIMEOUT_S).
worker_class = "service.worker.BufferedThreadWorker"
workers = _settings.worker_count  # WORKERS=0: see Settings.worker_count
threads = _settings.threads
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
# Idle keep-alive connections must outlive the clients' own idle limit (nginx upstream 60 s, httpx
# and requests 5 s): a server closing first races the client's next request on that connection,
# which then fails unanswered (reset, or a 502 from nginx, which does not retry a POST).
keepalive = 75
loglevel = _settings.log_level
accesslog = "-"
errorlog = "-"
# preload_app stays False on purpose: TensorFlow starts thread pools when it is imported and
# initialised, and a fork() after that leaves the children with locks held by threads that do
# not exist in them; workers then hang on their first model call. So each worker imports
# service.wsgi after the fork and loads its own copy of the model (TF intra-op threads are set
# to cores / WORKERS so the copies don't fight over the cores).
preload_app = False
# gunicorn >= 25.1 opens a control socket at one fixed path in $HOME by default: several servers
# on a host (tests, replicas) would fight over it, and a read-only home breaks it.
control_socket_disable = True
# gunicorn's cap on draining a request body the app did not read (see pre_request).
KEEPALIVE_MAX_BODY = 64 * 1024

# Prometheus multiprocess mode: every worker writes its metrics to files in this directory and
# /metrics aggregates all of them. It must be set here, before any worker imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="emotion-metrics-")
    _own_metrics_dir = True
else:
    _own_metrics_dir = False


def on_starting(server) -> None:
    """Fail fast, before forking, on a missing model or bad metadata (cheap: no TensorFlow here)."""
    try:
        version_dir = resolve_version_dir(_settings.model_dir)
        class_names = read_metadata(version_dir)["class_names"]
    except ModelDirError as exc:
        server.log.critical("cannot start: %s", exc)
        sys.exit(4)
    server.log.info(
        "model %s (%d classes); %d worker(s) x %d thread(s), model threads per worker %d",
        version_dir,
        len(class_names),
        workers,
        threads,
        _settings.intra_op_threads,
    )
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):  # values of a previous run would otherwise be summed in
        stale.unlink()


def pre_request(worker, req) -> None:
    """Answer "Connection: close" to bodies too large for gunicorn to drain if the app refuses them.

    A request refused before its upload is read (401, 413, 415, 429) leaves the body on the socket.
    gunicorn drains at most 64 KiB of it, then drops the connection it has just answered
    "keep-alive" on, so the client's next request on that connection fails. Saying "close" up
    front costs a large upload one new connection and keeps clients from reusing a doomed one.
    """
    worker.log.debug("%s %s", req.method, req.path)
    headers = dict(req.headers)
    length = headers.get("CONTENT-LENGTH")
    chunked = length is None and "TRANSFER-ENCODING" in headers  # size unknown until read
    if chunked or int(length or 0) > KEEPALIVE_MAX_BODY:
        req.force_close()


def worker_exit(server, worker) -> None:
    """Drain the worker's batcher so requests still in flight at SIGTERM get their answers."""
    app = getattr(worker, "wsgi", None)
    if app is not None:
        from service.app import shutdown

        shutdown(app)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (queue depth) from the aggregated metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the metrics directory this config created."""
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

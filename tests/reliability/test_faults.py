"""Faults on real gunicorn: a worker SIGKILLed under load, a model that does not match its metadata.

A missing model folder and a corrupt SavedModel are covered by tests/service/test_e2e.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from benchmarks.server import Server, worker_pids
from contract.modeldir import resolve_version_dir
from tests.reliability.load import run_load
from tests.support.models import edit_metadata
from tests.support.servers import serve
from tests.support.uploads import wait_for

pytestmark = pytest.mark.e2e
RECOVERY_TIMEOUT = 240.0  # a bound, not a target: a new worker imports TensorFlow and loads the model


def test_sigkilled_worker_is_replaced_and_only_its_requests_fail(live: Server, shots, figures) -> None:
    """Kill -9 one of two workers mid-load: requests sent after its death all succeed, a new worker boots."""
    before = worker_pids(live)
    victim = min(before)
    loaded = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(run_load, live.url, shots, total=400, concurrency=16, milestones={60: loaded})
        assert loaded.wait(timeout=300), "load never got going"
        process = psutil.Process(victim)
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        process.wait(timeout=30)  # gone and reaped: no request can start on it from now on
        dead = time.monotonic()
        replacement = wait_for(
            lambda: next(iter(worker_pids(live) - before), None), RECOVERY_TIMEOUT, "replacement worker"
        )
        wait_for(
            lambda: f"[{replacement}] INFO service.app: ready" in live.logs(),
            RECOVERY_TIMEOUT,
            "ready replacement",
        )
        ready = time.monotonic()
        result = load.result(timeout=600)

    lost = [o for o in result.outcomes if o.kind != "ok"]
    assert all(o.kind == "dropped" and o.started < dead for o in lost), lost[:5]
    answered_after_kill = min(o.ended for o in result.outcomes if o.kind == "ok" and o.started >= dead)
    figures.add(
        "sigkill",
        requests=len(result.outcomes),
        dropped_in_flight=len(lost),
        first_answer_after_kill_s=round(answered_after_kill - killed, 2),
        replacement_ready_after_s=round(ready - killed, 1),
    )
    assert worker_pids(live) == before - {victim} | {replacement}
    after = run_load(live.url, shots, total=64, concurrency=16)
    assert after.count("ok") == 64, after.failures()


@pytest.fixture
def mismatched_model(served_model: Path, tmp_path: Path) -> Path:
    """A copy of the model whose metadata lists one class fewer than the model outputs."""
    version = Path(shutil.copytree(resolve_version_dir(served_model), tmp_path / "model" / "1"))
    edit_metadata(version, class_names=["angry", "disgust", "fear", "happy", "neutral", "sad"])
    return version.parent


# The same ModelDirError path is in the default run twice over: test_startup (mismatch -> error) and
# test_e2e (a corrupt model -> gunicorn exits); this end-to-end version costs a TensorFlow start.
@pytest.mark.soak
@pytest.mark.slow
def test_metadata_not_matching_the_model_stops_gunicorn(mismatched_model: Path, tmp_path: Path) -> None:
    """The worker's warm-up sees 7 outputs for 6 names: a clear log line and a non-zero exit."""
    running = serve(mismatched_model, tmp_path / "gunicorn.log", wait=False)
    try:
        code = running.process.wait(timeout=RECOVERY_TIMEOUT)
    finally:
        running.stop()
    logs = running.logs()
    assert code != 0, logs[-2000:]
    assert "cannot start:" in logs and "does not match" in logs, logs[-2000:]

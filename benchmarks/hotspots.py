"""Where a gunicorn worker's time goes under load: py-spy samples grouped into the service's stages.

Two py-spy recorders (non-blocking, Python frames) watch the worker at once while the
load generator drives it: one samples every thread that is running or runnable, the
other (--gil) only the thread holding the GIL, i.e. the Python work that cannot run in
parallel. Each sample is put into the first category whose marker occurs in its stack;
samples whose innermost frame is a wait (lock, queue, selector) count as waiting.
"""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import server as srv
from benchmarks.machine import ROOT

# Library code is matched by where it lives; it is not ours to rename.
LIBRARY_CATEGORIES = (
    ("multipart_parsing", ("werkzeug/formparser.py", "werkzeug/sansio/multipart.py")),
    ("metrics", ("prometheus_client/",)),
    ("logging", ("logging/__init__.py", "gunicorn/glogging.py")),
    ("flask_werkzeug", ("flask/", "werkzeug/")),
    ("gunicorn_http", ("gunicorn/",)),
)


def frame(function: Callable) -> str:
    """How py-spy names a frame of this function inside a stack: ";Qualified.name (package/module.py:".

    The leading ';' (frames are joined by it) keeps `decode` from matching `_decode`.
    """
    code = inspect.unwrap(function).__code__
    path = Path(code.co_filename).resolve().relative_to(ROOT).as_posix()
    return f";{code.co_qualname} ({path}:"


def anywhere_in(module: ModuleType) -> str:
    """The marker of every frame of a module: " (package/module.py:"."""
    return f" ({Path(module.__file__).resolve().relative_to(ROOT).as_posix()}:"


@cache
def categories() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(category, markers), first match wins; the service's markers are derived from its functions,
    so renaming or moving one fails here instead of silently emptying a category."""
    from contract.crop import crop_face
    from contract.detect import HaarDetector, YuNetDetector
    from contract.faces import find_faces
    from service import schemas
    from service.model import SavedModelPredictor
    from service.runtime.openvino_backend import OpenVINOPredictor
    from service.stages.decode import decode
    from service.stages.respond import image_response

    return (
        ("model", (frame(SavedModelPredictor.predict_batch), frame(OpenVINOPredictor.predict_batch))),
        ("detect", (frame(YuNetDetector.detect), frame(HaarDetector.detect))),
        ("decode", (frame(decode),)),
        ("crop_resize", (frame(find_faces), frame(crop_face))),
        (
            "json_response",
            (frame(image_response), anywhere_in(schemas), "jsonify (flask/", "dump (marshmallow/"),
        ),
        *LIBRARY_CATEGORIES,
    )


WAITS = (
    "Condition.wait",
    "EpollSelector.select",
    "Queue.get",
    "Event.wait",
    "Future.result",
    "_worker (concurrent",
)


def available() -> bool:
    """Whether the py-spy executable is installed next to this Python or on PATH."""
    return executable() is not None


def executable() -> str | None:
    """Path of py-spy (the virtualenv's first)."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def categorise(stack: str) -> str:
    """The category of one sampled stack (frames joined by ';', outermost first)."""
    leaf = stack.rsplit(";", 1)[-1]
    if any(leaf.startswith(w) for w in WAITS):
        return "waiting"
    for name, markers in categories():
        if any(m in stack for m in markers):
            return name
    return "other"


def summarise(raw: str, top: int = 12) -> dict[str, Any]:
    """Busy samples per category (share of all busy samples) and the hottest innermost frames."""
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        kind = categorise(stack)
        categories[kind] += int(count)
        if kind != "waiting":
            leaves[stack.rsplit(";", 1)[-1]] += int(count)
    busy = sum(n for k, n in categories.items() if k != "waiting") or 1
    shares = {k: round(n / busy, 3) for k, n in categories.most_common() if k != "waiting"}
    frames = [{"frame": f, "share_of_busy": round(n / busy, 3)} for f, n in leaves.most_common(top)]
    return {
        "busy_samples": busy,
        "waiting_samples": categories["waiting"],
        "share_of_busy": shares,
        "top_frames": frames,
    }


def record(pid: int, seconds: float, out: Path, *, gil: bool = False, rate: int = 100) -> subprocess.Popen:
    """Start py-spy record on one process (collapsed stacks to out); wait on the returned process."""
    command = [
        executable() or "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--nonblocking",
        "--threads",
        "-o",
        str(out),
        *(["--gil"] if gil else []),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def collect(recorder: subprocess.Popen, out: Path, timeout: float) -> str:
    """Wait for a recorder and return its stacks; RuntimeError with py-spy's message if it failed."""
    _, stderr = recorder.communicate(timeout=timeout)
    if recorder.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed ({recorder.returncode}): {stderr.strip()[-500:]}")
    return out.read_text()


def run(
    server: srv.Server, workload: str, payloads: Path, concurrency: int, seconds: float, out_dir: Path
) -> dict[str, Any]:
    """Profile the server's first worker while the load generator runs at one concurrency."""
    worker = srv.workers(server)[0].pid
    warmup = 1.0
    load = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            "--url",
            f"{server.url}/predict",
            "--payloads",
            str(payloads),
            "--concurrency",
            str(concurrency),
            "--duration",
            str(seconds + 1.0),
            "--warmup",
            str(warmup),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(warmup)  # let the load reach a steady state before sampling
        outs = {
            view: out_dir / f"pyspy-{server.name}-{workload}-c{concurrency}-{view}.txt"
            for view in ("threads", "gil")
        }
        recorders = {view: record(worker, seconds, out, gil=view == "gil") for view, out in outs.items()}
        views = {view: summarise(collect(rec, outs[view], seconds + 60)) for view, rec in recorders.items()}
    finally:
        load.wait(seconds + 120)
    return {
        "config": server.name,
        "workload": workload,
        "concurrency": concurrency,
        "seconds": seconds,
        "pid": worker,
        **views,
    }

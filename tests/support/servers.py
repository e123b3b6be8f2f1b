"""Real gunicorn for tests: the one launcher (benchmarks.server) with the tests' defaults."""

from __future__ import annotations

from pathlib import Path

from benchmarks.server import Server, start_service
from service.settings import Settings

# One worker with a few threads starts fastest; info logs let tests read the workers' lines.
TEST_ENV = {"WORKERS": "1", "THREADS": "4", "LOG_LEVEL": "info"}
# The deployed defaults, but two workers (one survives a SIGKILL) and an upload limit small enough
# that over-limit payloads are cheap to build and send (still large enough for photos).
LIVE_ENV = {
    "WORKERS": "2",
    "THREADS": str(Settings().threads),
    "MAX_UPLOAD_MB": "1",
    "GRACEFUL_TIMEOUT": "30",
}


def serve(model_dir: Path | str, log: Path, *, wait: bool = True, **env: str) -> Server:
    """gunicorn on MODEL_DIR with the test defaults and these settings; ready unless wait=False."""
    return start_service(log, {**TEST_ENV, "MODEL_DIR": str(model_dir), **env}, wait=wait)


def serve_live(model_dir: Path | str, log: Path, **env: str) -> Server:
    """gunicorn with the live settings of the reliability tests (overridable), ready to answer."""
    return serve(model_dir, log, **{**LIVE_ENV, **env})

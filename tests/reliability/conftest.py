"""Reliability fixtures: a real gunicorn shared by the load and corpus tests, payloads, figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks.server import Server
from tests.reliability.load import Shot
from tests.reliability.report import Figures
from tests.support.payloads import astronaut_jpeg, b64, crop
from tests.support.servers import serve_live

FIGURES = pytest.StashKey[Figures]()


def pytest_configure(config: pytest.Config) -> None:
    """One collection of figures per session."""
    config.stash[FIGURES] = Figures.from_env()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    """The session's figures; RESULTS.md is rewritten after each addition when enabled."""
    return pytestconfig.stash[FIGURES]


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Print whatever figures this run measured, so the default run reports them too."""
    figures = config.stash.get(FIGURES, None)
    if figures and figures.sections:
        terminalreporter.write_sep("-", "reliability figures")
        for line in figures.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def _live_servers() -> Iterator[list[Server]]:
    """Every live server of the session, stopped at its end."""
    servers: list[Server] = []
    yield servers
    for running in servers:
        running.stop()


@pytest.fixture
def live(_live_servers: list, served_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """The shared gunicorn (LIVE_ENV); started again only after a test shut it down."""
    if not _live_servers or _live_servers[-1].process.poll() is not None:
        log = tmp_path_factory.mktemp("live") / "gunicorn.log"
        _live_servers.append(serve_live(served_model, log))
    return _live_servers[-1]


@pytest.fixture(scope="session")
def shots() -> list[Shot]:
    """The request mix of the load tests: every input form, a photo with detection, expected errors."""
    photo = astronaut_jpeg()
    garbage = np.random.default_rng(0).bytes(2000)
    return [
        Shot("crop-multipart", "/predict", {"files": {"image": ("a.png", crop(0))}}),
        Shot("crop-raw", "/predict", {"content": crop(1, ".jpg"), "headers": {"Content-Type": "image/jpeg"}}),
        Shot("crop-base64", "/predict", {"json": {"image": b64(crop(2, ".webp"))}}),
        Shot("crop-multipart", "/predict", {"files": {"file": ("b.bmp", crop(3, ".bmp"))}}),
        Shot("batch-4", "/predict/batch", {"json": {"images": [b64(crop(i)) for i in range(4)]}}),
        Shot("crop-raw", "/predict", {"content": crop(5), "headers": {"Content-Type": "image/png"}}),
        Shot("photo-detect", "/predict", {"files": {"image": ("astronaut.jpg", photo)}}),
        Shot("crop-base64", "/predict", {"json": {"image": b64(crop(6))}}),
        Shot("garbage-400", "/predict", {"content": garbage, "headers": {"Content-Type": "image/png"}}, 400),
        Shot("text-415", "/predict", {"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415),
    ]

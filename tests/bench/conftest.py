"""Benchmark fixtures: a tiny training config file beside the tiny model and dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_TOML = """batch_size = 8
width = 4
depth = 2
dense_units = 8
tta = "flip"
"""


@pytest.fixture(scope="session")
def tiny_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A training config whose model trains a step in milliseconds."""
    path = tmp_path_factory.mktemp("bench_config") / "tiny.toml"
    path.write_text(TINY_TOML)
    return path

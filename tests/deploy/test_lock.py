"""The lock files: current with pyproject.toml, complete, and what this venv and the images install.

When test_locks_are_current_with_pyproject fails, a dependency in pyproject.toml changed without
`make lock` (which rewrites requirements/lock-*.txt with uv and records the new hash).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lockfile", ROOT / "deploy" / "lockfile.py")
lockfile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lockfile)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)


def norm(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    """name -> version of a lock file."""
    return {norm(n): v for n, v in PIN.findall((lockfile.LOCK_DIR / lock).read_text())}


def test_locks_are_current_with_pyproject() -> None:
    """Every lock was generated from today's dependency sections."""
    assert lockfile.stale() == [], "pyproject.toml's dependencies changed: run `make lock`"


def test_a_dependency_change_makes_every_lock_stale(tmp_path: Path) -> None:
    """The check can fail: a new dependency (or a changed range) changes the recorded hash."""
    shutil.copytree(lockfile.LOCK_DIR, tmp_path / "requirements")
    edited = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    edited.write_text(text.replace("dependencies = [\n", 'dependencies = [\n    "tqdm>=4",\n', 1))
    assert lockfile.stale(tmp_path / "requirements", ROOT / "pyproject.toml") == []
    assert lockfile.stale(tmp_path / "requirements", edited) == list(lockfile.LOCKS)
    # Comments and tool settings are not dependencies: they leave the locks current.
    edited.write_text(text + "\n# a comment\n")
    assert lockfile.stale(tmp_path / "requirements", edited) == []


@pytest.mark.parametrize(("lock", "extras"), list(lockfile.LOCKS.items()))
def test_every_direct_dependency_is_pinned_with_hashes(lock: str, extras: tuple[str, ...]) -> None:
    """Each requirement of the lock's extras has exactly one version and sha256 hashes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]
    names = {norm(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in wanted}
    pinned = pins(lock)
    assert names <= set(pinned), names - set(pinned)
    text = (lockfile.LOCK_DIR / lock).read_text()
    assert text.count("==") == len(pinned) and text.count("--hash=sha256:") >= len(pinned)


def test_image_locks_agree_with_the_tested_versions() -> None:
    """The images run exactly the versions the dev lock (make test) pins."""
    dev = pins(lockfile.DEV_LOCK)
    for lock in lockfile.LOCKS:
        shared = set(pins(lock)) & set(dev)
        assert {n: pins(lock)[n] for n in shared} == {n: dev[n] for n in shared}, lock


@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(), reason="checks the project's .venv only"
)
def test_this_venv_was_installed_from_the_dev_lock() -> None:
    """make venv installed the locked versions (packages whose markers exclude this Python are absent)."""
    installed = {norm(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differing = {n: (v, installed[n]) for n, v in pins(lockfile.DEV_LOCK).items() if installed.get(n, v) != v}
    assert differing == {}, "run `make venv` (the lock changed since the venv was built)"

"""Where derived runtime artefacts live: outside the model folder, keyed by the SavedModel's content hash.

The SavedModel stays the artefact of record (TF Serving layout, nothing is ever written
into a version folder). A conversion is stored under <cache>/<sha256 of the SavedModel>/,
so a restart, a second worker or a second replica on the same volume pays it once, and a
changed model can never be served from a stale conversion.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# What defines the graph and weights; metadata.json and evaluation/ do not change a conversion.
_HASHED = ("saved_model.pb", "variables", "assets")
_CHUNK = 1 << 20


def model_hash(version_dir: str | Path) -> str:
    """sha256 over the relative paths and bytes of saved_model.pb, variables/ and assets/."""
    root = Path(version_dir)
    digest = hashlib.sha256()
    for name in _HASHED:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                continue
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            with file.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME or ~/.cache when writable (a container's home often is not), else the temp dir."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    try:
        base.mkdir(parents=True, exist_ok=True)
        if os.access(base, os.W_OK):
            return base / "emotion-service"
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "emotion-service-cache"


def cache_dir(configured: str = "") -> Path:
    """The RUNTIME_CACHE_DIR setting, or the default above."""
    return Path(configured).expanduser() if configured else default_cache_dir()


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on <folder>.lock: workers starting together convert once, the others wait."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(
    target: Path, build: Callable[[Path], None], marker: str = "model.xml", *, force: bool = False
) -> Path:
    """target/ if it holds `marker` (unless force); else build(tmp) in a sibling temp folder, renamed in.

    The rename is atomic, so a crash mid-build leaves no half-written artefact for the next start.
    """
    if (target / marker).exists() and not force:
        return target
    with locked(target):
        if (target / marker).exists() and not force:  # another worker built it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            build(tmp)
            if not (tmp / marker).exists():
                raise RuntimeError(f"the build wrote no {marker}")
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target

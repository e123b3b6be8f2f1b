"""Version folders: the next free number, refusing a published one, and writing beside it then renaming."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contract.modeldir import ModelDirError

# A version being written: <root>/.<version>.partial-<random>, renamed to <root>/<version> when
# complete. Loaders only look at numeric folder names, so a server never sees a half-written one.
PARTIAL = ".partial-"


def next_version(model_root: str | Path) -> int:
    """One more than the highest version folder under model_root, counting ones still being written."""
    root = Path(model_root)
    names = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    staged = [name[1:].partition(PARTIAL)[0] for name in names if name.startswith(".") and PARTIAL in name]
    return max((int(n) for n in names + staged if n.isdigit()), default=0) + 1


def check_version_free(version_dir: str | Path, overwrite: bool = False) -> None:
    """Refuse an existing version folder (published models are never written into) unless overwrite."""
    target = Path(version_dir)
    if target.exists() and not overwrite:
        raise ModelDirError(
            f"{target} already exists: a published version is never replaced; choose another --version "
            "(or none, for the next free one) or pass --overwrite to replace it"
        )


def refuse_taken_version(model_dir: str | Path, version: int, overwrite: bool) -> None:
    """A command's --version that is taken is refused before hours of work (0 = the next free one)."""
    if version:
        check_version_free(Path(model_dir) / str(version), overwrite)


@contextmanager
def staged_version_dir(version_dir: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """An empty folder beside version_dir, renamed to it once the block completes.

    A failure (or a crash) inside the block never leaves a folder named like a version: the
    staging folder is removed, and an existing version stays untouched. With overwrite, the old
    folder is renamed aside, the new one renamed in, and only then the old one deleted.
    """
    target = Path(version_dir)
    check_version_free(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{PARTIAL}", dir=target.parent))
    aside = None
    try:
        yield staging
        check_version_free(target, overwrite)  # another run may have published it meanwhile
        if target.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.replaced-", dir=target.parent))
            target.rename(aside / target.name)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if aside is not None and not target.exists():
            (aside / target.name).rename(target)  # the swap failed half-way: put the old one back
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)

"""Print pyproject.toml's runtime requirements plus one extra, one per line (the image's deps layer).

Installing these before the source is copied lets Docker reuse that layer when only code changes.
Usage: python3 deploy/requirements.py pyproject.toml cpu > requirements.txt
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extra: str) -> list[str]:
    """The project's dependencies followed by those of `extra`."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {})
    if extra not in extras:
        raise SystemExit(f"unknown extra {extra!r}; pyproject.toml has {', '.join(sorted(extras))}")
    return [*project["dependencies"], *extras[extra]]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2])))

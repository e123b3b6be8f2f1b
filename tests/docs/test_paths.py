"""Files and modules that README.md and docs/*.md name in code spans exist under those names.

Modules move (`service.preprocess` was named long after it was gone): a page that names
`training/export.py`, `service.settings_doc` or `python -m service.video` must name something real.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
PACKAGES = ("contract", "service", "training", "benchmarks", "tests", "deploy")
TOP = "contract|service|training|benchmarks|tests|deploy|models|docs|requirements"
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FILE = re.compile(rf"(?:{TOP})/[\w./-]*")
MODULE = re.compile(r"(?:contract|service|training|benchmarks|tests)(?:\.\w+)+")
RUN_MODULE = re.compile(r"python -m ([\w.]+)")


def module_source(parts: list[str]) -> str | None:
    """The source of the module a dotted path names, or None."""
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py", base / "__main__.py"):
        if candidate.is_file():
            return candidate.read_text()
    return None


def resolves(dotted: str) -> bool:
    """`a.b.c` is a module, or a name in module `a.b` (defined, imported or re-exported there)."""
    parts = dotted.split(".")
    if module_source(parts) is not None:
        return True
    source = module_source(parts[:-1])
    return source is not None and re.search(rf"\b{re.escape(parts[-1])}\b", source) is not None


def missing_names(page: Path) -> list[str]:
    """Paths and modules named on a page that do not exist."""
    text = page.read_text()
    missing = []
    for span in CODE_SPAN.findall(text):
        for word in span.split():
            word = word.strip("(),;:'\"")
            if FILE.fullmatch(word) and not (ROOT / word).exists():
                missing.append(f"{word}: no such file")
            elif MODULE.fullmatch(word) and not resolves(word):
                missing.append(f"{word}: no such module or name")
    for module in RUN_MODULE.findall(text):
        if module.split(".")[0] in PACKAGES and module_source(module.split(".")) is None:
            missing.append(f"python -m {module}: no such module")
    return sorted(set(missing))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_files_and_modules_exist(page: Path) -> None:
    """Every repository path and dotted module in a code span is real."""
    assert missing_names(page) == []


def test_the_checker_sees_stale_names(tmp_path: Path) -> None:
    """The docstring bug this test was written for, and a moved file, are both reported."""
    page = tmp_path / "page.md"
    page.write_text(
        "serving (`service.preprocess`) via `service/settings.py` and `service/nowhere.py`;\n"
        "`contract.to_model_input`, `service.settings.Settings`\n```\npython -m service.nothing\n```\n"
    )
    assert missing_names(page) == [
        "python -m service.nothing: no such module",
        "service.preprocess: no such module or name",
        "service/nowhere.py: no such file",
    ]

"""The module graph, read with ast (nothing is imported): no cycles, service never imports training,
benchmarks use no private name of the product's packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.models import REPO

PACKAGES = ("contract", "service", "training", "benchmarks")
PRODUCT = ("contract", "service", "training")


def module_files(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages under root."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` blocks import for annotations only, never at run time."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or inside functions, outside TYPE_CHECKING blocks."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if _type_checking_only(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The known modules this module imports, with the packages whose __init__ each import runs."""
    targets: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        targets.add(base)
        targets.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    edges = set()
    for target in targets:
        parts = target.split(".")
        edges.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {t for t in edges & known if t != name and not name.startswith(f"{t}.")}


def import_graph(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of the packages it imports."""
    files = module_files(root, packages)
    return {name: imported(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        """Tarjan's algorithm, one node."""
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, group) for group in groups]


def _path_through(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A readable cycle inside one strongly connected group: start -> ... -> start."""
    start, members = group[0], set(group)
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & members):
            if nxt == start:
                return [*path, start]
            if nxt not in path:
                paths.append([*path, nxt])
    return group


def test_no_import_cycles() -> None:
    """A cycle makes import order matter and hides which module owns what."""
    assert cycles(import_graph()) == []


def test_service_never_imports_training() -> None:
    """The service ships without the training code; what both need lives in contract/."""
    graph = import_graph()
    assert {
        m: sorted(t for t in ts if t.startswith("training"))
        for m, ts in graph.items()
        if m.startswith("service")
    } == {m: [] for m in graph if m.startswith("service")}


def private_uses(path: Path, private_ok: tuple[str, ...] = ("self", "cls")) -> list[str]:
    """`obj._name` and `from product import _name` in one file (dunders and self/cls excluded)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and node.attr[:2] != "__"
        if private and not (isinstance(node.value, ast.Name) and node.value.id in private_ok):
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PRODUCT:
            found += [f"{path.name}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_benchmarks_use_public_names_only() -> None:
    """A benchmark that reaches into `engine._x` breaks silently when the service is restructured."""
    assert [use for path in sorted((REPO / "benchmarks").rglob("*.py")) for use in private_uses(path)] == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "import p.b\n", "b.py": "from p.a import x\n"}, [["p.a", "p.b", "p.a"]]),
        ({"a.py": "from . import b\n", "b.py": "from .a import x\n"}, [["p.a", "p.b", "p.a"]]),  # relative
        ({"a.py": "def f():\n    import p.b\n", "b.py": "import p.a\n"}, [["p.a", "p.b", "p.a"]]),  # lazy
        ({"a.py": "import typing\nif typing.TYPE_CHECKING:\n    import p.b\n", "b.py": "import p.a\n"}, []),
        ({"a.py": "import p.b\n", "b.py": "import p.c\n", "c.py": "import os\n"}, []),
    ],
)
def test_cycle_finder_on_small_packages(tmp_path: Path, files: dict[str, str], expected: list) -> None:
    """It sees absolute, relative and lazy imports, ignores TYPE_CHECKING, and passes an acyclic graph."""
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "__init__.py").write_text("")
    for name, source in files.items():
        (tmp_path / "p" / name).write_text(source)
    assert cycles(import_graph(tmp_path, ("p",))) == expected


def test_tests_take_helpers_from_support_not_from_other_tests() -> None:
    """Shared helpers live in tests/support (or a conftest's fixtures): importing a test module or a
    conftest runs its tests' module code twice and ties unrelated tests together."""

    def is_test_module(dotted: str) -> bool:
        last = dotted.rpartition(".")[2]
        return dotted.startswith("tests.") and (last.startswith("test_") or last == "conftest")

    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in import_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = [node.module or "", *(f"{node.module}.{alias.name}" for alias in node.names)]
            offenders += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names if is_test_module(n)]
    assert offenders == []

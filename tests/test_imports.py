"""The start-up contract holds: no import cycle between modules, and few imports in functions.

Modules import each other at the top; an import inside a function is kept only for a reason
stated in a comment next to it (a library that a web worker must not load at start-up, an
optional dependency). A cycle, or a function import added to dodge one, means a module is
in the wrong place: see "Start-up" in docs/development.md.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
MOST_FUNCTION_IMPORTS = 30


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(APP.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(name: str, path: Path) -> set[str]:
    """The app modules this one imports when it is loaded (not in functions, not for mypy)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)
                walk(node.orelse)
                walk(node.finalbody)
            elif isinstance(node, ast.ClassDef):
                walk(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in MODULES)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                for alias in node.names:
                    # `from app.x import y`: the module app.x.y if there is one, else app.x.
                    if f"{base}.{alias.name}" in MODULES:
                        found.add(f"{base}.{alias.name}")
                    elif base in MODULES:
                        found.add(base)

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


class _FunctionImports(ast.NodeVisitor):
    """Collects the imports found inside a function (at any depth) of one module."""

    def __init__(self) -> None:
        self.depth = 0
        self.found: list[ast.Import | ast.ImportFrom] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self.depth:
            self.found.append(node)

    visit_ImportFrom = visit_Import


def _function_imports() -> list[tuple[str, int, bool]]:
    """(file, line, has a reason) of every import inside a function of app/."""
    found = []
    for path in MODULES.values():
        lines = path.read_text(encoding="utf-8").splitlines()
        visitor = _FunctionImports()
        visitor.visit(ast.parse("\n".join(lines)))
        for node in visitor.found:
            # The reason: on the import's line, or in the comment just above it (or above
            # the import just above it, for two imports that share one reason).
            above = node.lineno - 2
            while above >= 0 and lines[above].lstrip().startswith(("import ", "from ")):
                above -= 1
            reason = "#" in lines[node.end_lineno - 1] or (
                above >= 0 and lines[above].lstrip().startswith("#")
            )
            found.append((str(path.relative_to(APP.parent)), node.lineno, reason))
    return found


def test_no_module_of_the_panel_imports_itself_back() -> None:
    graph = {name: _top_level_imports(name, path) for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_imports_inside_functions_are_few_and_each_says_why() -> None:
    found = _function_imports()
    assert [f"{path}:{line}" for path, line, reason in found if not reason] == []
    assert len(found) <= MOST_FUNCTION_IMPORTS, [f"{path}:{line}" for path, line, _ in found]


def test_each_name_of_the_app_package_is_its_own_module() -> None:
    """`from app.moving import feature as moving` in app/__init__.py once made `app.moving`
    the feature module, so `import app.moving.readers` failed: no import may shadow one."""
    import app

    for info in pkgutil.iter_modules(app.__path__):
        module = importlib.import_module(f"app.{info.name}")
        assert getattr(app, info.name) is module, info.name

"""The layout keeps its promises: no import circle, no oversized module or function.

docs/architecture.md draws the packages and which way they depend; these tests hold
the code to it. An import under ``if TYPE_CHECKING:`` does not count; an import inside
a function does, since it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "secure_run"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

#: Modules allowed past MAX_MODULE_LINES, each with the reason.
LONG_MODULES: dict[str, str] = {}

#: Functions allowed past MAX_FUNCTION_LINES ("module:qualname"), each with the reason.
LONG_FUNCTIONS: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import that runs, at module level or inside a function."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The secure_run modules an import statement loads."""
    is_package = MODULES[module].name == "__init__.py"
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
    return {n for n in names if n in MODULES and n.startswith("secure_run")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the secure_run modules it imports at run time (packages' own inits aside)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in _imports(tree):
            edges |= _targets(module, node)
        edges.discard(module)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_runtime_import_graph_has_no_circle():
    """No set of secure_run modules imports each other in a circle, lazily or not."""
    graph = import_graph()
    # the package's own __init__ re-exports the public API: it sits above everything
    graph.pop("secure_run", None)
    for edges in graph.values():
        edges.discard("secure_run")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_circle():
    """The check above can fail: a circle planted in a copy of the graph is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_config_values_import_nothing_above_them():
    """The value types sit at the bottom: they import only the error tree."""
    assert import_graph()["secure_run._config.values"] <= {"secure_run._errors"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_the_line_limit(module):
    """Each module stays under MAX_MODULE_LINES, or says why in LONG_MODULES."""
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES or module in LONG_MODULES, f"{module}: {lines} lines"


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found.append((name, (node.end_lineno or node.lineno) - start + 1))
            found.extend(_functions(node, name + "."))
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_function_is_over_the_line_limit(module):
    """Each function stays under MAX_FUNCTION_LINES, or says why in LONG_FUNCTIONS."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    long = [
        f"{module}:{name} ({n} lines)"
        for name, n in _functions(tree)
        if n > MAX_FUNCTION_LINES and f"{module}:{name}" not in LONG_FUNCTIONS
    ]
    assert long == []


def test_every_exception_to_the_limits_still_applies_and_has_a_reason():
    """An entry in LONG_MODULES or LONG_FUNCTIONS names real code and gives a reason."""
    for module, reason in LONG_MODULES.items():
        assert module in MODULES
        assert reason.strip()
    for key, reason in LONG_FUNCTIONS.items():
        module, _, name = key.partition(":")
        names = dict(_functions(ast.parse(MODULES[module].read_text(encoding="utf-8"))))
        assert names.get(name, 0) > MAX_FUNCTION_LINES
        assert reason.strip()

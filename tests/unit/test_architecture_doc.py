"""docs/architecture.md stays a true map: every module on it, in a layer its imports respect.

The page's table "Packages and layers" lists every module under ``secure_run/`` in a
layer, top first; a module may import at run time only its own layer or a layer below.
Every path and every ``secure_run.`` name the page mentions must exist.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from test_architecture import MODULES, PACKAGE, import_graph

ROOT = PACKAGE.parent
PAGE = ROOT / "docs" / "architecture.md"
TEXT = PAGE.read_text(encoding="utf-8")
SPANS = re.findall(r"`([^`\n]+)`", TEXT)
PACKAGES = sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


def _module_name(path: Path) -> str:
    """``secure_run/_config/values.py`` -> ``secure_run._config.values``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layers() -> list[list[str]]:
    """The modules of each row of the layer table, top row first.

    In a row, a span such as ```_config/``` names the package of the ``.py`` spans
    after it; a ``.py`` span before any package is a top-level module.
    """
    section = TEXT.split("## Packages and layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+\. ", line)]
    found = []
    for row in rows:
        cell = row.split("|")[2]
        package = PACKAGE
        modules = []
        for span in re.findall(r"`([^`]+)`", cell):
            if span.endswith("/"):
                package = PACKAGE / span.rstrip("/")
            else:
                modules.append(_module_name(package / span))
        found.append(modules)
    return found


def _layer_of() -> dict[str, int]:
    return {module: n for n, row in enumerate(layers()) for module in row}


def _package_inits() -> set[str]:
    return {_module_name(p / "__init__.py") for p in PACKAGES}


def test_the_layer_table_has_rows():
    """The page's layer table is found and has several rows (the parser reads it)."""
    assert len(layers()) >= 5


def test_every_module_is_in_one_layer():
    """Each module file under secure_run/ (packages' own inits aside) is in exactly one row."""
    listed = [m for row in layers() for m in row]
    assert sorted(listed) == sorted(set(MODULES) - _package_inits())


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_subpackage_is_named(package):
    """The page names each subpackage of secure_run/ as ``_name/``."""
    assert f"{package.name}/" in SPANS


@pytest.mark.parametrize("package", sorted(_package_inits()))
def test_package_inits_import_nothing(package):
    """A package's __init__ imports nothing, so it needs no layer of its own."""
    assert import_graph()[package] == set()


def test_imports_point_down_the_layers():
    """No module imports one from a layer above its own (the table's order)."""
    layer = _layer_of()
    inits = _package_inits()
    upward = [
        f"{module} (layer {layer[module] + 1}) -> {target} (layer {layer[target] + 1})"
        for module, targets in import_graph().items()
        if module in layer
        for target in targets - inits
        if layer[target] < layer[module]
    ]
    assert upward == []


def _is_path(span: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]*(/[\w.*-]+)*/?", span)) and (
        "/" in span or span.endswith((".py", ".md", ".yml"))
    )


def _exists(span: str) -> bool:
    if "*" in span:
        return any(ROOT.glob(span)) or any(PACKAGE.glob(span))
    if (ROOT / span).exists() or (PACKAGE / span).exists():
        return True
    return "/" not in span and any(PACKAGE.rglob(span))


PATHS = sorted({word for s in SPANS for word in s.split() if _is_path(word)})


@pytest.mark.parametrize("path", PATHS)
def test_every_path_the_page_mentions_exists(path):
    """A path on the page names a file or folder of the repository or of secure_run/."""
    assert _exists(path)


@pytest.mark.parametrize("name", sorted({s for s in SPANS if s.startswith("test_")}))
def test_every_test_the_page_names_exists(name):
    """A test the checklist names is a test function in tests/unit/."""
    tests = ROOT / "tests" / "unit"
    assert any(f"def {name}(" in p.read_text(encoding="utf-8") for p in tests.glob("test_*.py"))


@pytest.mark.parametrize("span", sorted({s for s in SPANS if s.startswith("secure_run.")}))
def test_every_name_the_page_mentions_exists(span):
    """A dotted ``secure_run.`` name on the page is a module or a name in one."""
    module, _, name = span.rpartition(".")
    try:
        importlib.import_module(span)
    except ModuleNotFoundError:
        assert hasattr(importlib.import_module(module), name)


def test_the_path_checker_refuses_a_missing_path():
    """The existence check can fail: a module that is not there is reported."""
    assert _is_path("_config/nowhere.py")
    assert not _exists("_config/nowhere.py")

"""The lazily loaded public API: each name resolves to its module's object, on first use only.

``secure_run/__init__.py`` names every public name twice: in ``TYPE_CHECKING``
imports for type checkers, and in ``_HOMES`` for the PEP 562 ``__getattr__`` that
loads it at run time. These tests hold the two lists, ``__all__`` and the objects
to each other, and check in fresh interpreters what ``import secure_run`` loads.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import secure_run

INIT = Path(secure_run.__file__)

#: Modules ``import secure_run`` must not load: the heavy ones, loaded on first use.
NOT_AT_IMPORT = (
    "docker",
    "requests",
    "secure_run._audit.audit",
    "secure_run._audit.doctor",
    "secure_run._proof.verify",
    "secure_run._proof.probe",
    "secure_run._engine.launch",
    "secure_run.testing",
)


def _type_checking_imports() -> dict[str, str]:
    """Each name imported under ``if typing.TYPE_CHECKING:`` in __init__.py, with its module."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "typing.TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name: "." * node.level + (node.module or "")
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def _modules_after(code: str) -> set[str]:
    """The modules loaded in a fresh interpreter after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_type_checkers_see_exactly_the_names_in_all() -> None:
    """The ``TYPE_CHECKING`` imports are exactly ``__all__``: none missing, none extra."""
    assert sorted(_type_checking_imports()) == sorted(secure_run.__all__)


def test_each_name_is_loaded_from_the_module_type_checkers_read() -> None:
    """``_HOMES`` names, for each public name, the module its ``TYPE_CHECKING`` import reads."""
    assert _type_checking_imports() == secure_run._HOME_OF


@pytest.mark.parametrize("name", secure_run.__all__)
def test_each_name_resolves_to_its_modules_object(name: str) -> None:
    """``secure_run.NAME`` is the very object its private module defines."""
    home = importlib.import_module(secure_run._HOME_OF[name], "secure_run")
    assert getattr(secure_run, name) is getattr(home, name)


def test_dir_lists_the_public_names_before_they_load() -> None:
    """``dir(secure_run)`` offers every name in ``__all__``, loaded or not (for completion)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, secure_run; print(json.dumps(dir(secure_run)))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert set(secure_run.__all__) <= set(json.loads(done.stdout))


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A misspelt name raises AttributeError naming it, so ``hasattr`` and ``getattr`` work."""
    with pytest.raises(AttributeError, match="has no attribute 'buildr'"):
        secure_run.buildr  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert not hasattr(secure_run, "_no_such_name")


@pytest.mark.parametrize("module", NOT_AT_IMPORT)
def test_import_secure_run_does_not_load(module: str) -> None:
    """A fresh ``import secure_run`` leaves this module unloaded (loaded on first use)."""
    assert module not in _modules_after("import secure_run")


@pytest.mark.parametrize(
    "module", ["secure_run._audit.audit", "secure_run._audit.doctor", "secure_run.testing"]
)
def test_building_and_running_do_not_load(module: str) -> None:
    """Touching ``builder``, ``RunConfig`` and ``run`` loads neither audit, doctor nor testing."""
    code = "import secure_run as sr\nsr.builder('busybox').build(); sr.RunConfig; sr.run"
    assert module not in _modules_after(code)


def test_from_import_of_a_lazy_name_loads_it() -> None:
    """``from secure_run import audit`` works in a fresh interpreter, and loads audit then."""
    loaded = _modules_after("from secure_run import audit\nassert callable(audit)")
    assert "secure_run._audit.audit" in loaded

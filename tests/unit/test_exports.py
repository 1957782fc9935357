"""The public surface of ``secure_run``: ``__all__``, its order, and the typing marker."""

from __future__ import annotations
import __future__

import importlib.resources
import types

import pytest

import secure_run


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: SCREAMING_CASE constants, then CamelCase, then the rest."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _public_names() -> set[str]:
    """Names the package offers that are public API (not submodules).

    Read through ``dir()`` and ``getattr``, not ``vars()``: the names are loaded on
    first use (PEP 562), so ``vars()`` holds only those used so far.
    """
    return {
        name
        for name in dir(secure_run)
        if not name.startswith("_")
        and not isinstance(getattr(secure_run, name), types.ModuleType)
        and not isinstance(getattr(secure_run, name), __future__._Feature)
    }


def test_all_is_sorted():
    """``__all__`` is in ruff's isort-style order (constants, classes, functions)."""
    assert secure_run.__all__ == sorted(secure_run.__all__, key=_isort_key)


def test_all_has_no_duplicates():
    """No name is listed twice in ``__all__``."""
    assert len(set(secure_run.__all__)) == len(secure_run.__all__)


def test_all_is_exactly_the_public_names():
    """``__all__`` lists every public name the package defines, and nothing else."""
    assert set(secure_run.__all__) == _public_names()


def test_all_has_no_underscore_names():
    """No private or dunder name is exported."""
    assert [n for n in secure_run.__all__ if n.startswith("_")] == []


@pytest.mark.parametrize("name", secure_run.__all__)
def test_every_exported_name_resolves(name):
    """Each name in ``__all__`` is an attribute of the package."""
    assert getattr(secure_run, name, None) is not None


def test_star_import_gives_all():
    """``from secure_run import *`` binds exactly the names in ``__all__``."""
    namespace: dict[str, object] = {}
    exec("from secure_run import *", namespace)  # noqa: S102 - a fixed, trusted statement
    namespace.pop("__builtins__")
    assert set(namespace) == set(secure_run.__all__)


def test_py_typed_ships():
    """The PEP 561 marker ``py.typed`` is inside the package, so type checkers use its hints."""
    assert importlib.resources.files("secure_run").joinpath("py.typed").is_file()

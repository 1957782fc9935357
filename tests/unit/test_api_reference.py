"""docs/reference/api.md gives every public name a place, so none is missing from the site."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import secure_run as sr

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "api.md"
_MEMBER = re.compile(r"^ {8}- (\w+)$", re.MULTILINE)


def test_every_public_name_is_listed_once():
    """Each name in secure_run.__all__ is a member of exactly one `::: secure_run` block."""
    listed = Counter(_MEMBER.findall(PAGE.read_text(encoding="utf-8")))
    assert set(listed) == set(sr.__all__), (
        f"missing: {sorted(set(sr.__all__) - set(listed))}; "
        f"not public: {sorted(set(listed) - set(sr.__all__))}"
    )
    assert [name for name, n in listed.items() if n > 1] == []


def test_testing_module_and_plugin_are_documented():
    """The page renders secure_run.testing and the pytest plugin as well as the package."""
    text = PAGE.read_text(encoding="utf-8")
    assert "::: secure_run.testing\n" in text
    assert "::: secure_run.pytest_plugin\n" in text

"""The :class:`Checker` every validation rule reports to.

A rule is a function ``rule(c, ...)`` that calls :meth:`Checker.bad` for a mistake and
:meth:`Checker.needs` for a weaker setting, which is a problem only when its opt-in was
not granted. ``scripts/gen_rules_doc.py`` reads those calls to write docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Collection

from .._errors import Problem, show
from .values import OptIn

__all__ = ["Checker"]


class Checker:
    """Collects the problems found and the opt-ins a config relies on.

    Args:
        granted: The opt-ins the config was given (none when only single fields
            are checked, which never need one).
    """

    def __init__(self, granted: Collection[OptIn] = ()) -> None:
        self.granted = granted
        self.problems: list[Problem] = []
        self.used: set[OptIn] = set()

    def bad(self, field: str, value: object, message: str, fix: str) -> None:
        """Record a mistake: ``field`` holds ``value``, which is wrong as ``message`` says."""
        self.problems.append(Problem(field, show(value), message, fix))

    def needs(self, opt_in: OptIn, field: str, value: object, message: str, fix: str) -> None:
        """Record that ``opt_in`` is relied on; a problem if it was not granted."""
        self.used.add(opt_in)
        if opt_in not in self.granted:
            self.bad(
                field,
                value,
                f"{message} (needs the opt-in {opt_in.value!r})",
                f"{fix}, or accept the risk with .opt_in({opt_in.value!r})",
            )

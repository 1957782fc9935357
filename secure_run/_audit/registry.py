"""How a check is written and registered: a judge of a :class:`View`, under a :class:`CheckSpec`.

Each ``checks_*`` module (and :mod:`.pss`) makes its own :class:`Registry`, named
``_check``, and decorates its judges with it. :mod:`.catalog` imports every such module
and puts their checks in report order, so the order of imports changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Callable

import attrs

from .._config.capabilities import DANGEROUS_CAPABILITIES, UNWAIVED_CAPABILITIES
from .._config.values import OptIn
from .._report import Status
from .report import CheckSpec
from .view import View

__all__ = [
    "CONFIG_AUDIT",
    "INFO",
    "NOTE",
    "NOT_APPLICABLE",
    "PASS",
    "WARN",
    "Check",
    "Judge",
    "Registry",
    "Verdict",
    "cap_causes",
    "report_order",
    "stricter",
    "verdict",
]

PASS = Status.PASS
WARN = Status.WARN
INFO = Status.INFO
NOTE = Status.NOTE
NOT_APPLICABLE = Status.NOT_APPLICABLE

#: The evidence of a check that needs an engine, in a config audit.
CONFIG_AUDIT = "config audit: no engine"


@attrs.frozen
class Verdict:
    """A check's result before it becomes a finding; ``causes`` are opt-ins that explain it."""

    status: str
    evidence: str
    causes: tuple[str, ...] = ()


Judge = Callable[[View], Verdict]


@attrs.frozen
class Check:
    """One registered check: what it is (``spec``) and the function that judges (``judge``)."""

    spec: CheckSpec
    judge: Judge


class Registry:
    """The checks one module defines, in the order it defines them."""

    def __init__(self) -> None:
        self._checks: list[Check] = []

    def __call__(
        self, check_id: str, title: str, rationale: str, remedy: str, *, scored: bool = True
    ) -> Callable[[Judge], Judge]:
        """Register a judge under a check spec (used as a decorator)."""
        source = "PSS" if check_id.startswith("PSS-") else "secure_run"
        if check_id[0].isdigit():
            source = "CIS 5.x"
        spec = CheckSpec(check_id, title, rationale, remedy, scored, source)

        def register(judge: Judge) -> Judge:
            self._checks.append(Check(spec, judge))
            return judge

        return register

    @property
    def checks(self) -> tuple[Check, ...]:
        """The checks registered so far, in order."""
        return tuple(self._checks)


_SOURCES = ("CIS 5.x", "PSS", "secure_run")


def report_order(check: Check, position: int) -> tuple[int, tuple[int, ...], int]:
    """The sort key of a check: CIS by number, then Pod Security, then secure_run.

    Args:
        check: The check.
        position: Its place among the checks of its source as registered, which
            orders the Pod Security and secure_run checks.
    """
    spec = check.spec
    number = tuple(int(p) for p in spec.id.split(".")) if spec.source == "CIS 5.x" else ()
    return _SOURCES.index(spec.source), number, position


def verdict(ok: bool, evidence: str, causes: Sequence[str | OptIn] = ()) -> Verdict:
    """``pass`` or ``warn``; a warning keeps the opt-ins (``causes``) that can explain it."""
    return Verdict(PASS if ok else WARN, evidence, tuple(str(c) for c in causes) if not ok else ())


def cap_causes(added: Iterable[str]) -> list[OptIn]:
    """The opt-ins that permit adding these capabilities (as validation requires them)."""
    caps = set(added)
    causes = []
    if caps & DANGEROUS_CAPABILITIES:
        causes.append(OptIn.DANGEROUS_CAPABILITY)
    if caps - DANGEROUS_CAPABILITIES - UNWAIVED_CAPABILITIES:
        causes.append(OptIn.EXTRA_CAPABILITY)
    return causes


def stricter(evidence: str, reference: str) -> str:
    """``evidence``, saying that docker-bench-security (which does ``reference``) is laxer."""
    return f"{evidence}; stricter than docker-bench-security, which {reference}"

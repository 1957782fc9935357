"""The audit's records: a :class:`Finding` per check and container, the :class:`AuditReport`.

:class:`CheckSpec` describes one check for the reference documentation; the checks
themselves are registered in the ``checks_*`` modules and :mod:`.pss`, and listed in
report order by :mod:`.catalog`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .._report import STATUSES, JsonReport, Status, cut, table, to_status

__all__ = ["AuditReport", "CheckSpec", "Finding"]


@attrs.frozen
class Finding:
    """The verdict of one check on one container (or on the engine).

    Attributes:
        id: The check's id: ``"5.4"`` (CIS Docker Benchmark v1.6),
            ``"PSS-baseline-<control>"`` or ``"PSS-restricted-<control>"`` (Pod
            Security Standards), ``"SR-waivers"`` (secure_run's opt-in label).
        title: What the check asks for.
        status: ``"pass"``, ``"warn"`` (weaker than the check asks), ``"info"``
            (for a person to review), ``"note"`` (a manual check no tool can make) or
            ``"not_applicable"`` (with the reason in ``evidence``).
        evidence: What was read and how it was judged, e.g.
            ``"HostConfig.CapAdd=['CAP_SYS_ADMIN']"``.
        remedy: How to meet the check.
        container: The container's name (without ``/``); ``""`` for a finding about
            the engine or for a config audit.

    .. versionadded:: 0.1
    """

    id: str
    title: str
    status: Status = attrs.field(converter=to_status)
    evidence: str
    remedy: str
    container: str = ""


@attrs.frozen
class CheckSpec:
    """One check of the audit, for reference documentation generated from the code.

    Attributes:
        id: The check's id, as in :attr:`Finding.id`.
        title: What the check asks for.
        rationale: Why it matters.
        remedy: How to meet it.
        scored: Whether it can warn (``False``: it only reports info or notes).
        source: ``"CIS 5.x"`` (CIS Docker Benchmark v1.6 section 5), ``"PSS"``
            (Kubernetes Pod Security Standards) or ``"secure_run"``.

    .. versionadded:: 0.1
    """

    id: str
    title: str
    rationale: str
    remedy: str
    scored: bool
    source: str


def _findings(value: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(value)


@attrs.frozen
class AuditReport(JsonReport):
    """The findings of an audit, engine-level first, then container by container.

    .. versionadded:: 0.1
    """

    findings: tuple[Finding, ...] = attrs.field(converter=_findings)

    @property
    def ok(self) -> bool:
        """Whether no finding warns."""
        return not self.warnings

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The findings with status ``"warn"``, as every report names them."""
        return tuple(f for f in self.findings if f.status == Status.WARN)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The same as :attr:`failures`: the findings with status ``"warn"``."""
        return self.failures

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data: ``ok``, a count per status, and every finding."""
        counts = {status: 0 for status in STATUSES}
        for finding in self.findings:
            counts[finding.status] += 1
        return {
            "ok": self.ok,
            "counts": counts,
            "findings": [attrs.asdict(f) for f in self.findings],
        }

    def __str__(self) -> str:
        rows = [
            (cut(f.container or "-", 24), f.id, f.status, cut(f.title, 44), cut(f.evidence, 72))
            for f in self.findings
        ]
        lines = table(("container", "id", "status", "title", "evidence"), rows)
        counts = self.to_dict()["counts"]
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        verdict = "ok" if self.ok else f"{len(self.warnings)} warning(s)"
        lines.append(f"{len(self.findings)} findings ({summary or 'none'}): {verdict}")
        return "\n".join(lines)

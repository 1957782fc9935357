"""The doctor's records: a :class:`DoctorFinding` per check, the :class:`DoctorReport`."""

from __future__ import annotations

from typing import Any

import attrs

from .._report import JsonReport, Status, cut, table, to_status

__all__ = ["DoctorFinding", "DoctorReport"]


@attrs.frozen
class DoctorFinding:
    """One check of the daemon or its host, with the evidence it rests on.

    Attributes:
        id: The check, e.g. ``"engine-version"`` or ``"2.2-icc"`` (CIS 2.2).
        title: What the check wants, in words.
        status: ``"pass"``, ``"warn"``, ``"info"``, ``"note"`` or ``"not_applicable"``.
        evidence: What was read, where, and why that gives this status.
        remedy: What to do about it; empty when there is nothing to do.

    .. versionadded:: 0.1
    """

    id: str
    title: str
    status: Status = attrs.field(converter=to_status)
    evidence: str
    remedy: str = ""

    def __str__(self) -> str:
        text = f"[{self.status}] {self.id}: {self.title}: {self.evidence}"
        return f"{text}; remedy: {self.remedy}" if self.remedy else text


_TITLE_CELL = 48
_EVIDENCE_CELL = 90


@attrs.frozen
class DoctorReport(JsonReport):
    """The outcome of :func:`doctor`: one finding per check, in a fixed order.

    Attributes:
        findings: Versions first, then the daemon's settings, who controls the
            daemon, and the running containers.

    .. versionadded:: 0.1
    """

    findings: tuple[DoctorFinding, ...]

    @property
    def ok(self) -> bool:
        """No finding warns (info, note and not_applicable do not count)."""
        return not self.failures

    @property
    def failures(self) -> tuple[DoctorFinding, ...]:
        """The findings that warn, in report order."""
        return tuple(f for f in self.findings if f.status == "warn")

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "ok": self.ok,
            "findings": [attrs.asdict(finding) for finding in self.findings],
        }

    def __str__(self) -> str:
        warned = len(self.failures)
        head = "doctor: " + (
            f"{warned} of {len(self.findings)} checks warn"
            if warned
            else f"no warnings in {len(self.findings)} checks"
        )
        rows = [
            (f.status, f.id, cut(f.title, _TITLE_CELL), cut(f.evidence, _EVIDENCE_CELL))
            for f in self.findings
        ]
        lines = [head, *table(("status", "id", "title", "evidence"), rows)]
        if self.failures:
            lines.append("remedies:")
            lines += [f"  - {f.id}: {f.remedy}" for f in self.failures]
        return "\n".join(lines)

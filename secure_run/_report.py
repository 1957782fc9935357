"""The one shape of a report: statuses, the text table, and JSON.

:class:`~secure_run.VerifyReport`, :class:`~secure_run.AuditReport` and
:class:`~secure_run.DoctorReport` all build on this: each has ``ok``, ``failures``,
``to_dict()``, ``to_json()`` and a ``str()`` that is a table drawn by :func:`table`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["STATUSES", "JsonReport", "Status", "cut", "table", "to_status"]


class Status(str, enum.Enum):
    """The verdict of one audit or doctor check.

    A ``str`` enum: a status compares equal to its text (``Status.WARN == "warn"``)
    and is written as that text in JSON.
    """

    PASS = "pass"  # noqa: S105 - a status, not a password
    """The check is met."""
    WARN = "warn"
    """Weaker than the check asks: the only status that makes a report not ``ok``."""
    INFO = "info"
    """For a person to review."""
    NOTE = "note"
    """A manual check that no tool can make."""
    NOT_APPLICABLE = "not_applicable"
    """The check does not apply; the evidence says why."""

    def __str__(self) -> str:
        return self.value


#: Every status a finding can have, as text, in report order.
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)


def to_status(value: object) -> Status:
    """``value`` as a :class:`Status`; a ``ValueError`` naming the field if it is none."""
    try:
        return Status(value)
    except ValueError:
        raise ValueError(
            f"status: {value!r} is not a status; use one of {', '.join(STATUSES)}"
        ) from None


def cut(text: str, width: int) -> str:
    """``text`` on one line, shortened to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a text table: the header, a rule, then one line per row."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return " | ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()

    return [line(header), "-+-".join("-" * w for w in widths), *(line(r) for r in rows)]


class JsonReport:
    """``to_json()`` for a report class that has ``to_dict()``."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every report defines it
        raise NotImplementedError

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (see ``to_dict()``)."""
        return json.dumps(self.to_dict(), indent=indent, default=str)

"""What :func:`~secure_run.verify` reports: one :class:`Check` per property, in a report.

Both sources of checks, the daemon's record (:mod:`.inspect_checks`) and the kernel's
state (:mod:`.kernel_checks`), build their checks with the small functions here, so a
value reads the same whichever source found it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .._report import JsonReport, cut, table

__all__ = [
    "EXEC",
    "INSPECT",
    "Check",
    "VerifyReport",
    "at_least",
    "cell",
    "check",
    "equal",
    "listing",
    "text",
]

#: The source of a check read from the daemon's ``inspect`` record.
INSPECT = "inspect"
#: The source of a check read by the exec probe inside the container.
EXEC = "exec probe"
_CELL = 60


@attrs.frozen
class Check:
    """One property of a container, compared with what its config asked for.

    Attributes:
        property: What was checked, e.g. ``"HostConfig.Memory"``, ``"CapBnd"``,
            ``"cgroup memory.limit_in_bytes"``.
        expected: The value the config calls for, as text.
        actual: The value found, as text.
        source: Where it was read: ``"inspect"``, ``"host /proc/<pid>"`` or
            ``"exec probe"``.
        ok: Whether the actual value meets the expectation.

    .. versionadded:: 0.1
    """

    property: str
    expected: str
    actual: str
    source: str
    ok: bool

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"{self.property}: expected {self.expected}, actual {self.actual} "
            f"(from {self.source}) {verdict}"
        )


@attrs.frozen
class VerifyReport(JsonReport):
    """The outcome of :func:`verify`: every check made, and notes on what was not.

    Attributes:
        container_id: The full id of the container verified.
        checks: Every check, daemon record first, then kernel state.
        notes: What could not be read and why, e.g. ``"kernel state not
            verified: the image has no /bin/sh for the exec probe and the daemon
            is not local (...)"``.

    .. versionadded:: 0.1
    """

    container_id: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every check passed (notes do not count)."""
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed, in report order."""
        return tuple(check for check in self.checks if not check.ok)

    def sources(self) -> frozenset[str]:
        """The sources the checks were read from."""
        return frozenset(check.source for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "container_id": self.container_id,
            "ok": self.ok,
            "checks": [attrs.asdict(check) for check in self.checks],
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        failed = len(self.failures)
        head = f"container {self.container_id[:12]}: " + (
            f"{failed} of {len(self.checks)} checks failed"
            if failed
            else f"all {len(self.checks)} checks passed"
        )
        rows = [
            (c.property, cell(c.expected), cell(c.actual), c.source, "ok" if c.ok else "FAIL")
            for c in self.checks
        ]
        lines = [head, *table(("property", "expected", "actual", "source", "ok"), rows)]
        if self.notes:
            lines.append("notes:")
            lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


def cell(text: str) -> str:
    """``text`` cut to the width of a table cell."""
    return cut(text, _CELL)


def text(value: object) -> str:
    """A value as a check shows it: ``true``/``false``, ``none``, else ``str()``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value)


def check(prop: str, expected: object, actual: object, source: str, ok: bool) -> Check:
    """A check with both values shown as :func:`text`."""
    return Check(prop, text(expected), text(actual), source, ok)


def equal(prop: str, expected: object, actual: object, source: str = INSPECT) -> Check:
    """A check that passes when the values are equal."""
    return check(prop, expected, actual, source, expected == actual)


def at_least(prop: str, secure: bool, wanted: bool, actual: bool, source: str) -> Check:
    """A setting with a secure side: the insecure side is an opt-in, the secure one a must."""
    if wanted == secure:
        return check(prop, wanted, actual, source, actual == secure)
    return check(prop, f"any (config: {text(wanted)})", actual, source, True)


def listing(items: Iterable[str]) -> str:
    """Values sorted and joined by commas, ``none`` if there are none."""
    values = sorted(items)
    return ", ".join(values) if values else "none"

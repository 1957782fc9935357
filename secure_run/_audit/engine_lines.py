"""The Docker Engine release lines and kernel thresholds the doctor judges versions by."""

from __future__ import annotations

import datetime

import attrs

__all__ = [
    "END_SOON",
    "ENGINE_LINES",
    "ENGINE_LINES_REVIEWED",
    "KERNEL_MINIMUM",
    "KERNEL_NO_NEW_PRIVS",
    "KERNEL_OLDEST_LONGTERM",
    "EngineLine",
]


@attrs.frozen
class EngineLine:
    """One Docker Engine release line and its upstream maintenance status.

    Attributes:
        major: The major version; 20 stands for 20.10, the last year-month line.
        name: The line as upstream names it (``"20.10"``, ``"29.x"``).
        api: The newest Engine API version the line speaks.
        maintained: Whether upstream still maintains the line (security fixes).
        end_of_life: When maintenance ended, or is expected to end; ``None`` when
            no date is published.
        note: Who maintains it, or what is known of its end.

    .. versionadded:: 0.1
    """

    major: int
    name: str
    api: str
    maintained: bool
    end_of_life: datetime.date | None
    note: str = ""


#: The day :data:`ENGINE_LINES` was last checked against upstream.
ENGINE_LINES_REVIEWED = datetime.date(2026, 11, 22)

# Reviewed 2026-11-22 against moby/moby project/BRANCHES-AND-TAGS.md (the maintainers'
# own table: 29.x and 28.x "Maintained", 25.0 "Maintained" with an expected end of
# 2026-12-04, 27.x, 26.1, 26.0, 24.0, 23.0 and everything older "Unmaintained") and,
# for the dates of past ends, endoflife.date/docker-engine (20.10: 2023-12-10,
# 24.0: 2024-06-08, 26.1: 2025-02-17, 23.0: 2025-05-19). Review it again when a new
# major version is released: a line newer than the table reads as "info".
#: The Docker Engine release lines, newest first (see the comment above for sources).
ENGINE_LINES: tuple[EngineLine, ...] = (
    EngineLine(29, "29.x", "1.52", True, None, "maintained by the Moby project until after 30.x"),
    EngineLine(28, "28.x", "1.51", True, None, "maintained for Microsoft's builds; end TBD"),
    EngineLine(27, "27.x", "1.47", False, None, "unmaintained; no end date was published"),
    EngineLine(26, "26.1", "1.45", False, datetime.date(2025, 2, 17)),
    EngineLine(
        25,
        "25.0",
        "1.44",
        True,
        datetime.date(2026, 12, 4),
        "maintained for Amazon Linux 2023 and Mirantis MCR only; Docker's own "
        "packages of 25.0 get no updates",
    ),
    EngineLine(24, "24.0", "1.43", False, datetime.date(2024, 6, 8)),
    EngineLine(23, "23.0", "1.42", False, datetime.date(2025, 5, 19)),
    EngineLine(20, "20.10", "1.41", False, datetime.date(2023, 12, 10)),
)

#: A maintained line whose end is this close reads as "info", not "pass".
END_SOON = datetime.timedelta(days=90)

# Kernel thresholds. Docker's own minimum is 3.10 (moby checks it at start); 4.10 is
# the first kernel to show NoNewPrivs in /proc/<pid>/status (proc(5)), so older ones
# cannot prove no-new-privileges, and every 4.x LTS before 4.19 ended years ago; 5.10
# is the oldest longterm kernel kernel.org still maintains at the review date above.
KERNEL_MINIMUM = (3, 10)
KERNEL_NO_NEW_PRIVS = (4, 10)
KERNEL_OLDEST_LONGTERM = (5, 10)

"""Reading a host process from ``/proc``: the small facts several concerns need.

The one reader of ``/proc/<pid>/stat``: launch labels containers with their owner's
start time (so a reused pid is not mistaken for the owner) and the audit picks the
newest ``dockerd`` by it.
"""

from __future__ import annotations

import os

__all__ = ["start_time"]


def start_time(pid: int | str, proc_root: str = "/proc") -> int | None:
    """The process's start time in clock ticks since boot, or ``None`` if unreadable.

    Field 22 of ``/proc/<pid>/stat``, read after the command name's closing ``)``,
    since the name itself may hold spaces and parentheses.
    """
    try:
        with open(os.path.join(proc_root, str(pid), "stat"), encoding="ascii") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError, UnicodeDecodeError):
        return None

"""OCI runtimes other than runc: which ones are gVisor, and what gVisor cannot honour.

gVisor (``runsc``) runs the workload on a user-space kernel, the sentry. Docker knows
it only as a runtime name in ``docker info`` ``Runtimes`` (with the program's path), so
a runtime is gVisor when its name or path says ``runsc`` or ``gvisor``.
:func:`gvisor_problems` lists the settings a gVisor container cannot start with, so
they are refused before create instead of by a failed start.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._config.run_config import RunConfig
from .._errors import Problem, show

__all__ = ["GVISOR_MIN_PIDS", "gvisor_problems", "gvisor_runtimes", "is_gvisor_name"]

#: The lowest pids limit this gVisor build (runsc 0.0~20221219) starts reliably with:
#: the sandbox's own host threads count against ``pids.max``; 64 is flaky (the shell
#: dies mid-script), 32 fails ("urpc method containerManager.StartRoot failed: EOF").
GVISOR_MIN_PIDS = 128


def is_gvisor_name(runtime: str | None) -> bool:
    """Whether a runtime's name (or program path) says it is gVisor (``runsc``, ``gvisor``)."""
    name = (runtime or "").rpartition("/")[2].lower()
    return "runsc" in name or "gvisor" in name


def gvisor_runtimes(runtimes: object) -> tuple[str, ...]:
    """The names in ``docker info`` ``Runtimes`` whose name or ``path`` is gVisor's, sorted."""
    if not isinstance(runtimes, Mapping):
        return ()
    found = []
    for name, spec in runtimes.items():
        path = spec.get("path") if isinstance(spec, Mapping) else None
        if is_gvisor_name(str(name)) or is_gvisor_name(str(path or "")):
            found.append(str(name))
    return tuple(sorted(found))


def gvisor_problems(cfg: RunConfig, runtime: str) -> list[Problem]:
    """The settings of ``cfg`` that a container under gVisor (``runtime``) cannot start with."""
    problems = []
    if cfg.pids_limit is not None and 0 < cfg.pids_limit < GVISOR_MIN_PIDS:
        problems.append(
            Problem(
                "pids_limit",
                show(cfg.pids_limit),
                f"the container would run under gVisor (runtime {runtime!r}), whose sandbox "
                f"counts its own host threads against the pids limit: below {GVISOR_MIN_PIDS} "
                "it fails to start or dies mid-run",
                f"give pids_limit({GVISOR_MIN_PIDS}) or more (the 'gvisor' preset does), "
                "or use runtime('runc')",
            )
        )
    return problems

"""Every check, in report order, and the judging of one inspect record by all of them.

The checks live in the modules of :data:`CHECK_MODULES`, each with its own registry;
this module imports every one of them and orders their checks by id (CIS 5.1 to 5.32
by number, then Pod Security, then secure_run's), so the order of imports changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import (
    checks_confinement,
    checks_mounts,
    checks_namespaces,
    checks_network,
    checks_resources,
    checks_runtime,
    pss,
    registry,
)
from .registry import PASS, Check, Verdict, report_order
from .report import CheckSpec, Finding
from .view import Context, Processes, View

__all__ = ["CHECKS", "CHECK_MODULES", "judge_container", "judge_engine"]

_MODULES = (
    checks_runtime,
    checks_confinement,
    checks_mounts,
    checks_namespaces,
    checks_network,
    checks_resources,
    pss,
)
#: The modules that define checks (and the registry their judges use), by name.
CHECK_MODULES: tuple[str, ...] = (registry.__name__, *(m.__name__ for m in _MODULES))


def _ordered(modules: Sequence[Any]) -> tuple[Check, ...]:
    registered = [check for module in modules for check in module.REGISTERED]
    ranked = sorted(enumerate(registered), key=lambda pair: report_order(pair[1], pair[0]))
    return tuple(check for _, check in ranked)


_REGISTERED = _ordered(_MODULES)
#: Every check, in report order: CIS 5.1 to 5.32, then Pod Security, then secure_run.
CHECKS: tuple[CheckSpec, ...] = tuple(check.spec for check in _REGISTERED)
_ENGINE_CHECKS = frozenset({"5.1"})


def _finding(spec: CheckSpec, verdict: Verdict, container: str, waivers: Sequence[str]) -> Finding:
    evidence = verdict.evidence
    if verdict.status != PASS:
        waived = [c for c in verdict.causes if c in waivers]
        if waived:
            evidence += "; waived by opt-in " + ", ".join(repr(w) for w in waived)
    return Finding(spec.id, spec.title, verdict.status, evidence, spec.remedy, container)


def judge_container(
    inspect: Mapping[str, Any], ctx: Context, processes: Processes | None = None
) -> list[Finding]:
    """Judge one container's inspect record in an engine context: every container check.

    Args:
        inspect: ``client.api.inspect_container(id)``, or the record
            :func:`secure_run.audit_config` builds.
        ctx: The engine the container runs on.
        processes: What ``ps`` printed in the container; ``None`` when exec checks are off.

    Returns:
        One finding per check in :data:`CHECKS` but the engine-level ones.
    """
    view = View(inspect, ctx, processes)
    waivers = view.waivers
    return [
        _finding(check.spec, check.judge(view), view.name, waivers)
        for check in _REGISTERED
        if check.spec.id not in _ENGINE_CHECKS
    ]


def judge_engine(ctx: Context) -> list[Finding]:
    """The engine-level findings (5.1), once per audit."""
    view = View({}, ctx, None)
    return [
        _finding(check.spec, check.judge(view), "", ())
        for check in _REGISTERED
        if check.spec.id in _ENGINE_CHECKS
    ]

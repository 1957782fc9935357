"""CIS 5.x checks of what a container may consume.

Memory (5.11), CPU (5.12), restarts (5.15), ulimits (5.19), its cgroup (5.25) and
processes (5.29).
"""

from __future__ import annotations

from .._config.values import OptIn
from .registry import INFO, PASS, Registry, Verdict, stricter, verdict
from .view import View, as_list, as_map

__all__ = ["REGISTERED"]

_check = Registry()
_MAX_RETRIES = 5


@_check(
    "5.11",
    "Ensure that the memory usage for containers is limited",
    "Without a limit, one container can take the host's memory.",
    'set a memory limit (.memory("256m"))',
)
def _memory(v: View) -> Verdict:
    memory = v.host.get("Memory") or 0
    return verdict(memory != 0, f"HostConfig.Memory={memory}", [OptIn.UNLIMITED_MEMORY])


@_check(
    "5.12",
    "Ensure that CPU priority is set appropriately on containers",
    "Without a CPU share or quota, one container can starve the others.",
    "set a CPU limit (.cpus(1.0)) or shares (.cpu_shares(512))",
)
def _cpu(v: View) -> Verdict:
    shares = v.host.get("CpuShares") or 0
    nano = v.host.get("NanoCpus") or 0
    quota = v.host.get("CpuQuota") or 0
    evidence = f"HostConfig.CpuShares={shares} NanoCpus={nano} CpuQuota={quota}"
    if shares == 0 and nano == 0 and quota > 0:
        return Verdict(PASS, evidence + " (docker-bench-security ignores CpuQuota and warns)")
    return verdict(shares != 0 or nano != 0, evidence, [OptIn.UNLIMITED_CPU])


@_check(
    "5.15",
    "Ensure that the 'on-failure' container restart policy is set to '5'",
    "Endless restarts hide failures and can be used to exhaust the host.",
    'use no restart or .restart("on-failure", max_retries=5) at most',
)
def _restart(v: View) -> Verdict:
    policy = as_map(v.host.get("RestartPolicy"))
    name = str(policy.get("Name") or "")
    retries = int(policy.get("MaximumRetryCount") or 0)
    evidence = f"HostConfig.RestartPolicy Name={name!r} MaximumRetryCount={retries}"
    if name in ("", "no"):
        return Verdict(PASS, evidence + ": never restarted")
    if name == "on-failure" and 0 < retries <= _MAX_RETRIES:
        return Verdict(PASS, evidence)
    if name == "on-failure":
        why = "unlimited retries (0)" if retries == 0 else f"more than {_MAX_RETRIES} retries"
    else:
        why = f"{name!r} restarts without limit"
    evidence = f"{evidence}: {why}"
    if retries <= _MAX_RETRIES:
        evidence = stricter(evidence, "reads only MaximumRetryCount (> 5 warns)")
    return verdict(False, evidence, [OptIn.UNBOUNDED_RESTART])


@_check(
    "5.19",
    "Ensure that the default ulimit is overwritten at runtime if needed",
    "Explicit ulimits (open files, processes, core dumps) bound what one container can hold.",
    'set the limits the workload needs (.ulimit("nofile", 1024))',
    scored=False,
)
def _ulimits(v: View) -> Verdict:
    ulimits = [as_map(u) for u in as_list(v.host.get("Ulimits"))]
    if not ulimits:
        return Verdict(INFO, "HostConfig.Ulimits: none (the daemon's defaults apply)")
    shown = ", ".join(f"{u.get('Name')}={u.get('Soft')}:{u.get('Hard')}" for u in ulimits)
    return Verdict(PASS, f"HostConfig.Ulimits: {shown}")


@_check(
    "5.25",
    "Ensure that cgroup usage is confirmed",
    "A custom cgroup parent can take the container out of the limits the engine enforces.",
    "leave --cgroup-parent unset so the engine's cgroup applies",
)
def _cgroup_parent(v: View) -> Verdict:
    parent = str(v.host.get("CgroupParent") or "")
    return verdict(not parent, f"HostConfig.CgroupParent={parent!r}")


@_check(
    "5.29",
    "Ensure that the PIDs cgroup limit is used",
    "A pids limit stops a fork bomb from exhausting the host's process table.",
    "set a pids limit (.pids_limit(128))",
)
def _pids(v: View) -> Verdict:
    limit = v.host.get("PidsLimit")
    ok = isinstance(limit, int) and limit > 0
    return verdict(ok, f"HostConfig.PidsLimit={limit}", [OptIn.UNLIMITED_PIDS])


#: This module's checks, in the order defined.
REGISTERED = _check.checks

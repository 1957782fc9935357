"""Why each setting is what it is, and which controls it meets.

One table, :data:`SETTINGS`, names every setting a :class:`RunConfig` has, the
reason for its secure value and the CIS Docker Benchmark v1.6 section 5 and
Kubernetes Pod Security Standards controls behind it. :func:`explain` and the
preset reference in the docs both read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .preset_lines import preset_reasons
from .values import Explanation, LogLimits, Workspace

if TYPE_CHECKING:
    from .run_config import RunConfig

__all__ = ["SETTINGS", "Setting", "explain", "render"]


@attrs.frozen
class Setting:
    """A RunConfig field: what a secure value gives, and the controls it meets."""

    field: str
    why: str
    controls: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("image", "what runs; pin a digest to know exactly what", ("CIS 5.28",)),
    Setting("command", "the argv, run directly with no host shell"),
    Setting("entrypoint", "the program the command is handed to"),
    Setting("env", "configuration for the process; values are hidden in reprs"),
    Setting("workdir", "the working directory"),
    Setting("hostname", "the container's own host name, in its own UTS namespace"),
    Setting("name", "the container's name"),
    Setting("labels", "metadata; secure_run records its digest, preset and waivers here"),
    Setting(
        "user",
        "a non-root uid: root in a container is root on the kernel's terms",
        ("PSS restricted: runAsNonRoot", "PSS restricted: runAsUser != 0"),
    ),
    Setting("group_add", "supplementary groups"),
    Setting(
        "cap_drop",
        "drop every capability, so only the ones named are held",
        ("CIS 5.4", "PSS restricted: capabilities drop ALL"),
    ),
    Setting(
        "cap_add",
        "only the capabilities the workload needs",
        ("CIS 5.4", "PSS baseline: capabilities", "PSS restricted: add only NET_BIND_SERVICE"),
    ),
    Setting(
        "privileged",
        "privileged mode hands over every capability and device",
        ("CIS 5.5", "PSS baseline: privileged"),
    ),
    Setting("devices", "host devices reachable from inside", ("CIS 5.18",)),
    Setting(
        "memory",
        "a hard memory limit: the OOM killer stops a runaway inside the box",
        ("CIS 5.11",),
    ),
    Setting(
        "memory_reservation",
        "a soft limit the kernel reclaims towards under pressure",
        ("CIS 5.11",),
    ),
    Setting(
        "memory_swap", "memory plus swap; equal to memory means no swap to hide in", ("CIS 5.11",)
    ),
    Setting("cpus", "a CFS quota: a busy loop gets this much CPU and no more", ("CIS 5.12",)),
    Setting("cpu_quota", "a CFS quota in microseconds per period", ("CIS 5.12",)),
    Setting("cpu_period", "the CFS period the quota counts against", ("CIS 5.12",)),
    Setting("cpu_shares", "the relative weight under contention", ("CIS 5.12",)),
    Setting("cpuset", "the CPUs the container may run on"),
    Setting("pids_limit", "a process cap: a fork bomb stops at it", ("CIS 5.29",)),
    Setting("ulimits", "per-process limits; core=0 keeps memory out of core dumps", ("CIS 5.19",)),
    Setting("read_only", "a read-only root: nothing the image holds can be changed", ("CIS 5.13",)),
    Setting("tmpfs", "small writable scratch space, noexec and nosuid", ("CIS 5.13",)),
    Setting(
        "workspace",
        "where files go in and out: a capped tmpfs only the user can read, noexec and nosuid",
        (),
    ),
    Setting(
        "mounts",
        "host paths and volumes; read-only unless needed",
        ("CIS 5.6", "CIS 5.20", "CIS 5.32", "PSS baseline: hostPath"),
    ),
    Setting(
        "network",
        "no network unless one is asked for",
        ("CIS 5.10", "CIS 5.30", "PSS baseline: hostNetwork"),
    ),
    Setting(
        "ports",
        "published ports, on 127.0.0.1 unless opted out",
        ("CIS 5.8", "CIS 5.9", "CIS 5.14", "PSS baseline: hostPort"),
    ),
    Setting(
        "pid_mode",
        "a private process namespace: host processes stay invisible",
        ("CIS 5.16", "PSS baseline: hostPID"),
    ),
    Setting("ipc_mode", "a private IPC namespace", ("CIS 5.17", "PSS baseline: hostIPC")),
    Setting("uts_mode", "a private host name namespace", ("CIS 5.21",)),
    Setting("userns_mode", "the daemon's user namespace setting is kept", ("CIS 5.31",)),
    Setting(
        "seccomp",
        "the default syscall filter blocks about 44 dangerous syscalls",
        ("CIS 5.22", "PSS restricted: seccompProfile RuntimeDefault"),
    ),
    Setting(
        "apparmor",
        "an AppArmor profile where the host has AppArmor",
        ("CIS 5.2", "PSS baseline: AppArmor"),
    ),
    Setting(
        "no_new_privileges",
        "setuid files cannot raise privileges",
        ("CIS 5.26", "PSS restricted: allowPrivilegeEscalation false"),
    ),
    Setting("init", "an init as PID 1 reaps zombies and passes signals on"),
    Setting("runtime", "the OCI runtime; runsc (gVisor) adds a kernel boundary"),
    Setting("restart", "bounded restarts so a crash loop cannot spin forever", ("CIS 5.15",)),
    Setting("healthcheck", "lets the engine and orchestrators see a hung service", ("CIS 5.27",)),
    Setting("stop_timeout", "seconds between the stop signal and SIGKILL"),
    Setting("log_limits", "rotated logs cannot fill the host's disk"),
    Setting("sysctls", "only namespaced sysctls known to be safe", ("PSS baseline: sysctls",)),
    Setting("opt_ins", "waivers granted for weaker settings; each used one is labelled"),
)

_BY_FIELD = {s.field: s for s in SETTINGS}


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def render(field: str, value: object) -> str:
    """A short human form of one field's value."""
    if value is None:
        return {"memory": "unlimited", "memory_swap": "none", "pids_limit": "unlimited",
                "cpus": "unlimited", "user": "image default", "pid_mode": "private",
                "ipc_mode": "private", "uts_mode": "private",
                "userns_mode": "the daemon's"}.get(field, "unset")  # fmt: skip
    if field in ("memory", "memory_reservation", "memory_swap") and isinstance(value, int):
        return "unlimited" if value == -1 else _size(value)
    if field == "log_limits" and isinstance(value, LogLimits):
        return f"{_size(value.max_size)} x {value.max_files} files"
    if field == "workspace" and isinstance(value, Workspace):
        return f"{value.path} ({_size(value.size)}, mode 700, {'exec' if value.exec else 'noexec'})"
    if field == "env" and isinstance(value, tuple):
        return ", ".join(f"{k}=***" for k, _ in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        if not value:
            return "none"
        return ", ".join(_item(field, v) for v in value)
    return str(value)


def _item(field: str, value: object) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}={value[1]}"
    if field == "tmpfs":
        return f"{value.path} ({_size(value.size)}, {value.options()})"  # type: ignore[attr-defined]
    if field == "ulimits":
        return f"{value.name}={value.soft}:{value.hard}"  # type: ignore[attr-defined]
    if field == "mounts":
        m = value
        return f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}"  # type: ignore[attr-defined]
    if field == "ports":
        p = value
        return f"{p.host_ip}:{p.host_port or '*'}->{p.key}"  # type: ignore[attr-defined]
    return str(value)


def explain(cfg: RunConfig) -> list[Explanation]:
    """Each setting of ``cfg`` with its value, the reason, and the controls it meets.

    The reason is the preset's where the value is still the preset's; otherwise
    the general one. Settings left unset and without controls are skipped.
    """
    preset = preset_reasons(cfg)
    out = []
    for setting in SETTINGS:
        value = getattr(cfg, setting.field)
        if value in (None, (), False) and not setting.controls:
            continue
        why = preset.get(setting.field, setting.why)
        out.append(Explanation(setting.field, render(setting.field, value), why, setting.controls))
    return out

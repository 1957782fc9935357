"""Verification: did a container really get what its RunConfig asked for?

:func:`verify` compares a container with the :class:`RunConfig` it was made from,
reading two sources:

* **What the daemon recorded**, from one ``inspect`` call: ``Config.User`` and the
  ``HostConfig`` fields that carry hardening (capabilities, privileged,
  ``SecurityOpt``, the root filesystem, memory, CPU, pids, network, tmpfs, ulimits,
  namespace modes, init, runtime, mounts, devices, ports, groups, sysctls). Expected
  values are derived from the config's fields and written in the daemon's own form
  (``CAP_NET_BIND_SERVICE``, ``no-new-privileges:true``).
* **What the kernel applied.** When the daemon is local, the container's init process
  is read from the host: ``/proc/<pid>/status`` (capabilities, ``NoNewPrivs``,
  ``Seccomp``, ids), ``/proc/<pid>/limits``, ``/proc/<pid>/mountinfo`` and its cgroup
  files (v1 and v2). Plain file reads: no tool is needed in the image and no
  subprocess is started. Otherwise an exec probe (:data:`secure_run._proof.probe.PROBE_SCRIPT`)
  reads the same files from inside; an image without ``/bin/sh`` gets a note saying
  the kernel state was not verified.

A check passes when the container is as the config says. Where the config leaves a
setting to the daemon (``None``) or takes the weaker side of an opt-in (``privileged``,
a writable root, no ``no-new-privileges``), only a weaker actual value fails: its
expected value reads ``any (config: ...)`` or names the weaker values refused.

Each check names the property, the expected and the actual value, and its source:
``"inspect"``, ``"host /proc/<pid>"`` or ``"exec probe"``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol, Union

import attrs
import docker
from docker.models.containers import Container

from .._config.capabilities import (
    ALL_CAPABILITIES,
    capability_name,
    decode_mask,
    effective_capabilities,
    encode_mask,
)
from .._config.run_config import RunConfig
from .._engine.client import connect, is_local
from .._engine.errors import base_url, translated
from .._errors import ConfigError, HardeningNotApplied, LaunchError
from .._export.translate import nano_cpus
from .._report import JsonReport, cut, table
from .probe import (
    Limit,
    MountInfo,
    ProbeError,
    _parse_limits,
    _parse_mountinfo,
    _parse_status,
    _split_sections,
    _unescape,
    parse_probe,
    probe_command,
)

__all__ = ["Check", "KernelSource", "VerifyReport", "verify"]

#: Where the kernel's state is read from: ``True`` (the host when the daemon is
#: local, else an exec probe), ``False`` (not at all), ``"host"`` or ``"exec"``.
KernelSource = Union[bool, Literal["host", "exec"]]

_INSPECT = "inspect"
_EXEC = "exec probe"
#: ``base_url`` docker-py gives a client that talks to a unix socket.
#: The largest page size Linux uses; cgroup and tmpfs sizes are rounded to pages.
_MAX_PAGE = 64 * 1024
#: cgroup v1 memory files print ``PAGE_COUNTER_MAX * PAGE_SIZE`` for "no limit".
_V1_UNLIMITED = 1 << 62
_CFS_PERIOD_US = 100_000
_SECCOMP_MODES = {"0": "disabled", "1": "strict", "2": "filter"}
_NO_SHELL = "the image has no /bin/sh for the exec probe"
_CELL = 60

_V1_FILES = {
    "memory": (
        "memory.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.memsw.limit_in_bytes",
    ),
    "cpu": ("cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"),
    "pids": ("pids.max",),
    "cpuset": ("cpuset.cpus",),
}
_V2_FILES = (
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "cpu.max",
    "cpu.weight",
    "pids.max",
    "cpuset.cpus",
)


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
            (c.property, _cell(c.expected), _cell(c.actual), c.source, "ok" if c.ok else "FAIL")
            for c in self.checks
        ]
        lines = [head, *table(("property", "expected", "actual", "source", "ok"), rows)]
        if self.notes:
            lines.append("notes:")
            lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


def _cell(text: str) -> str:
    return cut(text, _CELL)


class _Verifiable(Protocol):
    """What :func:`verify` needs of a launched container (``SecureContainer``)."""

    id: str
    config: RunConfig
    client: docker.DockerClient


# -- the public function -------------------------------------------------------------


def verify(
    target: _Verifiable | Container | str,
    cfg: RunConfig | None = None,
    *,
    client: docker.DockerClient | None = None,
    strict: bool = True,
    kernel: KernelSource = True,
    proc_root: str = "/proc",
    cgroup_root: str = "/sys/fs/cgroup",
) -> VerifyReport:
    """Check that a container got the hardening its config asked for.

    Args:
        target: A container launched by secure_run (anything with ``id``, ``config``
            and ``client``), a docker-py ``Container``, or a container id or name.
        cfg: The config to check against; defaults to ``target.config``. Required
            when ``target`` is a ``Container`` or an id.
        client: The client to use; defaults to ``target.client``, then
            ``docker.from_env()``.
        strict: Raise :class:`HardeningNotApplied` when a check fails; otherwise
            return the report either way.
        kernel: Also check what the kernel applied: ``True`` reads the container's
            init process from the host when the daemon is local and falls back to an
            exec probe; ``"host"`` or ``"exec"`` force one way; ``False`` checks the
            daemon's record only (the container need not be running then).
        proc_root: Where the host's ``/proc`` is (for tests).
        cgroup_root: Where the host's cgroup file systems are (for tests).

    Returns:
        The report: each property with expected, actual and source, and notes.

    Raises:
        ConfigError: No config was given for an id or ``Container``, or ``kernel``
            is not one of the values above.
        HardeningNotApplied: ``strict`` and a check failed; the report is attached.
        LaunchError: The engine refused the inspect or the exec (no such container).
        DaemonUnavailable: No engine answered.

    .. versionadded:: 0.1
    """
    if kernel not in (True, False, "host", "exec"):
        raise ConfigError.single(
            "kernel", kernel, "not a kernel source", 'give True, False, "host" or "exec"'
        )
    container_id, cfg, client, own = _resolve(target, cfg, client)
    try:
        with translated(f"inspect container {container_id[:64]}", client=client):
            info: dict[str, Any] = client.api.inspect_container(container_id)
        container_id = str(info.get("Id") or container_id)
        checks = list(_inspect_checks(cfg, info))
        notes: list[str] = []
        if kernel is not False:
            _kernel_checks(cfg, info, client, kernel, proc_root, cgroup_root, checks, notes)
    finally:
        if own:
            client.close()
    report = VerifyReport(container_id, tuple(checks), tuple(notes))
    if strict and not report.ok:
        raise HardeningNotApplied(_message(report), report=report)
    return report


def _resolve(
    target: _Verifiable | Container | str,
    cfg: RunConfig | None,
    client: docker.DockerClient | None,
) -> tuple[str, RunConfig, docker.DockerClient, bool]:
    """The container id, the config, the client, and whether the client is ours to close."""
    if isinstance(target, str):
        container_id, own_client, own_cfg = target, None, None
    elif isinstance(target, Container):
        container_id, own_client, own_cfg = target.id or "", target.client, None
    else:
        container_id, own_client, own_cfg = target.id, target.client, target.config
    cfg = cfg if cfg is not None else own_cfg
    if cfg is None:
        raise ConfigError.single(
            "cfg",
            None,
            "verifying a container by id or docker-py Container needs the config it was made from",
            "pass the RunConfig the container was made from",
        )
    if not container_id:
        raise ConfigError.single(
            "target", target, "no container id", "pass a container id, name or Container"
        )
    client = client if client is not None else own_client
    if client is None:
        return container_id, cfg, connect(), True
    return container_id, cfg, client, False


def _message(report: VerifyReport) -> str:
    failures = report.failures
    lines = [
        f"container {report.container_id[:12]} did not get the hardening its config asked "
        f"for ({len(failures)} of {len(report.checks)} checks failed):"
    ]
    lines += [
        f"  - {c.property}: expected {_cell(c.expected)}, actual {_cell(c.actual)} "
        f"(from {c.source})"
        for c in failures
    ]
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


# -- helpers for expectations --------------------------------------------------------


def _check(prop: str, expected: object, actual: object, source: str, ok: bool) -> Check:
    return Check(prop, _text(expected), _text(actual), source, ok)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value)


def _equal(prop: str, expected: object, actual: object, source: str = _INSPECT) -> Check:
    return _check(prop, expected, actual, source, expected == actual)


def _at_least(prop: str, secure: bool, wanted: bool, actual: bool, source: str) -> Check:
    """A setting with a secure side: the insecure side is an opt-in, the secure one a must."""
    if wanted == secure:
        return _check(prop, wanted, actual, source, actual == secure)
    return _check(prop, f"any (config: {_text(wanted)})", actual, source, True)


def _listing(items: Iterable[str]) -> str:
    values = sorted(items)
    return ", ".join(values) if values else "none"


def _cap_names(names: Iterable[object]) -> set[str]:
    """Capability names in the daemon's stored form; unknown ones are kept as given."""
    result = set()
    for name in map(capability_name, names):
        known = name == "ALL" or name in ALL_CAPABILITIES
        result.add("CAP_" + name if known and name != "ALL" else name)
    return result


def _cpu_list(text: str) -> frozenset[int] | None:
    cpus: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        return None
    return frozenset(cpus)


# -- source 1: what the daemon recorded ----------------------------------------------


_PRIVATE_MODES = {
    "IpcMode": ("", "private", "shareable", "none"),
    "PidMode": ("", "private"),
    "UTSMode": ("", "private"),
    "UsernsMode": ("", "private"),
}


def _inspect_checks(cfg: RunConfig, info: Mapping[str, Any]) -> Iterator[Check]:
    hc: Mapping[str, Any] = info.get("HostConfig") or {}
    config: Mapping[str, Any] = info.get("Config") or {}

    if cfg.user is not None:
        yield _equal("Config.User", str(cfg.user), config.get("User") or "")
    yield _at_least(
        "HostConfig.Privileged", False, cfg.privileged, bool(hc.get("Privileged")), _INSPECT
    )
    yield _equal(
        "HostConfig.CapAdd",
        _listing(_cap_names(cfg.cap_add)),
        _listing(_cap_names(hc.get("CapAdd") or ())),
    )
    yield _equal(
        "HostConfig.CapDrop",
        _listing(_cap_names(cfg.cap_drop)),
        _listing(_cap_names(hc.get("CapDrop") or ())),
    )
    yield from _security_opt_checks(cfg, hc.get("SecurityOpt") or ())
    yield _at_least(
        "HostConfig.ReadonlyRootfs", True, cfg.read_only, bool(hc.get("ReadonlyRootfs")), _INSPECT
    )
    yield from _resource_checks(cfg, hc)
    yield _equal("HostConfig.NetworkMode", cfg.network, hc.get("NetworkMode") or "")
    yield _equal(
        "HostConfig.PortBindings",
        _listing(_cfg_ports(cfg)),
        _listing(_actual_ports(hc.get("PortBindings") or {})),
    )
    yield _tmpfs_check(cfg, hc.get("Tmpfs") or {})
    if cfg.ulimits:
        yield _ulimit_check(cfg, hc.get("Ulimits") or ())
    for key, field in (
        ("IpcMode", cfg.ipc_mode),
        ("PidMode", cfg.pid_mode),
        ("UTSMode", cfg.uts_mode),
        ("UsernsMode", cfg.userns_mode),
    ):
        actual = hc.get(key) or ""
        shown = actual or "'' (private)"
        if field is None:
            private = _PRIVATE_MODES[key]
            yield _check(f"HostConfig.{key}", "private", shown, _INSPECT, actual in private)
        else:
            yield _check(f"HostConfig.{key}", field, shown, _INSPECT, actual == field)
    yield _at_least("HostConfig.Init", True, cfg.init, bool(hc.get("Init")), _INSPECT)
    if cfg.runtime is not None:
        yield _equal("HostConfig.Runtime", cfg.runtime, hc.get("Runtime") or "")
    yield _equal("HostConfig.Mounts", _listing(_cfg_mounts(cfg)), _listing(_actual_mounts(hc)))
    yield _equal(
        "HostConfig.Devices",
        _listing(f"{d.host_path}:{d.container_path}:{d.permissions}" for d in cfg.devices),
        _listing(
            f"{d.get('PathOnHost')}:{d.get('PathInContainer')}:{d.get('CgroupPermissions')}"
            for d in hc.get("Devices") or ()
        ),
    )
    yield _equal(
        "HostConfig.GroupAdd",
        _listing(str(g) for g in cfg.group_add),
        _listing(str(g) for g in hc.get("GroupAdd") or ()),
    )
    yield _equal(
        "HostConfig.Sysctls",
        _listing(f"{k}={v}" for k, v in cfg.sysctls),
        _listing(f"{k}={v}" for k, v in (hc.get("Sysctls") or {}).items()),
    )


_OPT = re.compile(r"([A-Za-z-]+)(?:[=:](.*))?", re.DOTALL)


def _daemon_disables_labels(cfg: RunConfig) -> bool:
    """Whether the daemon itself adds ``label=disable`` (moby does for these settings)."""
    return cfg.privileged or cfg.pid_mode == "host" or cfg.ipc_mode == "host"


def _security_opt_checks(cfg: RunConfig, entries: Iterable[str]) -> Iterator[Check]:
    nnp = False
    seccomp: str | None = None
    apparmor: str | None = None
    others = []
    for entry in entries:
        match = _OPT.fullmatch(entry)
        key, value = (match.group(1), match.group(2)) if match else (entry, None)
        if key == "no-new-privileges":
            nnp = value in (None, "", "true", "1")
        elif key == "seccomp":
            seccomp = value or ""
        elif key == "apparmor":
            apparmor = value or ""
        elif key == "label" and value == "disable" and _daemon_disables_labels(cfg):
            continue  # the daemon's own addition for host PID/IPC namespaces or privileged
        else:
            others.append(_cell(entry))
    yield _at_least(
        "HostConfig.SecurityOpt no-new-privileges", True, cfg.no_new_privileges, nnp, _INSPECT
    )

    actual_seccomp = _seccomp_text(seccomp)
    if cfg.seccomp.kind == "unconfined":
        yield _check(
            "HostConfig.SecurityOpt seccomp",
            "any (config: unconfined)",
            actual_seccomp,
            _INSPECT,
            True,
        )
    else:
        expected = (
            _seccomp_text(cfg.seccomp.profile_json) if cfg.seccomp.kind == "custom" else "default"
        )
        yield _equal("HostConfig.SecurityOpt seccomp", expected, actual_seccomp)

    actual_apparmor = "daemon default" if apparmor is None else apparmor
    if cfg.apparmor is None:
        yield _check(
            "HostConfig.SecurityOpt apparmor",
            "daemon default (not unconfined)",
            actual_apparmor,
            _INSPECT,
            apparmor != "unconfined",
        )
    elif cfg.apparmor == "unconfined":
        yield _check(
            "HostConfig.SecurityOpt apparmor",
            "any (config: unconfined)",
            actual_apparmor,
            _INSPECT,
            True,
        )
    else:
        yield _equal("HostConfig.SecurityOpt apparmor", cfg.apparmor, actual_apparmor)
    yield _equal("HostConfig.SecurityOpt other", "none", _listing(others))


def _seccomp_text(value: str | None) -> str:
    """``default``, ``unconfined``, or ``custom (sha256:<12 hex>)`` of the parsed profile."""
    if value is None or value in ("", "builtin"):
        return "default"
    if value == "unconfined":
        return "unconfined"
    try:
        canonical = json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return "custom (not JSON)"
    return f"custom (sha256:{hashlib.sha256(canonical.encode()).hexdigest()[:12]})"


def _resource_checks(cfg: RunConfig, hc: Mapping[str, Any]) -> Iterator[Check]:
    def number(key: str) -> int:
        return int(hc.get(key) or 0)

    if cfg.memory is not None:
        yield _equal("HostConfig.Memory", cfg.memory, number("Memory"))
        swap = cfg.memory_swap if cfg.memory_swap is not None else 2 * cfg.memory
        yield _equal("HostConfig.MemorySwap", swap, number("MemorySwap"))
    if cfg.memory_reservation is not None:
        yield _equal(
            "HostConfig.MemoryReservation", cfg.memory_reservation, number("MemoryReservation")
        )
    if cfg.cpus is not None:
        yield _equal("HostConfig.NanoCpus", nano_cpus(cfg.cpus), number("NanoCpus"))
    if cfg.cpu_quota is not None:
        yield _equal("HostConfig.CpuQuota", cfg.cpu_quota, number("CpuQuota"))
    if cfg.cpu_period is not None:
        yield _equal("HostConfig.CpuPeriod", cfg.cpu_period, number("CpuPeriod"))
    if cfg.cpu_shares is not None:
        yield _equal("HostConfig.CpuShares", cfg.cpu_shares, number("CpuShares"))
    if cfg.cpuset is not None:
        actual = str(hc.get("CpusetCpus") or "")
        yield _check(
            "HostConfig.CpusetCpus",
            cfg.cpuset,
            actual or "none",
            _INSPECT,
            _cpu_list(actual) == _cpu_list(cfg.cpuset),
        )
    if cfg.pids_limit is not None:
        pids = hc.get("PidsLimit")
        yield _equal("HostConfig.PidsLimit", cfg.pids_limit, "none" if pids is None else pids)


def _cfg_ports(cfg: RunConfig) -> Iterator[str]:
    for p in cfg.ports:
        yield f"{p.host_ip}:{p.host_port or '*'}->{p.key}"


def _actual_ports(bindings: Mapping[str, Any]) -> Iterator[str]:
    for key, hosts in bindings.items():
        for host in hosts or ():
            yield f"{host.get('HostIp') or '0.0.0.0'}:{host.get('HostPort') or '*'}->{key}"  # noqa: S104


def _tmpfs_check(cfg: RunConfig, actual: Mapping[str, str]) -> Check:
    def show(mapping: Mapping[str, str]) -> str:
        return _listing(f"{path} {opts}" for path, opts in mapping.items())

    def normal(mapping: Mapping[str, str]) -> dict[str, frozenset[str]]:
        return {path: frozenset(opts.split(",")) - {""} for path, opts in mapping.items()}

    expected = {t.path: t.options() for t in cfg.tmpfs}
    return _check(
        "HostConfig.Tmpfs",
        show(expected),
        show(actual),
        _INSPECT,
        normal(expected) == normal(actual),
    )


def _ulimit_check(cfg: RunConfig, actual: Iterable[Mapping[str, Any]]) -> Check:
    found = {u.get("Name"): (u.get("Soft"), u.get("Hard")) for u in actual}
    ok = all(found.get(u.name) == (u.soft, u.hard) for u in cfg.ulimits)
    return _check(
        "HostConfig.Ulimits",
        _listing(f"{u.name}={u.soft}:{u.hard}" for u in cfg.ulimits),
        _listing(f"{name}={soft}:{hard}" for name, (soft, hard) in found.items()),
        _INSPECT,
        ok,
    )


def _cfg_mounts(cfg: RunConfig) -> Iterator[str]:
    for m in cfg.mounts:
        kind = "bind" if m.kind == "bind" else "volume"
        yield f"{kind} {m.source} -> {m.target} ({'ro' if m.read_only else 'rw'})"


def _actual_mounts(hc: Mapping[str, Any]) -> Iterator[str]:
    for m in hc.get("Mounts") or ():
        mode = "ro" if m.get("ReadOnly") else "rw"
        yield f"{m.get('Type')} {m.get('Source')} -> {m.get('Target')} ({mode})"
    for bind in hc.get("Binds") or ():
        parts = str(bind).split(":")
        options = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if parts[0].startswith("/") else "volume"
        target = parts[1] if len(parts) > 1 else parts[0]
        yield f"{kind} {parts[0]} -> {target} ({'ro' if 'ro' in options else 'rw'})"


# -- source 2: what the kernel applied -----------------------------------------------


@attrs.frozen
class _KernelView:
    """The kernel's state of one process, however it was read."""

    status: Mapping[str, str]
    limits: Mapping[str, Limit]
    mounts: tuple[MountInfo, ...]
    cgroup_version: int
    cgroup: Mapping[str, str | None]
    uid_map: tuple[tuple[int, int, int], ...] = ()
    gid_map: tuple[tuple[int, int, int], ...] = ()
    cap_last: int | None = None


def _kernel_checks(
    cfg: RunConfig,
    info: Mapping[str, Any],
    client: docker.DockerClient,
    kernel: KernelSource,
    proc_root: str,
    cgroup_root: str,
    checks: list[Check],
    notes: list[str],
) -> None:
    state: Mapping[str, Any] = info.get("State") or {}
    container_id = str(info.get("Id") or "")
    if not state.get("Running"):
        _not_running(state, checks, notes)
        return
    pid = int(state.get("Pid") or 0)
    why_not = ""
    if kernel in (True, "host"):
        view, why_not = _read_host(client, container_id, pid, proc_root, cgroup_root, cfg)
        if view is not None:
            checks.extend(_view_checks(cfg, view, f"host /proc/{pid}", notes))
            return
        if kernel == "host":
            checks.append(
                _check("kernel state", "read from the host", f"not read: {why_not}", "host", False)
            )
            return
    try:
        _exec_probe(cfg, client, container_id, why_not, checks, notes)
    except LaunchError:
        # The container may have exited since the inspect: say so rather than "exec failed".
        with translated(f"inspect container {container_id[:12]}", client=client):
            state = client.api.inspect_container(container_id).get("State") or {}
        if state.get("Running"):
            raise
        _not_running(state, checks, notes)


def _not_running(state: Mapping[str, Any], checks: list[Check], notes: list[str]) -> None:
    """A failed ``State.Running`` check: a stopped container shows no kernel state."""
    status = str(state.get("Status") or "not running")
    if status in ("exited", "dead"):
        status += f", exit code {state.get('ExitCode')}"
    checks.append(_check("State.Running", True, f"false ({status})", _INSPECT, False))
    error = f" ({state['Error']})" if state.get("Error") else ""
    notes.append(f"kernel state not read: the container is not running{error}")


def _read_host(
    client: docker.DockerClient,
    container_id: str,
    pid: int,
    proc_root: str,
    cgroup_root: str,
    cfg: RunConfig,
) -> tuple[_KernelView | None, str]:
    """The init process's state read from the host, or ``None`` and why it cannot be."""
    if not is_local(client):
        return None, f"the daemon is not local ({base_url(client)})"
    if pid <= 0:
        return None, "the daemon reported no process id"
    proc = os.path.join(proc_root, str(pid))
    try:
        cgroup_text = _read(os.path.join(proc, "cgroup"))
    except OSError:
        return None, f"the daemon's process {pid} is not visible in {proc_root} here"
    if not container_id or container_id not in cgroup_text:
        return None, f"{proc_root}/{pid} is not the container's process (another PID namespace)"
    try:
        status = _parse_status(_read(os.path.join(proc, "status")).splitlines())
        limits = _parse_limits(_read(os.path.join(proc, "limits")).splitlines())
        mountinfo = _read(os.path.join(proc, "mountinfo")).splitlines()
        mounts = tuple(_parse_mountinfo(_mount_lines(mountinfo, _mount_points(cfg))))
        uid_map = _id_map(os.path.join(proc, "uid_map"))
        gid_map = _id_map(os.path.join(proc, "gid_map"))
    except (OSError, ProbeError) as exc:
        return None, f"{proc} could not be read ({exc})"
    version, files = _cgroup_files(cgroup_text, cgroup_root, _wanted_files(cfg))
    return _KernelView(
        status=status,
        limits=limits,
        mounts=mounts,
        cgroup_version=version,
        cgroup=files,
        uid_map=uid_map,
        gid_map=gid_map,
        cap_last=_cap_last(proc_root) if _needs_every_cap(cfg) else None,
    ), ""


def _mount_points(cfg: RunConfig) -> frozenset[str]:
    """The mount points the checks look at: ``/``, each tmpfs and each mount."""
    paths = ["/", *(t.path for t in cfg.tmpfs), *(m.target for m in cfg.mounts)]
    return frozenset(p.rstrip("/") or "/" for p in paths)


def _mount_lines(lines: list[str], points: frozenset[str]) -> list[str]:
    """The mountinfo lines of those mount points only (parsing them all costs most)."""
    kept = []
    for line in lines:
        fields = line.split(" ", 5)
        if len(fields) > 4:
            point = _unescape(fields[4]) if "\\" in fields[4] else fields[4]
            if point in points:
                kept.append(line)
    return kept


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _maybe(path: str) -> str | None:
    try:
        return _read(path).strip()
    except OSError:
        return None


def _id_map(path: str) -> tuple[tuple[int, int, int], ...]:
    text = _maybe(path)
    if text is None:
        return ()
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            rows.append((int(fields[0]), int(fields[1]), int(fields[2])))
    return tuple(rows)


def _cap_last(proc_root: str) -> int | None:
    text = _maybe(os.path.join(proc_root, "sys", "kernel", "cap_last_cap"))
    return int(text) if text and text.isdigit() else None


def _wanted_files(cfg: RunConfig) -> frozenset[str]:
    """The cgroup files (v1 and v2 names) the config's limits are checked in."""
    wanted = {"pids.max"} if cfg.pids_limit is not None else set()
    if cfg.memory is not None:
        wanted |= {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max",
                   "memory.swap.max"}  # fmt: skip
    if cfg.memory_reservation is not None:
        wanted |= {"memory.soft_limit_in_bytes", "memory.low"}
    if cfg.cpus is not None or cfg.cpu_quota is not None or cfg.cpu_period is not None:
        wanted |= {"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.max"}
    if cfg.cpu_shares is not None:
        wanted |= {"cpu.shares", "cpu.weight"}
    if cfg.cpuset is not None:
        wanted.add("cpuset.cpus")
    return frozenset(wanted)


def _cgroup_files(
    cgroup_text: str, cgroup_root: str, wanted: frozenset[str]
) -> tuple[int, dict[str, str | None]]:
    """The cgroup version and the wanted limit files, by name, for ``/proc/<pid>/cgroup``.

    On v1 a controller's directory is ``<root>/<controllers>/<path>`` (``cpu,cpuacct``
    when co-mounted) or ``<root>/<controller>/<path>``; on v2 ``<root>/<path>``.
    """
    dirs: dict[str, list[str]] = {}
    unified = "/"
    for line in cgroup_text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            unified = path
            continue
        for name in controllers.split(","):
            dirs[name] = [
                os.path.join(cgroup_root, mount, path.lstrip("/"))
                for mount in dict.fromkeys((controllers, name))
            ]
    files: dict[str, str | None] = {}
    if dirs.keys() & _V1_FILES.keys():
        for controller, names in _V1_FILES.items():
            for name in wanted.intersection(names):
                found = (_maybe(os.path.join(d, name)) for d in dirs.get(controller, ()))
                files[name] = next((text for text in found if text is not None), None)
        return 1, files
    base = os.path.join(cgroup_root, unified.lstrip("/"))
    for name in wanted.intersection(_V2_FILES):
        files[name] = _maybe(os.path.join(base, name))
    return 2, files


def _exec_probe(
    cfg: RunConfig,
    client: docker.DockerClient,
    container_id: str,
    why_not_host: str,
    checks: list[Check],
    notes: list[str],
) -> None:
    with translated(f"run the verification probe in container {container_id[:12]}", client=client):
        exec_id = client.api.exec_create(container_id, probe_command(), user="")["Id"]
        output = client.api.exec_start(exec_id)
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
    try:
        probe = parse_probe(text)
        status = _parse_status(_split_sections(probe.raw)["status"])
    except ProbeError as exc:
        with translated(f"inspect the verification probe in {container_id[:12]}", client=client):
            code = client.api.exec_inspect(exec_id).get("ExitCode")
        if code in (126, 127) and "/bin/sh" in text:
            reason = f" and {why_not_host}" if why_not_host else " (kernel='exec')"
            notes.append(f"kernel state not verified: {_NO_SHELL}{reason}")
            return
        head = " ".join(text.split())[:200] or "<empty>"
        checks.append(
            _check(
                "kernel state",
                "the exec probe's report",
                f"exit code {code}, {exc}; output began: {head}",
                _EXEC,
                False,
            )
        )
        return
    if why_not_host:
        notes.append(f"kernel state read by an exec probe: {why_not_host}")
    files: dict[str, str | None] = {}
    for key, value in probe.cgroup_files.items():
        name = key.rsplit("/", 1)[-1]
        if files.get(name) is None:
            files[name] = value
    view = _KernelView(
        status=status,
        limits=probe.limits,
        mounts=probe.mounts,
        cgroup_version=probe.cgroup_version,
        cgroup=files,
    )
    checks.extend(_view_checks(cfg, view, _EXEC, notes))


# -- comparing the kernel's state with the config ------------------------------------


def _needs_every_cap(cfg: RunConfig) -> bool:
    """Privileged or ``cap_add ALL``: the expected set depends on the kernel's last cap."""
    return cfg.privileged or "ALL" in map(capability_name, cfg.cap_add)


def _expected_caps(cfg: RunConfig, cap_last: int | None) -> frozenset[str]:
    """The capability set moby's TweakCapabilities gives: privileged, ALL added or dropped."""
    names, _ = effective_capabilities(
        cfg.cap_add, cfg.cap_drop, privileged=cfg.privileged, cap_last=cap_last
    )
    return names


def _caps_text(names: frozenset[str], mask: str | None = None) -> str:
    known = frozenset(n for n in names if not n.startswith("BIT_"))
    hex_mask = mask if mask is not None else f"{encode_mask(known):016x}"
    return f"{_listing(names)} ({hex_mask})"


def _in_ns(ids: tuple[int, ...], mapping: tuple[tuple[int, int, int], ...]) -> tuple[int, ...]:
    """Host ids as seen inside the process's user namespace."""
    if not mapping:
        return ids
    inside = []
    for value in ids:
        for start, host_start, count in mapping:
            if host_start <= value < host_start + count:
                inside.append(start + value - host_start)
                break
        else:
            inside.append(value)
    return tuple(inside)


def _view_checks(
    cfg: RunConfig, view: _KernelView, source: str, notes: list[str]
) -> Iterator[Check]:
    status = view.status
    uids = _in_ns(tuple(int(f) for f in status.get("Uid", "").split()), view.uid_map)
    gids = _in_ns(tuple(int(f) for f in status.get("Gid", "").split()), view.gid_map)
    if cfg.user is not None:
        yield _equal("Uid", " ".join([str(cfg.user.uid)] * 4), " ".join(map(str, uids)), source)
        yield _equal("Gid", " ".join([str(cfg.user.gid)] * 4), " ".join(map(str, gids)), source)

    cap_last = view.cap_last
    bnd_mask = status.get("CapBnd", "")
    if cap_last is None and bnd_mask and int(bnd_mask, 16):
        cap_last = int(bnd_mask, 16).bit_length() - 1  # the highest the kernel knows, at best
    expected = _expected_caps(cfg, cap_last)
    root = len(uids) > 1 and uids[1] == 0
    for name, wanted in (
        ("CapBnd", expected),
        ("CapPrm", expected if root else frozenset()),
        ("CapEff", expected if root else frozenset()),
    ):
        mask = status.get(name)
        actual = decode_mask(mask) if mask else None
        yield _check(
            name,
            _caps_text(wanted),
            "absent" if mask is None else _caps_text(actual or frozenset(), mask),
            source,
            actual == wanted,
        )

    nnp = status.get("NoNewPrivs", "absent")
    if cfg.no_new_privileges:
        yield _check("NoNewPrivs", "1", nnp, source, nnp == "1")
    else:
        yield _check("NoNewPrivs", "any (config: 0)", nnp, source, True)
    seccomp = status.get("Seccomp", "absent")
    shown = f"{seccomp} ({_SECCOMP_MODES.get(seccomp, 'unknown')})"
    if cfg.seccomp.kind == "unconfined" or cfg.privileged:
        yield _check("Seccomp", "any (config: unconfined)", shown, source, True)
    else:
        yield _check("Seccomp", "2 (filter)", shown, source, seccomp == "2")

    for u in cfg.ulimits:
        limit = view.limits.get(u.name)
        wanted_limit = Limit(None if u.soft < 0 else u.soft, None if u.hard < 0 else u.hard)
        yield _check(
            f"rlimit {u.name}",
            wanted_limit,
            "absent" if limit is None else limit,
            source,
            limit == wanted_limit,
        )

    yield from _mount_checks(cfg, view.mounts, source)
    yield from _cgroup_checks(cfg, view, source, notes)


def _mount_at(mounts: tuple[MountInfo, ...], path: str) -> MountInfo | None:
    path = path.rstrip("/") or "/"
    found = None
    for info in mounts:
        if info.mount_point == path:
            found = info
    return found


def _mount_checks(cfg: RunConfig, mounts: tuple[MountInfo, ...], source: str) -> Iterator[Check]:
    def access(info: MountInfo | None) -> str:
        if info is None:
            return "not mounted"
        return "read-only" if info.read_only else "read-write"

    root = _mount_at(mounts, "/")
    if cfg.read_only:
        yield _check(
            "mount /", "read-only", access(root), source, root is not None and root.read_only
        )
    for t in cfg.tmpfs:
        info = _mount_at(mounts, t.path)
        flags = ["exec" if t.exec else "noexec", "suid" if t.suid else "nosuid", "nodev"]
        wanted = f"tmpfs size={t.size} mode={t.mode:o}"
        wanted += "".join(f" {k}={v}" for k, v in (("uid", t.uid), ("gid", t.gid)) if v is not None)
        wanted += " " + " ".join(flags)
        if info is None:
            yield _check(f"mount {t.path}", wanted, "not mounted", source, False)
            continue
        got_flags = [
            "noexec" if info.noexec else "exec",
            "nosuid" if info.nosuid else "suid",
            "nodev" if info.nodev else "dev",
        ]
        actual = f"{info.fstype} size={info.size_bytes} mode={(info.mode or 0):o}"
        actual += "".join(
            f" {k}={v}"
            for k, v in (("uid", info.uid), ("gid", info.gid))
            if getattr(t, k) is not None
        )
        actual += " " + " ".join(got_flags)
        ok = (
            info.fstype == "tmpfs"
            and info.size_bytes is not None
            and abs(info.size_bytes - t.size) < _MAX_PAGE
            and info.mode == t.mode
            and (t.uid is None or info.uid == t.uid)
            and (t.gid is None or info.gid == t.gid)
            and got_flags == flags
        )
        yield _check(f"mount {t.path}", wanted, actual, source, ok)
    for m in cfg.mounts:
        info = _mount_at(mounts, m.target)
        if m.read_only:
            yield _check(
                f"mount {m.target}",
                "read-only",
                access(info),
                source,
                info is not None and info.read_only,
            )
        else:
            yield _check(
                f"mount {m.target}",
                "any (config: read-write)",
                access(info),
                source,
                info is not None,
            )


def _rounded(expected: int, actual: int | None) -> bool:
    """Equal up to the kernel rounding a byte count down to whole pages."""
    return actual is not None and 0 <= expected - actual < _MAX_PAGE


def _as_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _cpu_weights(shares: int) -> frozenset[int]:
    """The cgroup v2 ``cpu.weight`` for v1 shares, by either runc conversion."""
    old = 1 + ((shares - 2) * 9999) // 262142
    level = math.log2(shares)
    new = math.ceil(10 ** ((level * level + 125 * level) / 612.0 - 7.0 / 34.0))
    return frozenset({old, new})


def _cgroup_checks(
    cfg: RunConfig, view: _KernelView, source: str, notes: list[str]
) -> Iterator[Check]:
    files = view.cgroup

    def shown(name: str) -> str:
        value = files.get(name)
        return "absent" if value is None else value

    def check(name: str, expected: object, ok: bool) -> Check:
        return _check(f"cgroup {name}", expected, shown(name), source, ok)

    quota, period = _expected_cpu(cfg)
    if view.cgroup_version == 1:
        if cfg.memory is not None:
            actual = _as_int(files.get("memory.limit_in_bytes"))
            yield check("memory.limit_in_bytes", cfg.memory, _rounded(cfg.memory, actual))
            swap = cfg.memory_swap if cfg.memory_swap is not None else 2 * cfg.memory
            memsw = _as_int(files.get("memory.memsw.limit_in_bytes"))
            if files.get("memory.memsw.limit_in_bytes") is None:
                notes.append(
                    "cgroup memory.memsw.limit_in_bytes absent: the kernel has no swap "
                    "accounting, so the swap limit cannot be enforced or checked"
                )
            elif swap < 0:
                yield check(
                    "memory.memsw.limit_in_bytes",
                    "unlimited",
                    memsw is not None and memsw >= _V1_UNLIMITED,
                )
            else:
                yield check("memory.memsw.limit_in_bytes", swap, _rounded(swap, memsw))
        if cfg.memory_reservation is not None:
            actual = _as_int(files.get("memory.soft_limit_in_bytes"))
            yield check(
                "memory.soft_limit_in_bytes",
                cfg.memory_reservation,
                _rounded(cfg.memory_reservation, actual),
            )
        if quota is not None:
            yield check("cpu.cfs_quota_us", quota, _as_int(files.get("cpu.cfs_quota_us")) == quota)
        if period is not None:
            yield check(
                "cpu.cfs_period_us", period, _as_int(files.get("cpu.cfs_period_us")) == period
            )
        if cfg.cpu_shares is not None:
            yield check(
                "cpu.shares", cfg.cpu_shares, _as_int(files.get("cpu.shares")) == cfg.cpu_shares
            )
    else:
        if cfg.memory is not None:
            yield check(
                "memory.max", cfg.memory, _rounded(cfg.memory, _as_int(files.get("memory.max")))
            )
            swap = cfg.memory_swap if cfg.memory_swap is not None else 2 * cfg.memory
            raw_swap = files.get("memory.swap.max")
            if raw_swap is None:
                notes.append(
                    "cgroup memory.swap.max absent: the kernel has no swap "
                    "accounting, so the swap limit cannot be enforced or checked"
                )
            elif swap < 0:
                yield check("memory.swap.max", "max", raw_swap == "max")
            else:
                yield check(
                    "memory.swap.max",
                    swap - cfg.memory,
                    _rounded(swap - cfg.memory, _as_int(raw_swap)),
                )
        if cfg.memory_reservation is not None:
            yield check(
                "memory.low",
                cfg.memory_reservation,
                _rounded(cfg.memory_reservation, _as_int(files.get("memory.low"))),
            )
        if quota is not None or period is not None:
            yield _cpu_max_check(files.get("cpu.max"), quota, period, source)
        if cfg.cpu_shares is not None:
            weights = _cpu_weights(cfg.cpu_shares)
            yield check(
                "cpu.weight",
                " or ".join(map(str, sorted(weights))),
                _as_int(files.get("cpu.weight")) in weights,
            )
    if cfg.pids_limit is not None:
        yield check("pids.max", cfg.pids_limit, _as_int(files.get("pids.max")) == cfg.pids_limit)
    if cfg.cpuset is not None:
        actual_cpus = files.get("cpuset.cpus")
        yield check(
            "cpuset.cpus",
            cfg.cpuset,
            actual_cpus is not None and _cpu_list(actual_cpus) == _cpu_list(cfg.cpuset),
        )


def _expected_cpu(cfg: RunConfig) -> tuple[int | None, int | None]:
    """The CFS quota and period runc writes for the config, ``None`` where unlimited/unset."""
    if cfg.cpus is not None:
        return nano_cpus(cfg.cpus) * _CFS_PERIOD_US // 1_000_000_000, _CFS_PERIOD_US
    if cfg.cpu_quota is not None and cfg.cpu_quota > 0:
        return cfg.cpu_quota, cfg.cpu_period or _CFS_PERIOD_US
    return None, cfg.cpu_period


def _cpu_max_check(raw: str | None, quota: int | None, period: int | None, source: str) -> Check:
    """``cpu.max``: the systemd driver rounds the quota up to 10 ms per second."""
    period = period or _CFS_PERIOD_US
    expected = f"{'max' if quota is None else quota} {period}"
    fields = (raw or "").split()
    ok = False
    if len(fields) == 2 and _as_int(fields[1]) == period:
        if quota is None:
            ok = fields[0] == "max"
        else:
            got = _as_int(fields[0])
            ok = got is not None and quota <= got <= quota + period // 100
    return _check("cgroup cpu.max", expected, "absent" if raw is None else raw, source, ok)

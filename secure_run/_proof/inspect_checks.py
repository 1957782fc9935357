"""Source 1 of :func:`~secure_run.verify`: what the daemon recorded for a container.

One ``inspect`` record is compared with the config: ``Config.User`` and the
``HostConfig`` fields that carry hardening (capabilities, privileged, ``SecurityOpt``,
the root filesystem, memory, CPU, pids, network, tmpfs, ulimits, namespace modes, init,
runtime, mounts, devices, ports, groups, sysctls). Expected values are written in the
daemon's own form (``CAP_NET_BIND_SERVICE``, ``no-new-privileges:true``).

Then four settings that say how a container lives rather than how it is confined: the
restart policy (``HostConfig.RestartPolicy``), log rotation (``HostConfig.LogConfig``),
the healthcheck (``Config.Healthcheck``) and the stop timeout (``Config.StopTimeout``).
Each is expected as :mod:`secure_run._export.docker` sends it, and read as Docker
20.10 stores it:

* an unset restart policy is sent as ``no``; an engine that was sent none records
  ``""``, which means the same;
* log limits are sent as strings of bytes (``"10485760"``) and stored as given; the
  daemon may add its own default options beside them;
* a healthcheck's zero values (``StartPeriod`` 0, ``Retries`` 0) are left out of the
  record, and with no healthcheck the record shows the image's, or none;
* an unset stop timeout is absent (or ``null``), and the engine then waits 10 s.

Of these, a setting the config leaves unset (other than the restart policy) is not
checked: the record then shows the engine's or the image's default, which the config
accepted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from .._config.parse import parse_memory
from .._config.run_config import RunConfig
from .._config.values import Healthcheck, LogLimits
from .._engine.podman import PODMAN_OWN_SECCOMP, docker_form, is_podman_record
from .._errors import ConfigError
from .._export.docker import nano_cpus, tmpfs_mounts
from .expected import cap_names, cpu_list, memory_swap
from .verify_report import INSPECT, Check, at_least, cell, check, equal, listing

__all__ = ["inspect_checks"]

_PRIVATE_MODES = {
    "IpcMode": ("", "private", "shareable", "none"),
    "PidMode": ("", "private"),
    "UTSMode": ("", "private"),
    "UsernsMode": ("", "private"),
}
#: The log driver whose rotation options ``log_limits`` sets.
_LOG_DRIVER = "json-file"


def inspect_checks(cfg: RunConfig, info: Mapping[str, Any]) -> Iterator[Check]:
    if is_podman_record(info):  # Podman's shapes, in Docker's (secure_run/_engine/podman.py)
        info = docker_form(cfg, info)
    hc: Mapping[str, Any] = info.get("HostConfig") or {}
    config: Mapping[str, Any] = info.get("Config") or {}

    if cfg.user is not None:
        yield equal("Config.User", str(cfg.user), config.get("User") or "")
    yield at_least(
        "HostConfig.Privileged", False, cfg.privileged, bool(hc.get("Privileged")), INSPECT
    )
    yield equal(
        "HostConfig.CapAdd",
        listing(cap_names(cfg.cap_add)),
        listing(cap_names(hc.get("CapAdd") or ())),
    )
    yield equal(
        "HostConfig.CapDrop",
        listing(cap_names(cfg.cap_drop)),
        listing(cap_names(hc.get("CapDrop") or ())),
    )
    yield from _security_opt_checks(cfg, hc.get("SecurityOpt") or ())
    yield at_least(
        "HostConfig.ReadonlyRootfs", True, cfg.read_only, bool(hc.get("ReadonlyRootfs")), INSPECT
    )
    yield from _resource_checks(cfg, hc)
    yield equal("HostConfig.NetworkMode", cfg.network, hc.get("NetworkMode") or "")
    yield equal(
        "HostConfig.PortBindings",
        listing(_cfg_ports(cfg)),
        listing(_actual_ports(hc.get("PortBindings") or {})),
    )
    workspace = _workspace_volume(cfg, hc)
    yield _tmpfs_check(cfg, hc.get("Tmpfs") or {}, workspace_volume=workspace is not None)
    if workspace is not None:
        yield check(f"workspace {workspace.get('Target')}", "volume (rw)",
                    f"{workspace.get('Type')} ({'ro' if workspace.get('ReadOnly') else 'rw'})",
                    INSPECT, not workspace.get("ReadOnly"))  # fmt: skip
        hc = {**hc, "Mounts": [m for m in hc.get("Mounts") or () if m is not workspace]}
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
            yield check(f"HostConfig.{key}", "private", shown, INSPECT, actual in private)
        else:
            yield check(f"HostConfig.{key}", field, shown, INSPECT, actual == field)
    yield at_least("HostConfig.Init", True, cfg.init, bool(hc.get("Init")), INSPECT)
    if cfg.runtime is not None:
        yield equal("HostConfig.Runtime", cfg.runtime, hc.get("Runtime") or "")
    yield equal("HostConfig.Mounts", listing(_cfg_mounts(cfg)), listing(_actual_mounts(hc)))
    yield equal(
        "HostConfig.Devices",
        listing(f"{d.host_path}:{d.container_path}:{d.permissions}" for d in cfg.devices),
        listing(
            f"{d.get('PathOnHost')}:{d.get('PathInContainer')}:{d.get('CgroupPermissions')}"
            for d in hc.get("Devices") or ()
        ),
    )
    yield equal(
        "HostConfig.GroupAdd",
        listing(str(g) for g in cfg.group_add),
        listing(str(g) for g in hc.get("GroupAdd") or ()),
    )
    yield equal(
        "HostConfig.Sysctls",
        listing(f"{k}={v}" for k, v in cfg.sysctls),
        listing(f"{k}={v}" for k, v in (hc.get("Sysctls") or {}).items()),
    )
    yield from _lifecycle_checks(cfg, config, hc)


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
            others.append(cell(entry))
    yield at_least(
        "HostConfig.SecurityOpt no-new-privileges", True, cfg.no_new_privileges, nnp, INSPECT
    )

    actual_seccomp = _seccomp_text(seccomp)
    if cfg.seccomp.kind == "unconfined":
        yield check(
            "HostConfig.SecurityOpt seccomp",
            "any (config: unconfined)",
            actual_seccomp,
            INSPECT,
            True,
        )
    else:
        expected = (
            _seccomp_text(cfg.seccomp.profile_json) if cfg.seccomp.kind == "custom" else "default"
        )
        yield equal("HostConfig.SecurityOpt seccomp", expected, actual_seccomp)

    actual_apparmor = "daemon default" if apparmor is None else apparmor
    if cfg.apparmor is None:
        yield check(
            "HostConfig.SecurityOpt apparmor",
            "daemon default (not unconfined)",
            actual_apparmor,
            INSPECT,
            apparmor != "unconfined",
        )
    elif cfg.apparmor == "unconfined":
        yield check(
            "HostConfig.SecurityOpt apparmor",
            "any (config: unconfined)",
            actual_apparmor,
            INSPECT,
            True,
        )
    else:
        yield equal("HostConfig.SecurityOpt apparmor", cfg.apparmor, actual_apparmor)
    yield equal("HostConfig.SecurityOpt other", "none", listing(others))


def _seccomp_text(value: str | None) -> str:
    """``default``, ``unconfined``, or ``custom (sha256:<12 hex>)`` of the parsed profile."""
    if value is None or value in ("", "builtin"):
        return "default"
    if value in ("unconfined", PODMAN_OWN_SECCOMP):
        return value
    try:
        canonical = json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return "custom (not JSON)"
    return f"custom (sha256:{hashlib.sha256(canonical.encode()).hexdigest()[:12]})"


def _resource_checks(cfg: RunConfig, hc: Mapping[str, Any]) -> Iterator[Check]:
    def number(key: str) -> int:
        return int(hc.get(key) or 0)

    if cfg.memory is not None:
        yield equal("HostConfig.Memory", cfg.memory, number("Memory"))
        yield equal("HostConfig.MemorySwap", memory_swap(cfg), number("MemorySwap"))
    if cfg.memory_reservation is not None:
        yield equal(
            "HostConfig.MemoryReservation", cfg.memory_reservation, number("MemoryReservation")
        )
    if cfg.cpus is not None:
        yield equal("HostConfig.NanoCpus", nano_cpus(cfg.cpus), number("NanoCpus"))
    if cfg.cpu_quota is not None:
        yield equal("HostConfig.CpuQuota", cfg.cpu_quota, number("CpuQuota"))
    if cfg.cpu_period is not None:
        yield equal("HostConfig.CpuPeriod", cfg.cpu_period, number("CpuPeriod"))
    if cfg.cpu_shares is not None:
        yield equal("HostConfig.CpuShares", cfg.cpu_shares, number("CpuShares"))
    if cfg.cpuset is not None:
        actual = str(hc.get("CpusetCpus") or "")
        yield check(
            "HostConfig.CpusetCpus",
            cfg.cpuset,
            actual or "none",
            INSPECT,
            cpu_list(actual) == cpu_list(cfg.cpuset),
        )
    if cfg.pids_limit is not None:
        pids = hc.get("PidsLimit")
        yield equal("HostConfig.PidsLimit", cfg.pids_limit, "none" if pids is None else pids)


def _cfg_ports(cfg: RunConfig) -> Iterator[str]:
    for p in cfg.ports:
        yield f"{p.host_ip}:{p.host_port or '*'}->{p.key}"


def _actual_ports(bindings: Mapping[str, Any]) -> Iterator[str]:
    for key, hosts in bindings.items():
        for host in hosts or ():
            yield f"{host.get('HostIp') or '0.0.0.0'}:{host.get('HostPort') or '*'}->{key}"  # noqa: S104


def _workspace_volume(cfg: RunConfig, hc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The volume mount that backs the workspace in a session, if there is one.

    :func:`~secure_run.launch` and :func:`~secure_run.run` mount the workspace as a
    tmpfs volume; the exporters write it as a plain tmpfs (checked with the others).
    The kernel checks prove either is a tmpfs of the right size, mode and owner.
    """
    if cfg.workspace is None:
        return None
    for m in hc.get("Mounts") or ():
        if m.get("Type") == "volume" and m.get("Target") == cfg.workspace.path:
            return cast("Mapping[str, Any]", m)
    return None


def _tmpfs_check(cfg: RunConfig, actual: Mapping[str, str], *, workspace_volume: bool) -> Check:
    def show(mapping: Mapping[str, str]) -> str:
        return listing(f"{path} {opts}" for path, opts in mapping.items())

    def normal(mapping: Mapping[str, str]) -> dict[str, frozenset[str]]:
        return {path: frozenset(opts.split(",")) - {""} for path, opts in mapping.items()}

    mounts = cfg.tmpfs if workspace_volume else tmpfs_mounts(cfg)
    expected = {t.path: t.options() for t in mounts}
    return check(
        "HostConfig.Tmpfs",
        show(expected),
        show(actual),
        INSPECT,
        normal(expected) == normal(actual),
    )


def _ulimit_check(cfg: RunConfig, actual: Iterable[Mapping[str, Any]]) -> Check:
    found = {u.get("Name"): (u.get("Soft"), u.get("Hard")) for u in actual}
    ok = all(found.get(u.name) == (u.soft, u.hard) for u in cfg.ulimits)
    return check(
        "HostConfig.Ulimits",
        listing(f"{u.name}={u.soft}:{u.hard}" for u in cfg.ulimits),
        listing(f"{name}={soft}:{hard}" for name, (soft, hard) in found.items()),
        INSPECT,
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


def _lifecycle_checks(
    cfg: RunConfig, config: Mapping[str, Any], hc: Mapping[str, Any]
) -> Iterator[Check]:
    """The restart, log, healthcheck and stop-timeout checks of one inspect record.

    Args:
        cfg: The config the container was made from.
        config: The record's ``Config`` section.
        hc: The record's ``HostConfig`` section.
    """
    yield _restart_check(cfg, hc.get("RestartPolicy") or {})
    if cfg.log_limits is not None:
        yield _log_check(cfg.log_limits, hc.get("LogConfig") or {})
    if cfg.healthcheck is not None:
        yield _healthcheck_check(cfg.healthcheck, config.get("Healthcheck"))
    if cfg.stop_timeout is not None:
        actual = config.get("StopTimeout")  # absent or null: the engine's 10 s
        shown = "none (engine default 10)" if actual is None else actual
        yield equal("Config.StopTimeout", cfg.stop_timeout, shown)


def _policy_text(name: str, retries: int) -> str:
    return f"{name}:{retries}" if retries else name


def _restart_check(cfg: RunConfig, policy: Mapping[str, Any]) -> Check:
    """``no`` when unset (as sent); the engine's empty name means ``no`` too."""
    restart = cfg.restart
    expected = ("no", 0) if restart is None else (restart.name, restart.max_retries)
    actual = (str(policy.get("Name") or "no"), int(policy.get("MaximumRetryCount") or 0))
    return check(
        "HostConfig.RestartPolicy",
        _policy_text(*expected),
        _policy_text(*actual),
        INSPECT,
        actual == expected,
    )


def _same_size(expected: str, actual: object) -> bool:
    """The sent byte count, as given or written with units (``10m``) by another client."""
    if actual == expected:
        return True
    try:
        return isinstance(actual, str) and parse_memory(actual) == int(expected)
    except ConfigError:
        return False


def _log_check(limits: LogLimits, log: Mapping[str, Any]) -> Check:
    """The json-file driver with the two rotation options as sent (the daemon may add more)."""
    size, files = str(limits.max_size), str(limits.max_files)
    driver = str(log.get("Type") or "")
    options: Mapping[str, Any] = log.get("Config") or {}
    actual_size, actual_files = options.get("max-size"), options.get("max-file")

    def shown(value: object) -> str:
        return "unset" if value is None else str(value)

    return check(
        "HostConfig.LogConfig",
        f"{_LOG_DRIVER} max-size={size} max-file={files}",
        f"{driver or 'none'} max-size={shown(actual_size)} max-file={shown(actual_files)}",
        INSPECT,
        driver == _LOG_DRIVER and _same_size(size, actual_size) and actual_files == files,
    )


def _duration(ns: int) -> str:
    return f"{ns // 1_000_000_000}s" if ns % 1_000_000_000 == 0 else f"{ns}ns"


def _healthcheck_text(test: list[str], timings: tuple[int, int, int, int]) -> str:
    interval, timeout, retries, start = timings
    return (
        f"{' '.join(test)} (interval {_duration(interval)}, timeout {_duration(timeout)}, "
        f"retries {retries}, start period {_duration(start)})"
    )


def _healthcheck_check(health: Healthcheck, record: object) -> Check:
    """The test and timings as sent; a zero the engine left out of the record counts as 0."""
    expected_test = list(health.test)
    expected = (health.interval_ns, health.timeout_ns, health.retries, health.start_period_ns)
    shown = _healthcheck_text(expected_test, expected)
    if not isinstance(record, Mapping) or not record.get("Test"):
        return check("Config.Healthcheck", shown, "none", INSPECT, False)
    test = [str(arg) for arg in record.get("Test") or ()]
    interval, timeout, retries, start = (
        int(record.get(key) or 0) for key in ("Interval", "Timeout", "Retries", "StartPeriod")
    )
    actual = (interval, timeout, retries, start)
    ok = test == expected_test and actual == expected
    return check("Config.Healthcheck", shown, _healthcheck_text(test, actual), INSPECT, ok)

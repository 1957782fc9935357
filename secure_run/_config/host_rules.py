"""The rules on what a container can reach of the host.

Mounts, the network and published ports, the namespaces, the seccomp and AppArmor
profiles and the runtime, the restart and log bounds, and the sysctls. They run in
:func:`validation.check` after the rules on what runs, as whom and with how much.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .checker import Checker
from .hostpaths import exposes_socket, host_path, sensitive_root
from .seccomp import is_allow_all, profile_problems
from .values import OptIn

if TYPE_CHECKING:
    from .run_config import RunConfig

__all__ = ["HOST_RULES", "NAME", "SAFE_SYSCTLS"]

_PROC_ROOT_LINK = re.compile(r"/proc/(?:self|thread-self|\d+)(?:/task/\d+)?/(?:root|cwd)(/.*)?")

#: Namespaced sysctls that Kubernetes deems safe (Pod Security Standards, baseline).
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
})  # fmt: skip

#: A Docker object name: a container, a volume, a network, a runtime.
NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_PROFILE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.:/-]*")
_NAMESPACE_FIELDS = ("pid_mode", "ipc_mode", "uts_mode", "userns_mode")
_PROPAGATIONS = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared"})
_RESTART = frozenset({"no", "on-failure", "always", "unless-stopped"})
_MS = 1_000_000


def _mounts(c: Checker, cfg: RunConfig) -> None:
    for m in cfg.mounts:
        if not m.target.startswith("/"):
            c.bad("mount", m.target, "the target is not an absolute path", "give e.g. /data")
        if m.kind not in ("bind", "volume"):
            c.bad("mount", m.kind, "unknown mount kind", "use 'bind' or 'volume'")
        elif m.kind == "bind" and not m.source.startswith("/"):
            c.bad(
                "mount",
                m.source,
                "a bind source must be an absolute host path",
                "give e.g. /srv/data, or a volume name",
            )
        elif m.kind == "volume" and not NAME.fullmatch(m.source):
            c.bad("mount", m.source, "not a valid volume name", "use letters, digits, _ . -")
        if m.propagation is not None:
            if m.propagation not in _PROPAGATIONS or m.kind != "bind":
                c.bad(
                    "mount",
                    m.propagation,
                    "not a bind propagation mode",
                    f"use one of {sorted(_PROPAGATIONS)} on a bind mount",
                )
            elif "shared" in m.propagation:
                c.needs(
                    OptIn.SHARED_PROPAGATION,
                    "mount",
                    m.propagation,
                    "mounts made in the container would reach the host",
                    "use the default (rprivate)",
                )
        source = host_path(m.source) if m.kind == "bind" else m.source
        root_link = _PROC_ROOT_LINK.fullmatch(source) if m.kind == "bind" else None
        if root_link:  # /proc/<pid>/root is that process's /, here the host's
            source = host_path(root_link[1] or "/")
        elif m.kind == "bind" and source.startswith(("/proc/", "/sys/")):
            c.needs(OptIn.SENSITIVE_MOUNT, "mount", m.source,
                    "a bind of the host's /proc or /sys", "remove the mount")  # fmt: skip
        target = host_path(m.target)
        if target == "/":
            c.bad("mount", m.target, "the container's / cannot be a mount target",
                  "mount it at a path such as /data")  # fmt: skip
        if exposes_socket(source, target, bind=m.kind == "bind"):
            c.needs(
                OptIn.DOCKER_SOCKET,
                "mount",
                m.source,
                "the engine socket gives root on the host, read-only or not",
                "remove the mount",
            )
        if m.kind == "bind" and not m.read_only and sensitive_root(source) is not None:
            c.needs(OptIn.SENSITIVE_MOUNT, "mount", m.source,
                    "a writable mount of a sensitive host path",
                    "mount it with read_only=True")  # fmt: skip
        elif not m.read_only and sensitive_root(target) is not None:
            c.needs(OptIn.SENSITIVE_MOUNT, "mount", m.target,
                    "a writable mount over a system directory of the container",
                    "mount it elsewhere, or read_only=True")  # fmt: skip


def _network(c: Checker, cfg: RunConfig) -> None:
    if cfg.network == "host":
        c.needs(
            OptIn.HOST_NAMESPACE,
            "network",
            "host",
            "shares the host's network namespace",
            'use "none" or a user-defined network',
        )
    elif not NAME.fullmatch(cfg.network) and not cfg.network.startswith("container:"):
        c.bad("network", cfg.network, "not a valid network name", 'give e.g. "none" or "appnet"')
    if cfg.ports and (cfg.network in ("none", "host") or cfg.network.startswith("container:")):
        for port in cfg.ports:
            c.bad(
                "publish",
                port.key,
                f"ports cannot be published with network {cfg.network!r}",
                'use .network("bridge") or a user-defined network',
            )
    for port in cfg.ports:
        if not 1 <= port.container_port <= 65535:
            c.bad("publish", port.container_port, "not a port number", "give 1 to 65535")
        if port.protocol not in ("tcp", "udp", "sctp"):
            c.bad("publish", port.protocol, "unknown protocol", "use tcp, udp or sctp")
        if port.host_port is not None and not 1 <= port.host_port <= 65535:
            c.bad(
                "publish",
                port.host_port,
                "not a host port number",
                "give 1 to 65535, or None for any free port",
            )
        elif port.host_port is not None and port.host_port < 1024:
            c.needs(
                OptIn.PRIVILEGED_PORT,
                "publish",
                port.host_port,
                "a host port below 1024",
                "use a host port of 1024 or more",
            )
        try:
            address = ipaddress.ip_address(port.host_ip)
        except ValueError:
            c.bad("publish", port.host_ip, "not an IP address", 'give e.g. "127.0.0.1"')
            continue
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:0.0.0.0 is 0.0.0.0 to the engine
        if address.is_unspecified or (mapped is not None and mapped.is_unspecified):
            c.needs(
                OptIn.PUBLIC_PORT,
                "publish",
                port.host_ip,
                "listens on every host interface",
                'bind to "127.0.0.1"',
            )


def _namespaces(c: Checker, cfg: RunConfig) -> None:
    for field in _NAMESPACE_FIELDS:
        mode = getattr(cfg, field)
        if mode is None:  # private, the default
            continue
        allowed = {None, "host", "private"} if field == "ipc_mode" else {None, "host"}
        if mode not in allowed:
            c.bad(field, mode, "not a supported mode", f"use one of {sorted(map(str, allowed))}")
        elif mode == "host":
            c.needs(
                OptIn.HOST_NAMESPACE,
                field,
                mode,
                "shares a host namespace",
                "leave the namespace private",
            )


def _security_profiles(c: Checker, cfg: RunConfig) -> None:
    seccomp = cfg.seccomp
    if seccomp.kind == "unconfined":
        c.needs(
            OptIn.SECCOMP_UNCONFINED,
            "seccomp",
            "unconfined",
            "no syscall filter",
            'use seccomp("default") or a custom profile',
        )
    elif seccomp.kind == "custom":
        profile = json.loads(seccomp.profile_json) if seccomp.profile_json else None
        errors = profile_problems(profile)
        for error in errors:
            c.bad("seccomp", seccomp.source or "<mapping>", error, "fix the profile")
        if not errors and profile is not None and is_allow_all(profile):
            c.needs(
                OptIn.SECCOMP_UNCONFINED,
                "seccomp",
                seccomp.source or "<mapping>",
                "the profile allows every syscall",
                "deny what the workload does not need",
            )
    elif seccomp.kind != "default":
        c.bad("seccomp", seccomp.kind, "unknown kind", "use default, unconfined or custom")
    if cfg.apparmor == "unconfined":
        c.needs(
            OptIn.APPARMOR_UNCONFINED,
            "apparmor",
            "unconfined",
            "no AppArmor confinement",
            "use the default profile (docker-default) or your own",
        )
    elif cfg.apparmor is not None and not _PROFILE.fullmatch(cfg.apparmor):
        c.bad("apparmor", cfg.apparmor, "not a profile name", 'give e.g. "docker-default"')
    if cfg.runtime is not None and not NAME.fullmatch(cfg.runtime):
        c.bad("runtime", cfg.runtime, "not a runtime name", 'give e.g. "runc" or "runsc"')


def _lifecycle(c: Checker, cfg: RunConfig) -> None:
    if cfg.restart is not None:
        if cfg.restart.name not in _RESTART:
            c.bad(
                "restart",
                cfg.restart.name,
                "unknown restart policy",
                f"use one of {sorted(_RESTART)}",
            )
        if cfg.restart.max_retries < 0:
            c.bad("restart", cfg.restart.max_retries, "negative retries", "give 0 or more")
        elif cfg.restart.max_retries and cfg.restart.name != "on-failure":
            c.bad(
                "restart",
                str(cfg.restart),
                "max_retries applies only to on-failure",
                'use restart("on-failure", max_retries=N)',
            )
        elif cfg.restart.name in ("always", "unless-stopped") or (
            cfg.restart.name == "on-failure" and not 0 < cfg.restart.max_retries <= 5
        ):
            c.needs(OptIn.UNBOUNDED_RESTART, "restart", str(cfg.restart),
                    "restarts without a bound of 5 (CIS 5.15): a crash loop can spin for ever",
                    'use restart("on-failure", max_retries=5) or fewer')  # fmt: skip
    hc = cfg.healthcheck
    if hc is not None:
        kind = hc.test[0] if hc.test else None
        if kind not in ("CMD", "CMD-SHELL") or len(hc.test) < 2:
            c.bad(
                "healthcheck",
                list(hc.test),
                "not a healthcheck test",
                'give an argv such as ["wget", "-q", "localhost"] or a shell string',
            )
        for field, ns in (
            ("interval", hc.interval_ns),
            ("timeout", hc.timeout_ns),
            ("start_period", hc.start_period_ns),
        ):
            if ns < 0 or 0 < ns < _MS:
                c.bad("healthcheck", f"{field}={ns}ns", "below 1 ms", "give at least 0.001 s")
        if hc.retries < 0:
            c.bad("healthcheck", hc.retries, "negative retries", "give 0 or more")
    if cfg.stop_timeout is not None and cfg.stop_timeout < 0:
        c.bad("stop_timeout", cfg.stop_timeout, "negative", "give seconds, 0 or more")
    if cfg.log_limits is not None:
        if cfg.log_limits.max_size < 1024:
            c.bad("log_limits", cfg.log_limits.max_size, "max_size below 1 KiB", 'give e.g. "10m"')
        if cfg.log_limits.max_files < 1:
            c.bad("log_limits", cfg.log_limits.max_files, "max_files below 1", "give e.g. 3")


def _sysctls(c: Checker, cfg: RunConfig) -> None:
    for name, value in cfg.sysctls:
        if name not in SAFE_SYSCTLS:
            c.bad(
                "sysctl",
                name,
                "not a namespaced sysctl known to be safe",
                f"use one of {sorted(SAFE_SYSCTLS)}",
            )
        elif name.startswith("net.") and cfg.network == "host":
            c.bad(
                "sysctl",
                name,
                "a net.* sysctl with the host network would change the host",
                "use a private network",
            )
        if not value or "\n" in value or "\x00" in value:
            c.bad("sysctl", f"{name}={value!r}", "not a single-line value", "give e.g. '1'")


#: The rules of this module, in the order they run.
HOST_RULES: tuple[Callable[[Checker, RunConfig], None], ...] = (
    _mounts,
    _network,
    _namespaces,
    _security_profiles,
    _lifecycle,
    _sysctls,
)

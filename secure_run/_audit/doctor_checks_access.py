"""The doctor's checks of who controls the daemon.

Its socket's permissions and group, TCP listeners, and the running containers that
are privileged or hold its socket.
"""

from __future__ import annotations

import functools
import stat
from collections.abc import Mapping
from typing import Any, Callable

from .._config.hostpaths import SOCKET_PATHS
from .daemon import daemon_socket_paths, mount_exposes_socket
from .daemon_socket import SocketFacts
from .doctor_report import DoctorFinding
from .observed import Observed, daemon_unread

__all__ = [
    "check_privileged",
    "check_socket_group",
    "check_socket_mounts",
    "check_socket_permissions",
    "check_tcp_tls",
]


def _readable_socket(
    o: Observed, found: Callable[..., DoctorFinding]
) -> SocketFacts | DoctorFinding:
    """The daemon's socket on this host, or the finding that says why it cannot be judged."""
    if o.socket is None:
        return found(
            "not_applicable",
            f"the daemon is not local ({o.address}): its socket is not on this host",
        )
    if o.socket.error:
        return found("info", f"{o.socket.path}: {o.socket.error}")
    return o.socket


def check_socket_permissions(o: Observed) -> DoctorFinding:
    """socket-permissions: only root (or the rootless daemon's user) owns the socket."""
    title = "The daemon's socket is not open to every user"
    found = functools.partial(DoctorFinding, "socket-permissions", title)
    sock = _readable_socket(o, found)
    if isinstance(sock, DoctorFinding):
        return sock
    source = f"os.stat {sock.describe()}"
    if not stat.S_ISSOCK(sock.mode):
        source += " (not a socket)"
    if sock.mode & stat.S_IWOTH:
        return found(
            "warn",
            f"{source}: world-writable, so every local user controls the daemon, which "
            "is root on the host",
            f"chmod 660 {sock.path} (and fix whatever made it writable, e.g. a systemd "
            "socket unit's SocketMode)",
        )
    if sock.uid != 0 and not o.facts.rootless:
        return found(
            "warn",
            f"{source}: owned by {sock.owner}, who therefore controls a root daemon",
            f"chown root {sock.path}",
        )
    return found("pass", source)


def check_socket_group(o: Observed) -> DoctorFinding:
    """socket-group-members: nobody but root can use the socket through its group."""
    title = "Only trusted users are in the socket's group (it is root on the host)"
    found = functools.partial(DoctorFinding, "socket-group-members", title)
    sock = _readable_socket(o, found)
    if isinstance(sock, DoctorFinding):
        return sock
    if not sock.mode & stat.S_IWGRP:
        return found(
            "pass",
            f"os.stat {sock.describe()}: the group cannot write to it, so membership "
            "grants nothing",
        )
    nss = "; users from other NSS sources (LDAP, sssd) are not listed"
    if not sock.group_found:
        return found(
            "info",
            f"os.stat {sock.describe()}: gid {sock.gid} has no entry in /etc/group{nss}",
            "check who is in that group in your directory service",
        )
    members = ", ".join(sock.members) or "(none)"
    source = (
        f"os.stat {sock.describe()}; members of {sock.group} in /etc/group and as primary "
        f"group in /etc/passwd: {members}"
    )
    others = [m for m in sock.members if sock.member_uids.get(m, -1) != 0 and m != "root"]
    if others:
        return found(
            "warn",
            f"{source}: {', '.join(others)} can control the daemon, which is root on the host{nss}",
            f"remove users who must not be root from the {sock.group} group "
            f"(gpasswd -d USER {sock.group}), or give them a rootless daemon of their own",
        )
    return found("pass", source + nss)


def check_tcp_tls(o: Observed) -> DoctorFinding:
    """tcp-without-tls: the API is not on TCP without TLS client verification (CIS 2.7)."""
    title = "CIS 2.7: no TCP listener without TLS client verification"
    found = functools.partial(DoctorFinding, "tcp-without-tls", title)
    remedy = (
        "listen on the unix socket only, or add --tlsverify with --tlscacert, --tlscert "
        "and --tlskey (CIS 2.7, OWASP #1)"
    )
    problems = []
    if o.address.startswith(("http://", "tcp://")):
        problems.append(f"this client talks to {o.address} in plain HTTP")
    warned = [" ".join(w.split()[:8]) for w in o.facts.warnings if "API is accessible on" in w]
    problems += [f"docker info Warnings: {w}" for w in warned]
    config = ""
    if o.daemon is not None and o.daemon.known:
        hosts = o.daemon.hosts()
        tcp = [h for h in hosts if h.startswith("tcp://") or h.startswith("http://")]
        verify, _ = o.daemon.setting_bool("tlsverify")
        config = (
            f"; listens on {', '.join(hosts) or 'the default unix socket'}, tlsverify "
            f"{str(bool(verify)).lower()} ({o.daemon.source()})"
        )
        if any(h.startswith("fd://") for h in hosts):
            config += "; fd:// sockets come from systemd (docker.socket), not read here"
        if tcp and not verify:
            problems.append(f"TCP hosts {', '.join(tcp)} without tlsverify")
    elif o.daemon is not None:
        config = f"; {daemon_unread(o)}"
    if problems:
        return found(
            "warn",
            "; ".join(problems) + config + ": anyone who reaches the port controls the daemon",
            remedy,
        )
    return found(
        "pass",
        f"client address {o.address}; docker info has no 'API is accessible' warning{config}",
    )


def _name(container: Mapping[str, Any]) -> str:
    name = str(container.get("Name") or "").lstrip("/")
    return f"{name} ({str(container.get('Id', ''))[:12]})"


def check_privileged(o: Observed) -> DoctorFinding:
    """privileged-containers: no running container is privileged."""
    title = "No running container is privileged"
    found = functools.partial(DoctorFinding, "privileged-containers", title)
    named = [_name(c) for c in o.containers if (c.get("HostConfig") or {}).get("Privileged")]
    source = f"inspect of {len(o.containers)} running container(s): HostConfig.Privileged"
    if named:
        return found(
            "warn",
            f"{source} is true for {', '.join(named)}: each has every capability and every "
            "device, so it is root on the host",
            "recreate them without --privileged, adding only the capabilities and devices "
            "they need (CIS 5.5, OWASP #3)",
        )
    return found("pass", f"{source} is false for all")


def _socket_paths(o: Observed) -> set[str]:
    """The sockets this daemon listens on, beside the engines' default ones."""
    own = daemon_socket_paths(None if o.socket is None else o.socket.path, o.daemon)
    return {*SOCKET_PATHS, *own}


def check_socket_mounts(o: Observed) -> DoctorFinding:
    """socket-mounted-containers: no running container can reach the daemon's socket."""
    title = "No running container has the daemon's socket mounted"
    found = functools.partial(DoctorFinding, "socket-mounted-containers", title)
    paths = _socket_paths(o)
    exposed = []
    for container in o.containers:
        for mount in container.get("Mounts") or ():
            if mount_exposes_socket(mount, paths):
                access = "read-write" if mount.get("RW", True) else "read-only"
                exposed.append(
                    f"{_name(container)}: {mount.get('Source')} -> {mount.get('Destination')} "
                    f"({access})"
                )
    source = (
        f"inspect of {len(o.containers)} running container(s): Mounts whose source is "
        f"{', '.join(sorted(paths))} or a directory holding it, or naming an engine socket"
    )
    if exposed:
        return found(
            "warn",
            f"{source}: {'; '.join(exposed)}. Whoever runs code in them controls the daemon "
            "(read-only does not make the API read-only)",
            "remove the socket mount (CIS 5.32, OWASP #1); if a container must manage "
            "Docker, give it a filtering API proxy or a rootless daemon of its own",
        )
    return found("pass", f"{source}: none")

"""The one daemon locator: which dockerd serves the client, its command line and ``daemon.json``.

The audit (the daemon-wide no-new-privileges default, CIS 5.26) and the doctor (CIS
2.x) both read the daemon through :func:`locate_daemon`, so they judge the same one:
among several ``dockerd`` processes, the one listening on the client's socket; its
``--config-file``, or the default ``daemon.json`` (a rootless daemon's user's own).
It also knows which sockets the daemon listens on, for the socket-mount checks of
both (:func:`mount_exposes_socket`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import docker

from .._config.hostpaths import exposes_socket
from .._engine.client import is_local
from .._engine.errors import base_url

__all__ = [
    "DaemonConfig",
    "daemon_socket_paths",
    "locate_daemon",
    "mount_exposes_socket",
    "parse_bool",
    "passwd_entries",
    "read_daemon_config",
    "read_text",
    "unix_paths",
]

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``, as dockerd reads its flags and security options.

    Returns:
        ``True`` or ``False``; ``None`` for anything else.
    """
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


@attrs.frozen(kw_only=True)
class DaemonConfig:
    """The daemon's own configuration: its command line and its ``daemon.json``.

    Attributes:
        pid: The dockerd process read, or ``None`` when none was found.
        argv: Its command line.
        config_path: The ``daemon.json`` read (``--config-file``, else the default).
        config: Its content; empty when the file is missing (defaults apply).
        config_found: Whether the file exists.
        problem: Why the command line or the file could not be read, or ``""``.
    """

    pid: int | None = None
    argv: tuple[str, ...] = ()
    config_path: str = ""
    config: Mapping[str, Any] = attrs.field(factory=dict)
    config_found: bool = False
    problem: str = ""

    @property
    def known(self) -> bool:
        """Both the command line and ``daemon.json`` (or its absence) were read."""
        return self.pid is not None and not self.problem

    def source(self) -> str:
        """Where the settings were read, for evidence."""
        if not self.known:
            return f"the daemon's configuration was not read ({self.problem})"
        file = self.config_path if self.config_found else f"{self.config_path} (no such file)"
        return f"/proc/{self.pid}/cmdline ({' '.join(self.argv)!r}) and {file}"

    def flag_values(self, long: str, short: str | None = None) -> tuple[str, ...]:
        """Every value given to ``--long`` (or ``-short``) on the command line."""
        values: list[str] = []
        args = list(self.argv[1:])
        i = 0
        while i < len(args):
            arg = args[i]
            names = [f"--{long}"] + ([f"-{short}"] if short else [])
            for name in names:
                if arg == name and i + 1 < len(args):
                    values.append(args[i + 1])
                    i += 1
                    break
                if arg.startswith(name + "="):
                    values.append(arg[len(name) + 1 :])
                    break
                if short and name == f"-{short}" and arg.startswith(name) and len(arg) > 2:
                    values.append(arg[2:])
                    break
            i += 1
        return tuple(values)

    def flag_bool(self, long: str) -> bool | None:
        """A boolean flag: ``--long`` is true, ``--long=false`` false, absent ``None``."""
        found: bool | None = None
        for arg in self.argv[1:]:
            if arg == f"--{long}":
                found = True
            elif arg.startswith(f"--{long}="):
                found = parse_bool(arg.split("=", 1)[1])
        return found

    def setting_bool(self, key: str) -> tuple[bool | None, str]:
        """``key`` from the command line (``--key``), else ``daemon.json``, and where.

        Returns:
            The value (``None`` when set in neither) and a phrase naming its source.
        """
        value = self.flag_bool(key)
        if value is not None:
            return value, f"--{key}={str(value).lower()} on the command line"
        if key in self.config:
            raw = self.config[key]
            parsed = raw if isinstance(raw, bool) else parse_bool(str(raw))
            return parsed, f'"{key}": {json.dumps(raw)} in {self.config_path}'
        return None, f"{key} is set neither on the command line nor in daemon.json"

    def hosts(self) -> tuple[str, ...]:
        """The addresses the daemon listens on (``-H``, else ``hosts`` in daemon.json)."""
        given = self.flag_values("host", "H")
        if given:
            return given
        configured = self.config.get("hosts")
        if isinstance(configured, list):
            return tuple(str(h) for h in configured)
        return ()


def read_text(path: Path) -> str | None:
    """The text of a host file, or ``None`` when it cannot be read."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def passwd_entries(etc_root: str) -> list[list[str]]:
    """The entries of ``/etc/passwd`` under ``etc_root``, split at ``:``."""
    text = read_text(Path(etc_root) / "passwd") or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _dockerd_pids(proc_root: str) -> list[int]:
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return []
    pids = []
    for entry in entries:
        if entry.isdigit() and (read_text(Path(proc_root, entry, "comm")) or "").strip() == (
            "dockerd"
        ):
            pids.append(int(entry))
    return sorted(pids)


def _argv(proc_root: str, pid: int) -> tuple[str, ...] | None:
    try:
        raw = Path(proc_root, str(pid), "cmdline").read_bytes()
    except OSError:
        return None
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _on_host(path: str, etc_root: str) -> Path:
    """A host path, with ``/etc/`` standing for ``etc_root``."""
    if path.startswith("/etc/"):
        return Path(etc_root) / path[len("/etc/") :]
    return Path(path)


def unix_paths(hosts: Iterable[str]) -> set[str]:
    """The socket paths among daemon addresses (``unix://``; ``fd://`` is systemd's)."""
    paths = set()
    for host in hosts:
        if host.startswith("unix://"):
            paths.add(host[len("unix://") :])
        elif host.startswith("fd://"):  # systemd's docker.socket: /run/docker.sock
            paths.add("/run/docker.sock")
    return paths


def _same_socket(a: str, b: str) -> bool:
    def norm(p: str) -> str:
        return "/run/" + p[len("/var/run/") :] if p.startswith("/var/run/") else p

    return norm(a) == norm(b) or os.path.realpath(a) == os.path.realpath(b)


def read_daemon_config(
    proc_root: str = "/proc",
    etc_root: str = "/etc",
    *,
    socket_path: str | None = None,
    rootless: bool = False,
) -> DaemonConfig:
    """Find the dockerd process and read its command line and ``daemon.json``.

    The process is the one in ``proc_root`` whose ``comm`` is ``dockerd``; with
    several, the one listening on ``socket_path``. ``daemon.json`` is the file its
    ``--config-file`` names, else ``/etc/docker/daemon.json`` (for a rootless daemon,
    ``~/.config/docker/daemon.json`` of its user). A missing file means defaults.

    Args:
        proc_root: Where the host's ``/proc`` is.
        etc_root: Where the host's ``/etc`` is; paths under ``/etc/`` that the
            command line names are read under it too.
        socket_path: The socket the client uses, to choose among several daemons.
        rootless: Whether the daemon is rootless (``docker info``).

    Returns:
        The configuration; ``problem`` says what could not be read.
    """
    pids = _dockerd_pids(proc_root)
    if not pids:
        return DaemonConfig(
            problem=f"no dockerd process in {proc_root}: the daemon runs in another PID "
            "namespace, a VM or a container"
        )
    candidates = {pid: _argv(proc_root, pid) for pid in pids}
    if len(pids) > 1 and socket_path is not None:
        pids = [p for p in pids if _listens_on(candidates[p] or (), socket_path)] or pids
    if len(pids) > 1:
        return DaemonConfig(
            problem=f"{len(pids)} dockerd processes ({', '.join(map(str, pids))}) and none "
            f"alone listens on {socket_path}"
        )
    pid = pids[0]
    argv = candidates[pid]
    if argv is None:
        return DaemonConfig(pid=pid, problem=f"cannot read {proc_root}/{pid}/cmdline")
    named = DaemonConfig(argv=argv).flag_values("config-file")
    if named:
        path = _on_host(named[-1], etc_root)
    elif rootless:
        path = _rootless_config(proc_root, etc_root, pid)
    else:
        path = Path(etc_root) / "docker" / "daemon.json"
    return _with_config_file(DaemonConfig(pid=pid, argv=argv), path, named[-1] if named else "")


def _listens_on(argv: tuple[str, ...], socket_path: str) -> bool:
    """Whether the dockerd of this command line listens on ``socket_path``."""
    hosts = DaemonConfig(argv=argv).hosts() or ("unix:///var/run/docker.sock",)
    return any(_same_socket(p, socket_path) for p in unix_paths(hosts))


def _with_config_file(daemon: DaemonConfig, path: Path, named: str) -> DaemonConfig:
    """``daemon`` with its ``daemon.json`` read from ``path`` (shown as ``named`` if given)."""
    shown = named or str(path)
    daemon = attrs.evolve(daemon, config_path=shown)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return daemon
    except OSError as exc:
        return attrs.evolve(daemon, problem=f"cannot read {shown}: {exc.strerror}")
    try:
        config = json.loads(text)
    except ValueError as exc:
        return attrs.evolve(daemon, problem=f"{shown} is not valid JSON: {exc}")
    if not isinstance(config, dict):
        return attrs.evolve(daemon, problem=f"{shown} is not a JSON object")
    return attrs.evolve(daemon, config=config, config_found=True)


def _rootless_config(proc_root: str, etc_root: str, pid: int) -> Path:
    """``~/.config/docker/daemon.json`` of the user the rootless dockerd runs as."""
    status = read_text(Path(proc_root, str(pid), "status")) or ""
    match = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
    if match:
        for entry in passwd_entries(etc_root):
            if len(entry) > 5 and entry[2] == match.group(1):
                return Path(entry[5]) / ".config" / "docker" / "daemon.json"
    return Path(etc_root) / "docker" / "daemon.json"


def locate_daemon(
    client: docker.DockerClient,
    *,
    rootless: bool,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> DaemonConfig | None:
    """The daemon that serves ``client``, read on this host; ``None`` when it is not local.

    A daemon is local when the client talks to it over a unix socket
    (:func:`secure_run._engine.client.is_local`); then :func:`read_daemon_config`
    finds the dockerd listening on that socket.

    Args:
        client: The engine's client.
        rootless: Whether the daemon is rootless (``name=rootless`` in ``docker info``
            ``SecurityOptions``), which moves its ``daemon.json``.
        proc_root: Where the host's ``/proc`` is.
        etc_root: Where the host's ``/etc`` is.
    """
    if not is_local(client):
        return None
    socket_path = base_url(client)[len("unix://") :]
    return read_daemon_config(proc_root, etc_root, socket_path=socket_path, rootless=rootless)


def daemon_socket_paths(socket_path: str | None, daemon: DaemonConfig | None) -> tuple[str, ...]:
    """The sockets a local daemon listens on: the client's and its ``-H unix://`` hosts.

    Args:
        socket_path: The socket the client talks to; ``None`` when not local.
        daemon: The daemon's configuration, if read.

    Returns:
        The paths, sorted; the engines' default sockets are known apart
        (:data:`secure_run._config.hostpaths.SOCKET_PATHS`).
    """
    paths = set() if socket_path is None else {socket_path}
    if daemon is not None:
        paths |= unix_paths(daemon.hosts())
    return tuple(sorted(paths))


def mount_exposes_socket(mount: Mapping[str, Any], socket_paths: Iterable[str] = ()) -> bool:
    """Whether an inspect record's mount reaches an engine socket (CIS 5.32).

    The one test of the audit and the doctor: either path names an engine socket, or a
    bind mount's source is a known socket, one the daemon listens on
    (``socket_paths``), or a folder above one. A mount without ``Type`` counts as a
    bind mount, the cautious reading.
    """
    source = str(mount.get("Source") or "")
    target = str(mount.get("Destination") or "")
    bind = mount.get("Type", "bind") == "bind"
    return exposes_socket(source, target, bind=bind, socket_paths=socket_paths)

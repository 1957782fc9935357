"""The daemon half of hardening: :func:`doctor` checks the engine, its host and its users.

secure_run hardens each container; the containers rest on the daemon and its host,
which it does not control. :func:`doctor` reads what can be read of them and returns
a :class:`DoctorReport` of findings, each with an id, a status, the evidence (what
was read, and where) and a remedy:

==============================  ============================================================
Id                              Rule (warn when ...)
==============================  ============================================================
``engine-version``              the engine's release line is unmaintained upstream
                                (:data:`ENGINE_LINES`); info when it is unknown or near its end
``api-version``                 the engine speaks no API version a maintained line speaks
``kernel``                      the kernel is older than 4.10; info below 5.10
``2.2-icc``                     the default bridge lets containers talk to each other
``2.9-userns-remap``            the daemon neither remaps users nor runs rootless
``2.14-no-new-privileges``      the daemon does not set no-new-privileges for every container
``2.15-live-restore``           live restore is off (not applicable in swarm mode)
``2.17-seccomp``                no seccomp, or the daemon's default profile is ``unconfined``
``apparmor-selinux``            the engine applies neither AppArmor nor SELinux
``rootless``                    info: the daemon runs as root
``cgroup``                      no cgroup manager (driver ``none``); info on cgroup v1
``swap-limit``                  the engine cannot limit swap (``SwapLimit`` false)
``insecure-registries``         a registry beyond loopback is reached without TLS checks
``experimental``                experimental features are on (CIS 2.18)
``logging-driver``              ``json-file`` without ``max-size``; info: logs stay local (2.13)
``socket-permissions``          the socket is world-writable, or owned by a user other than
                                root (or the rootless daemon's user)
``socket-group-members``        a user other than root is in the socket's group
``tcp-without-tls``             the API listens on TCP without TLS client verification (2.7)
``privileged-containers``       a running container is privileged
``socket-mounted-containers``   a running container has the daemon's socket mounted
==============================  ============================================================

The ``2.x`` ids are the CIS Docker Benchmark v1.6 section 2 checks, numbered as in
docker-bench-security. Each rule is a pure function of an :class:`Observed` record,
which :func:`doctor` fills from ``docker info``, ``docker version``, the default bridge
network and the running containers, plus, when the daemon is local, the daemon's
command line (``/proc/<pid>/cmdline``), its ``daemon.json``, the socket's ``stat``
and ``/etc/group`` and ``/etc/passwd``.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

import attrs
import docker
import docker.errors

from .._config.hostpaths import SOCKET_PATHS, exposes_socket
from .._engine.client import connect
from .._engine.errors import base_url, translated
from .._engine.facts import EngineFacts, _older, engine_facts
from .._report import STATUSES, JsonReport, Status, cut, table, to_status

__all__ = [
    "ENGINE_LINES",
    "ENGINE_LINES_REVIEWED",
    "KERNEL_MINIMUM",
    "KERNEL_NO_NEW_PRIVS",
    "KERNEL_OLDEST_LONGTERM",
    "RULES",
    "STATUSES",
    "DaemonConfig",
    "DoctorFinding",
    "DoctorReport",
    "EngineLine",
    "Observed",
    "SocketFacts",
    "diagnose",
    "doctor",
    "observe",
    "read_daemon_config",
    "read_socket",
]



# -- findings and the report ---------------------------------------------------------


@attrs.frozen
class DoctorFinding:
    """One check of the daemon or its host, with the evidence it rests on.

    Attributes:
        id: The check, e.g. ``"engine-version"`` or ``"2.2-icc"`` (CIS 2.2).
        title: What the check wants, in words.
        status: ``"pass"``, ``"warn"``, ``"info"``, ``"note"`` or ``"not_applicable"``.
        evidence: What was read, where, and why that gives this status.
        remedy: What to do about it; empty when there is nothing to do.

    .. versionadded:: 0.1
    """

    id: str
    title: str
    status: Status = attrs.field(converter=to_status)
    evidence: str
    remedy: str = ""

    def __str__(self) -> str:
        text = f"[{self.status}] {self.id}: {self.title}: {self.evidence}"
        return f"{text}; remedy: {self.remedy}" if self.remedy else text


_TITLE_CELL = 48
_EVIDENCE_CELL = 90


@attrs.frozen
class DoctorReport(JsonReport):
    """The outcome of :func:`doctor`: one finding per check, in a fixed order.

    Attributes:
        findings: Versions first, then the daemon's settings, who controls the
            daemon, and the running containers.

    .. versionadded:: 0.1
    """

    findings: tuple[DoctorFinding, ...]

    @property
    def ok(self) -> bool:
        """No finding warns (info, note and not_applicable do not count)."""
        return not self.failures

    @property
    def failures(self) -> tuple[DoctorFinding, ...]:
        """The findings that warn, in report order."""
        return tuple(f for f in self.findings if f.status == "warn")

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "ok": self.ok,
            "findings": [attrs.asdict(finding) for finding in self.findings],
        }

    def __str__(self) -> str:
        warned = len(self.failures)
        head = "doctor: " + (
            f"{warned} of {len(self.findings)} checks warn"
            if warned
            else f"no warnings in {len(self.findings)} checks"
        )
        rows = [
            (f.status, f.id, cut(f.title, _TITLE_CELL), cut(f.evidence, _EVIDENCE_CELL))
            for f in self.findings
        ]
        lines = [head, *table(("status", "id", "title", "evidence"), rows)]
        if self.failures:
            lines.append("remedies:")
            lines += [f"  - {f.id}: {f.remedy}" for f in self.failures]
        return "\n".join(lines)


# -- the release table -----------------------------------------------------------------


@attrs.frozen
class EngineLine:
    """One Docker Engine release line and its upstream maintenance status.

    Attributes:
        major: The major version; 20 stands for 20.10, the last year-month line.
        name: The line as upstream names it (``"20.10"``, ``"29.x"``).
        api: The newest Engine API version the line speaks.
        maintained: Whether upstream still maintains the line (security fixes).
        end_of_life: When maintenance ended, or is expected to end; ``None`` when
            no date is published.
        note: Who maintains it, or what is known of its end.

    .. versionadded:: 0.1
    """

    major: int
    name: str
    api: str
    maintained: bool
    end_of_life: datetime.date | None
    note: str = ""


#: The day :data:`ENGINE_LINES` was last checked against upstream.
ENGINE_LINES_REVIEWED = datetime.date(2026, 11, 22)

# Reviewed 2026-11-22 against moby/moby project/BRANCHES-AND-TAGS.md (the maintainers'
# own table: 29.x and 28.x "Maintained", 25.0 "Maintained" with an expected end of
# 2026-12-04, 27.x, 26.1, 26.0, 24.0, 23.0 and everything older "Unmaintained") and,
# for the dates of past ends, endoflife.date/docker-engine (20.10: 2023-12-10,
# 24.0: 2024-06-08, 26.1: 2025-02-17, 23.0: 2025-05-19). Review it again when a new
# major version is released: a line newer than the table reads as "info".
#: The Docker Engine release lines, newest first (see the comment above for sources).
ENGINE_LINES: tuple[EngineLine, ...] = (
    EngineLine(29, "29.x", "1.52", True, None, "maintained by the Moby project until after 30.x"),
    EngineLine(28, "28.x", "1.51", True, None, "maintained for Microsoft's builds; end TBD"),
    EngineLine(27, "27.x", "1.47", False, None, "unmaintained; no end date was published"),
    EngineLine(26, "26.1", "1.45", False, datetime.date(2025, 2, 17)),
    EngineLine(
        25,
        "25.0",
        "1.44",
        True,
        datetime.date(2026, 12, 4),
        "maintained for Amazon Linux 2023 and Mirantis MCR only; Docker's own "
        "packages of 25.0 get no updates",
    ),
    EngineLine(24, "24.0", "1.43", False, datetime.date(2024, 6, 8)),
    EngineLine(23, "23.0", "1.42", False, datetime.date(2025, 5, 19)),
    EngineLine(20, "20.10", "1.41", False, datetime.date(2023, 12, 10)),
)

#: A maintained line whose end is this close reads as "info", not "pass".
_END_SOON = datetime.timedelta(days=90)

# Kernel thresholds. Docker's own minimum is 3.10 (moby checks it at start); 4.10 is
# the first kernel to show NoNewPrivs in /proc/<pid>/status (proc(5)), so older ones
# cannot prove no-new-privileges, and every 4.x LTS before 4.19 ended years ago; 5.10
# is the oldest longterm kernel kernel.org still maintains at the review date above.
KERNEL_MINIMUM = (3, 10)
KERNEL_NO_NEW_PRIVS = (4, 10)
KERNEL_OLDEST_LONGTERM = (5, 10)


# -- what doctor reads -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SocketFacts:
    """The daemon's unix socket on this host, and who can use it.

    Attributes:
        path: The socket's path, from the client's address.
        uid: The owner's user id.
        gid: The group id.
        mode: ``st_mode`` (file type and permission bits).
        owner: The owner's name from ``/etc/passwd``, or the uid as text.
        group: The group's name from ``/etc/group``, or the gid as text.
        members: The users in that group: its member list in ``/etc/group`` and the
            users whose primary group it is in ``/etc/passwd``, sorted.
        member_uids: The uid of each member named in ``/etc/passwd``.
        group_found: Whether ``/etc/group`` has an entry for the gid.
        error: Why the socket could not be read, or ``""``.
    """

    path: str
    uid: int = -1
    gid: int = -1
    mode: int = 0
    owner: str = ""
    group: str = ""
    members: tuple[str, ...] = ()
    member_uids: Mapping[str, int] = attrs.field(factory=dict)
    group_found: bool = False
    error: str = ""

    def describe(self) -> str:
        """``/var/run/docker.sock: owner root (uid 0), group docker (gid 105), mode 0660``."""
        return (
            f"{self.path}: owner {self.owner} (uid {self.uid}), group {self.group} "
            f"(gid {self.gid}), mode {stat.S_IMODE(self.mode):04o} ({stat.filemode(self.mode)})"
        )


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
                found = _parse_bool(arg.split("=", 1)[1])
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
            parsed = raw if isinstance(raw, bool) else _parse_bool(str(raw))
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


def _parse_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``, as dockerd reads flags; ``None`` for anything else."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


@attrs.frozen(kw_only=True)
class Observed:
    """Everything the doctor's rules read, gathered once by :func:`observe`.

    Attributes:
        facts: The engine's facts (:func:`secure_run.engine_facts`).
        info: ``docker info``.
        address: The client's address (``unix:///var/run/docker.sock``).
        bridge: ``inspect`` of the default ``bridge`` network, ``None`` if it has none.
        containers: ``inspect`` of each running container.
        daemon: The daemon's command line and ``daemon.json``; ``None`` when the
            daemon is not local.
        socket: The daemon's socket on this host; ``None`` when not local.
        today: The date versions are judged on.
    """

    facts: EngineFacts
    info: Mapping[str, Any]
    address: str
    bridge: Mapping[str, Any] | None = None
    containers: tuple[Mapping[str, Any], ...] = ()
    daemon: DaemonConfig | None = None
    socket: SocketFacts | None = None
    today: datetime.date = attrs.field(factory=datetime.date.today)


# -- reading the host ------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _passwd(etc_root: str) -> list[list[str]]:
    text = _read_text(Path(etc_root) / "passwd") or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _groups(etc_root: str) -> list[list[str]]:
    text = _read_text(Path(etc_root) / "group") or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _user_name(etc_root: str, uid: int) -> str:
    for entry in _passwd(etc_root):
        if len(entry) > 2 and entry[2] == str(uid):
            return entry[0]
    return str(uid)


def read_socket(path: str, etc_root: str = "/etc") -> SocketFacts:
    """``stat`` the daemon's socket and list the members of its group.

    Args:
        path: The socket's path.
        etc_root: Where the host's ``/etc`` is (``group`` and ``passwd`` are read).

    Returns:
        The socket's facts; ``error`` says why it could not be read.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        return SocketFacts(path=path, error=f"os.stat failed: {exc.strerror or exc}")
    group = str(st.st_gid)
    found = False
    members: set[str] = set()
    for entry in _groups(etc_root):
        if len(entry) > 2 and entry[2] == str(st.st_gid):
            group, found = entry[0], True
            if len(entry) > 3:
                members.update(m for m in entry[3].split(",") if m)
    uids: dict[str, int] = {}
    for entry in _passwd(etc_root):
        if len(entry) > 3 and entry[2].isdigit():
            uids[entry[0]] = int(entry[2])
            if entry[3] == str(st.st_gid):
                members.add(entry[0])
    return SocketFacts(
        path=path,
        uid=st.st_uid,
        gid=st.st_gid,
        mode=st.st_mode,
        owner=_user_name(etc_root, st.st_uid),
        group=group,
        members=tuple(sorted(members)),
        member_uids={m: uids[m] for m in members if m in uids},
        group_found=found,
    )


def _dockerd_pids(proc_root: str) -> list[int]:
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return []
    pids = []
    for entry in entries:
        if entry.isdigit() and (_read_text(Path(proc_root, entry, "comm")) or "").strip() == (
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


def _unix_paths(hosts: Iterable[str]) -> set[str]:
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
        matching = []
        for pid, argv in candidates.items():
            hosts = DaemonConfig(argv=argv or ()).hosts() or ("unix:///var/run/docker.sock",)
            if any(_same_socket(p, socket_path) for p in _unix_paths(hosts)):
                matching.append(pid)
        pids = matching or pids
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
    shown = named[-1] if named else str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return DaemonConfig(pid=pid, argv=argv, config_path=shown)
    except OSError as exc:
        return DaemonConfig(
            pid=pid, argv=argv, config_path=shown, problem=f"cannot read {shown}: {exc.strerror}"
        )
    try:
        config = json.loads(text)
    except ValueError as exc:
        return DaemonConfig(
            pid=pid, argv=argv, config_path=shown, problem=f"{shown} is not valid JSON: {exc}"
        )
    if not isinstance(config, dict):
        return DaemonConfig(
            pid=pid, argv=argv, config_path=shown, problem=f"{shown} is not a JSON object"
        )
    return DaemonConfig(pid=pid, argv=argv, config_path=shown, config=config, config_found=True)


def _rootless_config(proc_root: str, etc_root: str, pid: int) -> Path:
    """``~/.config/docker/daemon.json`` of the user the rootless dockerd runs as."""
    status = _read_text(Path(proc_root, str(pid), "status")) or ""
    match = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
    if match:
        for entry in _passwd(etc_root):
            if len(entry) > 5 and entry[2] == match.group(1):
                return Path(entry[5]) / ".config" / "docker" / "daemon.json"
    return Path(etc_root) / "docker" / "daemon.json"


def observe(
    client: docker.DockerClient | None = None,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> Observed:
    """Gather what :func:`diagnose` reads: the engine's answers and the host's files.

    Args:
        client: The engine's client; ``None`` connects as ``docker.from_env()`` does.
        proc_root: Where the host's ``/proc`` is.
        etc_root: Where the host's ``/etc`` is.

    Returns:
        The observations.

    Raises:
        DaemonUnavailable: No engine answers.
        RunTimeout: The engine did not answer in time.
        LaunchError: The engine refused a request.
    """
    client = connect(client)
    facts = engine_facts(client)
    with translated("read the engine's info", client=client):
        info = client.info()
    with translated("inspect the default bridge network", client=client):
        try:
            bridge: Mapping[str, Any] | None = client.api.inspect_network("bridge")
        except docker.errors.NotFound:
            bridge = None
    with translated("list the running containers", client=client):
        listed = client.api.containers()
    containers = []
    for entry in listed:
        with translated(f"inspect the container {entry['Id'][:12]}", client=client):
            try:
                containers.append(client.api.inspect_container(entry["Id"]))
            except docker.errors.NotFound:
                continue  # it stopped and was removed between the listing and now
    address = base_url(client)
    daemon = socket = None
    if facts.local:
        path = address[len("unix://") :]
        socket = read_socket(path, etc_root)
        daemon = read_daemon_config(proc_root, etc_root, socket_path=path, rootless=facts.rootless)
    return Observed(
        facts=facts,
        info=info,
        address=address,
        bridge=bridge,
        containers=tuple(containers),
        daemon=daemon,
        socket=socket,
    )


# -- the rules ----------------------------------------------------------------------------

_Rule = Callable[[Observed], DoctorFinding]


def _major_minor(text: str) -> tuple[int, int] | None:
    match = re.match(r"\s*v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _line_for(major: int) -> EngineLine | None:
    return next((line for line in ENGINE_LINES if line.major == major), None)


def _maintained_lines(today: datetime.date) -> list[EngineLine]:
    return [
        line
        for line in ENGINE_LINES
        if line.maintained and (line.end_of_life is None or line.end_of_life > today)
    ]


def _upgrade_to(today: datetime.date) -> str:
    names = [line.name for line in _maintained_lines(today)]
    return (
        f"upgrade the engine to a maintained release line ({' or '.join(names[:2])} on "
        f"{ENGINE_LINES_REVIEWED}); see moby/moby project/BRANCHES-AND-TAGS.md"
    )


def _check_engine_version(o: Observed) -> DoctorFinding:
    """engine-version: the engine's release line against :data:`ENGINE_LINES`."""
    title = "The engine is a release upstream still maintains"
    found = functools.partial(DoctorFinding, "engine-version", title)
    version = o.facts.server_version
    parsed = _major_minor(version)
    source = (
        f"Docker Engine {version or '(no version reported)'} (docker version); release "
        f"table reviewed {ENGINE_LINES_REVIEWED} (moby/moby project/BRANCHES-AND-TAGS.md)"
    )
    if "+dfsg" in version or "~" in version:
        source += (
            "; this is a distribution's build, which may carry the distribution's own "
            "backported fixes, but upstream no longer fixes the line"
        )
    if parsed is None:
        return found("info", f"{source}: not a version")
    major = parsed[0]
    line = _line_for(major)
    newest, oldest = ENGINE_LINES[0], ENGINE_LINES[-1]
    if line is None and major > newest.major:
        return found(
            "info",
            f"{source}: newer than every line in the table (newest: {newest.name}); "
            "check upstream's status of this line",
        )
    if line is None and major < oldest.major:
        return found(
            "warn",
            f"{source}: older than {oldest.name}, itself end-of-life since "
            f"{oldest.end_of_life}: no security fixes",
            _upgrade_to(o.today),
        )
    if line is None:
        return found("info", f"{source}: no such release line is known")
    end = line.end_of_life
    note = f" ({line.note})" if line.note else ""
    if not line.maintained or (end is not None and end <= o.today):
        since = f"since {end}" if end is not None else "(no end date published)"
        return found(
            "warn",
            f"{source}: the {line.name} line is end-of-life {since}{note}: no security fixes",
            _upgrade_to(o.today),
        )
    if end is not None and end - o.today <= _END_SOON:
        return found(
            "info",
            f"{source}: the {line.name} line is maintained until {end}, "
            f"{(end - o.today).days} days from {o.today}{note}",
            "plan the upgrade: " + _upgrade_to(o.today),
        )
    until = f" until {end}" if end is not None else ""
    return found(
        "pass",
        f"{source}: the {line.name} line is maintained{until}{note}",
    )


def _check_api_version(o: Observed) -> DoctorFinding:
    """api-version: the engine's newest API against those maintained lines speak."""
    title = "The engine speaks an API version a maintained release speaks"
    found = functools.partial(DoctorFinding, "api-version", title)
    newest = o.facts.max_api_version
    top = ENGINE_LINES[0]
    maintained = _maintained_lines(o.today) or [top]
    floor = min(maintained, key=lambda line: tuple(map(int, line.api.split("."))))
    source = (
        f"engine API {newest or '(not reported)'} (oldest accepted "
        f"{o.facts.min_api_version or '?'}, docker version); the client speaks "
        f"{o.facts.api_version}; the oldest maintained line, {floor.name}, speaks {floor.api}"
    )
    if not newest or _major_minor(newest) is None:
        return found("info", f"{source}: not a version")
    if _older(top.api, newest):
        return found(
            "info",
            f"{source}: newer than every API in the table (newest: {top.api}, {top.name})",
        )
    if _older(newest, floor.api):
        return found(
            "warn",
            f"{source}: API {newest} is spoken only by end-of-life engines",
            _upgrade_to(o.today),
        )
    return found("pass", source)


def _check_kernel(o: Observed) -> DoctorFinding:
    """kernel: the host kernel against Docker's minimum and the longterm kernels."""
    title = "The host kernel is recent enough"
    found = functools.partial(DoctorFinding, "kernel", title)
    version = o.facts.kernel_version
    parsed = _major_minor(version)
    source = f"kernel {version or '(not reported)'} (docker info KernelVersion)"
    patch = (
        "; the patch level is not judged: keep the kernel updated from your distribution "
        "(every container shares it, OWASP #0)"
    )
    if parsed is None:
        return found("info", f"{source}: not a version")
    shown = ".".join(map(str, parsed))
    if parsed < KERNEL_MINIMUM:
        return found(
            "warn",
            f"{source}: {shown} is below Docker's minimum, 3.10",
            "upgrade the host kernel",
        )
    if parsed < KERNEL_NO_NEW_PRIVS:
        return found(
            "warn",
            f"{source}: {shown} is older than 4.10, which first shows NoNewPrivs in "
            "/proc/<pid>/status (no-new-privileges cannot be verified), and than every "
            "maintained longterm kernel",
            "upgrade the host kernel",
        )
    if parsed < KERNEL_OLDEST_LONGTERM:
        return found(
            "info",
            f"{source}: {shown} is older than 5.10, the oldest longterm kernel kernel.org "
            f"maintained on {ENGINE_LINES_REVIEWED}; it is safe only if your distribution "
            "maintains it (as RHEL 8 does 4.18)" + patch,
            "check that the distribution still ships fixes for this kernel",
        )
    return found("pass", f"{source}: at least 5.10{patch}")


def _daemon_unread(o: Observed) -> str:
    if o.daemon is None:
        return f"the daemon is not local ({o.address}), so its configuration cannot be read"
    return o.daemon.source()


def _check_icc(o: Observed) -> DoctorFinding:
    """2.2-icc: containers on the default bridge cannot talk to each other."""
    title = "CIS 2.2: no traffic between containers on the default bridge (icc off)"
    found = functools.partial(DoctorFinding, "2.2-icc", title)
    remedy = (
        '"icc": false in daemon.json (CIS 2.2, OWASP #5), and user-defined networks for '
        "containers that must talk; secure_run's presets use no network at all"
    )
    if o.daemon is not None and o.daemon.known:
        _, where = o.daemon.setting_bool("icc")
        config = f"; {where} ({o.daemon.source()})"
    else:
        config = f"; {_daemon_unread(o)}"
    if o.bridge is None:
        return found(
            "not_applicable",
            "the engine has no default bridge network (docker network inspect bridge: "
            f"not found){config}",
        )
    options = o.bridge.get("Options") or {}
    icc = str(options.get("com.docker.network.bridge.enable_icc", "true")).lower()
    source = f"docker network inspect bridge: com.docker.network.bridge.enable_icc={icc}"
    if icc == "false":
        return found("pass", source + config)
    return found(
        "warn",
        f"{source}: containers on the default bridge reach each other{config}",
        remedy,
    )


def _security_names(o: Observed) -> str:
    options = o.facts.security_options
    return f"docker info SecurityOptions: {', '.join(options) if options else '(none)'}"


def _check_userns(o: Observed) -> DoctorFinding:
    """2.9-userns-remap: container root is not host root."""
    title = "CIS 2.9: container users are remapped (userns-remap)"
    found = functools.partial(DoctorFinding, "2.9-userns-remap", title)
    source = _security_names(o)
    config = ""
    if o.daemon is not None and o.daemon.known:
        remap = o.daemon.flag_values("userns-remap")
        if not remap and "userns-remap" in o.daemon.config:
            remap = (str(o.daemon.config["userns-remap"]),)
        setting = f"userns-remap={remap[-1]!r}" if remap else "userns-remap is not set"
        config = f"; {setting} ({o.daemon.source()})"
    if o.facts.userns:
        return found("pass", f"{source}: name=userns{config}")
    if o.facts.rootless:
        return found(
            "pass",
            f"{source}: rootless, so the whole daemon runs in a user namespace "
            f"(docker-bench-security would warn: it reads only the userns-remap setting){config}",
        )
    return found(
        "warn",
        f"{source}: no name=userns, so root in a container is root on the host{config}",
        '"userns-remap": "default" in daemon.json (CIS 2.9, OWASP #2; it changes the '
        "owner of images and volumes, so plan the switch), or run the daemon rootless",
    )


def _check_no_new_privileges(o: Observed) -> DoctorFinding:
    """2.14-no-new-privileges: the daemon sets no-new-privileges for every container."""
    title = "CIS 2.14: no-new-privileges is the daemon's default"
    found = functools.partial(DoctorFinding, "2.14-no-new-privileges", title)
    remedy = (
        '"no-new-privileges": true in daemon.json (CIS 2.14, OWASP #4); secure_run sets '
        "it on every container it launches regardless"
    )
    if o.daemon is None or not o.daemon.known:
        return found(
            "info",
            f"cannot tell: {_daemon_unread(o)}, and docker info does not report it",
            'make sure daemon.json has "no-new-privileges": true',
        )
    value, where = o.daemon.setting_bool("no-new-privileges")
    source = f"{where} ({o.daemon.source()})"
    if value:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: containers started without the option can gain privileges "
        "through setuid binaries",
        remedy,
    )


def _check_live_restore(o: Observed) -> DoctorFinding:
    """2.15-live-restore: containers keep running while the daemon restarts."""
    title = "CIS 2.15: live restore is enabled"
    found = functools.partial(DoctorFinding, "2.15-live-restore", title)
    enabled = bool(o.info.get("LiveRestoreEnabled"))
    swarm = (o.info.get("Swarm") or {}).get("LocalNodeState", "")
    source = f"docker info LiveRestoreEnabled: {str(enabled).lower()}, Swarm: {swarm or '?'}"
    if enabled:
        return found("pass", source)
    if swarm == "active":
        return found(
            "not_applicable",
            f"{source}: live restore cannot be used in swarm mode",
        )
    return found(
        "warn",
        f"{source}: restarting the daemon (to patch it) stops every container",
        '"live-restore": true in daemon.json (CIS 2.15), then reload the daemon (SIGHUP)',
    )


def _seccomp_profile(options: Sequence[str]) -> str | None:
    """The profile of ``name=seccomp,profile=default``; ``None`` when seccomp is absent."""
    for option in options:
        parts = dict(p.partition("=")[::2] for p in option.split(","))
        if parts.get("name") == "seccomp":
            return parts.get("profile", "default")
    return None


def _check_seccomp(o: Observed) -> DoctorFinding:
    """2.17-seccomp: the daemon applies Docker's default seccomp profile."""
    title = "CIS 2.17: containers get the default seccomp profile"
    found = functools.partial(DoctorFinding, "2.17-seccomp", title)
    source = _security_names(o)
    profile = _seccomp_profile(o.facts.security_options)
    if profile is None:
        return found(
            "warn",
            f"{source}: no seccomp, so containers run without a syscall filter",
            "use a kernel with CONFIG_SECCOMP and a dockerd built with seccomp (OWASP #6)",
        )
    if profile in ("default", "builtin"):
        return found("pass", f"{source}: profile={profile}")
    if profile == "unconfined":
        return found(
            "warn",
            f"{source}: the daemon's default is no filter at all",
            'remove "seccomp-profile": "unconfined" from daemon.json or the command line '
            "(OWASP #6)",
        )
    return found(
        "info",
        f"{source}: a custom default profile ({profile}); check it is at least as strict as "
        "Docker's",
        "compare the profile with moby's profiles/seccomp/default.json",
    )


def _check_mac(o: Observed) -> DoctorFinding:
    """apparmor-selinux: a mandatory access control layer confines containers."""
    title = "AppArmor or SELinux confines containers"
    found = functools.partial(DoctorFinding, "apparmor-selinux", title)
    source = _security_names(o)
    present = [
        name for name, on in (("apparmor", o.facts.apparmor), ("selinux", o.facts.selinux)) if on
    ]
    if present:
        return found("pass", f"{source}: {' and '.join(present)}")
    return found(
        "warn",
        f"{source}: neither name=apparmor nor name=selinux, so containers lack the "
        "mandatory access control layer Docker applies by default on Debian, Ubuntu "
        "(AppArmor) and Fedora or RHEL (SELinux); a profile asked for is dropped silently",
        "enable AppArmor on the host (kernel security=apparmor, the apparmor package) or "
        "SELinux with dockerd --selinux-enabled (OWASP #6)",
    )


def _check_rootless(o: Observed) -> DoctorFinding:
    """rootless: the daemon runs as an unprivileged user."""
    title = "The daemon runs rootless"
    found = functools.partial(DoctorFinding, "rootless", title)
    source = _security_names(o)
    if o.facts.rootless:
        return found("pass", f"{source}: name=rootless")
    return found(
        "info",
        f"{source}: no name=rootless, so the daemon runs as root and whoever controls it "
        "is root on the host (CIS 2.1 asks only that this is a conscious choice)",
        "consider rootless mode (OWASP #11): dockerd-rootless-setuptool.sh install",
    )


def _check_cgroup(o: Observed) -> DoctorFinding:
    """cgroup: the cgroup version and driver the engine limits containers with."""
    title = "cgroup v2 with the systemd driver"
    found = functools.partial(DoctorFinding, "cgroup", title)
    version, driver = o.facts.cgroup_version, o.facts.cgroup_driver or "?"
    source = f"docker info CgroupVersion: {version}, CgroupDriver: {driver}"
    if driver == "none":
        return found(
            "warn",
            f"{source}: no cgroup manager, so memory, CPU and pids limits cannot be applied "
            "(a rootless daemon on cgroup v1)",
            "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate "
            "controllers to the rootless user",
        )
    if version >= 2 and driver == "systemd":
        return found("pass", source)
    if version >= 2:
        return found(
            "info",
            f"{source}: on a systemd host two managers then share the hierarchy; Docker "
            "and Kubernetes recommend the systemd driver there",
            '"exec-opts": ["native.cgroupdriver=systemd"] in daemon.json on a systemd host',
        )
    cgroupns = "name=cgroupns" in ",".join(o.facts.security_options)
    return found(
        "info",
        f"{source}: the legacy v1 hierarchy, which systemd and Kubernetes are dropping; "
        "containers share the host's cgroup namespace by default "
        f"({'name=cgroupns listed' if cgroupns else 'no name=cgroupns in SecurityOptions'}) "
        "and memory.high and pressure information are missing",
        "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
    )


def _check_swap_limit(o: Observed) -> DoctorFinding:
    """swap-limit: the engine can limit a container's swap."""
    title = "Swap can be limited (SwapLimit)"
    found = functools.partial(DoctorFinding, "swap-limit", title)
    source = f"docker info SwapLimit: {str(o.facts.swap_limit).lower()}"
    warned = [w for w in o.facts.warnings if "swap" in w.lower()]
    if warned:
        source += f"; Warnings: {'; '.join(warned)}"
    if o.facts.swap_limit:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: a container with a memory limit can still swap without bound, and "
        "the engine drops --memory-swap with only a warning",
        "enable swap accounting on the host (kernel parameter swapaccount=1 on cgroup v1, "
        "or cgroup v2)",
    )


def _loopback_host(name: str) -> bool:
    host = name
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_cidr(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return network.is_loopback


def _check_insecure_registries(o: Observed) -> DoctorFinding:
    """insecure-registries: images are pulled only over verified TLS (CIS 2.5)."""
    title = "CIS 2.5: no insecure registries beyond loopback"
    found = functools.partial(DoctorFinding, "insecure-registries", title)
    registry = o.info.get("RegistryConfig") or {}
    cidrs = [str(c) for c in registry.get("InsecureRegistryCIDRs") or ()]
    indexes = registry.get("IndexConfigs") or {}
    names = [
        str(name)
        for name, index in sorted(indexes.items())
        if isinstance(index, Mapping) and index.get("Secure") is False
    ]
    source = (
        "docker info RegistryConfig.InsecureRegistryCIDRs: "
        f"{', '.join(cidrs) or '(none)'}; IndexConfigs with Secure false: "
        f"{', '.join(names) or '(none)'}"
    )
    bad = [c for c in cidrs if not _loopback_cidr(c)] + [n for n in names if not _loopback_host(n)]
    if bad:
        return found(
            "warn",
            f"{source}: {', '.join(bad)} reached over plain HTTP or unchecked TLS, so an "
            "attacker on the path can swap the images",
            'remove them from "insecure-registries" in daemon.json and give those '
            "registries certificates (CIS 2.5)",
        )
    return found("pass", f"{source}: loopback only (Docker's default)")


def _check_experimental(o: Observed) -> DoctorFinding:
    """experimental: experimental features are off (CIS 2.18)."""
    title = "CIS 2.18: experimental features are off"
    found = functools.partial(DoctorFinding, "experimental", title)
    on = bool(o.info.get("ExperimentalBuild"))
    source = f"docker info ExperimentalBuild: {str(on).lower()}"
    if not on:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: features that are not production-ready are enabled",
        'remove "experimental": true from daemon.json (or --experimental)',
    )


#: Log drivers that ship logs off the host, or to the host's own rotated journal.
_REMOTE_LOG_DRIVERS = frozenset(
    ("syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "gcplogs", "logentries",
     "etwlogs")
)  # fmt: skip


def _log_opts(daemon: DaemonConfig) -> dict[str, str]:
    opts = {}
    configured = daemon.config.get("log-opts")
    if isinstance(configured, Mapping):
        opts.update({str(k): str(v) for k, v in configured.items()})
    for value in daemon.flag_values("log-opt"):
        key, _, val = value.partition("=")
        opts[key] = val
    return opts


def _check_logging(o: Observed) -> DoctorFinding:
    """logging-driver: container logs are bounded, and ideally leave the host."""
    title = "Container logs are bounded and collected (CIS 2.13)"
    found = functools.partial(DoctorFinding, "logging-driver", title)
    driver = str(o.info.get("LoggingDriver") or "?")
    source = f"docker info LoggingDriver: {driver}"
    if driver in _REMOTE_LOG_DRIVERS:
        return found("pass", f"{source}: logs go to {driver}, not to files")
    remote = "; CIS 2.13 asks for a central, remote log driver"
    if driver == "json-file":
        if o.daemon is None or not o.daemon.known:
            return found(
                "info",
                f"{source}; cannot read log-opts: {_daemon_unread(o)}{remote}",
                'make sure "log-opts" in daemon.json sets "max-size"',
            )
        opts = _log_opts(o.daemon)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(opts.items())) or "(none)"
        where = f"log-opts {shown} ({o.daemon.source()})"
        if "max-size" not in opts:
            return found(
                "warn",
                f"{source}; {where}: no max-size, so a chatty container fills the host's disk",
                '"log-opts": {"max-size": "10m", "max-file": "3"} in daemon.json (applies to '
                "new containers), or a remote driver (CIS 2.13); secure_run sets log "
                "limits per container",
            )
        return found(
            "info",
            f"{source}; {where}: rotated{remote}",
            "consider a remote log driver (syslog, journald, fluentd, gelf)",
        )
    if driver == "local":
        return found(
            "info",
            f"{source}: rotated files (the local driver keeps 100 MB per container by "
            f"default){remote}",
            "consider a remote log driver (syslog, journald, fluentd, gelf)",
        )
    if driver == "none":
        return found(
            "info",
            f"{source}: containers' output is discarded, so there is nothing to audit",
            "choose a log driver that keeps logs (CIS 2.13)",
        )
    return found(
        "info",
        f"{source}: a driver secure_run does not know (a plugin?)",
        "check that it bounds and collects logs",
    )


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


def _check_socket_permissions(o: Observed) -> DoctorFinding:
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


def _check_socket_group(o: Observed) -> DoctorFinding:
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


def _check_tcp_tls(o: Observed) -> DoctorFinding:
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
        config = f"; {_daemon_unread(o)}"
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


def _check_privileged(o: Observed) -> DoctorFinding:
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
    paths = set(SOCKET_PATHS)
    if o.socket is not None:
        paths.add(o.socket.path)
    if o.daemon is not None:
        paths |= _unix_paths(o.daemon.hosts())
    return paths


def _exposes(mount: Mapping[str, Any], paths: set[str]) -> bool:
    source = str(mount.get("Source") or "")
    target = str(mount.get("Destination") or "")
    bind = mount.get("Type", "bind") == "bind"
    return exposes_socket(source, target, bind=bind, socket_paths=paths)


def _check_socket_mounts(o: Observed) -> DoctorFinding:
    """socket-mounted-containers: no running container can reach the daemon's socket."""
    title = "No running container has the daemon's socket mounted"
    found = functools.partial(DoctorFinding, "socket-mounted-containers", title)
    paths = _socket_paths(o)
    exposed = []
    for container in o.containers:
        for mount in container.get("Mounts") or ():
            if _exposes(mount, paths):
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


#: The rules, in report order.
RULES: tuple[_Rule, ...] = (
    _check_engine_version,
    _check_api_version,
    _check_kernel,
    _check_icc,
    _check_userns,
    _check_no_new_privileges,
    _check_live_restore,
    _check_seccomp,
    _check_mac,
    _check_rootless,
    _check_cgroup,
    _check_swap_limit,
    _check_insecure_registries,
    _check_experimental,
    _check_logging,
    _check_socket_permissions,
    _check_socket_group,
    _check_tcp_tls,
    _check_privileged,
    _check_socket_mounts,
)


def diagnose(observed: Observed) -> DoctorReport:
    """Apply every rule to what was observed; pure, so it is tested on recorded data.

    Args:
        observed: What :func:`observe` read.

    Returns:
        One finding per rule, in :data:`RULES` order.
    """
    return DoctorReport(tuple(rule(observed) for rule in RULES))


def doctor(
    client: docker.DockerClient | None = None,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> DoctorReport:
    """Check the engine, its settings, who controls it and what runs on it.

    Reads ``docker info``, ``docker version``, the default bridge network and an
    ``inspect`` of each running container; when the daemon is local (a unix socket),
    also the daemon's command line, its ``daemon.json``, the socket's owner, group
    and mode, and the members of that group. Nothing is changed.

    Example::

        report = sr.doctor()
        for finding in report.failures:
            print(finding.id, finding.evidence, finding.remedy)

    Args:
        client: The engine's client; ``None`` connects as ``docker.from_env()`` does.
        proc_root: Where the host's ``/proc`` is (another path for tests, or a
            host's ``/proc`` mounted into a container).
        etc_root: Where the host's ``/etc`` is.

    Returns:
        The report; ``report.ok`` is false when any check warns.

    Raises:
        DaemonUnavailable: No engine answers.
        RunTimeout: The engine did not answer in time.
        LaunchError: The engine refused a request.

    .. versionadded:: 0.1
    """
    return diagnose(observe(client, proc_root=proc_root, etc_root=etc_root))

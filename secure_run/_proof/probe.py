"""A probe that runs inside a container and reports what the container really got.

:data:`PROBE_SCRIPT` is a POSIX ``sh`` script (busybox ``ash`` is enough) that prints
the kernel's own view of the process: credentials, capabilities, ``no_new_privs``,
seccomp, rlimits, mounts, cgroup limits (v1 and v2 files), network interfaces and
routes, hostname, visible processes, and whether ``/`` and each tmpfs can be written.
It needs no applet but ``sh`` itself (``rm`` only to clean up its test files), works as
any user, under a read-only root, ``--network none``, ``no-new-privileges`` and
``--cap-drop ALL``, and one failing section never stops the others.

:func:`parse_probe` turns its output into a :class:`Probe`. The kernel files read are
described in ``proc(5)``, ``proc_pid_status(5)``, ``proc_pid_mountinfo(5)`` and the
cgroup v1/v2 documentation; how Docker's flags land in them follows moby's
``daemon/daemon_unix.go`` and runc's ``libcontainer/specconv``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

import attrs

from .._config.capabilities import ALL_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES, decode_mask
from .._errors import SecureRunError

__all__ = [
    "PROBE_SCRIPT",
    "FrozenMap",
    "Limit",
    "MountInfo",
    "Probe",
    "ProbeError",
    "parse_probe",
    "probe_command",
]

#: Version of the output format, printed in the first line of the output.
_FORMAT = "1"
_BEGIN = f"==> secure-run-probe {_FORMAT}"
_END = "==> end"
_ABSENT = "<absent>"
_UNREADABLE = "<unreadable>"

_CGROUP_V1_FILES = (
    "memory/memory.limit_in_bytes",
    "memory/memory.soft_limit_in_bytes",
    "memory/memory.memsw.limit_in_bytes",
    "cpu/cpu.cfs_quota_us",
    "cpu/cpu.cfs_period_us",
    "cpu/cpu.shares",
    "cpu,cpuacct/cpu.cfs_quota_us",
    "cpu,cpuacct/cpu.cfs_period_us",
    "cpu,cpuacct/cpu.shares",
    "pids/pids.max",
    "cpuset/cpuset.cpus",
)
_CGROUP_V2_FILES = (
    "cgroup.controllers",
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "cpu.max",
    "cpu.weight",
    "pids.max",
    "cpuset.cpus",
    "cpuset.cpus.effective",
)
_CGROUP_ROOT = "/sys/fs/cgroup/"

#: The probe, for ``/bin/sh -c``. Sections start with ``==> name``; inside
#: ``cgroup-files`` each file starts with ``--> path``. A missing file prints
#: ``<absent>``, an unreadable one ``<unreadable>``. Files are read with the shell's own
#: ``read`` so that ``/proc/self`` is the shell itself, not a ``cat`` child.
PROBE_SCRIPT: str = rf"""
sr_dump() {{
    if [ ! -e "$1" ]; then
        echo '{_ABSENT}'
    elif [ ! -r "$1" ]; then
        echo '{_UNREADABLE}'
    else
        while IFS= read -r sr_line || [ -n "$sr_line" ]; do
            printf '%s\n' "$sr_line"
        done < "$1"
    fi
}} 2>/dev/null
sr_try_write() {{
    sr_file="${{1%/}}/.secure-run-probe-$$"
    if (set -C; : > "$sr_file") 2>/dev/null; then
        rm -f "$sr_file" 2>/dev/null || /bin/busybox rm -f "$sr_file" 2>/dev/null
        printf 'yes %s\n' "$1"
    else
        printf 'no %s\n' "$1"
    fi
}}
echo '{_BEGIN}'
echo '==> self'
echo "$$"
echo '==> pids'
for sr_p in /proc/[0-9]*; do
    case ${{sr_p#/proc/}} in
        *[!0-9]*) ;;
        *) echo "${{sr_p#/proc/}}" ;;
    esac
done 2>/dev/null
echo '==> status'
sr_dump /proc/self/status
echo '==> limits'
sr_dump /proc/self/limits
echo '==> mountinfo'
sr_dump /proc/self/mountinfo
echo '==> cgroup'
sr_dump /proc/self/cgroup
echo '==> cgroup-files'
for sr_f in {" ".join(_CGROUP_ROOT + f for f in _CGROUP_V1_FILES + _CGROUP_V2_FILES)}; do
    echo "--> $sr_f"
    sr_dump "$sr_f"
done
echo '==> net-dev'
sr_dump /proc/net/dev
echo '==> net-route'
sr_dump /proc/net/route
echo '==> hostname'
if [ -r /proc/sys/kernel/hostname ]; then
    sr_dump /proc/sys/kernel/hostname
else
    hostname 2>/dev/null || echo '{_ABSENT}'
fi
echo '==> writable'
sr_try_write /
while read -r sr_id sr_parent sr_dev sr_root sr_mnt sr_rest; do
    case " $sr_rest " in
        *" - tmpfs "*)
            case $sr_mnt in
                *\\*) ;;
                *) if [ -d "$sr_mnt" ]; then sr_try_write "$sr_mnt"; fi ;;
            esac
            ;;
    esac
done < /proc/self/mountinfo 2>/dev/null
echo '{_END}'
"""

_REQUIRED_SECTIONS = (
    "self",
    "pids",
    "status",
    "limits",
    "mountinfo",
    "cgroup",
    "cgroup-files",
    "net-dev",
    "net-route",
    "hostname",
    "writable",
)

#: ``/proc/self/limits`` row names -> the ulimit names Docker uses (``go-units``).
_LIMIT_NAMES: dict[str, str] = {
    "Max cpu time": "cpu",
    "Max file size": "fsize",
    "Max data size": "data",
    "Max stack size": "stack",
    "Max core file size": "core",
    "Max resident set": "rss",
    "Max processes": "nproc",
    "Max open files": "nofile",
    "Max locked memory": "memlock",
    "Max address space": "as",
    "Max file locks": "locks",
    "Max pending signals": "sigpending",
    "Max msgqueue size": "msgqueue",
    "Max nice priority": "nice",
    "Max realtime priority": "rtprio",
    "Max realtime timeout": "rttime",
}

#: cgroup v1 memory files print ``PAGE_COUNTER_MAX * PAGE_SIZE`` (9223372036854771712
#: with 4 KiB pages) for "no limit"; anything this large is treated as unlimited.
_V1_UNLIMITED = 1 << 62

_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenMap(Mapping[_K, _V]):
    """An immutable, hashable mapping (used for the mapping fields of :class:`Probe`).

    .. versionadded:: 0.1
    """

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[_K, _V] | Iterable[tuple[_K, _V]] = ()) -> None:
        self._data: dict[_K, _V] = dict(items)

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


class ProbeError(SecureRunError):
    """The probe's output could not be read: a section is missing or malformed.

    Usually the container did not run :data:`PROBE_SCRIPT` (another entrypoint or
    command ran) or it was killed before finishing.

    .. versionadded:: 0.1
    """


@attrs.frozen
class Limit:
    """One resource limit (rlimit) as ``/proc/self/limits`` shows it.

    Attributes:
        soft: The soft limit, or ``None`` for unlimited.
        hard: The hard limit, or ``None`` for unlimited.

    .. versionadded:: 0.1
    """

    soft: int | None
    hard: int | None

    def __str__(self) -> str:
        return f"{_show_limit(self.soft)}/{_show_limit(self.hard)}"


@attrs.frozen
class MountInfo:
    r"""One line of ``/proc/self/mountinfo``.

    Attributes:
        mount_point: Where it is mounted (octal escapes such as ``\040`` decoded).
        fstype: The filesystem type (``"tmpfs"``, ``"overlay"``, ``"proc"``...).
        source: The mount source (``"tmpfs"``, ``"shm"``, ``"/dev/vda"``...).
        root: The path inside the filesystem that is mounted (``"/"`` unless a bind).
        read_only: ``ro`` is among the per-mount or the superblock options.
        options: Per-mount options (``nosuid``, ``noexec``...) and superblock options
            (``size=16384k``, ``mode=700``...) together.
        size_bytes: For tmpfs, the ``size=`` option in bytes; ``None`` when the kernel
            shows none (the default, half of RAM) or for other filesystems.
        mode: For tmpfs, the root directory's mode; the kernel omits ``mode=1777``,
            its default, so a tmpfs without the option reports ``0o1777``.
        uid: For tmpfs, the root directory's owner (the kernel omits 0).
        gid: For tmpfs, the root directory's group (the kernel omits 0).

    .. versionadded:: 0.1
    """

    mount_point: str
    fstype: str
    source: str
    root: str
    read_only: bool
    options: frozenset[str]
    size_bytes: int | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    @property
    def noexec(self) -> bool:
        """``noexec`` is set."""
        return "noexec" in self.options

    @property
    def nosuid(self) -> bool:
        """``nosuid`` is set."""
        return "nosuid" in self.options

    @property
    def nodev(self) -> bool:
        """``nodev`` is set."""
        return "nodev" in self.options


@attrs.frozen
class Probe:
    """What a container really got, as seen from inside by :data:`PROBE_SCRIPT`.

    Attributes:
        pid: The probing shell's PID inside the container (1 unless an init runs).
        uid: Effective user ID.
        gid: Effective group ID.
        uids: Real, effective, saved and filesystem user IDs.
        gids: Real, effective, saved and filesystem group IDs.
        groups: Supplementary groups.
        cap_inh: Inheritable capabilities.
        cap_prm: Permitted capabilities.
        cap_eff: Effective capabilities.
        cap_bnd: The bounding set.
        cap_amb: Ambient capabilities.
        no_new_privs: The ``no_new_privs`` bit is set.
        seccomp_mode: 0 disabled, 1 strict, 2 filter.
        seccomp_filters: How many filters are attached (``None`` before Linux 5.9).
        root_writable: A file could be created under ``/``.
        mounts: Every mount, in ``mountinfo`` order.
        tmpfs_writable: For each tmpfs directory mount, whether a file could be created.
        cgroup_version: 1 or 2.
        memory_limit: Bytes, or ``None`` for unlimited.
        memory_reservation: Bytes (v1 soft limit, v2 ``memory.low``), or ``None`` when
            unset.
        memory_swap_limit: Memory plus swap in bytes, as Docker's ``--memory-swap``
            counts it, or ``None`` for unlimited or unknown (no swap accounting).
        cpu_quota_us: CFS quota per period, or ``None`` for unlimited.
        cpu_period_us: CFS period.
        cpu_shares: cgroup v1 ``cpu.shares``; ``None`` on v2.
        cpu_weight: cgroup v2 ``cpu.weight``; ``None`` on v1.
        cpuset: The CPUs the container may run on (``"0-3"``).
        pids_limit: Maximum number of tasks, or ``None`` for unlimited.
        limits: Resource limits by Docker's ulimit name (``"nofile"``, ``"core"``...).
        interfaces: Network interface names, sorted.
        route_count: Routes in ``/proc/net/route`` (IPv4).
        has_default_route: A route to ``0.0.0.0/0`` exists.
        hostname: The UTS hostname.
        visible_pids: PIDs visible in ``/proc``, sorted.
        cgroup_files: The raw content of each cgroup file probed, ``None`` if absent.
        raw: The probe's output, as parsed (not compared, not shown in the repr).

    .. versionadded:: 0.1
    """

    pid: int
    uid: int
    gid: int
    uids: tuple[int, ...]
    gids: tuple[int, ...]
    groups: tuple[int, ...]
    cap_inh: frozenset[str]
    cap_prm: frozenset[str]
    cap_eff: frozenset[str]
    cap_bnd: frozenset[str]
    cap_amb: frozenset[str]
    no_new_privs: bool
    seccomp_mode: int
    seccomp_filters: int | None
    root_writable: bool
    mounts: tuple[MountInfo, ...]
    tmpfs_writable: FrozenMap[str, bool]
    cgroup_version: int
    memory_limit: int | None
    memory_reservation: int | None
    memory_swap_limit: int | None
    cpu_quota_us: int | None
    cpu_period_us: int | None
    cpu_shares: int | None
    cpu_weight: int | None
    cpuset: str | None
    pids_limit: int | None
    limits: FrozenMap[str, Limit]
    interfaces: tuple[str, ...]
    route_count: int
    has_default_route: bool
    hostname: str
    visible_pids: tuple[int, ...]
    cgroup_files: FrozenMap[str, str | None] = attrs.field(repr=False)
    raw: str = attrs.field(default="", eq=False, repr=False)

    def mount(self, path: str) -> MountInfo | None:
        """The mount whose mount point is exactly ``path`` (the last one if stacked)."""
        path = path.rstrip("/") or "/"
        found = None
        for info in self.mounts:
            if info.mount_point == path:
                found = info
        return found

    @property
    def cpus(self) -> float | None:
        """The CPU limit as ``--cpus`` counts it (quota / period), ``None`` if unlimited."""
        if self.cpu_quota_us is None or not self.cpu_period_us:
            return None
        return self.cpu_quota_us / self.cpu_period_us

    def summary(self) -> dict[str, str]:
        """Short human-readable text per aspect, for a side-by-side table.

        Keys: ``user``, ``capabilities``, ``no_new_privs``, ``seccomp``, ``memory``,
        ``cpu``, ``pids``, ``ulimits``, ``root``, ``tmpfs``, ``network``,
        ``processes``, ``hostname``.
        """
        return {
            "user": f"uid={self.uid} gid={self.gid}",
            "capabilities": (
                f"CapEff: {_show_caps(self.cap_eff)}; CapBnd: {_show_caps(self.cap_bnd)}"
            ),
            "no_new_privs": "yes" if self.no_new_privs else "no",
            "seccomp": self._seccomp_text(),
            "memory": self._memory_text(),
            "cpu": self._cpu_text(),
            "pids": "unlimited" if self.pids_limit is None else str(self.pids_limit),
            "ulimits": ", ".join(
                f"{name} {self.limits[name]}"
                for name in ("nofile", "nproc", "core")
                if name in self.limits
            ),
            "root": self._root_text(),
            "tmpfs": self._tmpfs_text(),
            "network": self._network_text(),
            "processes": f"{len(self.visible_pids)} visible",
            "hostname": self.hostname,
        }

    def _seccomp_text(self) -> str:
        mode = {0: "disabled", 1: "strict", 2: "filter"}.get(
            self.seccomp_mode, f"mode {self.seccomp_mode}"
        )
        if self.seccomp_mode == 2 and self.seccomp_filters is not None:
            plural = "" if self.seccomp_filters == 1 else "s"
            return f"{mode} ({self.seccomp_filters} filter{plural})"
        return mode

    def _memory_text(self) -> str:
        extras = []
        if self.memory_reservation is not None:
            extras.append(f"reservation {_show_bytes(self.memory_reservation)}")
        if self.memory_limit is not None:
            if self.memory_swap_limit is None:
                extras.append("swap unlimited" if self._swap_known() else "swap unknown")
            else:
                swap = self.memory_swap_limit - self.memory_limit
                extras.append("swap none" if swap <= 0 else f"swap {_show_bytes(swap)}")
        head = "unlimited" if self.memory_limit is None else _show_bytes(self.memory_limit)
        return f"{head} ({', '.join(extras)})" if extras else head

    def _swap_known(self) -> bool:
        name = (
            "memory/memory.memsw.limit_in_bytes" if self.cgroup_version == 1 else "memory.swap.max"
        )
        return self.cgroup_files.get(_CGROUP_ROOT + name) is not None

    def _cpu_text(self) -> str:
        if self.cpu_shares is not None:
            share = f"shares {self.cpu_shares}"
        elif self.cpu_weight is not None:
            share = f"weight {self.cpu_weight}"
        else:
            share = ""
        cpus = self.cpus
        if cpus is None:
            return f"unlimited ({share})" if share else "unlimited"
        detail = f"{self.cpu_quota_us}/{self.cpu_period_us} us"
        return f"{cpus:.2f} CPU ({detail}; {share})" if share else f"{cpus:.2f} CPU ({detail})"

    def _root_text(self) -> str:
        if self.root_writable:
            return "writable"
        root = self.mount("/")
        if root is None or root.read_only:
            return "read-only"
        return f"read-write mount, not writable by uid {self.uid}"

    def _tmpfs_text(self) -> str:
        parts = []
        for path, writable in sorted(self.tmpfs_writable.items()):
            if not writable or path.startswith(("/proc", "/sys")):
                continue
            info = self.mount(path)
            size = (
                _show_bytes(info.size_bytes)
                if info is not None and info.size_bytes is not None
                else "no size limit"
            )
            parts.append(f"{path} ({size})")
        return ", ".join(parts) if parts else "none writable"

    def _network_text(self) -> str:
        if not self.interfaces:
            names = "no interfaces"
        elif self.interfaces == ("lo",):
            names = "lo only"
        else:
            names = ", ".join(self.interfaces)
        if self.has_default_route:
            route = "default route"
        elif self.route_count:
            route = f"{self.route_count} route{'' if self.route_count == 1 else 's'}, no default"
        else:
            route = "no route"
        return f"{names}, {route}" if self.interfaces == ("lo",) else f"{names}; {route}"


def probe_command() -> list[str]:
    """The container command that runs the probe (clear the image's entrypoint too)."""
    return ["/bin/sh", "-c", PROBE_SCRIPT]


def parse_probe(output: str | bytes) -> Probe:
    """Parse the output of :data:`PROBE_SCRIPT` into a :class:`Probe`.

    Args:
        output: The container's standard output (``bytes`` are decoded as UTF-8).

    Raises:
        ProbeError: The output is not (all of) the probe's output: the start or end
            marker, a section, or a required ``/proc/self/status`` line is missing or
            malformed.
    """
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    text = text.replace("\r\n", "\n")
    sections = _split_sections(text)
    status = _parse_status(sections["status"])

    uids = _ints(_need(status, "Uid"), "Uid")
    gids = _ints(_need(status, "Gid"), "Gid")
    if len(uids) < 2 or len(gids) < 2:
        raise ProbeError("probe output: Uid/Gid lines in /proc/self/status are malformed")

    mounts = tuple(_parse_mountinfo(sections["mountinfo"]))
    writable = _parse_writable(sections["writable"])
    files = _parse_cgroup_files(sections["cgroup-files"])
    version = _cgroup_version(sections["cgroup"], files)
    cgroup = _cgroup_limits(version, files)
    interfaces, routes, default_route = _parse_network(sections["net-dev"], sections["net-route"])
    hostname_lines = [line for line in sections["hostname"] if line]
    hostname = hostname_lines[0] if hostname_lines and hostname_lines[0] != _ABSENT else ""

    seccomp_filters = status.get("Seccomp_filters")
    return Probe(
        pid=_int(_first(sections["self"], "self"), "self"),
        uid=uids[1],
        gid=gids[1],
        uids=uids,
        gids=gids,
        groups=_ints(status.get("Groups", ""), "Groups"),
        cap_inh=decode_mask(_mask(status, "CapInh")),
        cap_prm=decode_mask(_mask(status, "CapPrm")),
        cap_eff=decode_mask(_mask(status, "CapEff")),
        cap_bnd=decode_mask(_mask(status, "CapBnd")),
        cap_amb=decode_mask(_mask(status, "CapAmb")) if "CapAmb" in status else frozenset(),
        no_new_privs=_int(status.get("NoNewPrivs", "0"), "NoNewPrivs") == 1,
        seccomp_mode=_int(status.get("Seccomp", "0"), "Seccomp"),
        seccomp_filters=None
        if seccomp_filters is None
        else _int(seccomp_filters, "Seccomp_filters"),
        root_writable=writable.get("/", False),
        mounts=mounts,
        tmpfs_writable=FrozenMap((k, v) for k, v in writable.items() if k != "/"),
        cgroup_version=version,
        memory_limit=cgroup.memory_limit,
        memory_reservation=cgroup.memory_reservation,
        memory_swap_limit=cgroup.memory_swap_limit,
        cpu_quota_us=cgroup.cpu_quota_us,
        cpu_period_us=cgroup.cpu_period_us,
        cpu_shares=cgroup.cpu_shares,
        cpu_weight=cgroup.cpu_weight,
        cpuset=cgroup.cpuset,
        pids_limit=cgroup.pids_limit,
        limits=_parse_limits(sections["limits"]),
        interfaces=interfaces,
        route_count=routes,
        has_default_route=default_route,
        hostname=hostname,
        visible_pids=tuple(sorted(int(p) for p in sections["pids"] if p.isdigit())),
        cgroup_files=FrozenMap(files),
        raw=text,
    )


# --- sections ---------------------------------------------------------------------


def _split_sections(text: str) -> dict[str, list[str]]:
    lines = text.split("\n")
    try:
        start = lines.index(_BEGIN)
    except ValueError:
        head = text.strip()[:200] or "<empty>"
        raise ProbeError(
            f"probe output not found (no {_BEGIN!r} line); did the container run the "
            f"probe script? Output began: {head!r}"
        ) from None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    ended = False
    for line in lines[start + 1 :]:
        if line == _END:
            ended = True
            break
        if line.startswith("==> "):
            current = sections.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
    missing = [name for name in _REQUIRED_SECTIONS if name not in sections]
    if missing:
        raise ProbeError(f"probe output is missing section(s): {', '.join(missing)}")
    if not ended:
        raise ProbeError(f"probe output was cut short (no {_END!r} line)")
    return sections


def _parse_status(lines: list[str]) -> dict[str, str]:
    status: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            status[key.strip()] = value.strip()
    return status


def _need(status: Mapping[str, str], key: str) -> str:
    try:
        return status[key]
    except KeyError:
        raise ProbeError(f"probe output: /proc/self/status has no {key} line") from None


def _mask(status: Mapping[str, str], key: str) -> str:
    value = _need(status, key)
    if not re.fullmatch(r"[0-9a-fA-F]+", value):
        raise ProbeError(f"probe output: {key} is not a hex mask: {value!r}")
    return value


def _int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ProbeError(f"probe output: {what} is not a number: {value!r}") from None


def _ints(value: str, what: str) -> tuple[int, ...]:
    return tuple(_int(part, what) for part in value.split())


def _first(lines: list[str], what: str) -> str:
    for line in lines:
        if line.strip():
            return line
    raise ProbeError(f"probe output: section {what!r} is empty")


# --- limits -----------------------------------------------------------------------


def _parse_limits(lines: list[str]) -> FrozenMap[str, Limit]:
    limits: dict[str, Limit] = {}
    for line in lines:
        for label, name in _LIMIT_NAMES.items():
            if line.startswith(label + " "):
                fields = line[len(label) :].split()
                if len(fields) >= 2:
                    limits[name] = Limit(_limit_value(fields[0]), _limit_value(fields[1]))
                break
    return FrozenMap(limits)


def _limit_value(text: str) -> int | None:
    if text == "unlimited":
        return None
    try:
        return int(text)
    except ValueError:
        raise ProbeError(f"probe output: bad value in /proc/self/limits: {text!r}") from None


# --- mounts -----------------------------------------------------------------------


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _parse_mountinfo(lines: list[str]) -> Iterator[MountInfo]:
    for line in lines:
        if not line.strip() or line in (_ABSENT, _UNREADABLE):
            continue
        before, sep, after = line.partition(" - ")
        fields = before.split()
        rest = after.split()
        if not sep or len(fields) < 6 or len(rest) < 2:
            raise ProbeError(f"probe output: malformed mountinfo line: {line!r}")
        mount_options = fields[5].split(",")
        super_options = rest[2].split(",") if len(rest) > 2 else []
        options = frozenset(mount_options) | frozenset(super_options)
        fstype = rest[0]
        info = MountInfo(
            mount_point=_unescape(fields[4]),
            fstype=fstype,
            source=_unescape(rest[1]),
            root=_unescape(fields[3]),
            read_only="ro" in mount_options or "ro" in super_options,
            options=options,
        )
        if fstype == "tmpfs":
            size, mode, uid, gid = _tmpfs_options(super_options)
            info = attrs.evolve(info, size_bytes=size, mode=mode, uid=uid, gid=gid)
        yield info


def _tmpfs_options(options: list[str]) -> tuple[int | None, int, int, int]:
    """Size in bytes, mode, uid and gid; the kernel omits its defaults (1777, 0, 0)."""
    values = dict(opt.partition("=")[::2] for opt in options if "=" in opt)
    size = values.get("size")
    try:
        return (
            None if size is None else _size_bytes(size),
            int(values.get("mode", "1777"), 8),
            int(values.get("uid", "0")),
            int(values.get("gid", "0")),
        )
    except ValueError:
        raise ProbeError(f"probe output: malformed tmpfs options: {options!r}") from None


def _size_bytes(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    factor = units.get(text[-1:].lower())
    return int(text[:-1]) * factor if factor else int(text)


def _parse_writable(lines: list[str]) -> dict[str, bool]:
    result: dict[str, bool] = {}
    for line in lines:
        answer, _, path = line.partition(" ")
        if answer in ("yes", "no") and path:
            result[path] = answer == "yes"
    if "/" not in result:
        raise ProbeError("probe output: the writability test of / is missing")
    return result


# --- cgroups ----------------------------------------------------------------------


def _parse_cgroup_files(lines: list[str]) -> dict[str, str | None]:
    files: dict[str, str | None] = {}
    current: str | None = None
    content: list[str] = []

    def flush() -> None:
        if current is not None:
            body = "\n".join(content).strip()
            files[current] = None if body in (_ABSENT, _UNREADABLE) else body

    for line in lines:
        if line.startswith("--> "):
            flush()
            current, content = line[4:].strip(), []
        else:
            content.append(line)
    flush()
    return files


def _cgroup_version(lines: list[str], files: Mapping[str, str | None]) -> int:
    if files.get(_CGROUP_ROOT + "cgroup.controllers") is not None:
        return 2
    entries = [line.split(":", 2) for line in lines if line.count(":") >= 2]
    if any(entry[0] != "0" for entry in entries):
        return 1
    if entries:
        return 2
    if files.get(_CGROUP_ROOT + "memory.max") is not None:
        return 2
    return 1


@attrs.frozen
class _Cgroup:
    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap_limit: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int | None = None
    cpu_shares: int | None = None
    cpu_weight: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None


def _cgroup_limits(version: int, files: Mapping[str, str | None]) -> _Cgroup:
    def get(*names: str) -> str | None:
        for name in names:
            value = files.get(_CGROUP_ROOT + name)
            if value is not None:
                return value
        return None

    if version == 1:
        memory = _v1_bytes(get("memory/memory.limit_in_bytes"))
        memsw = _v1_bytes(get("memory/memory.memsw.limit_in_bytes"))
        quota = _opt_int(get("cpu/cpu.cfs_quota_us", "cpu,cpuacct/cpu.cfs_quota_us"))
        return _Cgroup(
            memory_limit=memory,
            memory_reservation=_v1_bytes(get("memory/memory.soft_limit_in_bytes")),
            memory_swap_limit=None if memory is None else memsw,
            cpu_quota_us=None if quota is None or quota < 0 else quota,
            cpu_period_us=_opt_int(get("cpu/cpu.cfs_period_us", "cpu,cpuacct/cpu.cfs_period_us")),
            cpu_shares=_opt_int(get("cpu/cpu.shares", "cpu,cpuacct/cpu.shares")),
            cpuset=get("cpuset/cpuset.cpus") or None,
            pids_limit=_opt_int(get("pids/pids.max")),
        )
    memory = _opt_int(get("memory.max"))
    swap = _opt_int(get("memory.swap.max"))
    quota_text, _, period_text = (get("cpu.max") or "").partition(" ")
    return _Cgroup(
        memory_limit=memory,
        memory_reservation=_opt_int(get("memory.low")) or None,
        memory_swap_limit=None if memory is None or swap is None else memory + swap,
        cpu_quota_us=_opt_int(quota_text or None),
        cpu_period_us=_opt_int(period_text.strip() or None),
        cpu_weight=_opt_int(get("cpu.weight")),
        cpuset=get("cpuset.cpus.effective", "cpuset.cpus") or None,
        pids_limit=_opt_int(get("pids.max")),
    )


def _opt_int(text: str | None) -> int | None:
    """A number, or ``None`` for ``max``/missing."""
    if text is None or text.strip() in ("", "max"):
        return None
    return _int(text, "cgroup value")


def _v1_bytes(text: str | None) -> int | None:
    value = _opt_int(text)
    return None if value is None or value >= _V1_UNLIMITED else value


# --- network ----------------------------------------------------------------------


def _parse_network(dev: list[str], route: list[str]) -> tuple[tuple[str, ...], int, bool]:
    names = sorted(line.split(":", 1)[0].strip() for line in dev if ":" in line and "|" not in line)
    routes = 0
    default = False
    for line in route:
        fields = line.split()
        if len(fields) < 2 or fields[0] == "Iface" or line in (_ABSENT, _UNREADABLE):
            continue
        routes += 1
        if fields[1] == "00000000":
            default = True
    return tuple(names), routes, default


# --- text -------------------------------------------------------------------------


def _show_limit(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def _show_bytes(value: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    if value >= 1 << 20:
        return f"{value / (1 << 20):.1f} MiB"
    return f"{value} B"


def _show_caps(caps: frozenset[str]) -> str:
    if not caps:
        return "none"
    if caps == DOCKER_DEFAULT_CAPABILITIES:
        return f"Docker default {len(caps)}"
    if caps >= frozenset(ALL_CAPABILITIES):
        return f"all {len(caps)}"
    if len(caps) <= 4:
        return ", ".join(sorted(caps))
    extra = sorted(caps - DOCKER_DEFAULT_CAPABILITIES)
    missing = sorted(DOCKER_DEFAULT_CAPABILITIES - caps)
    if len(extra) + len(missing) <= 4:
        text = f"Docker default {len(DOCKER_DEFAULT_CAPABILITIES)}"
        if extra:
            text += " + " + ", ".join(extra)
        if missing:
            text += " - " + ", ".join(missing)
        return text
    return f"{len(caps)} capabilities"

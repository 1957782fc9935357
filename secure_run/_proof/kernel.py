"""The kernel's view of one process: the one reader shared by the probe and verify.

What the kernel applied to a process lives in a few files: ``/proc/<pid>/status``
(ids, capabilities, ``NoNewPrivs``, ``Seccomp``), ``/proc/<pid>/limits``,
``/proc/<pid>/mountinfo``, ``/proc/<pid>/{uid,gid}_map`` and the limit files of its
cgroups. They are read two ways, from inside by the probe script
(:mod:`secure_run._proof.probe`) or from the host by :func:`read_host_process`, and
parsed here, once, into a :class:`KernelState`.

cgroup files are named by a *key*: ``<controller>/<file>`` on v1
(``"memory/memory.limit_in_bytes"``; the ``cpu`` files may sit in a co-mounted
``cpu,cpuacct`` directory) and ``<file>`` on v2 (``"memory.max"``). The formats are
those of ``proc(5)``, ``proc_pid_status(5)``, ``proc_pid_mountinfo(5)``,
``user_namespaces(7)`` and the kernel's cgroup v1 and v2 documentation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

import attrs

__all__ = [
    "CGROUP_ROOT",
    "CGROUP_V1_DIRS",
    "CGROUP_V1_FILES",
    "CGROUP_V2_FILES",
    "LIMIT_FILES",
    "V1_UNLIMITED",
    "CgroupLimits",
    "KernelFileError",
    "KernelState",
    "Limit",
    "MountInfo",
    "cgroup_entries",
    "cgroup_keys",
    "cgroup_limits",
    "cgroup_version",
    "keyed_cgroup_files",
    "parse_id_map",
    "parse_limits",
    "parse_mountinfo",
    "parse_status",
    "unescape",
]

#: Where the cgroup file systems are mounted, on the host and in a container.
CGROUP_ROOT = "/sys/fs/cgroup"

#: cgroup v1 memory files print ``PAGE_COUNTER_MAX * PAGE_SIZE`` (9223372036854771712
#: with 4 KiB pages) for "no limit"; anything this large is unlimited.
V1_UNLIMITED = 1 << 62

#: The file each limit of :class:`CgroupLimits` is read from, as (v1 key, v2 key).
#: ``swap`` is memory plus swap on v1 (``memsw``), swap alone on v2.
LIMIT_FILES: Mapping[str, tuple[str, str]] = {
    "memory_limit": ("memory/memory.limit_in_bytes", "memory.max"),
    "memory_reservation": ("memory/memory.soft_limit_in_bytes", "memory.low"),
    "swap": ("memory/memory.memsw.limit_in_bytes", "memory.swap.max"),
    "cpu_quota_us": ("cpu/cpu.cfs_quota_us", "cpu.max"),
    "cpu_period_us": ("cpu/cpu.cfs_period_us", "cpu.max"),
    "cpu_share": ("cpu/cpu.shares", "cpu.weight"),
    "pids_limit": ("pids/pids.max", "pids.max"),
    "cpuset": ("cpuset/cpuset.cpus", "cpuset.cpus"),
    "cpuset_effective": ("cpuset/cpuset.effective_cpus", "cpuset.cpus.effective"),
}


def _v1_files() -> dict[str, tuple[str, ...]]:
    files: dict[str, tuple[str, ...]] = {}
    for v1, _ in LIMIT_FILES.values():
        controller, _, name = v1.partition("/")
        files[controller] = tuple(dict.fromkeys((*files.get(controller, ()), name)))
    return files


#: The cgroup v1 limit files, by controller.
CGROUP_V1_FILES: Mapping[str, tuple[str, ...]] = _v1_files()

#: The directories a v1 controller may be mounted at, by controller: its own name, or
#: a directory named after every controller co-mounted with it.
CGROUP_V1_DIRS: Mapping[str, tuple[str, ...]] = {
    "memory": ("memory",),
    "cpu": ("cpu", "cpu,cpuacct"),
    "pids": ("pids",),
    "cpuset": ("cpuset",),
}

#: The cgroup v2 files read (``cgroup.controllers`` only tells v2 apart).
CGROUP_V2_FILES: tuple[str, ...] = (
    "cgroup.controllers",
    *dict.fromkeys(v2 for _, v2 in LIMIT_FILES.values()),
)

_LIMIT_NAMES: Mapping[str, str] = {
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
"""``/proc/<pid>/limits`` row names -> the ulimit names Docker uses (``go-units``)."""


class KernelFileError(ValueError):
    """A kernel file's content is not in the form the kernel writes it."""


@attrs.frozen
class Limit:
    """One resource limit (rlimit) as ``/proc/<pid>/limits`` shows it.

    Attributes:
        soft: The soft limit, or ``None`` for unlimited.
        hard: The hard limit, or ``None`` for unlimited.

    .. versionadded:: 0.1
    """

    soft: int | None
    hard: int | None

    def __str__(self) -> str:
        return f"{_show_limit(self.soft)}/{_show_limit(self.hard)}"


def _show_limit(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


@attrs.frozen
class MountInfo:
    r"""One line of ``/proc/<pid>/mountinfo``.

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
class CgroupLimits:
    """The limits a process's cgroup files hold, typed alike for cgroup v1 and v2.

    Attributes:
        version: 1 or 2.
        files: The raw (stripped) content of each file read, by key; ``None`` if absent
            (not compared: two records with the same limits are equal).
        memory_limit: Bytes, or ``None`` for unlimited.
        memory_reservation: Bytes (v1 soft limit, v2 ``memory.low``), or ``None``
            when unset.
        memory_swap_limit: Memory plus swap, as Docker's ``--memory-swap`` counts it:
            the v1 ``memsw`` file, or v2 ``memory.max`` plus ``memory.swap.max``;
            ``None`` for unlimited or unknown.
        swap_limit: Swap alone: v2 ``memory.swap.max``, or v1 ``memsw`` less memory;
            ``None`` for unlimited or unknown.
        cpu_quota_us: CFS quota per period, or ``None`` for unlimited.
        cpu_period_us: CFS period.
        cpu_shares: v1 ``cpu.shares``.
        cpu_weight: v2 ``cpu.weight``.
        cpuset: The CPUs configured for the cgroup (``cpuset.cpus``), ``None`` if empty.
        cpuset_effective: The CPUs it may really use, granted by its parents too.
        pids_limit: Maximum number of tasks, or ``None`` for unlimited.
    """

    version: int
    files: Mapping[str, str | None] = attrs.field(factory=dict, repr=False, eq=False)
    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap_limit: int | None = None
    swap_limit: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int | None = None
    cpu_shares: int | None = None
    cpu_weight: int | None = None
    cpuset: str | None = None
    cpuset_effective: str | None = None
    pids_limit: int | None = None

    def key(self, limit: str) -> str:
        """The key of the file ``limit`` (a :data:`LIMIT_FILES` name) is read from."""
        return LIMIT_FILES[limit][self.version - 1]

    def raw(self, limit: str) -> str | None:
        """The content of the file ``limit`` is read from, ``None`` if absent or unread."""
        return self.files.get(self.key(limit))

    @property
    def swap_accounted(self) -> bool:
        """The kernel accounts swap (the swap limit file exists), so it can be limited."""
        return self.raw("swap") is not None

    @property
    def cpus_usable(self) -> str | None:
        """The CPUs the process may run on: effective if the kernel says, else configured."""
        return self.cpuset_effective or self.cpuset


@attrs.frozen
class KernelState:
    """The kernel's state of one process, however it was read.

    Attributes:
        status: ``/proc/<pid>/status`` fields, by name, as text.
        limits: Resource limits by Docker's ulimit name.
        mounts: The mounts read, in ``mountinfo`` order.
        cgroup: Its cgroup limits.
        uid_map: ``uid_map`` rows (inside, outside, count); empty when not read.
        gid_map: ``gid_map`` rows.
        cap_last: ``/proc/sys/kernel/cap_last_cap``, when read.
        init_seccomp: The ``Seccomp`` field of pid 1's status, when the exec probe read
            it (under gVisor an exec's own shows 0, the workload's 2).
    """

    status: Mapping[str, str] = attrs.field(hash=False)
    limits: Mapping[str, Limit] = attrs.field(hash=False)
    mounts: tuple[MountInfo, ...]
    cgroup: CgroupLimits
    uid_map: tuple[tuple[int, int, int], ...] = ()
    gid_map: tuple[tuple[int, int, int], ...] = ()
    cap_last: int | None = None
    init_seccomp: str | None = None


# -- /proc/<pid> files ---------------------------------------------------------------


def parse_status(lines: Iterable[str]) -> dict[str, str]:
    """``/proc/<pid>/status`` as ``{field: value}``, values stripped."""
    status: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            status[key.strip()] = value.strip()
    return status


def parse_limits(lines: Iterable[str]) -> dict[str, Limit]:
    """``/proc/<pid>/limits`` by Docker's ulimit name (``"nofile"``, ``"core"``...)."""
    limits: dict[str, Limit] = {}
    for line in lines:
        for label, name in _LIMIT_NAMES.items():
            if line.startswith(label + " "):
                fields = line[len(label) :].split()
                if len(fields) >= 2:
                    limits[name] = Limit(_limit_value(fields[0]), _limit_value(fields[1]))
                break
    return limits


def _limit_value(text: str) -> int | None:
    if text == "unlimited":
        return None
    try:
        return int(text)
    except ValueError:
        raise KernelFileError(f"bad value in /proc/<pid>/limits: {text!r}") from None


def unescape(path: str) -> str:
    r"""A mountinfo path with its octal escapes (``\040`` for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def parse_mountinfo(
    lines: Iterable[str], points: frozenset[str] | None = None
) -> Iterator[MountInfo]:
    """``/proc/<pid>/mountinfo`` lines as mounts; only those at ``points`` if given.

    Filtering by mount point first skips parsing the many mounts no one looks at.
    """
    for line in lines:
        if not line.strip() or (points is not None and _mount_point(line) not in points):
            continue
        before, sep, after = line.partition(" - ")
        fields = before.split()
        rest = after.split()
        if not sep or len(fields) < 6 or len(rest) < 2:
            raise KernelFileError(f"malformed mountinfo line: {line!r}")
        mount_options = fields[5].split(",")
        super_options = rest[2].split(",") if len(rest) > 2 else []
        fstype = rest[0]
        info = MountInfo(
            mount_point=unescape(fields[4]),
            fstype=fstype,
            source=unescape(rest[1]),
            root=unescape(fields[3]),
            read_only="ro" in mount_options or "ro" in super_options,
            options=frozenset(mount_options) | frozenset(super_options),
        )
        if fstype == "tmpfs":
            size, mode, uid, gid = _tmpfs_options(super_options)
            info = attrs.evolve(info, size_bytes=size, mode=mode, uid=uid, gid=gid)
        yield info


def _mount_point(line: str) -> str | None:
    """The fifth field of a mountinfo line, split cheaply (most lines are skipped)."""
    fields = line.split(" ", 5)
    if len(fields) < 5:
        return None
    return unescape(fields[4]) if "\\" in fields[4] else fields[4]


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
        raise KernelFileError(f"malformed tmpfs options: {options!r}") from None


def _size_bytes(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    factor = units.get(text[-1:].lower())
    return int(text[:-1]) * factor if factor else int(text)


def parse_id_map(text: str | None) -> tuple[tuple[int, int, int], ...]:
    """``uid_map``/``gid_map`` rows (inside, outside, count); ``()`` if ``text`` is ``None``."""
    rows = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            rows.append((int(fields[0]), int(fields[1]), int(fields[2])))
    return tuple(rows)


# -- cgroups -------------------------------------------------------------------------


def cgroup_keys() -> tuple[str, ...]:
    """Every cgroup file key, v1 then v2."""
    v1 = tuple(f"{c}/{name}" for c, names in CGROUP_V1_FILES.items() for name in names)
    return v1 + CGROUP_V2_FILES


def _controller_of(directory: str) -> str | None:
    for controller, dirs in CGROUP_V1_DIRS.items():
        if directory in dirs:
            return controller
    return None


def keyed_cgroup_files(
    files: Mapping[str, str | None], root: str = CGROUP_ROOT
) -> dict[str, str | None]:
    """Files read by path under ``root`` (as the probe reads them), by key.

    A v1 ``cpu,cpuacct/cpu.shares`` counts as ``cpu/cpu.shares`` unless that was read.
    """
    keyed: dict[str, str | None] = {}
    prefix = root.rstrip("/") + "/"
    for path, value in files.items():
        directory, _, name = path.removeprefix(prefix).rpartition("/")
        controller = _controller_of(directory) if directory else None
        if directory and controller is None:
            continue
        key = f"{controller}/{name}" if controller else name
        if keyed.get(key) is None:
            keyed[key] = value
    return keyed


def cgroup_entries(proc_cgroup: str) -> list[tuple[str, tuple[str, ...], str]]:
    """``/proc/<pid>/cgroup`` lines as (hierarchy, controllers, path)."""
    entries = []
    for line in proc_cgroup.splitlines():
        if line.count(":") < 2:
            continue
        hierarchy, controllers, path = line.split(":", 2)
        entries.append((hierarchy, tuple(filter(None, controllers.split(","))), path))
    return entries


def cgroup_version(proc_cgroup: str, files: Mapping[str, str | None] | None = None) -> int:
    """1 if a limit controller of the process sits in a v1 hierarchy, else 2.

    ``proc_cgroup`` is ``/proc/<pid>/cgroup``; a named v1 hierarchy such as
    ``name=systemd`` holds no limit, so a hybrid host with every controller on the
    unified hierarchy counts as v2. Without those lines, the keyed ``files`` decide.
    """
    entries = cgroup_entries(proc_cgroup)
    if any(c in CGROUP_V1_FILES for _, controllers, _ in entries for c in controllers):
        return 1
    if any(h == "0" and not controllers for h, controllers, _ in entries):
        return 2
    files = files or {}
    if files.get("cgroup.controllers") is not None or files.get("memory.max") is not None:
        return 2
    return 1


def cgroup_limits(version: int, files: Mapping[str, str | None]) -> CgroupLimits:
    """The typed limits of the keyed cgroup ``files``.

    Raises:
        KernelFileError: A limit file holds something other than a number or ``max``.
    """
    raw = CgroupLimits(version, dict(files)).raw
    common = CgroupLimits(
        version,
        dict(files),
        cpuset=raw("cpuset") or None,
        cpuset_effective=raw("cpuset_effective") or None,
        pids_limit=_number(raw("pids_limit")),
    )
    if version == 1:
        memory = _v1_bytes(raw("memory_limit"))
        memsw = _v1_bytes(raw("swap"))
        quota = _number(raw("cpu_quota_us"))
        return attrs.evolve(
            common,
            memory_limit=memory,
            memory_reservation=_v1_bytes(raw("memory_reservation")),
            memory_swap_limit=memsw,
            swap_limit=None if memory is None or memsw is None else memsw - memory,
            cpu_quota_us=None if quota is None or quota < 0 else quota,
            cpu_period_us=_number(raw("cpu_period_us")),
            cpu_shares=_number(raw("cpu_share")),
        )
    memory = _number(raw("memory_limit"))
    swap = _number(raw("swap"))
    quota_text, _, period_text = (raw("cpu_quota_us") or "").partition(" ")
    return attrs.evolve(
        common,
        memory_limit=memory,
        memory_reservation=_number(raw("memory_reservation")) or None,
        memory_swap_limit=None if memory is None or swap is None else memory + swap,
        swap_limit=swap,
        cpu_quota_us=_number(quota_text or None),
        cpu_period_us=_number(period_text.strip() or None),
        cpu_weight=_number(raw("cpu_share")),
    )


def _number(text: str | None) -> int | None:
    """A number, or ``None`` for ``max`` or a missing file."""
    if text is None or text.strip() in ("", "max"):
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise KernelFileError(f"a cgroup value is not a number: {text!r}") from None


def _v1_bytes(text: str | None) -> int | None:
    value = _number(text)
    return None if value is None or value >= V1_UNLIMITED else value

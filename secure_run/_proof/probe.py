"""A probe that runs inside a container and reports what the container really got.

:data:`PROBE_SCRIPT` is a POSIX ``sh`` script (busybox ``ash`` is enough) that prints
the kernel's own view of the process: credentials, capabilities, ``no_new_privs``,
seccomp, rlimits, mounts, cgroup limits (v1 and v2 files), network interfaces and
routes, hostname, visible processes, and whether ``/`` and each tmpfs can be written.
It needs no applet but ``sh`` itself (``rm`` only to clean up its test files), works as
any user, under a read-only root, ``--network none``, ``no-new-privileges`` and
``--cap-drop ALL``, and one failing section never stops the others.

:func:`parse_probe` turns its output into a :class:`Probe`. The kernel files it reads,
and how they are parsed, are those of the one kernel reader, :mod:`.kernel`, which
verify's host read shares; how Docker's flags land in them follows moby's
``daemon/daemon_unix.go`` and runc's ``libcontainer/specconv``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

import attrs

from .._config.capabilities import decode_mask
from .._errors import SecureRunError
from .kernel import (
    CGROUP_ROOT,
    CGROUP_V1_DIRS,
    CGROUP_V1_FILES,
    CGROUP_V2_FILES,
    KernelFileError,
    KernelState,
    Limit,
    MountInfo,
    cgroup_limits,
    cgroup_version,
    keyed_cgroup_files,
    parse_id_map,
    parse_limits,
    parse_mountinfo,
    parse_status,
)
from .probe_text import summary

__all__ = [
    "PROBE_BEGIN",
    "PROBE_SCRIPT",
    "FrozenMap",
    "Limit",
    "MountInfo",
    "Probe",
    "ProbeError",
    "parse_probe",
    "probe_command",
    "read_probe",
]

#: Version of the output format, printed in the first line of the output.
_FORMAT = "1"
#: The probe's first line: an exec's output without it is no report (or was lost).
PROBE_BEGIN = f"==> secure-run-probe {_FORMAT}"
_END = "==> end"
_ABSENT = "<absent>"
_UNREADABLE = "<unreadable>"

#: Every cgroup file the probe reads, by path in the container: each v1 file in each
#: directory its controller may be mounted at, then the v2 files.
_CGROUP_PATHS = tuple(
    f"{CGROUP_ROOT}/{directory}/{name}"
    for controller, names in CGROUP_V1_FILES.items()
    for directory in CGROUP_V1_DIRS[controller]
    for name in names
) + tuple(f"{CGROUP_ROOT}/{name}" for name in CGROUP_V2_FILES)

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
echo '{PROBE_BEGIN}'
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
echo '==> init-seccomp'
while IFS= read -r sr_line; do
    case $sr_line in Seccomp:*) printf '%s\n' "$sr_line" ;; esac
done < /proc/1/status 2>/dev/null
echo '==> limits'
sr_dump /proc/self/limits
echo '==> mountinfo'
sr_dump /proc/self/mountinfo
echo '==> cgroup'
sr_dump /proc/self/cgroup
echo '==> uid-map'
sr_dump /proc/self/uid_map
echo '==> gid-map'
sr_dump /proc/self/gid_map
echo '==> cgroup-files'
for sr_f in {" ".join(_CGROUP_PATHS)}; do
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
        cpuset: The CPUs the container may run on (``"0-3"``): the effective set when
            the kernel shows one, else the configured ``cpuset.cpus``.
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
        return summary(self)


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
    return read_probe(output)[0]


def read_probe(output: str | bytes) -> tuple[Probe, KernelState]:
    """The :class:`Probe` of :data:`PROBE_SCRIPT`'s output and the kernel state it read.

    The state is the same record :func:`~secure_run._proof.kernel.read_host_process`
    gives, so a check reads it alike from inside or from the host.

    Raises:
        ProbeError: As :func:`parse_probe`.
    """
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    text = text.replace("\r\n", "\n")
    sections = _split_sections(text)
    files = _parse_cgroup_files(sections["cgroup-files"])
    try:
        state = _kernel_state(sections, files)
    except KernelFileError as exc:
        raise ProbeError(f"probe output: {exc}") from exc
    return _probe(text, sections, files, state), state


def _probe(
    text: str,
    sections: Mapping[str, list[str]],
    files: Mapping[str, str | None],
    state: KernelState,
) -> Probe:
    status = state.status
    uids = _ints(_need(status, "Uid"), "Uid")
    gids = _ints(_need(status, "Gid"), "Gid")
    if len(uids) < 2 or len(gids) < 2:
        raise ProbeError("probe output: Uid/Gid lines in /proc/self/status are malformed")
    writable = _parse_writable(sections["writable"])
    seccomp_filters = status.get("Seccomp_filters")
    cgroup = state.cgroup
    interfaces, routes, default_route = _parse_network(sections["net-dev"], sections["net-route"])
    hostname_lines = [line for line in sections["hostname"] if line]
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
        mounts=state.mounts,
        tmpfs_writable=FrozenMap((k, v) for k, v in writable.items() if k != "/"),
        cgroup_version=cgroup.version,
        memory_limit=cgroup.memory_limit,
        memory_reservation=cgroup.memory_reservation,
        memory_swap_limit=cgroup.memory_swap_limit,
        cpu_quota_us=cgroup.cpu_quota_us,
        cpu_period_us=cgroup.cpu_period_us,
        cpu_shares=cgroup.cpu_shares,
        cpu_weight=cgroup.cpu_weight,
        cpuset=cgroup.cpus_usable,
        pids_limit=cgroup.pids_limit,
        limits=FrozenMap(state.limits),
        interfaces=interfaces,
        route_count=routes,
        has_default_route=default_route,
        hostname=hostname_lines[0] if hostname_lines and hostname_lines[0] != _ABSENT else "",
        visible_pids=tuple(sorted(int(p) for p in sections["pids"] if p.isdigit())),
        cgroup_files=FrozenMap(files),
        raw=text,
    )


def _kernel_state(
    sections: Mapping[str, list[str]], files: Mapping[str, str | None]
) -> KernelState:
    keyed = keyed_cgroup_files(files)
    version = cgroup_version("\n".join(sections["cgroup"]), keyed)
    return KernelState(
        status=parse_status(sections["status"]),
        limits=parse_limits(sections["limits"]),
        mounts=tuple(parse_mountinfo(_present(sections["mountinfo"]))),
        cgroup=cgroup_limits(version, keyed),
        # Optional sections: a tmpfs owner shows as a host id, mapped back through them.
        uid_map=parse_id_map(_id_map_text(sections.get("uid-map"))),
        gid_map=parse_id_map(_id_map_text(sections.get("gid-map"))),
        # Optional: pid 1's Seccomp line (an exec into runsc has no filter of its own).
        init_seccomp=parse_status(sections.get("init-seccomp") or []).get("Seccomp"),
    )


def _id_map_text(lines: list[str] | None) -> str | None:
    """An id map section's text; ``None`` when it is absent (an older probe, or no file)."""
    present = _present(lines or [])
    return "\n".join(present) if present else None


def _present(lines: list[str]) -> list[str]:
    """The lines of a file section, without the probe's absent/unreadable marker."""
    return [line for line in lines if line not in (_ABSENT, _UNREADABLE)]


# --- sections ---------------------------------------------------------------------


def _split_sections(text: str) -> dict[str, list[str]]:
    lines = text.split("\n")
    try:
        start = lines.index(PROBE_BEGIN)
    except ValueError:
        head = text.strip()[:200] or "<empty>"
        raise ProbeError(
            f"probe output not found (no {PROBE_BEGIN!r} line); did the container run the "
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


# --- mounts and cgroups ---------------------------------------------------------


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

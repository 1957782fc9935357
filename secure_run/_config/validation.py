"""Every rule a RunConfig must meet, checked at once.

:func:`check` runs when a :class:`RunConfig` is made (by the builder or by
``attrs.evolve``) and raises one :class:`ConfigError` listing every problem.
A weaker setting is a problem unless its :class:`OptIn` was granted; ``check``
returns the grants the config really relies on.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import posixpath
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import attrs

from .._errors import ConfigError, Problem, show
from .capabilities import ALL_CAPABILITIES, DANGEROUS_CAPABILITIES, UNWAIVED_CAPABILITIES
from .hostpaths import SENSITIVE_PATHS, exposes_socket, host_path, sensitive_root
from .parse import parse_image
from .seccomp import is_allow_all, profile_problems
from .values import (
    LABEL_PREFIX,
    Device,
    Healthcheck,
    LogLimits,
    Mount,
    OptIn,
    PortBinding,
    RestartPolicy,
    Seccomp,
    Tmpfs,
    Ulimit,
    User,
)

if TYPE_CHECKING:
    from .run_config import RunConfig

__all__ = ["MIN_MEMORY", "SAFE_SYSCTLS", "SENSITIVE_PATHS", "ULIMIT_NAMES", "check"]

#: Docker refuses a memory limit or reservation below 6 MiB.
MIN_MEMORY = 6 * 1024 * 1024



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

#: The resource names ``docker run --ulimit`` accepts.
ULIMIT_NAMES = frozenset({
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
})  # fmt: skip

_HOSTNAME = re.compile(
    r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_CPUSET = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")
_PROFILE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.:/-]*")
_ENV_KEY = re.compile(r"[^=\x00]+")
_NAMESPACE_FIELDS = ("pid_mode", "ipc_mode", "uts_mode", "userns_mode")
_PROPAGATIONS = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared"})
_RESTART = frozenset({"no", "on-failure", "always", "unless-stopped"})
_MS = 1_000_000


class _Checker:
    """Collects problems and the opt-ins a config relies on."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.problems: list[Problem] = []
        self.used: set[OptIn] = set()

    def bad(self, field: str, value: object, message: str, fix: str) -> None:
        self.problems.append(Problem(field, show(value), message, fix))

    def needs(self, opt_in: OptIn, field: str, value: object, message: str, fix: str) -> None:
        """Record that ``opt_in`` is relied on; a problem if it was not granted."""
        self.used.add(opt_in)
        if opt_in not in self.cfg.opt_ins:
            self.bad(
                field,
                value,
                f"{message} (needs the opt-in {opt_in.value!r})",
                f"{fix}, or accept the risk with .opt_in({opt_in.value!r})",
            )

    def run(self) -> None:
        _types(self, self.cfg)
        _scalar_limits(self, self.cfg)
        if self.problems:  # the rules below trust the types
            return
        for rule in (
            _identity,
            _user,
            _capabilities,
            _privileges,
            _memory,
            _cpu,
            _pids,
            _ulimits,
            _filesystem,
            _mounts,
            _network,
            _namespaces,
            _security_profiles,
            _lifecycle,
            _sysctls,
        ):
            rule(self, self.cfg)


_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,), "bool": (bool,), "int": (int,), "float": (int, float), "None": (type(None),),
    **{cls.__name__: (cls,) for cls in (User, Seccomp, RestartPolicy, Healthcheck, LogLimits,
                                        Ulimit, Tmpfs, Mount, PortBinding, Device, OptIn)},
}  # fmt: skip
_ELEMENTS = re.compile(r"tuple\[(\w+), \.\.\.\]")


def _allowed(annotation: str) -> tuple[type, ...] | None:
    """The types a field annotated ``annotation`` may hold, or None if not checked here."""
    allowed: tuple[type, ...] = ()
    for part in (p.strip() for p in annotation.split("|")):
        if part not in _SCALARS:
            return None
        allowed += _SCALARS[part]
    return allowed


_FieldTypes = tuple[tuple[str, bool, tuple[type, ...]], ...]
_field_types: _FieldTypes = ()


def _checked_fields(cls: type[RunConfig]) -> _FieldTypes:
    """(name, holds items, allowed types) for each field the type rule checks.

    For a ``tuple[X, ...]`` field the types are the items'; ``None`` is allowed for
    the whole field when its annotation says so.
    """
    global _field_types  # computed once: RunConfig is complete only after this module loads
    if not _field_types:
        found = []
        for field in attrs.fields(cls):
            if not field.init:  # derived from the others, set after the check
                continue
            annotation = str(field.type)
            elements = _ELEMENTS.fullmatch(annotation.split(" | ")[0])
            allowed = _allowed(elements[1] if elements else annotation)
            if allowed is not None:
                found.append((field.name, elements is not None, allowed))
        _field_types = tuple(found)
    return _field_types


def _type_names(allowed: tuple[type, ...]) -> str:
    names = {"None" if t is type(None) else t.__name__ for t in allowed}
    return " or ".join(sorted(names, key=lambda n: (n == "None", n)))


def _types(c: _Checker, cfg: RunConfig) -> None:
    """Every field holds a value of its declared type (``attrs.evolve`` can set anything)."""
    for name, holds_items, allowed in _checked_fields(cfg.__class__):
        value = getattr(cfg, name)
        if holds_items:
            if value is None:  # the converter made a tuple unless the field allows None
                continue
            items = value if isinstance(value, tuple) else (value,)
        else:
            items = (value,)
        for item in items:
            if (isinstance(item, bool) and bool not in allowed) or not isinstance(item, allowed):
                names = _type_names(allowed)
                c.bad(
                    name,
                    item,
                    f"must be {names}, not {type(item).__name__}",
                    f"give {names}; the builder methods convert text such as '256m'",
                )


_INT64 = (-(2**63), 2**63 - 1)
_CHECKED_ELSEWHERE = frozenset({"env", "command", "entrypoint"})  # env values stay unshown


_FIELD_VALUES: dict[type, Callable[[object], tuple[object, ...]] | None] = {}


def _field_values(cls: type) -> Callable[[object], tuple[object, ...]] | None:
    """For an attrs value class, a function giving its field values (cached), else None."""
    try:
        return _FIELD_VALUES[cls]
    except KeyError:
        pass
    getter: Callable[[object], tuple[object, ...]] | None = None
    if attrs.has(cls):
        names = [f.name for f in attrs.fields(cast(Any, cls))]
        if len(names) > 1:
            getter = operator.attrgetter(*names)  # every field in one call, as a tuple
        else:  # attrgetter of one name gives the bare value, not a tuple
            getter = lambda item: tuple(getattr(item, n) for n in names)  # noqa: E731
    _FIELD_VALUES[cls] = getter
    return getter


_limited: tuple[str, ...] = ()


def register(cls: type[RunConfig]) -> None:
    """Learn the fields of the :class:`RunConfig` class, once it is defined.

    ``run_config`` calls this right after the class statement: validation takes a
    ``RunConfig`` but does not import it, so the import graph has no circle.
    """
    global _limited
    _limited = tuple(
        f.name for f in attrs.fields(cls) if f.init and f.name not in _CHECKED_ELSEWHERE
    )
_SKIPPED = (bool, float, type(None))


def _scalar_limits(c: _Checker, cfg: RunConfig) -> None:
    """No text holds a NUL byte and no number is beyond the engine's 64-bit integers.

    Looks inside tuples and the config's value classes. It runs on every build, so the
    common case is cheap: plain fields are checked in place, and the text is searched
    for NUL in one joined string; only when one is found is each field scanned again.
    """
    low, high = _INT64
    strings: list[str] = []
    for name in _limited:
        value = getattr(cfg, name)
        cls = value.__class__
        if cls is str:
            strings.append(value)
            continue
        if cls is int:
            if low <= value <= high:
                continue
            too_big = [value]
        elif cls in _SKIPPED or (cls is tuple and not value):
            continue
        else:
            too_big = _scan(value, strings)
        for number in too_big:
            c.bad(name, number, "beyond the engine's 64-bit integers", "give a smaller number")
    if "\x00" not in "".join(strings):
        return
    for name in _limited:  # rare: find which fields hold one
        found: list[str] = []
        _scan(getattr(cfg, name), found)
        for text in found:
            if "\x00" in text:
                c.bad(name, text, "holds a NUL byte", "remove the NUL byte")


def _scan(value: object, strings: list[str]) -> list[int]:
    """Collect the text in ``value`` into ``strings``; return its numbers beyond int64.

    Looks inside tuples and the config's value classes, with an explicit stack.
    """
    low, high = _INT64
    too_big = []
    stack = [value]
    while stack:
        item = stack.pop()
        cls = item.__class__
        if cls is str or isinstance(item, str):
            strings.append(cast(str, item))
        elif cls in _SKIPPED:
            pass
        elif isinstance(item, tuple):
            stack.extend(reversed(item))
        elif isinstance(item, int):
            if not low <= item <= high:
                too_big.append(item)
        else:
            values = _field_values(cls)
            if values is not None:
                stack.extend(reversed(values(item)))
    return too_big


def check(cfg: RunConfig) -> frozenset[OptIn]:
    """The opt-ins ``cfg`` relies on; or :class:`ConfigError` listing every problem."""
    checker = _Checker(cfg)
    checker.run()
    if checker.problems:
        raise ConfigError(checker.problems)
    return frozenset(checker.used)


def _strings(c: _Checker, field: str, values: Iterable[object]) -> None:
    for value in values:
        if not isinstance(value, str) or "\x00" in value:
            c.bad(
                field,
                value,
                "every element must be text without NUL bytes",
                'give a list of strings, e.g. ["id", "-u"]',
            )


def _identity(c: _Checker, cfg: RunConfig) -> None:
    try:
        parse_image(cfg.image)
    except ConfigError as exc:
        c.problems.extend(exc.problems)
    for field in ("command", "entrypoint"):
        argv = getattr(cfg, field)
        if argv is not None:
            _strings(c, field, argv)
            if field == "command" and not argv:
                c.bad(field, "[]", "an empty command", "give the argv to run, or leave it unset")
    for key, value in cfg.env:
        if not _ENV_KEY.fullmatch(key):
            c.bad("env", key, "not a valid variable name", "use a name without '=' or NUL")
        if "\x00" in value:
            c.bad("env", key, "the value holds a NUL byte", "remove the NUL byte from the value")
    if cfg.workdir is not None and not cfg.workdir.startswith("/"):
        c.bad("workdir", cfg.workdir, "not an absolute path", "give a path such as /work")
    if cfg.hostname is not None and (
        len(cfg.hostname) > 253 or not _HOSTNAME.fullmatch(cfg.hostname)
    ):
        c.bad(
            "hostname",
            cfg.hostname,
            "not a valid host name",
            "use letters, digits and '-', in dot-separated labels of at most 63",
        )
    if cfg.name is not None and not _NAME.fullmatch(cfg.name):
        c.bad(
            "name",
            cfg.name,
            "not a valid container name",
            "start with a letter or digit; then letters, digits, '_', '.', '-'",
        )
    for key, _ in cfg.labels:
        if key.startswith(LABEL_PREFIX):
            c.bad(
                "labels",
                key,
                f"the {LABEL_PREFIX}* label namespace is reserved",
                "choose a label key outside it",
            )
        elif not key:
            c.bad("labels", key, "an empty label key", "give a non-empty key")


def _user(c: _Checker, cfg: RunConfig) -> None:
    if cfg.user is None:
        c.needs(
            OptIn.ROOT_USER,
            "user",
            None,
            "no user set: the image's user, often root",
            "set .user(65534, 65534) or another non-root uid",
        )
    elif cfg.user.uid == 0:
        c.needs(
            OptIn.ROOT_USER,
            "user",
            str(cfg.user),
            "runs as root",
            "set a non-root uid, e.g. .user(65534, 65534)",
        )
    for gid in cfg.group_add:
        if isinstance(gid, bool) or not isinstance(gid, int) or not 0 <= gid <= 2**31 - 1:
            c.bad("group_add", gid, "not a numeric group id", "give gids such as 1000")


def _capabilities(c: _Checker, cfg: RunConfig) -> None:
    known = {*ALL_CAPABILITIES, "ALL"}
    for field in ("cap_add", "cap_drop"):
        for cap in getattr(cfg, field):
            if cap not in known:
                c.bad(
                    field,
                    cap,
                    "not a canonical capability name",
                    "use the builder, which normalises names, or e.g. 'NET_BIND_SERVICE'",
                )
    if "ALL" not in cfg.cap_drop:
        c.bad(
            "cap_drop",
            list(cfg.cap_drop),
            "does not drop ALL: Docker's 14 defaults remain",
            "keep cap_drop ALL and add back only what is needed with .cap_add()",
        )
    both = sorted((set(cfg.cap_add) & set(cfg.cap_drop)) - {"ALL"})
    if both:
        c.bad("cap_add", both, "both added and dropped", "name each capability in one list")
    for cap in sorted(set(cfg.cap_add) & DANGEROUS_CAPABILITIES):
        c.needs(
            OptIn.DANGEROUS_CAPABILITY,
            "cap_add",
            cap,
            "a capability that can break out of the container",
            "drop it",
        )
    # Unknown names are reported above; ALL is one of the dangerous ones.
    for cap in sorted(set(cfg.cap_add) & known - DANGEROUS_CAPABILITIES - UNWAIVED_CAPABILITIES):
        c.needs(
            OptIn.EXTRA_CAPABILITY,
            "cap_add",
            cap,
            "a capability beyond NET_BIND_SERVICE, which Pod Security 'restricted' refuses",
            "drop it",
        )


def _privileges(c: _Checker, cfg: RunConfig) -> None:
    if cfg.privileged:
        c.needs(
            OptIn.PRIVILEGED,
            "privileged",
            True,
            "privileged mode grants every capability and every device",
            "add only the capabilities and devices needed",
        )
    if not cfg.no_new_privileges:
        c.needs(
            OptIn.NEW_PRIVILEGES,
            "no_new_privileges",
            False,
            "setuid binaries could raise privileges",
            "keep .no_new_privileges(True)",
        )
    for device in cfg.devices:
        c.needs(
            OptIn.DEVICES, "devices", device.host_path, "exposes a host device", "remove the device"
        )
        if not device.host_path.startswith("/") or not device.container_path.startswith("/"):
            c.bad(
                "devices",
                device.host_path,
                "device paths must be absolute",
                "give paths such as /dev/fuse",
            )
        if not device.permissions or set(device.permissions) - set("rwm"):
            c.bad(
                "devices",
                device.permissions,
                "permissions must be letters from 'rwm'",
                "use e.g. 'r' or 'rw'",
            )


def _memory(c: _Checker, cfg: RunConfig) -> None:
    limit, reservation, swap = cfg.memory, cfg.memory_reservation, cfg.memory_swap
    for field, value in (("memory", limit), ("memory_reservation", reservation)):
        if value is not None and value < MIN_MEMORY:
            c.bad(
                field,
                value,
                "below Docker's minimum of 6 MiB (6291456 bytes)",
                'give at least "6m"',
            )
    if limit is None:
        c.needs(OptIn.UNLIMITED_MEMORY, "memory", None, "no memory limit", 'set .memory("256m")')
        if swap is not None:
            c.bad(
                "memory_swap",
                swap,
                "a swap limit without a memory limit",
                "set a memory limit first",
            )
        return
    if reservation is not None and reservation > limit:
        c.bad(
            "memory_reservation",
            reservation,
            f"above the memory limit ({limit})",
            "make the reservation at most the limit",
        )
    if swap is None:
        c.bad(
            "memory_swap",
            None,
            "unset: Docker would then allow as much swap as memory",
            "set it equal to the memory limit for no swap",
        )
    elif swap == -1:
        c.needs(
            OptIn.UNLIMITED_MEMORY,
            "memory_swap",
            swap,
            "unlimited swap",
            "give swap equal to the memory limit",
        )
    elif swap < limit:
        c.bad(
            "memory_swap",
            swap,
            f"below the memory limit ({limit}); it counts memory plus swap",
            "give at least the memory limit (equal means no swap)",
        )


def _cpu(c: _Checker, cfg: RunConfig) -> None:
    if cfg.cpus is not None:
        if not cfg.cpus > 0:
            c.bad("cpus", cfg.cpus, "must be more than 0", "give e.g. 0.5 or 2")
        elif cfg.cpus < 0.01:
            c.bad("cpus", cfg.cpus, "a quota below 1 ms per 100 ms period", "give at least 0.01")
        elif cfg.cpus * 1e9 >= 2**63:  # NanoCpus is an int64
            c.bad("cpus", cfg.cpus, "more CPUs than any host has", "give at most the host's CPUs")
        if cfg.cpu_quota is not None or cfg.cpu_period is not None:
            c.bad(
                "cpus",
                cfg.cpus,
                "combined with cpu_quota/cpu_period",
                "use either cpus() or cpu_quota(), not both",
            )
    if cfg.cpu_quota is not None and cfg.cpu_quota < 1000:
        c.bad("cpu_quota", cfg.cpu_quota, "below 1 ms (1000 us)", "give at least 1000")
    if cfg.cpu_period is not None and not 1000 <= cfg.cpu_period <= 1_000_000:
        c.bad(
            "cpu_period",
            cfg.cpu_period,
            "outside 1 ms to 1 s",
            "give 1000 to 1000000 microseconds (100000 is usual)",
        )
    if cfg.cpus is None and cfg.cpu_quota is None:
        c.needs(OptIn.UNLIMITED_CPU, "cpus", None, "no CPU limit", "set .cpus(1.0)")
    if cfg.cpu_shares is not None and not 2 <= cfg.cpu_shares <= 262144:
        c.bad("cpu_shares", cfg.cpu_shares, "outside 2 to 262144", "give e.g. 1024 (the default)")
    if cfg.cpuset is not None and not _CPUSET.fullmatch(cfg.cpuset):
        c.bad("cpuset", cfg.cpuset, "not a CPU list", 'give e.g. "0-1" or "0,2"')


def _pids(c: _Checker, cfg: RunConfig) -> None:
    if cfg.pids_limit is None:
        c.needs(
            OptIn.UNLIMITED_PIDS,
            "pids_limit",
            None,
            "no limit on processes: a fork bomb can exhaust the host",
            "set .pids_limit(128)",
        )
    elif cfg.pids_limit <= 0:
        c.bad(
            "pids_limit",
            cfg.pids_limit,
            "must be positive (Docker reads <= 0 as unlimited)",
            "give e.g. 128, or pids_limit(None) with the opt-in 'unlimited-pids'",
        )


def _ulimits(c: _Checker, cfg: RunConfig) -> None:
    seen = set()
    for u in cfg.ulimits:
        if u.name not in ULIMIT_NAMES:
            c.bad("ulimit", u.name, "unknown limit name", f"use one of {sorted(ULIMIT_NAMES)}")
        if u.name in seen:
            c.bad("ulimit", u.name, "given twice", "give each limit once")
        seen.add(u.name)
        if u.soft < -1 or u.hard < -1:
            c.bad("ulimit", f"{u.name}={u.soft}:{u.hard}", "negative", "use -1 for unlimited")
        elif u.hard != -1 and (u.soft == -1 or u.soft > u.hard):
            c.bad(
                "ulimit", f"{u.name}={u.soft}:{u.hard}", "soft above hard", "make soft at most hard"
            )


def _filesystem(c: _Checker, cfg: RunConfig) -> None:
    if not cfg.read_only:
        c.needs(
            OptIn.WRITABLE_ROOT,
            "read_only",
            False,
            "a writable root filesystem",
            "keep .read_only(True) and give writable paths with .tmpfs()",
        )
    paths = [t.path for t in cfg.tmpfs]
    for t in cfg.tmpfs:
        if not t.path.startswith("/") or posixpath.normpath(t.path) == "/":
            c.bad("tmpfs", t.path, "not an absolute path below /", "give a path such as /tmp")
        if paths.count(t.path) > 1:
            c.bad("tmpfs", t.path, "mounted twice", "give each path once")
        if t.size <= 0:
            c.bad("tmpfs", t.size, "size must be positive", 'give e.g. size="64m"')
        if not 0 <= t.mode <= 0o7777:
            c.bad("tmpfs", oct(t.mode), "not a file mode", "give e.g. 0o1777")


def _mounts(c: _Checker, cfg: RunConfig) -> None:
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
        elif m.kind == "volume" and not _NAME.fullmatch(m.source):
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


def _network(c: _Checker, cfg: RunConfig) -> None:
    if cfg.network == "host":
        c.needs(
            OptIn.HOST_NAMESPACE,
            "network",
            "host",
            "shares the host's network namespace",
            'use "none" or a user-defined network',
        )
    elif not _NAME.fullmatch(cfg.network) and not cfg.network.startswith("container:"):
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


def _namespaces(c: _Checker, cfg: RunConfig) -> None:
    for field in _NAMESPACE_FIELDS:
        mode = getattr(cfg, field)
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


def _security_profiles(c: _Checker, cfg: RunConfig) -> None:
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
    if cfg.runtime is not None and not _NAME.fullmatch(cfg.runtime):
        c.bad("runtime", cfg.runtime, "not a runtime name", 'give e.g. "runc" or "runsc"')


def _lifecycle(c: _Checker, cfg: RunConfig) -> None:
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


def _sysctls(c: _Checker, cfg: RunConfig) -> None:
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

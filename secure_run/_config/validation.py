"""Every rule a RunConfig must meet, checked at once.

:func:`check` runs when a :class:`RunConfig` is made and raises one :class:`ConfigError`
listing every problem. A weaker setting is a problem unless its :class:`OptIn` was
granted; ``check`` returns the grants the config really relies on.

The rules run in order: the per-field rules of :mod:`fields` (which the builder has
already run when it set each field), then the rules here on what runs, as whom and with
how much, then those of :mod:`host_rules` on what the container can reach of the host.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .._errors import ConfigError
from .capabilities import ALL_CAPABILITIES, DANGEROUS_CAPABILITIES, UNWAIVED_CAPABILITIES
from .checker import Checker
from .fields import check_fields
from .host_rules import HOST_RULES, NAME, SAFE_SYSCTLS
from .parse import parse_image
from .values import LABEL_PREFIX, OptIn

if TYPE_CHECKING:
    from .run_config import RunConfig

__all__ = ["MIN_MEMORY", "SAFE_SYSCTLS", "ULIMIT_NAMES", "check"]

#: Docker refuses a memory limit or reservation below 6 MiB.
MIN_MEMORY = 6 * 1024 * 1024

#: The resource names ``docker run --ulimit`` accepts.
ULIMIT_NAMES = frozenset({
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
})  # fmt: skip

_HOSTNAME = re.compile(
    r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
_CPUSET = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")
_ENV_KEY = re.compile(r"[^=\x00]+")


def check(cfg: RunConfig, *, fields_checked: bool = False) -> frozenset[OptIn]:
    """The opt-ins ``cfg`` relies on; or :class:`ConfigError` listing every problem.

    Args:
        cfg: The config to check.
        fields_checked: Each field's value already passed the per-field rules (the
            builder runs them when it sets a field), so only the rules across fields run.
    """
    c = Checker(cfg.opt_ins)
    if not fields_checked:
        check_fields(c, cfg)
        if c.problems:  # the rules below trust the types
            raise ConfigError(c.problems)
    for rule in RULES:
        rule(c, cfg)
    if c.problems:
        raise ConfigError(c.problems)
    return frozenset(c.used)


def _strings(c: Checker, field: str, values: Iterable[object]) -> None:
    for value in values:
        if not isinstance(value, str) or "\x00" in value:
            c.bad(
                field,
                value,
                "every element must be text without NUL bytes",
                'give a list of strings, e.g. ["id", "-u"]',
            )


def _identity(c: Checker, cfg: RunConfig) -> None:
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
    if cfg.name is not None and not NAME.fullmatch(cfg.name):
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


def _user(c: Checker, cfg: RunConfig) -> None:
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


_KNOWN_CAPABILITIES = frozenset({*ALL_CAPABILITIES, "ALL"})


def _capabilities(c: Checker, cfg: RunConfig) -> None:
    if not cfg.cap_add and cfg.cap_drop == ("ALL",):
        return  # the common case, which every rule below passes
    known = _KNOWN_CAPABILITIES
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


def _privileges(c: Checker, cfg: RunConfig) -> None:
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


def _memory(c: Checker, cfg: RunConfig) -> None:
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


def _cpu(c: Checker, cfg: RunConfig) -> None:
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


def _pids(c: Checker, cfg: RunConfig) -> None:
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


def _ulimits(c: Checker, cfg: RunConfig) -> None:
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


def _filesystem(c: Checker, cfg: RunConfig) -> None:
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
    if cfg.workspace is not None:
        _workspace(c, cfg.workspace.path, cfg.workspace.size, paths, cfg)


def _workspace(c: Checker, path: str, size: int, tmpfs_paths: list[str], cfg: RunConfig) -> None:
    if not path.startswith("/") or posixpath.normpath(path) == "/":
        c.bad("workspace", path, "not an absolute path below /", 'give e.g. "/workspace"')
    elif posixpath.normpath(path) != path:
        c.bad("workspace", path, "not a normal path", f"give {posixpath.normpath(path)!r}")
    if path in tmpfs_paths or path in (m.target for m in cfg.mounts):
        c.bad("workspace", path, "already a tmpfs or mount", "give the workspace its own path")
    if size <= 0:
        c.bad("workspace", size, "size must be positive", 'give e.g. size="64m"')


#: The rules across fields, in the order they run.
RULES: tuple[Callable[[Checker, RunConfig], None], ...] = (
    _identity,
    _user,
    _capabilities,
    _privileges,
    _memory,
    _cpu,
    _pids,
    _ulimits,
    _filesystem,
    *HOST_RULES,
)

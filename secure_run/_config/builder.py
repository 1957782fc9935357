"""The fluent, immutable builder of RunConfig values.

Every method returns a new builder and leaves the one it was called on as it
was, so a preset can be shared and extended freely. A method that is given a
bad value records the problem instead of raising; :meth:`RunBuilder.build`
raises one :class:`ConfigError` listing every problem at once.

Each step runs the per-field rules (:mod:`fields`) on the fields it sets, so a
builder only ever holds values that passed them, in the form the config stores;
:meth:`RunBuilder.build` then runs the rules across fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, cast

import attrs
from typing_extensions import Self

from .._errors import ConfigError, Problem, show
from .arguments import (
    UNSET,
    argv_list,
    flag,
    frozen_mapping,
    string_pairs,
    sysctl_value,
    text,
    whole_number,
)
from .capabilities import normalize_capability
from .fields import checked_changes
from .parse import parse_cpus, parse_duration_ns, parse_image, parse_memory, parse_user
from .run_config import RunConfig
from .seccomp import load_seccomp
from .values import (
    Device,
    Healthcheck,
    LogLimits,
    Mount,
    OptIn,
    PortBinding,
    RestartPolicy,
    Tmpfs,
    Ulimit,
    Workspace,
)

__all__ = ["RunBuilder"]


_NAMESPACES = {"network": "network", "pid": "pid_mode", "ipc": "ipc_mode", "uts": "uts_mode",
               "userns": "userns_mode"}  # fmt: skip


@attrs.frozen
class RunBuilder:
    """Builds a :class:`RunConfig` step by step, starting from a preset.

    Get one from :func:`secure_run.builder` or :func:`secure_run.preset`. The
    builder is immutable: ``b.user(1000)`` returns a new builder and ``b`` is
    unchanged.

    .. versionadded:: 0.1
    """

    _fields: Mapping[str, Any] = attrs.field(converter=frozen_mapping)
    _problems: tuple[Problem, ...] = ()

    def __attrs_post_init__(self) -> None:
        # Made by its constructor (or attrs.evolve): every field runs the per-field rules,
        # and one that fails is left out, its problems recorded, as a step would.
        fields, problems = checked_changes(dict(self._fields))
        for problem in problems:
            fields.pop(problem.field, None)
        _set_fields(self, MappingProxyType(fields))
        _set_problems(self, self._problems + tuple(problems))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._fields.items() if k != "env"}
        env = f", env=<{len(self._fields.get('env', ()))} hidden>" if "env" in self._fields else ""
        return f"RunBuilder({shown!r}{env}, problems={len(self._problems)})"

    # -- plumbing ------------------------------------------------------------

    def _make(self, fields: Mapping[str, Any], problems: tuple[Problem, ...]) -> Self:
        # Every builder step pays for this, so it skips attrs' __init__ (and the per-field
        # rules its post-init runs again: the fields passed them in _apply) and sets the
        # two slots directly. tests/unit/test_builder.py pins the two fields.
        new = object.__new__(self.__class__)
        _set_fields(new, MappingProxyType(fields))
        _set_problems(new, problems)
        return new

    def _set(self, **changes: Any) -> Self:
        """Set the fields of one step, or none of them if one fails its per-field rules."""
        return self._apply(changes)

    def _apply(self, changes: dict[str, Any]) -> Self:
        final, problems = checked_changes(changes)
        if problems:
            return self._make(self._fields, self._problems + tuple(problems))
        # A mapping proxy's copy() is its dict's: one C call, no walk of the mapping protocol.
        fields = cast("MappingProxyType[str, Any]", self._fields).copy()
        fields.update(final)
        return self._make(fields, self._problems)

    def _try(self, make: Callable[[], dict[str, Any]]) -> Self:
        """Apply the fields ``make`` returns (a new dict), or record the problems it raises."""
        try:
            changes = make()
        except ConfigError as exc:
            return self._make(self._fields, self._problems + exc.problems)
        return self._apply(changes)

    def build(self) -> RunConfig:
        """Check every setting together and return the :class:`RunConfig`.

        Raises:
            ConfigError: Listing every problem found, in the builder's calls and
                across fields, each with the field, the value and the fix.
        """
        problems = list(self._problems)
        if "image" not in self._fields:  # the image itself was refused
            raise ConfigError(problems or [Problem("image", "None", "no image was given",
                                                   "call .image(reference)")])  # fmt: skip
        try:
            config = RunConfig._from_checked_fields(self._fields)
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return config

    @property
    def problems(self) -> tuple[Problem, ...]:
        """The problems recorded so far by the builder's calls (cross-field rules run in build)."""
        return self._problems

    # -- what runs -----------------------------------------------------------

    def image(self, reference: str) -> Self:
        """Set the image reference (``busybox``, ``repo/app:1.2``, ``app@sha256:...``)."""
        return self._try(lambda: {"image": parse_image(reference)})

    def command(self, argv: Sequence[str] | None) -> Self:
        """Set the command as an argv list; no shell is involved unless you call one."""
        return self._try(lambda: {"command": argv_list(argv, "command")})

    def entrypoint(self, argv: Sequence[str] | None) -> Self:
        """Set the entrypoint as an argv list, or ``None`` for the image's."""
        return self._try(lambda: {"entrypoint": argv_list(argv, "entrypoint")})

    def env(self, mapping: Mapping[str, str] | None = None, /, **values: str) -> Self:
        """Add environment variables. Their values never appear in a repr or a message."""
        return self._try(
            lambda: {
                "env": {**dict(self._fields.get("env", ())), **string_pairs("env", mapping, values)}
            }
        )

    def workdir(self, path: str | None) -> Self:
        """Set the working directory (an absolute path)."""
        return self._set(workdir=path)

    def hostname(self, name: str | None) -> Self:
        """Set the container's own host name."""
        return self._set(hostname=name)

    def name(self, name: str | None) -> Self:
        """Set the container's name."""
        return self._set(name=name)

    def labels(self, mapping: Mapping[str, str] | None = None, /, **values: str) -> Self:
        """Add labels (the ``io.secure-run.`` namespace is reserved)."""
        old = dict(self._fields.get("labels", ()))
        return self._try(lambda: {"labels": {**old, **string_pairs("labels", mapping, values)}})

    # -- who it runs as ------------------------------------------------------

    def user(self, uid: int | str, gid: int | str | None = None) -> Self:
        """Run as a numeric uid and gid (``user(1000, 1000)`` or ``user("1000:1000")``).

        A missing gid takes the uid's value. Root needs the ``root-user`` opt-in.
        """
        return self._try(lambda: {"user": parse_user(uid, gid)})

    def group_add(self, *gids: int) -> Self:
        """Add supplementary groups by numeric gid."""
        old = self._fields.get("group_add", ())
        return self._try(lambda: {"group_add": tuple(dict.fromkeys(
            (*old, *(whole_number(g, "group_add", "a numeric gid") for g in gids))))})  # fmt: skip

    def cap_add(self, *names: str) -> Self:
        """Add capabilities (``"NET_BIND_SERVICE"``; ``cap_`` prefix and case are ignored)."""
        added: set[str] = set()
        problems: list[Problem] = []
        for name in names:  # a typo in one name must not hide the others' problems
            try:
                added.add(normalize_capability(name, field="cap_add"))
            except ConfigError as exc:
                problems.extend(exc.problems)
        builder = self._set(cap_add=tuple(sorted({*self._fields.get("cap_add", ()), *added})))
        return builder._make(builder._fields, builder._problems + tuple(problems))

    def cap_drop(self, *names: str) -> Self:
        """Take capabilities back out of the added set.

        Every config drops ALL first, so dropping means "do not add"; dropping
        ``ALL`` clears every addition.
        """

        def make() -> dict[str, Any]:
            dropped = {normalize_capability(n, field="cap_drop") for n in names}
            kept = (
                ()
                if "ALL" in dropped
                else tuple(c for c in self._fields.get("cap_add", ()) if c not in dropped)
            )
            return {"cap_add": kept}

        return self._try(make)

    def privileged(self, enabled: bool = True) -> Self:
        """Run privileged: every capability and device. Needs the ``privileged`` opt-in."""
        return self._set(privileged=enabled)

    def device(
        self, host_path: str, container_path: str | None = None, permissions: str = "rwm"
    ) -> Self:
        """Expose a host device. Needs the ``devices`` opt-in."""

        def make() -> dict[str, Any]:
            host = text(host_path, "device")
            inside = host if container_path is None else text(container_path, "device")
            device = Device(host, inside, text(permissions, "device"))
            return {"devices": (*self._fields.get("devices", ()), device)}

        return self._try(make)

    def host_namespace(self, *kinds: str) -> Self:
        """Share host namespaces (``"network"``, ``"pid"``, ``"ipc"``, ``"uts"``, ``"userns"``).

        Needs the ``host-namespace`` opt-in.
        """

        def make() -> dict[str, Any]:
            unknown = [k for k in kinds if not isinstance(k, str) or k not in _NAMESPACES]
            if unknown:
                raise ConfigError(
                    [
                        Problem(
                            "host_namespace",
                            show(k),
                            "unknown namespace",
                            f"use one of {sorted(_NAMESPACES)}",
                        )
                        for k in unknown
                    ]
                )
            return {_NAMESPACES[k]: "host" for k in kinds}

        return self._try(make)

    def opt_in(self, *opt_ins: OptIn | str) -> Self:
        """Grant opt-ins that waive secure defaults; each is recorded on the config.

        Example: ``.user(0).opt_in("root-user")``.
        """

        def make() -> dict[str, Any]:
            granted = []
            for name in opt_ins:
                try:
                    granted.append(OptIn(name))
                except ValueError:
                    raise ConfigError.single(
                        "opt_in",
                        name,
                        "unknown opt-in",
                        f"use one of {[o.value for o in OptIn]}",
                    ) from None
            return {"opt_ins": (*self._fields.get("opt_ins", ()), *granted)}

        return self._try(make)

    # -- resources -----------------------------------------------------------

    def memory(
        self,
        limit: int | str | None,
        *,
        reservation: int | str | None = UNSET,
        swap: int | str | None = UNSET,
    ) -> Self:
        """Set the memory hard limit, the reservation (soft limit) and swap.

        Args:
            limit: Bytes or a size (``"256m"``, ``"1g"``, ``"512MiB"``); ``None`` for
                no limit, which needs the ``unlimited-memory`` opt-in.
            reservation: The soft limit; half the limit if not given, ``None`` for none.
            swap: Memory plus swap, as Docker's ``--memory-swap``; equal to the limit
                (no swap) if not given; ``-1`` for unlimited.
        """

        def make() -> dict[str, Any]:
            if limit is None:
                return {"memory": None, "memory_reservation": None, "memory_swap": None}
            problems: list[Problem] = []
            values: dict[str, Any] = {}
            for field, raw, default in (
                ("memory", limit, None),
                ("memory_reservation", reservation, "half"),
                ("memory_swap", swap, "limit"),
            ):
                try:
                    if raw is UNSET:
                        values[field] = default
                    elif raw is None or (field == "memory_swap" and raw in (-1, "-1")):
                        values[field] = None if raw is None else -1
                    else:
                        values[field] = parse_memory(raw, field=field)
                except ConfigError as exc:
                    problems.extend(exc.problems)
            if problems:
                raise ConfigError(problems)
            if values["memory_reservation"] == "half":
                values["memory_reservation"] = values["memory"] // 2
            if values["memory_swap"] in ("limit", None):
                values["memory_swap"] = values["memory"]
            return values

        return self._try(make)

    def cpus(self, cpus: float | str | None) -> Self:
        """Limit CPU time to this many CPUs (``0.5`` = half of one); clears ``cpu_quota``."""
        return self._try(
            lambda: {
                "cpus": None if cpus is None else parse_cpus(cpus),
                "cpu_quota": None,
                "cpu_period": None,
            }
        )

    def cpu_quota(self, quota_us: int, period_us: int = 100_000) -> Self:
        """Limit CPU time as a CFS quota per period, in microseconds; clears ``cpus``."""
        return self._try(
            lambda: {
                "cpu_quota": whole_number(quota_us, "cpu_quota"),
                "cpu_period": whole_number(period_us, "cpu_period"),
                "cpus": None,
            }
        )

    def cpu_shares(self, shares: int | None) -> Self:
        """Set the relative CPU weight (2 to 262144; Docker's default is 1024)."""
        return self._try(
            lambda: {"cpu_shares": None if shares is None else whole_number(shares, "cpu_shares")}
        )

    def cpuset(self, cpus: str | None) -> Self:
        """Pin to CPUs, e.g. ``"0-1"`` or ``"0,2"``."""
        return self._set(cpuset=cpus)

    def pids_limit(self, limit: int | None) -> Self:
        """Cap the number of processes; ``None`` for unlimited needs ``unlimited-pids``."""
        return self._try(
            lambda: {"pids_limit": None if limit is None else whole_number(limit, "pids_limit")}
        )

    def ulimit(self, name: str, soft: int, hard: int | None = None) -> Self:
        """Set a resource limit; ``hard`` defaults to ``soft``; -1 means unlimited."""

        def make() -> dict[str, Any]:
            limit = Ulimit(
                text(name, "ulimit").lower(),
                whole_number(soft, "ulimit"),
                whole_number(soft if hard is None else hard, "ulimit"),
            )
            others = [u for u in self._fields.get("ulimits", ()) if u.name != limit.name]
            return {"ulimits": tuple(sorted([*others, limit], key=lambda u: u.name))}

        return self._try(make)

    # -- filesystem ----------------------------------------------------------

    def read_only(self, enabled: bool = True) -> Self:
        """Make the root filesystem read-only; ``False`` needs ``writable-root``."""
        return self._set(read_only=enabled)

    def tmpfs(
        self,
        path: str,
        size: int | str = "64m",
        mode: int = 0o1777,
        *,
        exec: bool = False,
        suid: bool = False,
    ) -> Self:
        """Mount a tmpfs; by default noexec, nosuid, nodev, and mode 1777 so any user can write.

        A tmpfs at the same path replaces the earlier one.
        """

        def make() -> dict[str, Any]:
            mount = Tmpfs(
                path=text(path, "tmpfs"),
                size=parse_memory(size, field="tmpfs"),
                mode=whole_number(mode, "tmpfs", "an octal mode"),
                exec=flag(exec, "tmpfs"),
                suid=flag(suid, "tmpfs"),
            )
            others = [t for t in self._fields.get("tmpfs", ()) if t.path != mount.path]
            return {"tmpfs": (*others, mount)}

        return self._try(make)

    def workspace(
        self, path: str = "/workspace", size: int | str = "64m", *, exec: bool = False
    ) -> Self:
        """Give the sandbox a workspace: files go in and out there; the default workdir.

        A tmpfs of ``size`` owned by the config's user, mode 0700, ``noexec`` unless
        ``exec``, ``nosuid``, ``nodev``. See :class:`~secure_run.Workspace`.

        .. versionadded:: 0.2
        """
        field = "workspace"
        return self._try(lambda: {field: Workspace(text(path, field),
                                                   parse_memory(size, field=field),
                                                   flag(exec, field))})  # fmt: skip

    def mount(
        self, source: str, target: str, read_only: bool = True, *, propagation: str | None = None
    ) -> Self:
        """Mount a host path (absolute ``source``) or a named volume, read-only by default."""

        def make() -> dict[str, Any]:
            kind = "bind" if text(source, "mount").startswith("/") else "volume"
            mode = None if propagation is None else text(propagation, "mount")
            mount = Mount(source, text(target, "mount"), kind, flag(read_only, "mount"), mode)
            others = [m for m in self._fields.get("mounts", ()) if m.target != target]
            return {"mounts": (*others, mount)}

        return self._try(make)

    # -- network -------------------------------------------------------------

    def network(self, name: str) -> Self:
        """Attach to a network (``"none"``, ``"bridge"`` or a user-defined one)."""
        return self._try(lambda: {"network": text(name, "network")})

    def publish(
        self, container_port: int | str, host_port: int | None = None, host_ip: str = "127.0.0.1"
    ) -> Self:
        """Publish a port (``80`` or ``"53/udp"``) on ``host_ip`` (loopback by default)."""

        def make() -> dict[str, Any]:
            if isinstance(container_port, bool) or not isinstance(container_port, (int, str)):
                raise ConfigError.single("publish", container_port, "not a port",
                                         'give e.g. 8080 or "53/udp"')  # fmt: skip
            if isinstance(container_port, int) and not 0 <= container_port <= 65535:
                raise ConfigError.single("publish", container_port, "not a port number",
                                         "give 1 to 65535")  # fmt: skip
            port, _, protocol = str(container_port).partition("/")
            if not port.isdecimal() or len(port) > 5:
                raise ConfigError.single(
                    "publish", container_port, "not a port", 'give e.g. 8080 or "53/udp"'
                )
            binding = PortBinding(
                int(port),
                protocol or "tcp",
                text(host_ip, "publish"),
                None if host_port is None else whole_number(host_port, "publish"),
            )
            return {"ports": (*self._fields.get("ports", ()), binding)}

        return self._try(make)

    # -- security profiles ---------------------------------------------------

    def seccomp(self, profile: str | Path | Mapping[str, Any]) -> Self:
        """Use ``"default"``, ``"unconfined"`` (needs an opt-in), a JSON file or a mapping.

        The profile is read and checked now; a problem is reported by :meth:`build`.
        """
        return self._try(lambda: {"seccomp": load_seccomp(profile)})

    def apparmor(self, profile: str | None) -> Self:
        """Use an AppArmor profile by name; ``"unconfined"`` needs an opt-in."""
        return self._set(apparmor=profile)

    def no_new_privileges(self, enabled: bool = True) -> Self:
        """Forbid gaining privileges via setuid files; ``False`` needs ``new-privileges``."""
        return self._set(no_new_privileges=enabled)

    def sysctl(self, name: str, value: str | int) -> Self:
        """Set a namespaced sysctl from the safe list (e.g. ``net.ipv4.ip_unprivileged_port_start``)."""  # noqa: E501
        return self._try(
            lambda: {
                "sysctls": {
                    **dict(self._fields.get("sysctls", ())),
                    text(name, "sysctl"): sysctl_value(value),
                }
            }
        )

    # -- lifecycle -----------------------------------------------------------

    def init(self, enabled: bool = True) -> Self:
        """Run an init process as PID 1, which reaps zombies and forwards signals."""
        return self._set(init=enabled)

    def runtime(self, name: str | None) -> Self:
        """Use an OCI runtime other than the daemon's default, e.g. ``"runsc"`` (gVisor)."""
        return self._set(runtime=name)

    def restart(self, policy: str | None, max_retries: int = 0) -> Self:
        """Set the restart policy; ``on-failure`` takes ``max_retries``."""
        return self._try(
            lambda: {
                "restart": None
                if policy is None
                else RestartPolicy(text(policy, "restart"), whole_number(max_retries, "restart"))
            }
        )

    def healthcheck(
        self,
        test: Sequence[str] | str | None,
        *,
        interval: float | str = 30,
        timeout: float | str = 10,
        retries: int = 3,
        start_period: float | str = 0,
    ) -> Self:
        """Set a healthcheck: an argv (run directly) or a string (run by the image's shell).

        Times are seconds or text such as ``"30s"``; ``None`` removes the healthcheck.
        """

        def make() -> dict[str, Any]:
            if test is None:
                return {"healthcheck": None}
            if isinstance(test, str):
                argv: tuple[str, ...] = ("CMD-SHELL", test)
            else:
                argv = argv_list(test, "healthcheck") or ()
                if not argv or argv[0] not in ("CMD", "CMD-SHELL"):
                    argv = ("CMD", *argv)
            return {
                "healthcheck": Healthcheck(
                    test=argv,
                    interval_ns=parse_duration_ns(interval, field="healthcheck.interval"),
                    timeout_ns=parse_duration_ns(timeout, field="healthcheck.timeout"),
                    retries=whole_number(retries, "healthcheck.retries"),
                    start_period_ns=parse_duration_ns(
                        start_period, field="healthcheck.start_period"
                    ),
                )
            }

        return self._try(make)

    def stop_timeout(self, seconds: int | None) -> Self:
        """Seconds between the stop signal and SIGKILL."""
        return self._try(
            lambda: {
                "stop_timeout": None if seconds is None else whole_number(seconds, "stop_timeout")
            }
        )

    def log_limits(self, max_size: int | str = "10m", max_files: int = 3) -> Self:
        """Rotate logs (json-file driver): at most ``max_files`` files of ``max_size``."""
        return self._try(
            lambda: {
                "log_limits": LogLimits(
                    parse_memory(max_size, field="log_limits"),
                    whole_number(max_files, "log_limits"),
                )
            }
        )


# The slots' own setters: how the frozen class sets its two fields, without a lookup.
_set_fields = RunBuilder.__dict__["_fields"].__set__
_set_problems = RunBuilder.__dict__["_problems"].__set__

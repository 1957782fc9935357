"""The immutable run configuration and the small value types inside it.

A :class:`RunConfig` is validated when it is made, by the builder or by
``attrs.evolve``, so an invalid one cannot exist. Collections inside it are
tuples, so nothing inside can change either.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "Device",
    "Explanation",
    "Healthcheck",
    "LogLimits",
    "Mount",
    "OptIn",
    "PortBinding",
    "RestartPolicy",
    "RunConfig",
    "Seccomp",
    "Tmpfs",
    "Ulimit",
    "User",
]

LABEL_PREFIX = "io.secure-run."


class OptIn(str, enum.Enum):
    """An explicit waiver of one secure default.

    Each weaker setting is refused unless its opt-in is granted with
    :meth:`RunBuilder.opt_in`. The opt-ins a config really uses are listed by
    :meth:`RunConfig.waivers` and put on the container as a label.

    .. versionadded:: 0.1
    """

    ROOT_USER = "root-user"
    DANGEROUS_CAPABILITY = "dangerous-capability"
    EXTRA_CAPABILITY = "extra-capability"
    PRIVILEGED = "privileged"
    HOST_NAMESPACE = "host-namespace"
    SECCOMP_UNCONFINED = "seccomp-unconfined"
    APPARMOR_UNCONFINED = "apparmor-unconfined"
    DEVICES = "devices"
    SENSITIVE_MOUNT = "sensitive-mount"
    DOCKER_SOCKET = "docker-socket"
    SHARED_PROPAGATION = "shared-propagation"
    PUBLIC_PORT = "public-port"
    PRIVILEGED_PORT = "privileged-port"
    NEW_PRIVILEGES = "new-privileges"
    WRITABLE_ROOT = "writable-root"
    UNLIMITED_MEMORY = "unlimited-memory"
    UNLIMITED_CPU = "unlimited-cpu"
    UNLIMITED_PIDS = "unlimited-pids"
    UNBOUNDED_RESTART = "unbounded-restart"

    def __str__(self) -> str:
        return self.value


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def _pairs(value: Mapping[str, str] | Any) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), str(v)) for k, v in items))


def _opt_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _opt_ins(value: Any) -> tuple[OptIn, ...]:
    return tuple(sorted({OptIn(o) for o in value}, key=str))


def _hidden_env(env: tuple[tuple[str, str], ...]) -> str:
    return "(" + ", ".join(f"({k!r}, '***')" for k, _ in env) + ")"


@attrs.frozen
class User:
    """A numeric user and group the container's processes run as.

    .. versionadded:: 0.1
    """

    uid: int
    gid: int

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


@attrs.frozen
class Ulimit:
    """A resource limit (``setrlimit``) with soft and hard values; -1 means unlimited.

    .. versionadded:: 0.1
    """

    name: str
    soft: int
    hard: int


@attrs.frozen
class Tmpfs:
    """A tmpfs mount: size in bytes, octal mode, owner, and whether exec/suid are allowed.

    .. versionadded:: 0.1
    """

    path: str
    size: int
    mode: int
    uid: int | None = None
    gid: int | None = None
    exec: bool = False
    suid: bool = False

    def options(self) -> str:
        """The mount options, as Docker's ``--tmpfs`` and ``tmpfs=`` take them."""
        opts = [f"size={self.size}", f"mode={self.mode:o}"]
        if self.uid is not None:
            opts.append(f"uid={self.uid}")
        if self.gid is not None:
            opts.append(f"gid={self.gid}")
        opts.append("exec" if self.exec else "noexec")
        opts.append("suid" if self.suid else "nosuid")
        opts.append("nodev")
        return ",".join(opts)


@attrs.frozen
class Mount:
    """A bind mount (``kind="bind"``, absolute host source) or a named volume.

    .. versionadded:: 0.1
    """

    source: str
    target: str
    kind: str = "bind"
    read_only: bool = True
    propagation: str | None = None


@attrs.frozen
class PortBinding:
    """A published port: container port and protocol, host address and port (None = any free).

    .. versionadded:: 0.1
    """

    container_port: int
    protocol: str = "tcp"
    host_ip: str = "127.0.0.1"
    host_port: int | None = None

    @property
    def key(self) -> str:
        """The ``"80/tcp"`` form Docker uses for the container side."""
        return f"{self.container_port}/{self.protocol}"


@attrs.frozen
class Device:
    """A host device made visible in the container.

    .. versionadded:: 0.1
    """

    host_path: str
    container_path: str
    permissions: str = "rwm"


@attrs.frozen
class Seccomp:
    """The seccomp profile: Docker's default, none, or a custom profile validated here.

    Attributes:
        kind: ``"default"``, ``"unconfined"`` or ``"custom"``.
        profile_json: The custom profile as compact JSON: a file's keys in their
            order (as the docker CLI sends it), a mapping's sorted.
        source: The file it was read from, if any.

    .. versionadded:: 0.1
    """

    kind: str = "default"
    profile_json: str | None = attrs.field(default=None, repr=False)
    source: str | None = None

    def __str__(self) -> str:
        if self.kind == "custom":
            return f"custom ({self.source})" if self.source else "custom (inline)"
        return self.kind


@attrs.frozen
class RestartPolicy:
    """A restart policy: ``no``, ``on-failure`` (with retries), ``always``, ``unless-stopped``.

    .. versionadded:: 0.1
    """

    name: str
    max_retries: int = 0

    def __str__(self) -> str:
        if self.name == "on-failure" and self.max_retries:
            return f"on-failure:{self.max_retries}"
        return self.name


@attrs.frozen
class Healthcheck:
    """A healthcheck: the test (``("CMD", ...)`` or ``("CMD-SHELL", "...")``) and timings in ns.

    .. versionadded:: 0.1
    """

    test: tuple[str, ...] = attrs.field(converter=_tuple)
    interval_ns: int = 30_000_000_000
    timeout_ns: int = 10_000_000_000
    retries: int = 3
    start_period_ns: int = 0


@attrs.frozen
class LogLimits:
    """Log rotation for the json-file driver: the size of one file and how many are kept.

    .. versionadded:: 0.1
    """

    max_size: int
    max_files: int


@attrs.frozen
class Explanation:
    """One setting of a config: its value, why it is so, and the controls it meets.

    .. versionadded:: 0.1
    """

    setting: str
    value: str
    why: str
    controls: tuple[str, ...]


@attrs.frozen(kw_only=True)
class RunConfig:
    """A validated, immutable description of one hardened container launch.

    Make one with :func:`secure_run.builder` or :func:`secure_run.preset`. It is
    hashable, compares by value, works with ``attrs.evolve`` (which validates
    again), and translates to docker-py keyword arguments, a ``docker run`` argv
    and a compose service.

    Memory sizes are bytes; ``memory_swap`` is memory plus swap, as Docker's
    ``--memory-swap`` (equal to ``memory`` means no swap, -1 unlimited).
    ``pids_limit``, ``memory`` and the CPU settings are ``None`` when unlimited.

    .. versionadded:: 0.1
    """

    image: str
    preset: str | None = None
    command: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    entrypoint: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    env: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs, repr=_hidden_env)
    workdir: str | None = None
    hostname: str | None = None
    name: str | None = None
    labels: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    user: User | None = None
    group_add: tuple[int, ...] = attrs.field(default=(), converter=_tuple)
    cap_add: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    cap_drop: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    privileged: bool = False
    devices: tuple[Device, ...] = attrs.field(default=(), converter=_tuple)
    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    cpus: float | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    ulimits: tuple[Ulimit, ...] = attrs.field(default=(), converter=_tuple)
    read_only: bool = False
    tmpfs: tuple[Tmpfs, ...] = attrs.field(default=(), converter=_tuple)
    mounts: tuple[Mount, ...] = attrs.field(default=(), converter=_tuple)
    network: str = "none"
    ports: tuple[PortBinding, ...] = attrs.field(default=(), converter=_tuple)
    pid_mode: str | None = None
    ipc_mode: str | None = None
    uts_mode: str | None = None
    userns_mode: str | None = None
    seccomp: Seccomp = Seccomp()
    apparmor: str | None = None
    no_new_privileges: bool = False
    init: bool = False
    runtime: str | None = None
    restart: RestartPolicy | None = None
    healthcheck: Healthcheck | None = None
    stop_timeout: int | None = None
    log_limits: LogLimits | None = None
    sysctls: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    opt_ins: tuple[OptIn, ...] = attrs.field(default=(), converter=_opt_ins)

    # Derived once, when the config is made; not part of its value.
    _waivers: tuple[OptIn, ...] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _digest: str | None = attrs.field(init=False, default=None, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        from ._validation import check

        object.__setattr__(self, "_waivers", tuple(sorted(check(self), key=str)))

    @property
    def environment(self) -> dict[str, str]:
        """The environment as a new dict (values included: handle with care)."""
        return dict(self.env)

    def waivers(self) -> tuple[OptIn, ...]:
        """The opt-ins this config really relies on, sorted; unused grants are left out."""
        return self._waivers

    def digest(self) -> str:
        """A stable ``sha256:<hex>`` of the config's content, the same in every process."""
        if self._digest is None:
            content = attrs.asdict(self, filter=lambda field, _: field.init)
            payload = json.dumps(content, sort_keys=True, default=str)
            digest = "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
            object.__setattr__(self, "_digest", digest)
            return digest
        return self._digest

    def to_docker_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``DockerClient.containers.run()`` and ``.create()``."""
        from ._translate import to_docker_kwargs

        return to_docker_kwargs(self)

    def to_cli(self, *, reveal_env: bool = False) -> list[str]:
        """A ``docker run`` argv giving the container the same HostConfig.

        Args:
            reveal_env: Write environment values into the argv. By default only
                the names are written (``--env NAME``), so secrets stay out of
                process listings; run the argv with those variables set.
        """
        from ._translate import to_cli

        return to_cli(self, reveal_env=reveal_env)

    def to_compose(self, *, reveal_env: bool = False) -> dict[str, Any]:
        """A compose service mapping with the same settings (see :meth:`to_cli` for env)."""
        from ._translate import to_compose

        return to_compose(self, reveal_env=reveal_env)

    def explain(self) -> list[Explanation]:
        """Each setting with its value, the reason for it, and the controls it meets."""
        from ._explain import explain

        return explain(self)

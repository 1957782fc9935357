"""The immutable run configuration and the small value types inside it.

A :class:`RunConfig` is validated when it is made, by the builder or by
``attrs.evolve``, so an invalid one cannot exist. Collections inside it are
tuples, so nothing inside can change either.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, cast

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
    "Seccomp",
    "Tmpfs",
    "Ulimit",
    "User",
    "Workspace",
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
    """Run as uid 0, or as the image's own user (often root): no ``.user()``, or ``.user(0)``.

    Costs: root in the container is uid 0 to the host kernel. It owns the files the image
    holds, and a breakout through a kernel or runtime bug lands as root on the host, unless the
    daemon remaps users (userns-remap) or runs rootless."""

    DANGEROUS_CAPABILITY = "dangerous-capability"
    """Add a capability that can break out of the container: ``SYS_ADMIN``, ``SYS_MODULE``,
    ``SYS_PTRACE``, ``DAC_READ_SEARCH``, ``NET_ADMIN``, ``ALL`` and the others in
    ``sr.DANGEROUS_CAPABILITIES``.

    Costs: each is a known way out or a host-wide power: ``SYS_ADMIN`` mounts file systems and
    much else root can do, ``SYS_MODULE`` loads code into the host kernel, ``DAC_READ_SEARCH``
    opens any host file by handle (the "shocker" escape), ``SYS_PTRACE`` reads and changes
    other processes."""

    EXTRA_CAPABILITY = "extra-capability"
    """Add a capability beyond ``NET_BIND_SERVICE`` that is not one of the dangerous ones, such
    as ``CHOWN``, ``SETUID`` or ``NET_RAW``.

    Costs: each is a piece of root's power that Pod Security "restricted" refuses: ``CHOWN``
    and ``FOWNER`` take files over, ``SETUID`` and ``SETGID`` change identity, ``NET_RAW``
    forges packets on the container's network."""

    PRIVILEGED = "privileged"
    """``privileged()``: every capability and every host device, with no seccomp filter and no
    AppArmor or SELinux confinement.

    Costs: the container is root on the host in all but name; one ``mount`` of a host disk is
    enough to leave it."""

    HOST_NAMESPACE = "host-namespace"
    """Share a host namespace: ``network("host")``, or ``host_namespace("network", "pid",
    "ipc", "uts", "userns")``.

    Costs: the host network exposes every host interface and the services listening on the
    host's loopback; the host PID namespace shows, and with capabilities signals, every host
    process; the host IPC namespace shares its shared memory; the host user namespace undoes
    the daemon's userns-remap, so root inside is root outside."""

    SECCOMP_UNCONFINED = "seccomp-unconfined"
    """``seccomp("unconfined")``, or a custom profile that allows every syscall.

    Costs: every system call reaches the kernel, including the ones Docker's default profile
    blocks (``keyctl``, ``kexec_load``, ``open_by_handle_at``, ``userfaultfd`` and others), so
    a kernel bug behind any of them is in reach."""

    APPARMOR_UNCONFINED = "apparmor-unconfined"
    """``apparmor("unconfined")``.

    Costs: on a host with AppArmor, the ``docker-default`` profile no longer denies mounts and
    writes to ``/proc`` and ``/sys``. No effect on a host without AppArmor."""

    DEVICES = "devices"
    """Any ``device()``: a host device node made visible in the container.

    Costs: the process talks to the host's driver directly; a block device hands over the raw
    disk, whatever the file permissions on it say."""

    SENSITIVE_MOUNT = "sensitive-mount"
    """A writable bind mount of ``/``, ``/boot``, ``/dev``, ``/etc``, ``/lib``, ``/proc``,
    ``/sys``, ``/usr`` or a path below them; any bind of the host's ``/proc`` or ``/sys``; a
    writable mount over one of the container's system directories.

    Costs: writing the host's ``/etc`` or ``/usr`` is code execution as root on the host (a
    cron entry, a changed binary, a new ``passwd`` line)."""

    DOCKER_SOCKET = "docker-socket"
    """Mount an engine socket (``docker.sock``, ``containerd.sock``, ``podman.sock``) or a
    folder above one, read-only or not.

    Costs: whoever can talk to the engine is root on the host: it can start a privileged
    container with ``/`` mounted. Read-only does not help: it stops changes to the socket file,
    not connections to it."""

    SHARED_PROPAGATION = "shared-propagation"
    """A bind mount with ``shared`` or ``rshared`` propagation.

    Costs: mounts made inside the container appear on the host, and the other way round."""

    PUBLIC_PORT = "public-port"
    """Publish a port on every host interface (``0.0.0.0`` or ``::``).

    Costs: the service is reachable from every network the host is on. Docker writes its own
    firewall rules for published ports, so a host firewall such as ufw may not stop the
    traffic."""

    PRIVILEGED_PORT = "privileged-port"
    """Publish on a host port below 1024.

    Costs: the range where the host's system services listen (22, 53, 80, 443); a container
    there can stand in for one of them."""

    NEW_PRIVILEGES = "new-privileges"
    """``no_new_privileges(False)``.

    Costs: setuid and setgid binaries, and files with capabilities, in the image can raise a
    process's privileges again (``su``, ``sudo``), undoing the non-root user."""

    WRITABLE_ROOT = "writable-root"
    """``read_only(False)``: a writable root file system.

    Costs: an intruder can replace the image's binaries and libraries for the life of the
    container, and writes land on the host's disk in the container's layer, bounded by no tmpfs
    size."""

    UNLIMITED_MEMORY = "unlimited-memory"
    """``memory(None)`` (no memory limit), or ``swap=-1`` (unlimited swap).

    Costs: one container can take all of the host's memory; the host's OOM killer then picks
    its victims among every process, the daemon included. Unlimited swap slows the whole host
    down instead."""

    UNLIMITED_CPU = "unlimited-cpu"
    """No CPU limit: ``cpus(None)`` without a ``cpu_quota()``.

    Costs: a busy loop takes every CPU of the host; only the relative ``cpu_shares`` weight
    applies, and only under contention."""

    UNLIMITED_PIDS = "unlimited-pids"
    """``pids_limit(None)``: no limit on processes.

    Costs: a fork bomb fills the host's process table, and then nothing new starts on the host,
    not even a shell to stop it."""

    UNBOUNDED_RESTART = "unbounded-restart"
    """``restart("always")``, ``restart("unless-stopped")``, or ``"on-failure"`` with 0
    (unlimited) or more than 5 retries.

    Costs: a crash loop restarts for ever, burning CPU and filling logs, and a container that
    should stay dead comes back."""

    K8S_NODE_LIMITS = "kubernetes-node-limits"
    """Export to Kubernetes a config whose pids limit, ulimits, no-swap or log limits have no
    per-pod field: the caller states that the cluster's nodes enforce them (the kubelet's
    ``podPidsLimit``, swap behaviour ``NoSwap``, ``containerLogMaxSize`` and
    ``containerLogMaxFiles``; the container runtime's default rlimits).
    :meth:`RunConfig.to_kubernetes` refuses those settings without it, and with it writes
    each one it did not carry into the pod's ``io.secure-run.kubernetes-losses`` annotation.

    Costs: nothing in the manifest enforces them. On a node configured otherwise, a fork bomb
    fills the node's process table, core dumps and open files are bounded only by the node's
    defaults, the pod may swap, and its logs grow to the node's rotation size."""

    UNENFORCED_LIMITS = "unenforced-limits"
    """Launch a config with memory, CPU or pids limits on an engine that cannot apply them:
    rootless Docker without cgroups (``docker info``: ``name=rootless``, Cgroup Driver
    ``none``, as on every cgroup v1 host). Such an engine accepts the limits, shows them in
    inspect and applies none of them; secure_run refuses the launch there unless this is
    granted. With it, the container carries the opt-in in its label and ``verify()`` notes each
    limit as not enforced by the engine instead of failing it. No effect on other engines.

    Costs: nothing bounds the container but the rootless user's own rlimits: a memory hog takes
    the host's memory, a fork bomb the user's process table, a busy loop every CPU."""

    SWARM_DAEMON_NNP = "swarm-daemon-nnp"
    """A Swarm service at an Engine API below 1.44, where the service spec has no field for
    no-new-privileges: the caller states that every node's dockerd runs with
    ``--no-new-privileges``. Granted to :meth:`RunConfig.to_swarm` or :func:`secure_run.service`
    (or in the config); ``verify()`` of the service reads ``NoNewPrivs`` inside each task.

    Costs: the setting rests on the nodes, not on the service: a node whose dockerd lacks the flag
    runs the tasks with setuid binaries able to raise privileges again, until a verify finds it."""

    SWARM_DEFAULT_SWAP = "swarm-default-swap"
    """A Swarm service at an Engine API below 1.52, where the service spec has no field for swap:
    the task gets the node's default, as much swap as its memory limit where the node has swap
    (none where it has none). Granted to :meth:`RunConfig.to_swarm` or :func:`secure_run.service`
    (or in the config).

    Costs: on a node with swap a task can use twice its memory limit in memory plus swap, and
    slows the node down while it does."""

    def __str__(self) -> str:
        return self.value


# The converters below never raise: what they cannot convert is passed on unchanged, and
# the type rule (``fields._types``) then reports it as a ConfigError naming the field.


def _tuple(value: Any) -> tuple[Any, ...]:
    if value.__class__ is tuple:
        return value
    try:
        return tuple(value)
    except TypeError:
        return value  # type: ignore[no-any-return]


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if value.__class__ is tuple and _final_pairs(value):
        return cast("tuple[tuple[str, str], ...]", value)
    try:
        items = value.items() if isinstance(value, Mapping) else value
        return tuple(sorted((str(k), str(v)) for k, v in items))
    except (TypeError, ValueError):  # not pairs; ValueError: a pair of the wrong length
        return cast("tuple[tuple[str, str], ...]", value)


def _final_pairs(value: tuple[Any, ...]) -> bool:
    """Whether ``value`` is already sorted pairs of text, as :func:`_pairs` gives them."""
    pairs = all([p.__class__ is tuple and len(p) == 2 and p[0].__class__ is str
                 and p[1].__class__ is str for p in value])  # fmt: skip
    return pairs and list(value) == sorted(value)


def _opt_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else _tuple(value)


def _opt_in(value: object) -> OptIn:
    try:
        return OptIn(value)
    except ValueError:
        return cast(OptIn, value)  # not one: the type rule reports it


def _opt_ins(value: Any) -> tuple[OptIn, ...]:
    if value == ():
        return ()
    try:
        return tuple(sorted({_opt_in(o) for o in value}, key=str))
    except TypeError:  # not iterable, or an item that cannot be in a set
        return cast("tuple[OptIn, ...]", value)


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
class Workspace:
    """Where files go in and out of a sandbox: a size-capped tmpfs the container's user owns.

    Mode 0700, ``noexec`` (unless ``exec``), ``nosuid``, ``nodev``; the default working
    directory. :func:`~secure_run.launch` and :func:`~secure_run.run` back it with a
    tmpfs volume a keeper container holds mounted, so files can be put in before the
    command runs and read after it ends; the exporters write it as a plain tmpfs.

    .. versionadded:: 0.2
    """

    path: str
    size: int
    exec: bool = False

    def as_tmpfs(self, user: User | None) -> Tmpfs:
        """The tmpfs this workspace is, for a container running as ``user``."""
        uid, gid = (user.uid, user.gid) if user is not None else (0, 0)
        return Tmpfs(self.path, self.size, 0o700, uid, gid, exec=self.exec)


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

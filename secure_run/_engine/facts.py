"""What the engine can do, read once per client, and the settings it cannot honour.

:func:`engine_facts` reads ``docker version`` and ``docker info`` once per client
and keeps the result (:class:`EngineFacts`) for the client's lifetime.
:func:`unsupported` compares a :class:`RunConfig` with those facts and lists every
setting the engine would refuse or, worse, silently drop; :func:`refuse_unsupported`
raises them all at once as :class:`UnsupportedFeature`, before anything is created.
:func:`create_warnings` handles the ``Warnings`` the engine returns from create,
which docker-py's high-level API throws away.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import attrs
import docker

from .._config.run_config import RunConfig
from .._errors import Problem, UnsupportedFeature, show
from .client import is_local
from .errors import translated
from .podman import is_podman, podman_problems
from .rootless import rootless_problems, rootless_start_problems
from .runtimes import gvisor_problems, gvisor_runtimes, is_gvisor_name, networkless_runtimes
from .userns import remap_root, userns_problems

__all__ = [
    "API_REQUIREMENTS",
    "ApiRequirement",
    "EngineFacts",
    "cached_facts",
    "create_warnings",
    "engine_facts",
    "refuse_unsupported",
    "unsupported",
]


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple)) else ()


def _option_names(options: tuple[str, ...]) -> frozenset[str]:
    """``{"seccomp", "apparmor"}`` from ``("name=seccomp,profile=default", "name=apparmor")``."""
    names = set()
    for option in options:
        for part in option.split(","):
            key, _, value = part.partition("=")
            if key == "name":
                names.add(value)
    return frozenset(names)


@attrs.frozen(kw_only=True)
class EngineFacts:
    """What one Docker Engine supports, from ``docker version`` and ``docker info``.

    Attributes:
        api_version: The API version the client speaks (negotiated, or as given).
        max_api_version: The newest API version the engine speaks.
        min_api_version: The oldest API version the engine speaks.
        server_version: The engine's version (``"20.10.24+dfsg1"``).
        os_type: ``"linux"`` or ``"windows"``.
        kernel_version: The engine host's kernel.
        cgroup_version: 1 or 2.
        cgroup_driver: ``"cgroupfs"``, ``"systemd"`` or ``"none"``.
        security_options: ``SecurityOptions`` as the engine lists them.
        seccomp: Containers can get a seccomp filter.
        apparmor: AppArmor profiles are applied.
        selinux: SELinux labels are applied.
        rootless: The engine runs as an unprivileged user.
        userns: The engine remaps users (``userns-remap``).
        userns_root: Under ``userns-remap``, the host uid and gid that root in a
            container is, read from the engine's root directory
            (``<data-root>/<uid>.<gid>``); ``None`` without remapping or when the
            engine does not say.
        swap_limit: A swap limit can be set (``memory_swap``).
        memory_limit: A memory limit can be set.
        cpu_cfs_quota: A CFS quota (``cpus``, ``cpu_quota``) can be set.
        cpu_cfs_period: A CFS period (``cpus``, ``cpu_period``) can be set.
        cpu_shares: CPU shares can be set.
        cpuset: A cpuset can be set.
        pids_limit: A pids limit can be set.
        runtimes: The OCI runtimes the engine knows, sorted.
        default_runtime: The runtime used when none is asked for.
        gvisor_runtimes: The runtimes that are gVisor (``runsc``, by name or by the
            path of the program the engine runs), sorted.
        networkless_runtimes: Those run with ``--network=none`` (``runtimeArgs``), sorted.
        ncpu: CPUs on the engine host.
        mem_total: Memory of the engine host, in bytes.
        warnings: The ``Warnings`` of ``docker info`` (e.g. no swap limit support).
        podman: The engine is Podman's Docker-compatible API (``docker version``
            lists a ``Podman Engine`` component).
        local: The client talks to the engine over a unix socket, so the engine
            runs on this host (or in a VM whose socket is forwarded here: whoever
            reads ``/proc`` of a container checks that its pid exists there).

    .. versionadded:: 0.1
    """

    api_version: str
    max_api_version: str
    min_api_version: str
    server_version: str
    os_type: str
    kernel_version: str
    cgroup_version: int
    cgroup_driver: str
    security_options: tuple[str, ...]
    seccomp: bool
    apparmor: bool
    selinux: bool
    rootless: bool
    userns: bool
    swap_limit: bool
    memory_limit: bool
    cpu_cfs_quota: bool
    cpu_cfs_period: bool
    cpu_shares: bool
    cpuset: bool
    pids_limit: bool
    runtimes: tuple[str, ...]
    default_runtime: str
    ncpu: int
    mem_total: int
    warnings: tuple[str, ...]
    local: bool
    userns_root: tuple[int, int] | None = None
    gvisor_runtimes: tuple[str, ...] = ()
    podman: bool = False
    networkless_runtimes: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        info: Mapping[str, Any],
        version: Mapping[str, Any],
        *,
        api_version: str,
        local: bool,
    ) -> EngineFacts:
        """Facts from the answers to ``docker info`` and ``docker version``.

        Args:
            info: ``DockerClient.info()``.
            version: ``DockerClient.version()``.
            api_version: The API version the client speaks.
            local: Whether the client talks to a unix socket.

        Returns:
            The facts; a field the engine does not report is read as "not supported".
        """
        options = _strings(info.get("SecurityOptions"))
        names = _option_names(options)
        runtimes = info.get("Runtimes")
        return cls(
            api_version=api_version,
            max_api_version=str(version.get("ApiVersion", "")),
            min_api_version=str(version.get("MinAPIVersion", "")),
            server_version=str(version.get("Version") or info.get("ServerVersion", "")),
            os_type=str(info.get("OSType") or version.get("Os", "")),
            kernel_version=str(info.get("KernelVersion") or version.get("KernelVersion", "")),
            # Engines before 20.10 do not report it, and knew only cgroup v1.
            cgroup_version=int(info.get("CgroupVersion") or 1),
            cgroup_driver=str(info.get("CgroupDriver", "")),
            security_options=options,
            seccomp="seccomp" in names,
            apparmor="apparmor" in names,
            selinux="selinux" in names,
            rootless="rootless" in names,
            userns="userns" in names,
            swap_limit=bool(info.get("SwapLimit")),
            memory_limit=bool(info.get("MemoryLimit")),
            cpu_cfs_quota=bool(info.get("CpuCfsQuota")),
            cpu_cfs_period=bool(info.get("CpuCfsPeriod")),
            cpu_shares=bool(info.get("CPUShares")),
            cpuset=bool(info.get("CPUSet")),
            pids_limit=bool(info.get("PidsLimit")),
            runtimes=tuple(sorted(runtimes)) if isinstance(runtimes, Mapping) else (),
            default_runtime=str(info.get("DefaultRuntime", "")),
            ncpu=int(info.get("NCPU") or 0),
            mem_total=int(info.get("MemTotal") or 0),
            warnings=_strings(info.get("Warnings")),
            local=local,
            userns_root=remap_root(info) if "userns" in names else None,
            # Podman's Docker API ignores HostConfig.Runtime: no gVisor is reachable by it.
            gvisor_runtimes=() if is_podman(version) else gvisor_runtimes(runtimes),
            podman=is_podman(version),
            networkless_runtimes=networkless_runtimes(runtimes),
        )

    @property
    def without_cgroups(self) -> bool:
        """The engine runs rootless with no cgroup manager (Cgroup Driver ``none``).

        Rootless Docker on a cgroup v1 host: it accepts memory, CPU and pids limits and
        applies none of them (:mod:`secure_run._engine.rootless`).

        .. versionadded:: 0.2
        """
        return self.rootless and self.cgroup_driver == "none"

    def runtime_of(self, cfg: RunConfig) -> str:
        """The runtime a container of ``cfg`` runs under: its own, or the engine's default.

        .. versionadded:: 0.2
        """
        return cfg.runtime or self.default_runtime

    def is_gvisor(self, runtime: str | None) -> bool:
        """Whether ``runtime`` (``None``: the default one) is gVisor on this engine.

        .. versionadded:: 0.2
        """
        name = runtime or self.default_runtime
        return name in self.gvisor_runtimes or is_gvisor_name(name)

    def host_ids(self, uid: int, gid: int) -> tuple[int, int]:
        """The host ids a container's ``uid:gid`` is, under this engine's user remapping.

        What a file system mounted by the engine on the host (a tmpfs volume's
        ``uid=``/``gid=``) must be given for the container to own it. Without
        remapping, the ids themselves. Under ``userns-remap`` the daemon maps the
        container's ids ``0..65535`` onto the remap user's first subordinate range
        (``dockremap:100000:65536`` gives 65534 -> 165534); ``verify()`` reads the
        real map of each container (``/proc/<pid>/uid_map``) and checks the result.

        .. versionadded:: 0.2
        """
        if self.userns_root is None:
            return uid, gid
        return self.userns_root[0] + uid, self.userns_root[1] + gid


_cache: weakref.WeakKeyDictionary[docker.DockerClient, EngineFacts] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def engine_facts(client: docker.DockerClient) -> EngineFacts:
    """The facts of the engine ``client`` talks to, read once per client and kept.

    The first call for a client asks the engine (``GET /version``, ``GET /info``);
    later calls, from any thread, return the same object. The facts are forgotten
    when the client is garbage collected.

    Args:
        client: The client of the engine.

    Returns:
        The engine's facts.

    Raises:
        DaemonUnavailable: No engine answers at the client's address.
        UnsupportedFeature: The client speaks an API version the engine does not.
        RunTimeout: The engine did not answer within the client's timeout.
        LaunchError: The engine refused the request.
    """
    with _cache_lock:  # held while reading, so concurrent first calls ask only once
        facts = _cache.get(client)
        if facts is None:
            facts = _read_facts(client)
            _cache[client] = facts
        return facts


def cached_facts(client: docker.DockerClient) -> EngineFacts | None:
    """The facts of ``client``'s engine if they were read already; never asks the engine."""
    with _cache_lock:
        return _cache.get(client)


def _read_facts(client: docker.DockerClient) -> EngineFacts:
    with translated("read the engine's facts", client=client):
        version = client.version(api_version=False)  # unversioned: answers any client
        _refuse_api_version(client.api.api_version, version)
        info = client.info()
    return EngineFacts.parse(
        info, version, api_version=client.api.api_version, local=is_local(client)
    )


def _refuse_api_version(api_version: str, version: Mapping[str, Any]) -> None:
    newest = str(version.get("ApiVersion", ""))
    oldest = str(version.get("MinAPIVersion", ""))
    if newest and _older(newest, api_version):
        message = f"the engine speaks API {newest} at most"
    elif oldest and _older(api_version, oldest):
        message = f"the engine speaks API {oldest} at least"
    else:
        return
    raise UnsupportedFeature(
        [
            Problem(
                "api_version",
                show(api_version),
                message,
                f"create the client with version='auto' (docker.from_env() does) "
                f"or version={newest!r}",
            )
        ]
    )


def _version(text: str) -> tuple[int, ...]:
    """``"1.41"`` as ``(1, 41)``; a part that is not a number reads as 0."""
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _older(a: str, b: str) -> bool:
    """Whether API version ``a`` is older than ``b`` (``"1.9" < "1.10"``)."""
    return _version(a) < _version(b)


@attrs.frozen
class ApiRequirement:
    """A setting that needs at least a given Engine API version.

    Attributes:
        field: The setting, as the builder names it.
        min_api: The first API version that carries it.
        used: Whether a config uses the setting.
        value: The setting's value in a config, as text.
    """

    field: str
    min_api: str
    used: Callable[[RunConfig], bool] = attrs.field(repr=False)
    value: Callable[[RunConfig], object] = attrs.field(repr=False)


#: Settings that need a newer API than the oldest docker-py speaks (1.24), with the
#: first version that carries them (docker-py's ``host_config_version_error`` checks
#: and the Engine API version history).
API_REQUIREMENTS = (
    ApiRequirement("tmpfs", "1.22", lambda c: bool(c.tmpfs), lambda c: len(c.tmpfs)),
    ApiRequirement(
        "pids_limit", "1.23", lambda c: c.pids_limit is not None, lambda c: c.pids_limit
    ),
    ApiRequirement(
        "userns_mode", "1.23", lambda c: c.userns_mode is not None, lambda c: c.userns_mode
    ),
    ApiRequirement("sysctl", "1.24", lambda c: bool(c.sysctls), lambda c: dict(c.sysctls)),
    ApiRequirement(
        "healthcheck",
        "1.24",
        lambda c: c.healthcheck is not None,
        lambda c: c.healthcheck and list(c.healthcheck.test),
    ),
    ApiRequirement("init", "1.25", lambda c: c.init, lambda c: c.init),
    ApiRequirement("cpus", "1.25", lambda c: c.cpus is not None, lambda c: c.cpus),
    ApiRequirement(
        "stop_timeout", "1.25", lambda c: c.stop_timeout is not None, lambda c: c.stop_timeout
    ),
    ApiRequirement("runtime", "1.25", lambda c: c.runtime is not None, lambda c: c.runtime),
    ApiRequirement(
        "healthcheck",
        "1.29",
        lambda c: c.healthcheck is not None and c.healthcheck.start_period_ns > 0,
        lambda c: c.healthcheck and f"start_period={c.healthcheck.start_period_ns}ns",
    ),
    ApiRequirement("mount", "1.30", lambda c: bool(c.mounts), lambda c: c.mounts[0].target),
    ApiRequirement("ipc_mode", "1.32", lambda c: c.ipc_mode == "private", lambda c: c.ipc_mode),
)


def _cpuset_max(cpuset: str) -> int:
    """The highest CPU number in ``"0-3,5"``; the format was checked by validation."""
    return max(int(part) for chunk in cpuset.split(",") for part in chunk.split("-"))


class _Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, field: str, value: object, message: str, fix: str) -> None:
        self.found.append(Problem(field, show(value), message, fix))


def unsupported(cfg: RunConfig, facts: EngineFacts) -> list[Problem]:
    """Every setting of ``cfg`` the engine described by ``facts`` cannot honour.

    That covers settings the engine would refuse at create and, worse, those it
    would accept and silently drop (a memory limit without the memory cgroup, a
    seccomp profile without seccomp, an AppArmor profile without AppArmor).

    Args:
        cfg: The configuration to launch.
        facts: The engine's facts, from :func:`engine_facts`.

    Returns:
        One problem per setting, naming the field, the value, the engine fact that
        rules it out and the fix; empty when the engine can honour everything.
    """
    p = _Problems()
    _platform(p, cfg, facts)
    _api(p, cfg, facts)
    _resources(p, cfg, facts)
    _security(p, cfg, facts)
    _userns(p, cfg, facts)
    _gvisor(p, cfg, facts)
    _podman(p, cfg, facts)
    _rootless(p, cfg, facts)
    return p.found


def refuse_unsupported(cfg: RunConfig, facts: EngineFacts) -> None:
    """Raise :class:`UnsupportedFeature` listing every problem :func:`unsupported` finds.

    Args:
        cfg: The configuration to launch.
        facts: The engine's facts, from :func:`engine_facts`.

    Raises:
        UnsupportedFeature: The engine cannot honour one setting or more.
    """
    problems = unsupported(cfg, facts)
    if problems:
        raise UnsupportedFeature(problems)


def _platform(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    if facts.os_type and facts.os_type != "linux":
        p.add(
            "engine",
            facts.os_type,
            f"the engine runs {facts.os_type} containers; secure_run launches Linux ones",
            "switch the engine to Linux containers",
        )
    if cfg.runtime is not None and cfg.runtime not in facts.runtimes:
        p.add(
            "runtime",
            cfg.runtime,
            f"the engine has no such runtime (it has {', '.join(facts.runtimes) or 'none'})",
            "install the runtime and register it in the engine's daemon.json "
            f"('runtimes'), or leave runtime unset to use {facts.default_runtime or 'the default'}",
        )


def _api(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    for req in API_REQUIREMENTS:
        if req.used(cfg) and _older(facts.api_version, req.min_api):
            p.add(
                req.field,
                req.value(cfg),
                f"needs Engine API {req.min_api} or newer; the client speaks {facts.api_version}",
                "upgrade the engine, create the client with version='auto', "
                "or leave the setting unset",
            )


def _resources(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    cgroup = f"the engine host's cgroup v{facts.cgroup_version}"
    if facts.without_cgroups:
        pass  # every limit is refused (or waived) by _rootless, with the engine's reason
    elif not facts.memory_limit:
        for field, value in (
            ("memory", cfg.memory),
            ("memory_reservation", cfg.memory_reservation),
        ):
            if value is not None:
                p.add(
                    field,
                    value,
                    f"{cgroup} has no memory controller (docker info: MemoryLimit false); "
                    "the engine would drop the limit",
                    "enable the memory cgroup on the engine host "
                    "(cgroup_enable=memory, or delegate it to a rootless engine)",
                )
    swap_set = cfg.memory_swap is not None and cfg.memory_swap != cfg.memory
    if swap_set and not facts.swap_limit and not facts.without_cgroups:
        p.add(
            "memory_swap",
            cfg.memory_swap,
            "swap was asked for, but the engine has no swap accounting (docker info: "
            "SwapLimit false); the engine would drop the swap limit",
            "leave swap off (memory_swap equal to memory), or enable swap accounting "
            "on the engine host (kernel parameter swapaccount=1, or cgroup v2)",
        )
    controllers: tuple[tuple[str, object, bool, str], ...] = (
        ("cpus", cfg.cpus, facts.cpu_cfs_quota and facts.cpu_cfs_period, "CpuCfsQuota/Period"),
        ("cpu_quota", cfg.cpu_quota, facts.cpu_cfs_quota, "CpuCfsQuota"),
        ("cpu_period", cfg.cpu_period, facts.cpu_cfs_period, "CpuCfsPeriod"),
        ("cpu_shares", cfg.cpu_shares, facts.cpu_shares, "CPUShares"),
        ("cpuset", cfg.cpuset, facts.cpuset, "CPUSet"),
        ("pids_limit", cfg.pids_limit, facts.pids_limit, "PidsLimit"),
    )
    for name, setting, supported, flag in controllers:
        if setting is not None and not supported and not facts.without_cgroups:
            p.add(
                name,
                setting,
                f"{cgroup} does not support it (docker info: {flag} false); "
                "the engine would refuse or drop it",
                f"enable the controller on the engine host, or leave {name} unset",
            )
    if facts.ncpu > 0 and cfg.cpus is not None and cfg.cpus > facts.ncpu:
        p.add(
            "cpus",
            cfg.cpus,
            f"the engine host has {facts.ncpu} CPUs; Docker accepts 0.01 to {facts.ncpu}",
            f"give cpus={facts.ncpu} or fewer",
        )
    if facts.ncpu > 0 and cfg.cpuset is not None and _cpuset_max(cfg.cpuset) >= facts.ncpu:
        p.add(
            "cpuset",
            cfg.cpuset,
            f"the engine host has CPUs 0 to {facts.ncpu - 1} only",
            f"name CPUs between 0 and {facts.ncpu - 1}",
        )


def _security(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    if cfg.seccomp.kind in ("default", "custom") and not facts.seccomp:
        p.add(
            "seccomp",
            str(cfg.seccomp),
            "the engine has no seccomp support (docker info lists no name=seccomp); "
            "the container would run without a syscall filter",
            "use an engine built with seccomp on a kernel with CONFIG_SECCOMP, or accept "
            "running without a filter with seccomp('unconfined') and the opt-in "
            "'seccomp-unconfined'",
        )
    if cfg.apparmor is not None and cfg.apparmor != "unconfined" and not facts.apparmor:
        p.add(
            "apparmor",
            cfg.apparmor,
            "AppArmor is not enabled on the engine host (docker info lists no "
            "name=apparmor); the engine would silently run the container unconfined",
            "leave apparmor unset on this engine, or launch on a host with AppArmor enabled",
        )


def _userns(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    """What a ``userns-remap`` engine refuses unless the container leaves the remap."""
    if facts.userns:
        p.found.extend(userns_problems(cfg))


def _rootless(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    """What a rootless engine without cgroups drops: refused unless the config waives it."""
    if facts.rootless:
        p.found.extend(rootless_start_problems(cfg))
    if facts.without_cgroups:
        p.found.extend(rootless_problems(cfg))


def _gvisor(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    """What gVisor cannot honour: refused here, never by a failed start."""
    if facts.is_gvisor(runtime := facts.runtime_of(cfg)):
        p.found.extend(gvisor_problems(cfg, runtime, facts.networkless_runtimes))


def _podman(p: _Problems, cfg: RunConfig, facts: EngineFacts) -> None:
    """What Podman's Docker API drops, changes or cannot show (:mod:`.podman`)."""
    if facts.podman:
        p.found.extend(podman_problems(cfg, facts))


def create_warnings(
    warnings: Sequence[str] | None, *, strict: bool, logger: logging.Logger
) -> None:
    """Act on the ``Warnings`` the engine returned from creating a container.

    The engine warns when it accepts a container but drops or changes a setting
    (``"Your kernel does not support swap limit capabilities ... Memory limited
    without swap."``). docker-py's ``containers.create()`` throws them away; pass
    ``client.api.create_container(...)["Warnings"]`` here.

    Args:
        warnings: The ``Warnings`` of the create response (``None`` or empty: none).
        strict: Raise instead of logging.
        logger: Where to log each warning when not strict.

    Raises:
        UnsupportedFeature: ``strict`` and the engine warned; one problem per warning.
    """
    texts = [w for w in warnings or () if w]
    if not texts:
        return
    if strict:
        raise UnsupportedFeature(
            Problem(
                "engine",
                show(text),
                "the engine created the container but changed or dropped a setting",
                "the engine discarded this setting; fix the engine as the warning says, "
                "remove the setting, or launch with strict=False to accept it",
            )
            for text in texts
        )
    for text in texts:
        logger.warning("the engine discarded or changed a setting at create: %s", text)

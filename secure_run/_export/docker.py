"""docker-py's form of a RunConfig: ``containers.run()`` keyword arguments.

Nothing here talks to a daemon. Zero and false values that matter are written
explicitly, because docker-py drops falsy values and daemon defaults may differ. The
labels, security options, capability names, device and duration forms defined here
are the engine's own, shared by the CLI and compose exporters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._config.values import LABEL_PREFIX, Device, PortBinding, Tmpfs
from .._errors import ConfigError

if TYPE_CHECKING:
    from .._config.run_config import RunConfig

__all__ = [
    "capability_names",
    "config_labels",
    "create_args",
    "device_spec",
    "go_duration",
    "nano_cpus",
    "sdk_kwargs",
    "security_opts",
    "tmpfs_mounts",
    "to_docker_kwargs",
    "working_dir",
]


def config_labels(cfg: RunConfig) -> dict[str, str]:
    """The user's labels plus secure_run's: the config digest, the preset and the waivers."""
    labels = dict(cfg.labels)
    labels[LABEL_PREFIX + "config-digest"] = cfg.digest()
    labels[LABEL_PREFIX + "preset"] = cfg.preset or ""
    labels[LABEL_PREFIX + "opt-ins"] = ",".join(o.value for o in cfg.waivers())
    return labels


def security_opts(cfg: RunConfig, *, seccomp_inline: bool = True) -> list[str]:
    """The ``--security-opt`` values: no-new-privileges, seccomp and AppArmor."""
    opts = []
    if cfg.no_new_privileges:
        opts.append("no-new-privileges:true")
    if cfg.seccomp.kind == "unconfined":
        opts.append("seccomp=unconfined")
    elif cfg.seccomp.kind == "custom":
        if seccomp_inline:
            opts.append(f"seccomp={cfg.seccomp.profile_json}")
        elif cfg.seccomp.source is None:
            raise ConfigError.single(
                "seccomp",
                "<mapping>",
                "an inline profile has no docker CLI or compose form",
                "save the profile to a JSON file and pass its path to .seccomp()",
            )
        else:
            opts.append(f"seccomp={cfg.seccomp.source}")
    if cfg.apparmor is not None:
        opts.append(f"apparmor={cfg.apparmor}")
    return opts


def capability_names(names: tuple[str, ...]) -> list[str]:
    """Capability names in the daemon's stored form (``CAP_NET_BIND_SERVICE``, ``ALL``)."""
    return [n if n == "ALL" else f"CAP_{n}" for n in names]


def device_spec(device: Device) -> str:
    """A device as the engine's ``host:container:permissions`` text."""
    return f"{device.host_path}:{device.container_path}:{device.permissions}"


def go_duration(ns: int) -> str:
    """Nanoseconds as a Go duration, which the CLI and compose read (``30000000000ns``)."""
    return f"{ns}ns"


def nano_cpus(cpus: float) -> int:
    """CPUs as the engine's ``NanoCpus`` (``0.5`` -> ``500000000``)."""
    return round(cpus * 1_000_000_000)


def create_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """docker-py's split of ``containers.run()`` kwargs into ``create_container`` arguments.

    The one call into that private docker-py function: :func:`sdk_kwargs` output (plus
    ``version``) in, the arguments of ``APIClient.create_container_config`` out, with
    ``host_config`` built. Launch creates containers with it and the config audit
    builds the inspect record the engine would keep.
    """
    # docker-py's own split of containers.run() kwargs into create + HostConfig
    # arguments; not in the type stubs. docker-py is loaded here, not at import, so
    # building and exporting configs (and `secure-run presets`) never pays for it.
    from docker.models import containers as sdk_containers

    split: Callable[[dict[str, Any]], dict[str, Any]] = getattr(  # noqa: B009
        sdk_containers, "_create_container_args"
    )
    return split(kwargs)


def _refuse_stop_timeout(cfg: RunConfig) -> None:
    if cfg.stop_timeout is not None:
        raise ConfigError.single(
            "stop_timeout",
            cfg.stop_timeout,
            "docker-py's containers.run()/create() have no stop_timeout parameter",
            "leave it unset and pass timeout= to container.stop(), or use to_cli()/to_compose()",
        )


def to_docker_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Keyword arguments for ``DockerClient.containers.run()`` and ``.create()``.

    Raises:
        ConfigError: The config holds a setting docker-py cannot carry (``stop_timeout``).
    """
    _refuse_stop_timeout(cfg)
    return sdk_kwargs(cfg)


def sdk_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """The docker-py kwargs of every setting but ``stop_timeout``, which the caller sets.

    secure_run's own launcher uses this with the lower-level create call, which
    does take a stop timeout.
    """
    kw: dict[str, Any] = {
        "image": cfg.image,
        "environment": dict(cfg.env),
        "labels": config_labels(cfg),
        "cap_drop": capability_names(cfg.cap_drop),
        "cap_add": capability_names(cfg.cap_add),
        "privileged": cfg.privileged,
        "read_only": cfg.read_only,
        "network_mode": cfg.network,
        "security_opt": security_opts(cfg),
        "init": cfg.init,
        "use_config_proxy": False,  # never copy the host's proxy settings into the container
    }
    # Only the settings that are set, each built only then: this runs on every launch.
    _add_plain(kw, cfg)
    _add_structured(kw, cfg)
    return kw


def tmpfs_mounts(cfg: RunConfig) -> tuple[Tmpfs, ...]:
    """Every tmpfs the container gets: the config's, then the workspace as one."""
    if cfg.workspace is None:
        return cfg.tmpfs
    return (*cfg.tmpfs, cfg.workspace.as_tmpfs(cfg.user))


def working_dir(cfg: RunConfig) -> str | None:
    """The working directory: the config's, else the workspace's path."""
    if cfg.workdir is None and cfg.workspace is not None:
        return cfg.workspace.path
    return cfg.workdir


def _add_plain(kw: dict[str, Any], cfg: RunConfig) -> None:
    """The settings docker-py takes as plain values, where they are set."""
    if cfg.command is not None:
        kw["command"] = list(cfg.command)
    if cfg.entrypoint is not None:
        kw["entrypoint"] = list(cfg.entrypoint)
    for key, value in (
        ("working_dir", working_dir(cfg)),
        ("hostname", cfg.hostname),
        ("name", cfg.name),
        ("mem_limit", cfg.memory),
        ("mem_reservation", cfg.memory_reservation),
        ("memswap_limit", cfg.memory_swap),
        ("cpu_quota", cfg.cpu_quota),
        ("cpu_period", cfg.cpu_period),
        ("cpu_shares", cfg.cpu_shares),
        ("cpuset_cpus", cfg.cpuset),
        ("pids_limit", cfg.pids_limit),
        ("pid_mode", cfg.pid_mode),
        ("ipc_mode", cfg.ipc_mode),
        ("uts_mode", cfg.uts_mode),
        ("userns_mode", cfg.userns_mode),
        ("runtime", cfg.runtime),
    ):
        if value is not None:
            kw[key] = value
    if cfg.user is not None:
        kw["user"] = str(cfg.user)
    if cfg.group_add:
        kw["group_add"] = [str(g) for g in cfg.group_add]
    if cfg.devices:
        kw["devices"] = [device_spec(d) for d in cfg.devices]
    if cfg.cpus is not None:
        kw["nano_cpus"] = nano_cpus(cfg.cpus)


def _add_structured(kw: dict[str, Any], cfg: RunConfig) -> None:
    """The settings docker-py takes as its own types or as nested mappings."""
    import docker.types  # loaded on first use: configs are built without docker-py
    if cfg.ulimits:
        kw["ulimits"] = [docker.types.Ulimit(name=u.name, soft=u.soft, hard=u.hard)
                         for u in cfg.ulimits]  # fmt: skip
    if cfg.tmpfs or cfg.workspace:
        kw["tmpfs"] = {t.path: t.options() for t in tmpfs_mounts(cfg)}
    if cfg.mounts:
        kw["mounts"] = [
            docker.types.Mount(m.target, m.source, read_only=m.read_only,
                               type="bind" if m.kind == "bind" else "volume",
                               propagation=m.propagation)
            for m in cfg.mounts
        ]  # fmt: skip
    if cfg.ports:
        kw["ports"] = _port_bindings(cfg.ports)
    # Written even when unset: the CLI sends "no" and the daemon may default otherwise.
    restart = cfg.restart
    kw["restart_policy"] = (
        {"Name": "no", "MaximumRetryCount": 0} if restart is None
        else {"Name": restart.name, "MaximumRetryCount": restart.max_retries}
    )  # fmt: skip
    health = cfg.healthcheck
    if health is not None:
        kw["healthcheck"] = {
            "test": list(health.test),
            "interval": health.interval_ns,
            "timeout": health.timeout_ns,
            "retries": health.retries,
            "start_period": health.start_period_ns,
        }
    if cfg.log_limits is not None:
        kw["log_config"] = docker.types.LogConfig(
            type="json-file",
            config={"max-size": str(cfg.log_limits.max_size),
                    "max-file": str(cfg.log_limits.max_files)},
        )  # fmt: skip
    if cfg.sysctls:
        kw["sysctls"] = dict(cfg.sysctls)


def _port_bindings(ports: tuple[PortBinding, ...]) -> dict[str, list[tuple[str, int | None]]]:
    """docker-py's ``ports=``: a list per container port, so no binding replaces another."""
    bindings: dict[str, list[tuple[str, int | None]]] = {}
    for p in ports:
        bindings.setdefault(p.key, []).append((p.host_ip, p.host_port))
    return bindings

"""Pure translation of a RunConfig into docker-py kwargs, a ``docker run`` argv, and compose.

Nothing here talks to a daemon. Zero and false values that matter are written
explicitly, because docker-py drops falsy values and daemon defaults may differ.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import docker.types
from docker.models import containers as _sdk_containers

from .._config.values import LABEL_PREFIX, PortBinding
from .._errors import ConfigError

if TYPE_CHECKING:
    from .._config.run_config import RunConfig

__all__ = [
    "config_labels",
    "sdk_kwargs",
    "security_opts",
    "to_cli",
    "to_compose",
    "to_docker_kwargs",
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


def _caps(names: tuple[str, ...]) -> list[str]:
    """Capability names in the daemon's stored form (``CAP_NET_BIND_SERVICE``, ``ALL``)."""
    return [n if n == "ALL" else f"CAP_{n}" for n in names]


def nano_cpus(cpus: float) -> int:
    """CPUs as the engine's ``NanoCpus`` (``0.5`` -> ``500000000``)."""
    return round(cpus * 1_000_000_000)


# docker-py's own split of containers.run() kwargs into create + HostConfig arguments;
# it is not in the type stubs.
_create_container_args: Callable[[dict[str, Any]], dict[str, Any]] = getattr(  # noqa: B009
    _sdk_containers, "_create_container_args"
)


def create_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """docker-py's split of ``containers.run()`` kwargs into ``create_container`` arguments.

    The one call into that private docker-py function: :func:`sdk_kwargs` output (plus
    ``version``) in, the arguments of ``APIClient.create_container_config`` out, with
    ``host_config`` built. Launch creates containers with it and the config audit
    builds the inspect record the engine would keep.
    """
    return _create_container_args(kwargs)


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
        "cap_drop": _caps(cfg.cap_drop),
        "cap_add": _caps(cfg.cap_add),
        "privileged": cfg.privileged,
        "read_only": cfg.read_only,
        "network_mode": cfg.network,
        "security_opt": security_opts(cfg),
        "init": cfg.init,
        "use_config_proxy": False,  # never copy the host's proxy settings into the container
    }
    # Only the settings that are set, each built only then: this runs on every launch.
    if cfg.command is not None:
        kw["command"] = list(cfg.command)
    if cfg.entrypoint is not None:
        kw["entrypoint"] = list(cfg.entrypoint)
    for key, value in (
        ("working_dir", cfg.workdir),
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
        kw["devices"] = [f"{d.host_path}:{d.container_path}:{d.permissions}" for d in cfg.devices]
    if cfg.cpus is not None:
        kw["nano_cpus"] = nano_cpus(cfg.cpus)
    if cfg.ulimits:
        kw["ulimits"] = [docker.types.Ulimit(name=u.name, soft=u.soft, hard=u.hard)
                         for u in cfg.ulimits]  # fmt: skip
    if cfg.tmpfs:
        kw["tmpfs"] = {t.path: t.options() for t in cfg.tmpfs}
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
    return kw


def _port_bindings(ports: tuple[PortBinding, ...]) -> dict[str, list[tuple[str, int | None]]]:
    """docker-py's ``ports=``: a list per container port, so no binding replaces another."""
    bindings: dict[str, list[tuple[str, int | None]]] = {}
    for p in ports:
        bindings.setdefault(p.key, []).append((p.host_ip, p.host_port))
    return bindings


def _csv(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _publish(p: PortBinding) -> str:
    ip = p.host_ip
    if ipaddress.ip_address(ip).version == 6:
        ip = f"[{ip}]"
    return f"{ip}:{p.host_port or ''}:{p.key}"


def _duration(ns: int) -> str:
    return f"{ns}ns"


def to_cli(cfg: RunConfig, *, reveal_env: bool = False) -> list[str]:
    """A ``docker run`` argv that gives the container the same HostConfig as the SDK path.

    Raises:
        ConfigError: A setting has no CLI form (an inline seccomp mapping, an
            exec-form healthcheck).
    """
    argv = ["docker", "run", "--pull", "never"]

    def add(flag: str, *values: object) -> None:
        for value in values:
            argv.extend((flag, str(value)))

    add("--name", *filter(None, [cfg.name]))
    add("--hostname", *filter(None, [cfg.hostname]))
    add("--workdir", *filter(None, [cfg.workdir]))
    for key, value in cfg.env:
        add("--env", f"{key}={value}" if reveal_env else key)
    for key, value in config_labels(cfg).items():
        add("--label", f"{key}={value}")
    if cfg.user is not None:
        add("--user", cfg.user)
    add("--group-add", *cfg.group_add)
    add("--cap-drop", *_caps(cfg.cap_drop))
    add("--cap-add", *_caps(cfg.cap_add))
    if cfg.privileged:
        argv.append("--privileged")
    add("--device", *(f"{d.host_path}:{d.container_path}:{d.permissions}" for d in cfg.devices))
    for flag, bytes_value in (("--memory", cfg.memory),
                              ("--memory-reservation", cfg.memory_reservation),
                              ("--memory-swap", cfg.memory_swap)):  # fmt: skip
        if bytes_value is not None:
            add(flag, bytes_value)
    if cfg.cpus is not None:
        add("--cpus", f"{nano_cpus(cfg.cpus) / 1e9:.9f}".rstrip("0").rstrip("."))
    for flag, number in (("--cpu-quota", cfg.cpu_quota), ("--cpu-period", cfg.cpu_period),
                         ("--cpu-shares", cfg.cpu_shares), ("--cpuset-cpus", cfg.cpuset),
                         ("--pids-limit", cfg.pids_limit)):  # fmt: skip
        if number is not None:
            add(flag, number)
    add("--ulimit", *(f"{u.name}={u.soft}:{u.hard}" for u in cfg.ulimits))
    if cfg.read_only:
        argv.append("--read-only")
    add("--tmpfs", *(f"{t.path}:{t.options()}" for t in cfg.tmpfs))
    for m in cfg.mounts:
        fields = [f"type={m.kind}", f"source={m.source}", f"target={m.target}"]
        if m.read_only:
            fields.append("readonly")
        if m.propagation:
            fields.append(f"bind-propagation={m.propagation}")
        add("--mount", _csv(fields))
    add("--network", cfg.network)
    add("--publish", *(_publish(p) for p in cfg.ports))
    for flag, mode in (("--pid", cfg.pid_mode), ("--ipc", cfg.ipc_mode), ("--uts", cfg.uts_mode),
                       ("--userns", cfg.userns_mode)):  # fmt: skip
        if mode is not None:
            add(flag, mode)
    add("--security-opt", *security_opts(cfg, seccomp_inline=False))
    argv.append("--init" if cfg.init else "--init=false")
    add("--runtime", *filter(None, [cfg.runtime]))
    if cfg.restart is not None:
        add("--restart", cfg.restart)
    if cfg.healthcheck is not None:
        hc = cfg.healthcheck
        if hc.test[0] != "CMD-SHELL":
            raise ConfigError.single(
                "healthcheck",
                list(hc.test),
                "the docker CLI only takes a shell-form healthcheck",
                "give the healthcheck as one string, or launch through the SDK",
            )
        add("--health-cmd", hc.test[1])
        add("--health-interval", _duration(hc.interval_ns))
        add("--health-timeout", _duration(hc.timeout_ns))
        add("--health-retries", hc.retries)
        add("--health-start-period", _duration(hc.start_period_ns))
    if cfg.stop_timeout is not None:
        add("--stop-timeout", cfg.stop_timeout)
    if cfg.log_limits is not None:
        add("--log-driver", "json-file")
        add(
            "--log-opt",
            f"max-size={cfg.log_limits.max_size}",
            f"max-file={cfg.log_limits.max_files}",
        )
    add("--sysctl", *(f"{k}={v}" for k, v in cfg.sysctls))
    if cfg.entrypoint is not None:
        add("--entrypoint", cfg.entrypoint[0] if cfg.entrypoint else "")
    argv.append(cfg.image)
    argv.extend(cfg.entrypoint[1:] if cfg.entrypoint else ())
    argv.extend(cfg.command or ())
    return argv


def to_compose(cfg: RunConfig, *, reveal_env: bool = False) -> dict[str, Any]:
    """A compose service mapping with the same settings.

    Raises:
        ConfigError: An inline seccomp mapping, which compose can only take as a file.
    """
    svc: dict[str, Any] = {
        "image": cfg.image,
        "labels": config_labels(cfg),
        "cap_drop": _caps(cfg.cap_drop),
        "read_only": cfg.read_only,
        "network_mode": cfg.network,
        "security_opt": security_opts(cfg, seccomp_inline=False),
        "init": cfg.init,
        "pull_policy": "never",
    }
    hc = cfg.healthcheck
    optional: dict[str, Any] = {
        "command": None if cfg.command is None else list(cfg.command),
        "entrypoint": None if cfg.entrypoint is None else list(cfg.entrypoint),
        "environment": (dict(cfg.env) if reveal_env else [k for k, _ in cfg.env]) or None,
        "working_dir": cfg.workdir,
        "hostname": cfg.hostname,
        "container_name": cfg.name,
        "user": None if cfg.user is None else str(cfg.user),
        "group_add": list(cfg.group_add) or None,
        "cap_add": _caps(cfg.cap_add) or None,
        "privileged": cfg.privileged or None,
        "devices": [f"{d.host_path}:{d.container_path}:{d.permissions}" for d in cfg.devices]
        or None,
        "mem_limit": cfg.memory,
        "mem_reservation": cfg.memory_reservation,
        "memswap_limit": cfg.memory_swap,
        "cpus": cfg.cpus,
        "cpu_quota": cfg.cpu_quota,
        "cpu_period": cfg.cpu_period,
        "cpu_shares": cfg.cpu_shares,
        "cpuset": cfg.cpuset,
        "pids_limit": cfg.pids_limit,
        "ulimits": {u.name: {"soft": u.soft, "hard": u.hard} for u in cfg.ulimits} or None,
        "tmpfs": [f"{t.path}:{t.options()}" for t in cfg.tmpfs] or None,
        "volumes": [
            {"type": m.kind, "source": m.source, "target": m.target, "read_only": m.read_only,
             **({"bind": {"propagation": m.propagation}} if m.propagation else {})}
            for m in cfg.mounts
        ] or None,
        "ports": [
            {"target": p.container_port, "protocol": p.protocol, "host_ip": p.host_ip,
             **({"published": str(p.host_port)} if p.host_port else {})}
            for p in cfg.ports
        ] or None,
        "pid": cfg.pid_mode,
        "ipc": cfg.ipc_mode,
        "uts": cfg.uts_mode,
        "userns_mode": cfg.userns_mode,
        "runtime": cfg.runtime,
        "restart": None if cfg.restart is None else str(cfg.restart),
        "healthcheck": None if hc is None else {
            "test": list(hc.test), "interval": _duration(hc.interval_ns),
            "timeout": _duration(hc.timeout_ns), "retries": hc.retries,
            "start_period": _duration(hc.start_period_ns),
        },
        "stop_grace_period": None if cfg.stop_timeout is None else f"{cfg.stop_timeout}s",
        "logging": None if cfg.log_limits is None else {
            "driver": "json-file",
            "options": {"max-size": str(cfg.log_limits.max_size),
                        "max-file": str(cfg.log_limits.max_files)},
        },
        "sysctls": dict(cfg.sysctls) or None,
    }  # fmt: skip
    svc.update({k: v for k, v in optional.items() if v is not None})
    return svc

"""The ``docker run`` argv of a RunConfig, giving the container the same HostConfig."""

from __future__ import annotations

import csv
import io
import ipaddress
from typing import TYPE_CHECKING

from .._config.values import PortBinding
from .._errors import ConfigError
from .docker import (
    capability_names,
    config_labels,
    device_spec,
    go_duration,
    nano_cpus,
    security_opts,
    tmpfs_mounts,
    working_dir,
)

if TYPE_CHECKING:
    from .._config.run_config import RunConfig

__all__ = ["to_cli"]


def _csv(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _publish(p: PortBinding) -> str:
    ip = p.host_ip
    if ipaddress.ip_address(ip).version == 6:
        ip = f"[{ip}]"
    return f"{ip}:{p.host_port or ''}:{p.key}"


class _Argv:
    """The argv being written, one flag and its values at a time."""

    def __init__(self) -> None:
        self.argv = ["docker", "run", "--pull", "never"]

    def add(self, flag: str, *values: object) -> None:
        """``flag value`` for each of ``values`` (nothing when there are none)."""
        for value in values:
            self.argv.extend((flag, str(value)))


def to_cli(cfg: RunConfig, *, reveal_env: bool = False) -> list[str]:
    """A ``docker run`` argv that gives the container the same HostConfig as the SDK path.

    Raises:
        ConfigError: A setting has no CLI form (an inline seccomp mapping, an
            exec-form healthcheck).
    """
    a = _Argv()
    _identity(a, cfg, reveal_env=reveal_env)
    _resources(a, cfg)
    _isolation(a, cfg)
    _lifecycle(a, cfg)
    a.add("--sysctl", *(f"{k}={v}" for k, v in cfg.sysctls))
    if cfg.entrypoint is not None:
        a.add("--entrypoint", cfg.entrypoint[0] if cfg.entrypoint else "")
    a.argv.append(cfg.image)
    a.argv.extend(cfg.entrypoint[1:] if cfg.entrypoint else ())
    a.argv.extend(cfg.command or ())
    return a.argv


def _identity(a: _Argv, cfg: RunConfig, *, reveal_env: bool) -> None:
    """What runs and as whom: names, environment, labels, user, capabilities, devices."""
    a.add("--name", *filter(None, [cfg.name]))
    a.add("--hostname", *filter(None, [cfg.hostname]))
    a.add("--workdir", *filter(None, [working_dir(cfg)]))
    for key, value in cfg.env:
        a.add("--env", f"{key}={value}" if reveal_env else key)
    for key, value in config_labels(cfg).items():
        a.add("--label", f"{key}={value}")
    if cfg.user is not None:
        a.add("--user", cfg.user)
    a.add("--group-add", *cfg.group_add)
    a.add("--cap-drop", *capability_names(cfg.cap_drop))
    a.add("--cap-add", *capability_names(cfg.cap_add))
    if cfg.privileged:
        a.argv.append("--privileged")
    a.add("--device", *(device_spec(d) for d in cfg.devices))


def _resources(a: _Argv, cfg: RunConfig) -> None:
    """Memory, CPU, processes and ulimits."""
    for flag, bytes_value in (("--memory", cfg.memory),
                              ("--memory-reservation", cfg.memory_reservation),
                              ("--memory-swap", cfg.memory_swap)):  # fmt: skip
        if bytes_value is not None:
            a.add(flag, bytes_value)
    if cfg.cpus is not None:
        a.add("--cpus", f"{nano_cpus(cfg.cpus) / 1e9:.9f}".rstrip("0").rstrip("."))
    for flag, number in (("--cpu-quota", cfg.cpu_quota), ("--cpu-period", cfg.cpu_period),
                         ("--cpu-shares", cfg.cpu_shares), ("--cpuset-cpus", cfg.cpuset),
                         ("--pids-limit", cfg.pids_limit)):  # fmt: skip
        if number is not None:
            a.add(flag, number)
    a.add("--ulimit", *(f"{u.name}={u.soft}:{u.hard}" for u in cfg.ulimits))


def _isolation(a: _Argv, cfg: RunConfig) -> None:
    """The filesystem, mounts, network, ports, namespaces and security options."""
    if cfg.read_only:
        a.argv.append("--read-only")
    a.add("--tmpfs", *(f"{t.path}:{t.options()}" for t in tmpfs_mounts(cfg)))
    for m in cfg.mounts:
        fields = [f"type={m.kind}", f"source={m.source}", f"target={m.target}"]
        if m.read_only:
            fields.append("readonly")
        if m.propagation:
            fields.append(f"bind-propagation={m.propagation}")
        a.add("--mount", _csv(fields))
    a.add("--network", cfg.network)
    a.add("--publish", *(_publish(p) for p in cfg.ports))
    for flag, mode in (("--pid", cfg.pid_mode), ("--ipc", cfg.ipc_mode), ("--uts", cfg.uts_mode),
                       ("--userns", cfg.userns_mode)):  # fmt: skip
        if mode is not None:
            a.add(flag, mode)
    a.add("--security-opt", *security_opts(cfg, seccomp_inline=False))
    a.argv.append("--init" if cfg.init else "--init=false")
    a.add("--runtime", *filter(None, [cfg.runtime]))


def _lifecycle(a: _Argv, cfg: RunConfig) -> None:
    """Restarts, the healthcheck, the stop timeout and log rotation."""
    if cfg.restart is not None:
        a.add("--restart", cfg.restart)
    if cfg.healthcheck is not None:
        hc = cfg.healthcheck
        if hc.test[0] != "CMD-SHELL":
            raise ConfigError.single(
                "healthcheck",
                list(hc.test),
                "the docker CLI only takes a shell-form healthcheck",
                "give the healthcheck as one string, or launch through the SDK",
            )
        a.add("--health-cmd", hc.test[1])
        a.add("--health-interval", go_duration(hc.interval_ns))
        a.add("--health-timeout", go_duration(hc.timeout_ns))
        a.add("--health-retries", hc.retries)
        a.add("--health-start-period", go_duration(hc.start_period_ns))
    if cfg.stop_timeout is not None:
        a.add("--stop-timeout", cfg.stop_timeout)
    if cfg.log_limits is not None:
        a.add("--log-driver", "json-file")
        a.add(
            "--log-opt",
            f"max-size={cfg.log_limits.max_size}",
            f"max-file={cfg.log_limits.max_files}",
        )

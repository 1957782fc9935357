"""The compose service of a RunConfig, with the same settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .docker import (
    capability_names,
    config_labels,
    device_spec,
    go_duration,
    security_opts,
    tmpfs_mounts,
    working_dir,
)

if TYPE_CHECKING:
    from .._config.run_config import RunConfig

__all__ = ["to_compose"]


def to_compose(cfg: RunConfig, *, reveal_env: bool = False) -> dict[str, Any]:
    """A compose service mapping with the same settings.

    Raises:
        ConfigError: An inline seccomp mapping, which compose can only take as a file.
    """
    svc: dict[str, Any] = {
        "image": cfg.image,
        "labels": config_labels(cfg),
        "cap_drop": capability_names(cfg.cap_drop),
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
        "working_dir": working_dir(cfg),
        "hostname": cfg.hostname,
        "container_name": cfg.name,
        "user": None if cfg.user is None else str(cfg.user),
        "group_add": list(cfg.group_add) or None,
        "cap_add": capability_names(cfg.cap_add) or None,
        "privileged": cfg.privileged or None,
        "devices": [device_spec(d) for d in cfg.devices] or None,
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
        "tmpfs": [f"{t.path}:{t.options()}" for t in tmpfs_mounts(cfg)] or None,
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
            "test": list(hc.test), "interval": go_duration(hc.interval_ns),
            "timeout": go_duration(hc.timeout_ns), "retries": hc.retries,
            "start_period": go_duration(hc.start_period_ns),
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

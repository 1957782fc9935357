"""The inspect record the engine would keep for a :class:`RunConfig`, built without an engine.

:func:`secure_run.audit_config` judges this record with the same checks as a running
container's.
"""

from __future__ import annotations

from typing import Any

import docker.constants

from .._config.capabilities import capability_name
from .._config.run_config import RunConfig
from .._export.docker import create_args, sdk_kwargs
from .view import as_list, as_map

__all__ = ["config_inspect"]


def _daemon_caps(names: object) -> list[str]:
    """Capability names as the daemon stores them: ``CAP_X``, and ``ALL``."""
    out = []
    for name in as_list(names):
        cap = capability_name(name)
        out.append(cap if cap == "ALL" else f"CAP_{cap}")
    return out


def _healthcheck(cfg: RunConfig) -> dict[str, Any] | None:
    """``Config.Healthcheck`` as the engine stores it: the test, and the timings not zero."""
    health = cfg.healthcheck
    if health is None:
        return None
    record: dict[str, Any] = {"Test": list(health.test)}
    for key, value in (
        ("Interval", health.interval_ns),
        ("Timeout", health.timeout_ns),
        ("Retries", health.retries),
        ("StartPeriod", health.start_period_ns),
    ):
        if value:
            record[key] = value
    return record


def config_inspect(cfg: RunConfig) -> dict[str, Any]:
    """The inspect record the engine would keep for ``cfg``, built without an engine."""
    kwargs = sdk_kwargs(cfg)
    kwargs.pop("use_config_proxy", None)
    kwargs.pop("environment", None)  # values stay out of the record
    kwargs["version"] = docker.constants.DEFAULT_DOCKER_API_VERSION
    create = create_args(kwargs)
    host: dict[str, Any] = dict(create["host_config"])
    host["CapAdd"] = _daemon_caps(host.get("CapAdd")) or None
    host["CapDrop"] = _daemon_caps(host.get("CapDrop")) or None
    mounts = []
    for m in as_list(host.get("Mounts")):
        m = as_map(m)
        bind = m.get("Type") == "bind"
        propagation = as_map(m.get("BindOptions")).get("Propagation")
        mounts.append(
            {
                "Type": m.get("Type"),
                "Source": m.get("Source"),
                "Destination": m.get("Target"),
                "Mode": "",
                "RW": not m.get("ReadOnly", False),
                "Propagation": propagation or ("rprivate" if bind else ""),
            }
        )
    config: dict[str, Any] = {
        "Image": cfg.image,
        "User": create.get("user") or "",
        "Labels": dict(create.get("labels") or {}),
        "ExposedPorts": {port: {} for port in as_map(host.get("PortBindings"))},
        "Healthcheck": _healthcheck(cfg),
    }
    if cfg.stop_timeout is not None:
        config["StopTimeout"] = cfg.stop_timeout
    return {
        "Id": "",
        "Name": "",
        "Config": config,
        "HostConfig": host,
        "Mounts": mounts,
        "State": {},
        "AppArmorProfile": "",
        "NetworkSettings": {"Networks": {cfg.network: {"NetworkID": ""}}, "Ports": {}},
    }

"""secure_run: hardened, validated, verifiable Docker container launches.

Build an immutable :class:`RunConfig` from a secure preset, and every bad or
weaker setting is refused before the daemon sees it::

    import secure_run as sr

    cfg = sr.builder("busybox").command(["id"]).memory("256m").build()
    docker.from_env().containers.run(**cfg.to_docker_kwargs(), remove=True)
"""

from __future__ import annotations

from ._builder import RunBuilder
from ._capabilities import DANGEROUS_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES
from ._config import (
    Device,
    Explanation,
    Healthcheck,
    LogLimits,
    Mount,
    OptIn,
    PortBinding,
    RestartPolicy,
    RunConfig,
    Seccomp,
    Tmpfs,
    Ulimit,
    User,
)
from ._errors import ConfigError, Problem, SecureRunError
from ._presets import Preset, PresetLine, builder, preset, presets

__all__ = [
    "DANGEROUS_CAPABILITIES",
    "DOCKER_DEFAULT_CAPABILITIES",
    "ConfigError",
    "Device",
    "Explanation",
    "Healthcheck",
    "LogLimits",
    "Mount",
    "OptIn",
    "PortBinding",
    "Preset",
    "PresetLine",
    "Problem",
    "RestartPolicy",
    "RunBuilder",
    "RunConfig",
    "Seccomp",
    "SecureRunError",
    "Tmpfs",
    "Ulimit",
    "User",
    "builder",
    "preset",
    "presets",
]

__version__ = "0.1.0.dev0"

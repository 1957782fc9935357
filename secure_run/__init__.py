"""secure_run: hardened, validated, verifiable Docker container launches.

Build an immutable :class:`RunConfig` from a secure preset, and every bad or
weaker setting is refused before the daemon sees it; then run it, with a
timeout that kills, capped output, verification and no leaked containers::

    import secure_run as sr

    cfg = sr.builder("busybox").command(["id"]).memory("256m").build()
    result = sr.run(cfg, timeout=10)
"""

from __future__ import annotations

from ._audit.audit import CHECKS, AuditReport, CheckSpec, Finding, audit, audit_all, audit_config
from ._audit.doctor import DoctorFinding, DoctorReport, doctor
from ._config.builder import RunBuilder
from ._config.capabilities import DANGEROUS_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES
from ._config.presets import Preset, PresetLine, builder, preset, presets
from ._config.run_config import RunConfig
from ._config.values import (
    Device,
    Explanation,
    Healthcheck,
    LogLimits,
    Mount,
    OptIn,
    PortBinding,
    RestartPolicy,
    Seccomp,
    Tmpfs,
    Ulimit,
    User,
)
from ._engine.cleanup import Reaped, cleanup
from ._engine.facts import EngineFacts, engine_facts
from ._engine.launch import ExecResult, RunResult, SecureContainer, Streams, launch, run
from ._engine.many import RunOutcome, run_many
from ._errors import (
    ConfigError,
    DaemonUnavailable,
    HardeningNotApplied,
    ImageNotFound,
    LaunchError,
    Problem,
    RunTimeout,
    SecureRunError,
    UnsupportedFeature,
)
from ._proof.verify import Check, VerifyReport, verify

__all__ = [
    "CHECKS",
    "DANGEROUS_CAPABILITIES",
    "DOCKER_DEFAULT_CAPABILITIES",
    "AuditReport",
    "Check",
    "CheckSpec",
    "ConfigError",
    "DaemonUnavailable",
    "Device",
    "DoctorFinding",
    "DoctorReport",
    "EngineFacts",
    "ExecResult",
    "Explanation",
    "Finding",
    "HardeningNotApplied",
    "Healthcheck",
    "ImageNotFound",
    "LaunchError",
    "LogLimits",
    "Mount",
    "OptIn",
    "PortBinding",
    "Preset",
    "PresetLine",
    "Problem",
    "Reaped",
    "RestartPolicy",
    "RunBuilder",
    "RunConfig",
    "RunOutcome",
    "RunResult",
    "RunTimeout",
    "Seccomp",
    "SecureContainer",
    "SecureRunError",
    "Streams",
    "Tmpfs",
    "Ulimit",
    "UnsupportedFeature",
    "User",
    "VerifyReport",
    "audit",
    "audit_all",
    "audit_config",
    "builder",
    "cleanup",
    "doctor",
    "engine_facts",
    "launch",
    "preset",
    "presets",
    "run",
    "run_many",
    "verify",
]

__version__ = "0.1.0.dev0"

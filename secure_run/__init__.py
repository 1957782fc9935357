"""secure_run: hardened, validated, verifiable Docker container launches.

Build an immutable :class:`RunConfig` from a secure preset, and every bad or
weaker setting is refused before the daemon sees it; then run it, with a
timeout that kills, capped output, verification and no leaked containers::

    import secure_run as sr

    cfg = sr.builder("busybox").command(["id"]).memory("256m").build()
    result = sr.run(cfg, timeout=10)

Every public name is loaded on first use (PEP 562 ``__getattr__``), so ``import
secure_run`` costs almost nothing and the command line starts fast: the config
layer, the engine (and docker-py with it), verify, audit and doctor are imported
only when a name from them is touched. Type checkers read the ``TYPE_CHECKING``
imports below instead, so ``sr.audit`` is typed exactly and a misspelt name is
still an error.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from ._audit.audit import (
        CHECKS,
        AuditReport,
        CheckSpec,
        Finding,
        audit,
        audit_all,
        audit_config,
    )
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
        Workspace,
    )
    from ._engine.cleanup import Reaped, cleanup
    from ._engine.facts import EngineFacts, engine_facts
    from ._engine.launch import (
        ExecResult,
        ExecStream,
        RunResult,
        SecureContainer,
        Streams,
        launch,
        run,
    )
    from ._engine.many import RunOutcome, run_many
    from ._engine.service import SecureService, service
    from ._errors import (
        ConfigError,
        DaemonUnavailable,
        HardeningNotApplied,
        ImageNotFound,
        LaunchError,
        OutputTooLarge,
        Problem,
        RunTimeout,
        SandboxFileNotFound,
        SecureRunError,
        UnsafeArchive,
        UnsupportedFeature,
        WorkspaceFull,
    )
    from ._proof.verify import Check, VerifyReport, verify
    from ._proof.verify_service import ServiceVerifyReport, TaskVerification

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
    "ExecStream",
    "Explanation",
    "Finding",
    "HardeningNotApplied",
    "Healthcheck",
    "ImageNotFound",
    "LaunchError",
    "LogLimits",
    "Mount",
    "OptIn",
    "OutputTooLarge",
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
    "SandboxFileNotFound",
    "Seccomp",
    "SecureContainer",
    "SecureRunError",
    "SecureService",
    "ServiceVerifyReport",
    "Streams",
    "TaskVerification",
    "Tmpfs",
    "Ulimit",
    "UnsafeArchive",
    "UnsupportedFeature",
    "User",
    "VerifyReport",
    "Workspace",
    "WorkspaceFull",
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
    "service",
    "verify",
]

__version__ = "0.1.0.dev0"

#: The private module each public name is defined in: the same modules the
#: ``TYPE_CHECKING`` imports above name (a unit test holds the two to each other).
_HOMES: dict[str, str] = {
    "._audit.audit": "CHECKS AuditReport CheckSpec Finding audit audit_all audit_config",
    "._audit.doctor": "DoctorFinding DoctorReport doctor",
    "._config.builder": "RunBuilder",
    "._config.capabilities": "DANGEROUS_CAPABILITIES DOCKER_DEFAULT_CAPABILITIES",
    "._config.presets": "Preset PresetLine builder preset presets",
    "._config.run_config": "RunConfig",
    "._config.values": "Device Explanation Healthcheck LogLimits Mount OptIn PortBinding "
    "RestartPolicy Seccomp Tmpfs Ulimit User Workspace",
    "._engine.cleanup": "Reaped cleanup",
    "._engine.facts": "EngineFacts engine_facts",
    "._engine.launch": "ExecResult ExecStream RunResult SecureContainer Streams launch run",
    "._engine.many": "RunOutcome run_many",
    "._engine.service": "SecureService service",
    "._errors": "ConfigError DaemonUnavailable HardeningNotApplied ImageNotFound LaunchError "
    "OutputTooLarge Problem RunTimeout SandboxFileNotFound SecureRunError UnsafeArchive "
    "UnsupportedFeature WorkspaceFull",
    "._proof.verify": "Check VerifyReport verify",
    "._proof.verify_service": "ServiceVerifyReport TaskVerification",
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names.split()}


def __dir__() -> list[str]:
    """The module's names, the public ones included before they are first loaded."""
    return sorted({*globals(), *__all__})


if not typing.TYPE_CHECKING:  # hidden from type checkers, so a misspelt name stays an error

    def __getattr__(name: str) -> object:
        """Load a public name from its module on first use, then keep it here."""
        module = _HOME_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value

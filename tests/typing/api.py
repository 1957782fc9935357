"""The public API as a user types it, checked by ``mypy --strict`` (tests/typing/test_mypy_api.py).

Never run: each ``assert_type`` pins the exact type mypy sees, so a name that is
loaded lazily (``sr.audit``, ``sr.verify``, ...) and became ``Any`` or ``object``
to the type checker would fail here.
"""

from __future__ import annotations

from typing import Any

import docker
from typing_extensions import assert_type

import secure_run as sr
from secure_run import RunConfig, audit, builder


def configs() -> sr.RunConfig:
    """Building and reading a config; the exporters."""
    cfg: sr.RunConfig = sr.builder("busybox").command(["id"]).memory("256m").build()
    assert_type(sr.builder("busybox"), sr.RunBuilder)
    assert_type(sr.preset("sandbox", "busybox").build(), sr.RunConfig)
    assert_type(builder("busybox").build(), RunConfig)
    assert_type(sr.presets(), dict[str, str])
    assert_type(cfg.to_docker_kwargs(), dict[str, Any])
    assert_type(cfg.to_cli(), list[str])
    assert_type(sr.DANGEROUS_CAPABILITIES, frozenset[str])
    assert_type(sr.DOCKER_DEFAULT_CAPABILITIES, frozenset[str])
    waived: sr.OptIn = sr.OptIn.ROOT_USER
    assert_type(cfg.waivers(), tuple[sr.OptIn, ...])
    del waived
    return cfg


def engine(client: docker.DockerClient, cfg: sr.RunConfig) -> None:
    """Running, launching, many at once, cleanup and the engine's facts."""
    result = sr.run(cfg, timeout=10, client=client)
    assert_type(result, sr.RunResult)
    assert_type(result.exit_code, int)
    assert_type(result.stdout, bytes)
    with sr.launch(cfg, client=client) as container:
        assert_type(container, sr.SecureContainer)
        assert_type(container.exec(["id"]), sr.ExecResult)
    assert_type(sr.run_many([cfg], workers=2, client=client), list[sr.RunOutcome])
    assert_type(sr.cleanup(client), list[sr.Reaped])
    assert_type(sr.engine_facts(client), sr.EngineFacts)


def proof_and_audit(client: docker.DockerClient, cfg: sr.RunConfig) -> None:
    """The names loaded on first use: verify, audit, doctor and their reports."""
    report = sr.verify("abc123", cfg, client=client)
    assert_type(report, sr.VerifyReport)
    assert_type(report.checks, tuple[sr.Check, ...])
    assert_type(report.ok, bool)
    assert_type(sr.audit("abc123", client=client), sr.AuditReport)
    assert_type(audit("abc123"), sr.AuditReport)
    assert_type(sr.audit_all(client).findings, tuple[sr.Finding, ...])
    assert_type(sr.audit_config(cfg), sr.AuditReport)
    assert_type(sr.CHECKS, tuple[sr.CheckSpec, ...])
    assert_type(sr.doctor(client).findings, tuple[sr.DoctorFinding, ...])


def errors(cfg: sr.RunConfig) -> None:
    """The error tree: a config error is a ValueError with its problems."""
    try:
        sr.run(cfg)
    except sr.ConfigError as exc:
        assert_type(exc.problems, tuple[sr.Problem, ...])
        problem: ValueError = exc
        del problem
    except (sr.ImageNotFound, sr.DaemonUnavailable, sr.HardeningNotApplied) as exc:
        error: sr.SecureRunError = exc
        del error

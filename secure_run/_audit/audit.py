"""Audit containers against the CIS Docker Benchmark v1.6 section 5 and Pod Security.

:func:`audit` judges one container, :func:`audit_all` every running one, and
:func:`audit_config` a :class:`RunConfig` before it is launched. Each returns an
:class:`AuditReport` of :class:`Finding` records, one per check and container, each
with an id (``"5.4"``, ``"PSS-restricted-runAsNonRoot"``, ``"SR-waivers"``), a status,
the evidence read and the remedy. :data:`CHECKS` lists every check, in order.

How it reads the engine: one ``info``, one network listing and one ``inspect`` per
container, all at once on a thread pool, and, when the daemon is local, its command
line and ``daemon.json`` through the locator the doctor uses too
(:func:`.daemon.locate_daemon`); then one pure function judges each container's
inspect record in that engine context. The exec check (5.7, sshd) runs
``ps`` in the container and only when asked (``exec_checks=True``).

The verdicts are docker-bench-security's wherever its logic is sound. Where it has a
known hole, the check here is stricter and its evidence says so:

* 5.3 passes any ``SecurityOpt``; here an SELinux ``label`` option is required (and
  the check is not applicable on an engine without SELinux);
* 5.4 reads only ``CapAdd``; here the effective set is computed (privileged is every
  capability; ``CapDrop ALL`` removes the defaults) and anything beyond Docker's 14
  defaults warns, the dangerous ones named;
* 5.14 catches only ``0.0.0.0``; here ``::`` and an empty ``HostIp`` (every interface)
  warn too;
* 5.15 reads only the retry count; here ``always`` and ``unless-stopped`` warn, and
  ``on-failure`` needs 1 to 5 retries (0 means unlimited);
* 5.26 accepts ``no-new-privileges=false``; here the value is parsed as the daemon does.

Also stricter, in smaller ways: 5.6 catches paths below a sensitive directory,
5.22 counts privileged containers and allow-all custom profiles as unconfined,
5.32 catches any engine socket and a mount of a folder above one. Two verdicts are
milder, where docker-bench-security is wrong: 5.12 accepts a CFS quota
(``CpuQuota``) as a CPU limit, and 5.8 counts host ports below 1024 as privileged
(port 1024 is not). 5.9 warns on any published port, as docker-bench-security
does: only a person can tell which are needed.

Ports are read as ``docker port`` shows them for a running container
(``NetworkSettings.Ports``) and from ``HostConfig.PortBindings`` for one that is
only created, so a container can be judged before it is started.

The checks live by topic in the ``checks_*`` modules and :mod:`.pss`; :mod:`.catalog`
puts them in report order. A client given (or the target's own) is never closed; one
made here is closed when the audit ends (:func:`secure_run._engine.client.session`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import docker

from .._config.run_config import RunConfig
from .._engine.client import session
from .._engine.errors import translated
from .._errors import ConfigError
from .._report import STATUSES
from .catalog import CHECKS, judge_container, judge_engine
from .config_record import config_inspect
from .engine_view import Target, context_reader, gather, report, resolve
from .report import AuditReport, CheckSpec, Finding
from .view import Context

__all__ = [
    "CHECKS",
    "STATUSES",
    "AuditReport",
    "CheckSpec",
    "Finding",
    "audit",
    "audit_all",
    "audit_config",
]

_MAX_WORKERS = 8


def audit(
    target: Target, *, client: docker.DockerClient | None = None, exec_checks: bool = False
) -> AuditReport:
    """Audit one container against CIS Docker Benchmark section 5 and Pod Security.

    The container may be running or only created (docker-bench-security looks only
    at running ones; here a created one is judged on the ports and settings it asks
    for). The engine is read once: ``info``, the network listing and the container's
    ``inspect``, at the same time.

    Args:
        target: A container id or name, a docker-py ``Container``, or a container
            launched by secure_run (anything with ``id`` and ``client``).
        client: The client to use; defaults to ``target.client``, then
            ``docker.from_env()``.
        exec_checks: Also run ``ps -el`` in the container for 5.7 (sshd); otherwise
            5.7 is ``not_applicable``.

    Returns:
        The report: 5.1 for the engine, then every container check.

    Raises:
        LaunchError: The engine refused a call (no such container).
        DaemonUnavailable: No engine answered.
        RunTimeout: The engine did not answer in time.
        UnsupportedFeature: The container is Podman's: its inspect record is not in
            Docker's shapes, which the checks judge.

    .. versionadded:: 0.1
    """
    return _audit(target, client, exec_checks)


def _audit(
    target: Target,
    client: docker.DockerClient | None,
    exec_checks: bool,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> AuditReport:
    """:func:`audit`, reading this host's ``/proc`` and ``/etc`` where given (for tests)."""
    container_id, own = resolve(target)
    given = client if client is not None else own
    with session(given) as api_client, ThreadPoolExecutor(4) as pool:
        context = context_reader(api_client, pool, proc_root=proc_root, etc_root=etc_root)
        gathered = gather(api_client, container_id, exec_checks, missing_ok=False)
        ctx = context()
    assert gathered is not None  # noqa: S101 - missing_ok=False raises instead
    return report(ctx, [gathered])


def audit_all(
    client: docker.DockerClient | None = None, *, exec_checks: bool = False
) -> AuditReport:
    """Audit every running container, as docker-bench-security's section 5 does.

    One container listing, one ``info``, one network listing, and one ``inspect``
    per container, done concurrently. A container removed during the audit is left
    out. With no container running, the report holds the engine-level finding only.

    Args:
        client: The client to use; ``docker.from_env()`` when omitted.
        exec_checks: Also run ``ps -el`` in each container for 5.7 (sshd).

    Returns:
        The report: 5.1 for the engine, then every check for each container, by name.

    Raises:
        DaemonUnavailable: No engine answered.
        RunTimeout: The engine did not answer in time.
        LaunchError: The engine refused a call.
        UnsupportedFeature: A container is Podman's (see :func:`audit`).

    .. versionadded:: 0.1
    """
    return _audit_all(client, exec_checks)


def _audit_all(
    client: docker.DockerClient | None,
    exec_checks: bool,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> AuditReport:
    """:func:`audit_all`, reading this host's ``/proc`` and ``/etc`` where given (for tests)."""
    with session(client) as api_client, ThreadPoolExecutor(_MAX_WORKERS) as pool:
        context = context_reader(api_client, pool, proc_root=proc_root, etc_root=etc_root)
        with translated("list the running containers", client=api_client):
            listed = api_client.api.containers()
        futures = [
            pool.submit(gather, api_client, str(c["Id"]), exec_checks, missing_ok=True)
            for c in listed
        ]
        gathered = [g for g in (f.result() for f in futures) if g is not None]
        ctx = context()
    return report(ctx, gathered)


def audit_config(cfg: RunConfig) -> AuditReport:
    """Audit a configuration before launch, on the HostConfig the engine would record.

    The record is built as docker-py and the engine would (capabilities as
    ``CAP_X``, the secure_run labels included) and judged by the same checks as a
    running container. What only an engine can tell is ``not_applicable``: swarm
    mode (5.1), AppArmor and SELinux (5.2 and 5.3, unless the config itself turns
    them off), sshd (5.7). A config without a healthcheck gets ``info`` for 5.27,
    since the image may have one.

    Args:
        cfg: The configuration.

    Returns:
        The report, with ``container`` empty in every finding.

    Raises:
        ConfigError: ``cfg`` is not a RunConfig.

    .. versionadded:: 0.1
    """
    if not isinstance(cfg, RunConfig):
        raise ConfigError.single(
            "cfg", type(cfg).__name__, "not a RunConfig", "build one with secure_run.builder()"
        )
    ctx = Context(None, (), False, "config audit: unknown")
    return AuditReport((*judge_engine(ctx), *judge_container(config_inspect(cfg), ctx)))

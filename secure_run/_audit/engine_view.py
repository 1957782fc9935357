"""Reading the engine for an audit: ``info``, networks and the daemon, then each container.

One ``info``, one network listing and one ``inspect`` per container, at the same time
on a thread pool; when the daemon is local, its command line and ``daemon.json`` are
read through the one locator the doctor uses too (:func:`.daemon.locate_daemon`).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Protocol, Union

import docker
import docker.errors
from docker.models.containers import Container

from .._engine.errors import base_url, translated
from .._engine.podman import is_podman_record
from .._errors import ConfigError, LaunchError, Problem, UnsupportedFeature, show
from .._report import cut
from .catalog import judge_container, judge_engine
from .daemon import DaemonConfig, daemon_socket_paths, locate_daemon
from .report import AuditReport
from .view import Context, Processes, as_list, as_map

__all__ = [
    "Target",
    "context_reader",
    "daemon_no_new_privileges",
    "gather",
    "report",
    "resolve",
]


class _Launched(Protocol):
    """What :func:`secure_run.audit` needs of a container secure_run launched."""

    id: str
    client: docker.DockerClient


#: What :func:`secure_run.audit` accepts: an id or name, a docker-py Container, or a
#: container secure_run launched.
Target = Union[str, Container, _Launched]


def _call(client: docker.DockerClient, action: str, call: Callable[[], Any]) -> Any:
    with translated(action, client=client):
        return call()


def daemon_no_new_privileges(daemon: DaemonConfig | None) -> tuple[bool, str]:
    """Whether the daemon sets no-new-privileges for every container, and where read.

    The command line (``--no-new-privileges[=bool]``) wins, else ``daemon.json``
    (``"no-new-privileges": true``) as the daemon itself reads them. What cannot be
    read counts as off.
    """
    if daemon is None:
        return False, "the engine is not local: unknown"
    if daemon.pid is None:
        return False, f"unknown: {daemon.problem}"
    value, where = daemon.setting_bool("no-new-privileges")
    source = f"{where}; dockerd pid {daemon.pid}"
    if value is None and daemon.problem:
        source += f" ({daemon.problem})"
    return bool(value), source


def _read_daemon(
    client: docker.DockerClient, info: concurrent.futures.Future[Any], proc_root: str, etc_root: str
) -> tuple[DaemonConfig | None, tuple[str, ...]]:
    """The daemon serving ``client`` (once ``info`` tells whether it is rootless)."""
    options = ",".join(str(o) for o in as_list(as_map(info.result()).get("SecurityOptions")))
    rootless = "name=rootless" in options.split(",")
    daemon = locate_daemon(client, rootless=rootless, proc_root=proc_root, etc_root=etc_root)
    address = base_url(client)
    socket_path = address[len("unix://") :] if daemon is not None else None
    return daemon, daemon_socket_paths(socket_path, daemon)


def context_reader(
    client: docker.DockerClient,
    pool: concurrent.futures.Executor,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> Callable[[], Context]:
    """Start reading the engine's info, networks and daemon on ``pool``; call the result to wait.

    The info call is submitted first, so the daemon reader, which waits for it, never
    waits for a task behind itself. ``proc_root`` and ``etc_root`` are where this
    host's ``/proc`` and ``/etc`` are read (other folders in tests).
    """
    info = pool.submit(_call, client, "read the engine's info", client.api.info)
    networks = pool.submit(_call, client, "list the engine's networks", client.api.networks)
    daemon = pool.submit(_read_daemon, client, info, proc_root, etc_root)

    def wait() -> Context:
        config, socket_paths = daemon.result()
        nnp, source = daemon_no_new_privileges(config)
        return Context(info.result(), as_list(networks.result()), nnp, source, socket_paths)

    return wait


def _processes(client: docker.DockerClient, inspect: Mapping[str, Any]) -> Processes:
    """Run ``ps -el`` in the container, as docker-bench-security does for 5.7."""
    if not as_map(inspect.get("State")).get("Running"):
        return Processes(None, "the container is not running")
    container_id = str(inspect.get("Id"))
    api: Any = client.api
    try:
        for _ in range(2):  # an exec's output can be lost (moby#27289): once more if none
            with translated(f"run ps in container {container_id[:12]}", client=client):
                exec_id = api.exec_create(container_id, ["ps", "-el"])["Id"]
                output = api.exec_start(exec_id)
                code = api.exec_inspect(exec_id).get("ExitCode")
            if code != 0 or output:
                break
    except LaunchError as exc:
        return Processes(None, str(exc))
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    if code != 0:
        return Processes(None, f"ps -el exited {code}: {cut(text, 120)}")
    return Processes(text)


def gather(
    client: docker.DockerClient, container_id: str, exec_checks: bool, *, missing_ok: bool
) -> tuple[dict[str, Any], Processes | None] | None:
    """One container's inspect record and ``ps`` output; ``None`` if gone and ``missing_ok``.

    Raises:
        UnsupportedFeature: The container is Podman's, whose record the checks misread.
    """
    with translated(f"inspect container {container_id[:64]}", client=client):
        try:
            inspect: dict[str, Any] = client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            if missing_ok:
                return None
            raise
    if is_podman_record(inspect):
        raise UnsupportedFeature([_podman_audit(container_id)])
    return inspect, _processes(client, inspect) if exec_checks else None


def _podman_audit(container_id: str) -> Problem:
    return Problem(
        "audit",
        show(container_id[:12]),
        "the engine is Podman (its inspect record names the runtime 'oci'): audit judges "
        "Docker's inspect shapes, and Podman's differ (an expanded CapDrop instead of ALL, "
        "IpcMode 'shareable', RLIMIT_-named ulimits, a default pids limit of 2048, its "
        "'podman' network), so its findings would be wrong",
        "audit the config before launch (audit_config()), prove a launched container "
        "with verify(), or audit on Docker",
    )


def resolve(target: Target) -> tuple[str, docker.DockerClient | None]:
    """The container id of ``target``, and its own client when it carries one."""
    if isinstance(target, str):
        container_id, own = target, None
    else:
        container_id, own = str(getattr(target, "id", "") or ""), getattr(target, "client", None)
    if not container_id:
        raise ConfigError.single(
            "target", target, "no container id", "pass a container id, name or Container"
        )
    client: docker.DockerClient | None = own  # a DockerClient, or a stand-in with .api
    return container_id, client


def report(
    ctx: Context, gathered: Iterable[tuple[dict[str, Any], Processes | None]]
) -> AuditReport:
    """The report: the engine's findings, then each container's, by name."""
    findings = judge_engine(ctx)
    ordered = sorted(gathered, key=lambda g: (str(g[0].get("Name") or ""), str(g[0].get("Id"))))
    for inspect, processes in ordered:
        findings.extend(judge_container(inspect, ctx, processes))
    return AuditReport(tuple(findings))

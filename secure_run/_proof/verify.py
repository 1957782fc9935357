"""Verification: did a container really get what its RunConfig asked for?

:func:`verify` compares a container with the :class:`RunConfig` it was made from,
reading two sources:

* **What the daemon recorded**, from one ``inspect`` call
  (:mod:`.inspect_checks`): ``Config.User``, the ``HostConfig`` fields that carry
  hardening, in the daemon's own form (``CAP_NET_BIND_SERVICE``,
  ``no-new-privileges:true``), and the lifecycle settings: the restart policy, the log
  limits, the healthcheck and the stop timeout.
* **What the kernel applied** (:mod:`.kernel_checks`). When the daemon is local, the
  container's init process is read from the host (:mod:`.host`):
  ``/proc/<pid>/status`` (capabilities, ``NoNewPrivs``, ``Seccomp``, ids),
  ``/proc/<pid>/limits``, ``/proc/<pid>/mountinfo`` and its cgroup files (v1 and v2).
  Plain file reads: no tool is needed in the image and no subprocess is started.
  Otherwise an exec probe (:data:`secure_run._proof.probe.PROBE_SCRIPT`) reads the
  same files from inside; both are parsed by the one reader, :mod:`.kernel`. An image
  without ``/bin/sh`` gets a note saying the kernel state was not verified.

A check passes when the container is as the config says. Where the config leaves a
setting to the daemon (``None``) or takes the weaker side of an opt-in (``privileged``,
a writable root, no ``no-new-privileges``), only a weaker actual value fails: its
expected value reads ``any (config: ...)`` or names the weaker values refused.

Each check names the property, the expected and the actual value, and its source:
``"inspect"``, ``"host /proc/<pid>"`` or ``"exec probe"``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Callable, Literal, Protocol, Union, overload

import docker
from docker.models.containers import Container
from docker.utils import socket as _sdk_socket

from .._config.run_config import RunConfig
from .._config.values import OptIn
from .._engine.client import is_local, session
from .._engine.errors import base_url, translated
from .._engine.facts import cached_facts, engine_facts
from .._engine.podman import LIBPOD_KEY, is_podman_record, libpod_details
from .._engine.runtimes import is_gvisor_name
from .._errors import ConfigError, HardeningNotApplied, LaunchError
from .expected import needs_every_cap
from .gvisor_volumes import workspace_from_record
from .host import read_host_process, read_text
from .inspect_checks import inspect_checks
from .kernel import CgroupLimits, KernelFileError, KernelState
from .kernel_checks import cgroup_keys_for, kernel_checks, mount_points
from .probe import PROBE_BEGIN, ProbeError, probe_command, read_probe
from .verify_report import EXEC, INSPECT, Check, VerifyReport, cell, check
from .verify_service import Adapt, ServiceTarget, ServiceVerifyReport, verify_service

__all__ = ["Check", "KernelSource", "VerifyReport", "verify"]

#: Where the kernel's state is read from: ``True`` (the host when the daemon is
#: local, else an exec probe), ``False`` (not at all), ``"host"`` or ``"exec"``.
KernelSource = Union[bool, Literal["host", "exec"]]

_NO_SHELL = "the image has no /bin/sh for the exec probe"

#: How long the exec probe's exit record is waited for when its output ended first, and
#: the container's exit when a probe without a report may have been cut short by it.
_EXIT_RECORD_WAIT = 3.0


# docker-py's attach-stream demultiplexer; it is not in the type stubs.
_frames_iter: Callable[[Any, bool], Iterator[tuple[int, bytes]]] = getattr(  # noqa: B009
    _sdk_socket, "frames_iter"
)


def _read_frames(sock: Any, chunks: list[bytes]) -> None:
    """Each chunk of an exec's multiplexed stream (standard output and error) into ``chunks``."""
    with contextlib.suppress(OSError, ValueError):  # ended, or closed under the reader
        for _, chunk in _frames_iter(sock, False):
            chunks.append(chunk)


class _Verifiable(Protocol):
    """What :func:`verify` needs of a launched container (``SecureContainer``)."""

    id: str
    config: RunConfig
    client: docker.DockerClient


@overload
def verify(
    target: ServiceTarget,
    cfg: Sequence[docker.DockerClient] | None = None,
    *,
    nodes: Sequence[docker.DockerClient] | None = None,
    client: docker.DockerClient | None = None,
    strict: bool = True,
    kernel: KernelSource = True,
    proc_root: str = "/proc",
    cgroup_root: str = "/sys/fs/cgroup",
) -> ServiceVerifyReport: ...


@overload
def verify(
    target: _Verifiable | Container | str,
    cfg: RunConfig | None = None,
    *,
    nodes: Sequence[docker.DockerClient] | None = None,
    client: docker.DockerClient | None = None,
    strict: bool = True,
    kernel: KernelSource = True,
    proc_root: str = "/proc",
    cgroup_root: str = "/sys/fs/cgroup",
) -> VerifyReport: ...


def verify(
    target: ServiceTarget | _Verifiable | Container | str,
    cfg: RunConfig | Sequence[docker.DockerClient] | None = None,
    *,
    nodes: Sequence[docker.DockerClient] | None = None,
    client: docker.DockerClient | None = None,
    strict: bool = True,
    kernel: KernelSource = True,
    proc_root: str = "/proc",
    cgroup_root: str = "/sys/fs/cgroup",
) -> VerifyReport | ServiceVerifyReport:
    """Check that a container, or every task of a Swarm service, got its hardening.

    ``verify(service, node_clients)`` verifies each running task of a
    :class:`~secure_run.SecureService` on the node that runs it and returns a
    :class:`~secure_run.ServiceVerifyReport` (see :mod:`.verify_service`).

    Args:
        target: A container launched by secure_run (anything with ``id``, ``config``
            and ``client``), a docker-py ``Container``, a container id or name, or a
            :class:`~secure_run.SecureService`.
        cfg: The config to check against; defaults to ``target.config``. Required
            when ``target`` is a ``Container`` or an id. For a service: the clients
            of the swarm's nodes (or give them as ``nodes``).
        nodes: For a service, the clients of the swarm's nodes.
        client: The client to use; defaults to ``target.client``, then
            ``docker.from_env()``.
        strict: Raise :class:`HardeningNotApplied` when a check fails; otherwise
            return the report either way.
        kernel: Also check what the kernel applied: ``True`` reads the container's
            init process from the host when the daemon is local and falls back to an
            exec probe; ``"host"`` or ``"exec"`` force one way; ``False`` checks the
            daemon's record only (the container need not be running then).
        proc_root: Where the host's ``/proc`` is (for tests).
        cgroup_root: Where the host's cgroup file systems are (for tests).

    Returns:
        The report: each property with expected, actual and source, and notes.

    Raises:
        ConfigError: No config was given for an id or ``Container``, or ``kernel``
            is not one of the values above.
        HardeningNotApplied: ``strict`` and a check failed; the report is attached.
        LaunchError: The engine refused the inspect or the exec (no such container).
        DaemonUnavailable: No engine answered.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 A Swarm service with its node clients.
    """
    if kernel not in (True, False, "host", "exec"):
        raise ConfigError.single(
            "kernel", kernel, "not a kernel source", 'give True, False, "host" or "exec"'
        )
    if isinstance(target, ServiceTarget):
        return _verify_service(target, cfg if cfg is not None else nodes, strict, kernel)
    if cfg is not None and not isinstance(cfg, RunConfig):
        raise ConfigError.single(
            "cfg", cfg, "not a RunConfig", "pass node clients only with a Swarm service"
        )
    container_id, cfg, given = _resolve(target, cfg, client)
    with session(given) as used:
        report = _verify_container(container_id, cfg, used, kernel, proc_root, cgroup_root)
    if strict and not report.ok:
        raise HardeningNotApplied(_message(report), report=report)
    return report


def _verify_container(
    container_id: str,
    cfg: RunConfig,
    used: docker.DockerClient,
    kernel: KernelSource,
    proc_root: str = "/proc",
    cgroup_root: str = "/sys/fs/cgroup",
    adapt: Adapt | None = None,
) -> VerifyReport:
    """Both sources' checks of one container; ``adapt`` rewrites the record first."""
    with translated(f"inspect container {container_id[:64]}", client=used):
        info: dict[str, Any] = used.api.inspect_container(container_id)
        if is_podman_record(info):  # its log size and runtime are in its own record only
            info[LIBPOD_KEY] = libpod_details(used, container_id)
    container_id = str(info.get("Id") or container_id)
    checks = list(inspect_checks(cfg, info if adapt is None else adapt(info)))
    notes: list[str] = []
    if kernel is not False:
        reader = _KernelReader(cfg, used, proc_root, cgroup_root, checks, notes)
        reader.check(info, kernel)
    return VerifyReport(container_id, tuple(checks), tuple(notes))


def _verify_service(
    target: ServiceTarget,
    nodes: RunConfig | Sequence[docker.DockerClient] | None,
    strict: bool,
    kernel: KernelSource,
) -> ServiceVerifyReport:
    """A Swarm service's tasks, each on its node (:mod:`.verify_service`)."""
    if nodes is None or isinstance(nodes, RunConfig):
        raise ConfigError.single(
            "nodes", nodes, "verifying a service needs a client of each node",
            "pass the node clients: sr.verify(service, [manager, worker1, worker2])",
        )  # fmt: skip

    def one(container_id: str, cfg: RunConfig, client: docker.DockerClient,
            adapt: Adapt) -> VerifyReport:  # fmt: skip
        return _verify_container(container_id, cfg, client, kernel, adapt=adapt)

    report = verify_service(target, list(nodes), one, kernel=kernel)
    if strict and not report.ok:
        lines = [f"service {report.service_id[:12]} did not get the hardening its config "
                 f"asked for ({len(report.failures)} checks failed):"]  # fmt: skip
        lines += [f"  - {c.property}: expected {cell(c.expected)}, actual {cell(c.actual)}"
                  for c in report.failures]  # fmt: skip
        raise HardeningNotApplied("\n".join(lines), report=report)
    return report


def _resolve(
    target: _Verifiable | Container | str,
    cfg: RunConfig | None,
    client: docker.DockerClient | None,
) -> tuple[str, RunConfig, docker.DockerClient | None]:
    """The container id, the config, and the client given (``None``: make one)."""
    if isinstance(target, str):
        container_id, own_client, own_cfg = target, None, None
    elif isinstance(target, Container):
        container_id, own_client, own_cfg = target.id or "", target.client, None
    else:
        container_id, own_client, own_cfg = target.id, target.client, target.config
    cfg = cfg if cfg is not None else own_cfg
    if cfg is None:
        raise ConfigError.single(
            "cfg",
            None,
            "verifying a container by id or docker-py Container needs the config it was made from",
            "pass the RunConfig the container was made from",
        )
    if not container_id:
        raise ConfigError.single(
            "target", target, "no container id", "pass a container id, name or Container"
        )
    return container_id, cfg, client if client is not None else own_client


def _message(report: VerifyReport) -> str:
    failures = report.failures
    lines = [
        f"container {report.container_id[:12]} did not get the hardening its config asked "
        f"for ({len(failures)} of {len(report.checks)} checks failed):"
    ]
    lines += [
        f"  - {c.property}: expected {cell(c.expected)}, actual {cell(c.actual)} (from {c.source})"
        for c in failures
    ]
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


class _KernelReader:
    """Source 2: finds where the kernel state can be read, reads it, adds the checks."""

    def __init__(
        self,
        cfg: RunConfig,
        client: docker.DockerClient,
        proc_root: str,
        cgroup_root: str,
        checks: list[Check],
        notes: list[str],
    ) -> None:
        self.cfg = cfg
        self.client = client
        self.proc_root = proc_root
        self.cgroup_root = cgroup_root
        self.checks = checks
        self.notes = notes
        self.gvisor = False
        self.info: Mapping[str, Any] = {}
        self.host_cgroup: tuple[CgroupLimits, str] | None = None

    def _runs_gvisor(self, info: Mapping[str, Any]) -> bool:
        """The container runs in gVisor: by its recorded runtime and the engine's facts."""
        runtime = str((info.get("HostConfig") or {}).get("Runtime") or "")
        facts = cached_facts(self.client)
        if facts is not None:
            return facts.is_gvisor(runtime or None)
        return is_gvisor_name(runtime)

    def check(self, info: Mapping[str, Any], kernel: KernelSource) -> None:
        """The kernel checks, from the host when it may and can, else an exec probe."""
        self.info = info
        state: Mapping[str, Any] = info.get("State") or {}
        container_id = str(info.get("Id") or "")
        if not state.get("Running"):
            self._not_running(state)
            return
        pid = int(state.get("Pid") or 0)
        why_not = ""
        if self._runs_gvisor(info):
            gvisor_why = self._gvisor(container_id, pid, kernel)
            if gvisor_why is None:
                return
            why_not = gvisor_why
        elif kernel in (True, "host"):
            host, why_not = self._read_host(container_id, pid)
            if host is not None:
                self._add(host, f"host /proc/{pid}")
                return
            if kernel == "host":
                if not self._still_running(container_id):
                    return
                actual = f"not read: {why_not}"
                self.checks.append(
                    check("kernel state", "read from the host", actual, "host", False)
                )
                return
        before = len(self.checks)
        try:
            if self._exec_probe(container_id, why_not):
                return
        except LaunchError:
            if self._still_running(container_id):
                raise
            return
        # A probe without a report (exit code 126, say) may be one the container's exit
        # cut short: if it has exited since the inspect, that is the failure to report.
        # The engine may record that exit a moment after the probe's end (runsc does).
        failed = self.checks[before:]
        del self.checks[before:]
        if self._still_running(container_id, wait=_EXIT_RECORD_WAIT):
            self.checks.extend(failed)

    def _still_running(self, container_id: str, wait: float = 0.0) -> bool:
        """Whether the container still runs; if not, the failed ``State.Running`` check.

        ``wait``: seconds to keep asking while it runs, for an exit about to be recorded.
        """
        deadline = time.monotonic() + wait
        while True:
            with translated(f"inspect container {container_id[:12]}", client=self.client):
                state = self.client.api.inspect_container(container_id).get("State") or {}
            if not state.get("Running"):
                break
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.1)
        self._not_running(state)
        return False

    def _gvisor(self, container_id: str, pid: int, kernel: KernelSource) -> str | None:
        """Under gVisor the host's ``/proc/<pid>`` is the sandbox, not the workload.

        So the workload's state comes from inside (the exec probe); the limits come
        from the sandbox's cgroup on the host when the engine is local (the sandbox
        and everything in it is bounded by them), else they are noted as not visible.
        Returns why the host was not read (``""`` for ``kernel="exec"``), or ``None`` when
        ``kernel="host"`` failed.
        """
        why = (
            f"the container runs in gVisor, so the host's /proc/{pid} is the sandbox's "
            "process, not the workload"
        )
        if kernel == "host":
            actual = f"not read: {why}"
            self.checks.append(check("kernel state", "read from the host", actual, "host", False))
            return None
        self.gvisor = True
        if kernel is True:
            host, _ = self._read_host(container_id, pid)
            if host is not None:
                self.host_cgroup = (host.cgroup, f"host cgroup of the sandbox (pid {pid})")
        return "" if kernel == "exec" else why  # asked for, so no reason to give

    def _limits_waived(self) -> bool:
        """The config waives its limits (``unenforced-limits``) on an engine without cgroups.

        Asks the engine only for a config that grants the opt-in; elsewhere the limits
        are checked, so one launched behind the library's back without them fails.
        """
        if OptIn.UNENFORCED_LIMITS not in self.cfg.opt_ins:
            return False
        return engine_facts(self.client).without_cgroups

    def _add(self, state: KernelState, source: str) -> None:
        if self.gvisor:
            state = workspace_from_record(self.cfg, state, self.info, self.client, self.notes)
        self.checks.extend(
            kernel_checks(
                self.cfg,
                state,
                source,
                self.notes,
                gvisor=self.gvisor,
                host_cgroup=self.host_cgroup,
                unenforced=self._limits_waived(),
            )
        )

    def _not_running(self, state: Mapping[str, Any]) -> None:
        """A failed ``State.Running`` check: a stopped container shows no kernel state."""
        status = str(state.get("Status") or "not running")
        if status in ("exited", "dead"):
            status += f", exit code {state.get('ExitCode')}"
        self.checks.append(check("State.Running", True, f"false ({status})", INSPECT, False))
        error = f" ({state['Error']})" if state.get("Error") else ""
        self.notes.append(f"kernel state not read: the container is not running{error}")

    def _read_host(self, container_id: str, pid: int) -> tuple[KernelState | None, str]:
        """The init process's state read from the host, or ``None`` and why it cannot be."""
        proc_root = self.proc_root
        if not is_local(self.client):
            return None, f"the daemon is not local ({base_url(self.client)})"
        if pid <= 0:
            return None, "the daemon reported no process id"
        proc = os.path.join(proc_root, str(pid))
        try:
            proc_cgroup = read_text(os.path.join(proc, "cgroup"))
        except OSError:
            return None, f"the daemon's process {pid} is not visible in {proc_root} here"
        if not container_id or container_id not in proc_cgroup:
            facts = cached_facts(self.client)
            if facts is not None and facts.without_cgroups:
                return None, (f"the engine runs rootless without cgroups, so {proc_root}/{pid}"
                              "/cgroup cannot tell the container's process apart")  # fmt: skip
            return None, f"{proc_root}/{pid} is not the container's process (another PID namespace)"
        cap_last = os.path.join(proc_root, "sys", "kernel", "cap_last_cap")
        try:
            state = read_host_process(
                proc,
                proc_cgroup,
                cgroup_root=self.cgroup_root,
                keys=cgroup_keys_for(self.cfg),
                mount_points=mount_points(self.cfg),
                cap_last_cap=cap_last if needs_every_cap(self.cfg) else None,
            )
        except (OSError, KernelFileError) as exc:
            return None, f"{proc} could not be read ({exc})"
        return state, ""

    def _run_probe(self, container_id: str) -> tuple[str, str]:
        """Run the probe by exec: its exec id and its output (standard output and error).

        The output is read in a thread while the container is watched: under runsc an
        exec's stream stays open when the container ends under it, so once the container
        has stopped, the stream gets :data:`_EXIT_RECORD_WAIT` seconds more to end, then
        is closed (the output is then cut short, and said so).
        """
        client = self.client
        chunks: list[bytes] = []
        with translated(
            f"run the verification probe in container {container_id[:12]}", client=client
        ):
            exec_id = client.api.exec_create(container_id, probe_command(), user="")["Id"]
            sock: Any = client.api.exec_start(exec_id, socket=True)
        reader = threading.Thread(target=_read_frames, args=(sock, chunks), daemon=True)
        reader.start()
        try:
            while reader.is_alive():
                reader.join(0.5)
                if reader.is_alive() and not self._running(container_id):
                    reader.join(_EXIT_RECORD_WAIT)
                    break
        finally:
            raw = getattr(sock, "_sock", sock)  # under docker-py's file wrapper, if any
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
                sock.close()
                raw.close()
        reader.join(1.0)
        return str(exec_id), b"".join(chunks).decode("utf-8", "replace")

    def _running(self, container_id: str) -> bool:
        """Whether the engine records the container as running."""
        with translated(f"inspect container {container_id[:12]}", client=self.client):
            state = self.client.api.inspect_container(container_id).get("State") or {}
        return bool(state.get("Running"))

    def _probe_exit_code(self, container_id: str, exec_id: str) -> object:
        """The probe's exit code, as the engine records its exec.

        Waits up to :data:`_EXIT_RECORD_WAIT` seconds for the exec's exit record: the
        output may end before it is written (under runsc the exec's stream closes first).
        """
        deadline = time.monotonic() + _EXIT_RECORD_WAIT
        while True:
            with translated(
                f"inspect the verification probe in {container_id[:12]}", client=self.client
            ):
                record = self.client.api.exec_inspect(exec_id)
            code = record.get("ExitCode")
            if code is not None or not record.get("Running") or time.monotonic() > deadline:
                return code
            time.sleep(0.1)

    def _exec_probe(self, container_id: str, why_not_host: str) -> bool:
        """Read the kernel state by an exec probe; whether it gave a report (or no shell)."""
        exec_id, text = self._run_probe(container_id)
        code = None
        if PROBE_BEGIN not in text:  # no report: did it run?
            code = self._probe_exit_code(container_id, exec_id)
            if code == 0:  # it ran, and its output was lost (moby#27289): once more
                exec_id, text = self._run_probe(container_id)
                code = None
        try:
            _, state = read_probe(text)
        except ProbeError as exc:
            if code is None:
                code = self._probe_exit_code(container_id, exec_id)
            if code in (126, 127) and "/bin/sh" in text:
                reason = f" and {why_not_host}" if why_not_host else " (kernel='exec')"
                self.notes.append(f"kernel state not verified: {_NO_SHELL}{reason}")
                return True
            head = " ".join(text.split())[:200] or "<empty>"
            actual = f"exit code {code}, {exc}; output began: {head}"
            self.checks.append(
                check("kernel state", "the exec probe's report", actual, EXEC, False)
            )
            return False
        if why_not_host:
            self.notes.append(f"kernel state read by an exec probe: {why_not_host}")
        self._add(state, EXEC)
        return True

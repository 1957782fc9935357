"""Verification of a Swarm service: every running task, on the node that runs it.

:func:`verify_service` (reached through :func:`secure_run.verify` with a service and the
node clients) reads the manager's record of the service, then each running task's
container on its node (the task's ``NodeID`` matched to the node client whose
``info()["Swarm"]["NodeID"]`` it is) with the same checks as any container: the
daemon's record and the kernel's state. The checks are made against the config as the
service carries it:

* a task's tmpfs is in ``HostConfig.Mounts`` (type tmpfs), not ``HostConfig.Tmpfs``;
* the restart policy is the swarm's (checked on the service's spec), not the container's;
* the memory reservation is the scheduler's (checked on the service's spec), not the
  container's soft limit;
* with ``swarm-default-swap`` the swap is the node's default (as much as the memory);
* with ``swarm-daemon-nnp`` no-new-privileges is the node daemon's, so it is proven by
  ``NoNewPrivs`` inside the task alone, and unproven without the kernel checks;
* ``network("none")``: the task is on the service's internal overlay alone, that
  network is internal, and ``/proc/net/route`` in the task has no default route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import docker

from .._config.run_config import RunConfig
from .._config.values import OptIn
from .._engine.errors import base_url, translated
from .._export.swarm import restart_condition
from .._report import JsonReport, table
from .verify_report import Check, VerifyReport, cell, check, equal

__all__ = ["ServiceVerifyReport", "TaskVerification", "runs_current_spec", "verify_service"]

#: Where a check of the manager's record of the service was read.
SERVICE = "service inspect"

Adapt = Callable[[dict[str, Any]], dict[str, Any]]
#: ``(container_id, cfg, client, adapt) -> report``: verify's check of one container.
VerifyContainer = Callable[[str, RunConfig, docker.DockerClient, Adapt], VerifyReport]


@runtime_checkable
class ServiceTarget(Protocol):
    """What :func:`verify_service` needs of a service (``SecureService``)."""

    @property
    def service_id(self) -> str: ...

    config: RunConfig
    client: docker.DockerClient
    api_version: str
    swarm_opt_ins: tuple[OptIn, ...]
    network: str | None

    def inspect(self) -> dict[str, Any]: ...

    def running_tasks(self) -> list[dict[str, Any]]: ...

    def tasks(self, *, desired_state: str | None = "running") -> list[dict[str, Any]]: ...


@attrs.frozen
class TaskVerification:
    """One task's container, verified on its node.

    Attributes:
        task_id: The task's id.
        slot: Its replica slot.
        node_id: The swarm id of the node that runs it.
        node: The address of that node's engine.
        report: The container's :class:`VerifyReport`.

    .. versionadded:: 0.2
    """

    task_id: str
    slot: int | None
    node_id: str
    node: str
    report: VerifyReport

    @property
    def ok(self) -> bool:
        """Every check of the task's container passed."""
        return self.report.ok


@attrs.frozen
class ServiceVerifyReport(JsonReport):
    """The outcome of :func:`secure_run.verify` for a Swarm service.

    Attributes:
        service_id: The service's id.
        checks: The checks of the manager's record (restart policy, reservation, network)
            and of what was found (running tasks, a node client for each).
        tasks: One :class:`TaskVerification` per running task.
        notes: What could not be read and why.

    .. versionadded:: 0.2
    """

    service_id: str
    checks: tuple[Check, ...]
    tasks: tuple[TaskVerification, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every service check and every task's checks passed."""
        return all(c.ok for c in self.checks) and all(t.ok for t in self.tasks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The failed checks; a task's are named ``task <id> on <node>: <property>``."""
        own = [c for c in self.checks if not c.ok]
        for t in self.tasks:
            own += [
                attrs.evolve(c, property=f"task {t.task_id[:12]} on {t.node_id[:12]}: {c.property}")
                for c in t.report.failures
            ]
        return tuple(own)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "service_id": self.service_id,
            "ok": self.ok,
            "checks": [attrs.asdict(c) for c in self.checks],
            "tasks": [
                {
                    "task_id": t.task_id,
                    "slot": t.slot,
                    "node_id": t.node_id,
                    "node": t.node,
                    "report": t.report.to_dict(),
                }
                for t in self.tasks
            ],
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        head = f"service {self.service_id[:12]}: {len(self.tasks)} tasks, " + (
            "all checks passed" if self.ok else f"{len(self.failures)} checks failed"
        )
        rows = [
            (t.task_id[:12], str(t.slot), t.node_id[:12], "ok" if t.ok else "FAIL")
            for t in self.tasks
        ]
        lines = [head, *table(("task", "slot", "node", "ok"), rows)]
        lines += [f"  - {c.property}: expected {cell(c.expected)}, actual {cell(c.actual)}"
                  for c in self.failures]  # fmt: skip
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def verify_service(
    target: ServiceTarget,
    nodes: Sequence[docker.DockerClient],
    verify_container: VerifyContainer,
    *,
    kernel: bool | str = True,
) -> ServiceVerifyReport:
    """Verify every running task of ``target`` on its node (see the module docstring)."""
    cfg = target.config
    spec = target.inspect()
    checks = list(_service_checks(target, spec))
    notes: list[str] = []
    by_node = _node_ids(nodes)
    tasks = target.running_tasks()
    checks += _convergence_checks(spec, tasks, notes)
    notes += _not_running_yet(target)
    task_cfg = _task_config(cfg, target.swarm_opt_ins)
    done = []
    for task in tasks:
        node_id = str(task.get("NodeID") or "")
        client = by_node.get(node_id)
        if client is None:
            want = f"a client of node {node_id[:12]}"
            prop = f"node client for task {str(task.get('ID'))[:12]}"
            checks.append(check(prop, want, "none given", SERVICE, False))
            continue
        container_id = str(task["Status"]["ContainerStatus"]["ContainerID"])
        report = verify_container(container_id, task_cfg, client, _adapt(cfg))
        report = _as_service(report, target, client, kernel is not False)
        done.append(TaskVerification(str(task.get("ID")), task.get("Slot"), node_id,
                                     base_url(client), report))  # fmt: skip
    return ServiceVerifyReport(target.service_id, tuple(checks), tuple(done), tuple(notes))


#: ``UpdateStatus.State`` while the manager replaces the tasks, and once it is done.
_UPDATING = ("updating", "rollback_started")
_SETTLED = ("completed", "rollback_completed")


def runs_current_spec(task: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether a task was made from the service's current task template.

    A task made before the last update (one the manager is about to replace) runs an
    older spec. A service never updated has no ``PreviousSpec``: its tasks are current.
    """
    if "PreviousSpec" not in record:
        return True

    def bare(spec: Any) -> dict[str, Any]:  # the manager adds Runtime to the service's copy
        return {k: v for k, v in dict(spec or {}).items() if k != "Runtime"}

    return bare(task.get("Spec")) == bare((record.get("Spec") or {}).get("TaskTemplate"))


def _convergence_checks(
    spec: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]], notes: list[str]
) -> list[Check]:
    """Whether the tasks found are the service's tasks: no update under way, all replicas up.

    Mid-update the manager is replacing the tasks, so what runs may be the old spec's
    tasks, or none yet: that is said as such, not only as a hardening failure.
    """
    found = []
    update = spec.get("UpdateStatus") or {}
    state = update.get("State")
    stale = [t for t in tasks if not runs_current_spec(t, spec)]
    if state is not None:
        shown = f"{state}: {update.get('Message') or ''}".rstrip(": ")
        found.append(check("service update", "completed", shown, SERVICE, state in _SETTLED))
        if state not in _UPDATING + _SETTLED:
            notes.append(f"the service's last update did not finish ({shown})")
    if stale:
        current = f"{len(tasks) - len(stale)} of {len(tasks)}"
        found.append(check("tasks on the current spec", "all", current, SERVICE, False))
    if state in _UPDATING or stale:
        notes.append(
            "the service is being updated: the manager is replacing its tasks, so they may "
            "run the old spec or not run yet; verify again once it has converged "
            "(SecureService.wait_running() waits for that)"
        )
    replicated = ((spec.get("Spec") or {}).get("Mode") or {}).get("Replicated")
    running = len(tasks)
    if replicated is None:
        found.append(check("running tasks", "at least 1", running, SERVICE, running > 0))
    else:
        wanted = int(replicated.get("Replicas") or 0)
        ok = running >= wanted and running > 0
        found.append(check("running tasks", f"{wanted} (replicas)", running, SERVICE, ok))
    return found


def _not_running_yet(target: ServiceTarget) -> list[str]:
    """A note per task meant to run that does not run (yet), with its state."""
    waiting = [
        t for t in target.tasks(desired_state="running")
        if (t.get("Status") or {}).get("State") != "running"
    ]  # fmt: skip
    return [
        f"task {str(t.get('ID'))[:12]} is meant to run but is {t['Status'].get('State')}"
        + (f": {t['Status']['Err']}" if t["Status"].get("Err") else "")
        for t in waiting
    ]


def _node_ids(nodes: Sequence[docker.DockerClient]) -> dict[str, docker.DockerClient]:
    found = {}
    for client in nodes:
        with translated("read the node's swarm id", client=client):
            node_id = str(((client.info().get("Swarm") or {}).get("NodeID")) or "")
        if node_id:
            found[node_id] = client
    return found


def _task_config(cfg: RunConfig, opt_ins: tuple[OptIn, ...]) -> RunConfig:
    """The config as a task container carries it: no restart or reservation of its own."""
    changes: dict[str, Any] = {"restart": None, "memory_reservation": None}
    if OptIn.SWARM_DEFAULT_SWAP in opt_ins:
        # Docker's default: as much swap as memory (memory plus swap = twice the memory)
        changes["memory_swap"] = None if cfg.memory is None else 2 * cfg.memory
    return attrs.evolve(cfg, **changes)


def _adapt(cfg: RunConfig) -> Adapt:
    """The task container's record with its tmpfs mounts where a container keeps them."""

    def adapt(info: dict[str, Any]) -> dict[str, Any]:
        hc = dict(info.get("HostConfig") or {})
        tmpfs: dict[str, str] = {}
        others = []
        wanted = {t.path: t for t in cfg.tmpfs}
        for m in hc.get("Mounts") or ():
            if m.get("Type") != "tmpfs":
                others.append(m)
                continue
            opts = m.get("TmpfsOptions") or {}
            size, mode = opts.get("SizeBytes"), opts.get("Mode")
            t = wanted.get(str(m.get("Target")))
            same = t is not None and (t.size, t.mode) == (size, mode)
            tmpfs[str(m.get("Target"))] = (
                t.options() if same and t else f"size={size},mode={mode:o}"
            )
        hc["Mounts"], hc["Tmpfs"] = others, tmpfs
        return {**info, "HostConfig": hc}

    return adapt


def _as_service(
    report: VerifyReport, target: ServiceTarget, client: docker.DockerClient, kernel: bool
) -> VerifyReport:
    """The task's report with the checks a service answers differently replaced."""
    cfg = target.config
    kernel_nnp = next((c for c in report.checks if c.property == "NoNewPrivs"), None)
    checks = []
    for c in report.checks:
        if c.property == "HostConfig.NetworkMode":
            checks += _network_checks(report.container_id, target, client, kernel)
        elif (c.property == "HostConfig.SecurityOpt no-new-privileges" and cfg.no_new_privileges
              and OptIn.SWARM_DAEMON_NNP in target.swarm_opt_ins):  # fmt: skip
            actual = "not read (kernel checks off)" if kernel_nnp is None else kernel_nnp.actual
            source = "kernel" if kernel_nnp is None else kernel_nnp.source
            ok = kernel_nnp is not None and kernel_nnp.ok
            checks.append(check("no-new-privileges (node daemon, swarm-daemon-nnp)",
                                "NoNewPrivs 1 in the task", actual, source, ok))  # fmt: skip
        else:
            checks.append(c)
    return attrs.evolve(report, checks=tuple(checks))


def _network_checks(
    container_id: str, target: ServiceTarget, client: docker.DockerClient, kernel: bool
) -> list[Check]:
    cfg = target.config
    with translated(f"inspect container {container_id[:12]}", client=client):
        info = client.api.inspect_container(container_id)
    attached = sorted((info.get("NetworkSettings") or {}).get("Networks") or {})
    mode = str((info.get("HostConfig") or {}).get("NetworkMode") or "")
    if cfg.network != "none":
        expected = "default" if cfg.network in ("bridge", "default") else cfg.network
        actual = mode if expected == "default" else ", ".join(attached)
        return [equal("task network", expected, actual)]
    found = [equal("task network", target.network, ", ".join(attached) or "none")]
    if not kernel:
        return found
    with translated(f"read the routes of container {container_id[:12]}", client=client):
        exec_id = client.api.exec_create(container_id, ["cat", "/proc/net/route"], user="")["Id"]
        text = client.api.exec_start(exec_id).decode("utf-8", "replace")
    rows = [line.split() for line in text.splitlines()[1:] if line.strip()]
    default = [r[0] for r in rows if len(r) > 7 and r[1] == "00000000" and r[7] == "00000000"]
    shown = (
        f"default route via {', '.join(default)}"
        if default
        else f"{len(rows)} routes, none default"
    )
    found.append(check("route out (/proc/net/route)", "none", shown, "exec probe", not default))
    return found


def _service_checks(target: ServiceTarget, spec: Mapping[str, Any]) -> list[Check]:
    cfg = target.config
    template: Mapping[str, Any] = (spec.get("Spec") or {}).get("TaskTemplate") or {}
    policy = template.get("RestartPolicy") or {}
    condition, attempts = restart_condition(cfg)
    found = [
        equal("Spec.TaskTemplate.RestartPolicy", f"{condition}:{attempts}",
              f"{policy.get('Condition') or 'unset (any)'}:{policy.get('MaxAttempts') or 0}",
              SERVICE),
    ]  # fmt: skip
    if cfg.memory_reservation is not None:
        reserved = ((template.get("Resources") or {}).get("Reservations") or {}).get("MemoryBytes")
        found.append(equal("Spec.TaskTemplate.Resources.Reservations.MemoryBytes",
                           cfg.memory_reservation, reserved or 0, SERVICE))  # fmt: skip
    if target.network is not None:
        with translated(f"inspect network {target.network}", client=target.client):
            net = target.client.api.inspect_network(target.network)
        internal = bool(net.get("Internal"))
        found.append(check(f"network {target.network} internal", True, internal, SERVICE, internal))
    return found

"""service(): a RunConfig as a Docker Swarm service that is removed on every exit path.

The service spec is :meth:`RunConfig.to_swarm` at the Engine API version the client
negotiated with the manager, with the fields docker-py has no keyword for written in
(:func:`secure_run._export.swarm.service_request`). The service and its task containers
carry secure_run's labels (:mod:`.labels`), so :func:`~secure_run.cleanup` on a manager
reaps a service whose owner is gone. A service is tracked while it is alive in this
process: removed when its ``with`` block ends, on SIGTERM (:mod:`.signals`) and at
interpreter exit. A config with ``network("none")`` gets an internal overlay of its own
(no gateway, no route out), made before the service and removed after it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import docker
import docker.errors
import requests

from .._config.run_config import RunConfig
from .._config.values import OptIn
from .._errors import RunTimeout
from .._export.swarm import (
    check_arguments,
    isolated_network,
    service_request,
    swarm_waivers,
    to_swarm,
)
from .._proof.verify_service import runs_current_spec
from .client import low_level, session
from .errors import translated
from .labels import managed_labels
from .signals import SIGTERM_AS_EXIT

__all__ = ["LIVE_SERVICES", "UPDATING", "SecureService", "replica_count", "service", "update_state"]

logger = logging.getLogger("secure_run")


class _LiveServices:
    """The services this process created and has not removed yet (removed at exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[str, SecureService] = {}

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._services

    def add(self, svc: SecureService) -> None:
        with self._lock:
            if svc.id in self._services:
                return
            self._services[svc.id] = svc
            SIGTERM_AS_EXIT.enter()

    def discard(self, service_id: str) -> None:
        with self._lock:
            if self._services.pop(service_id, None) is not None:
                SIGTERM_AS_EXIT.leave()

    def remove_all(self) -> None:
        with self._lock:
            leftovers = list(self._services.values())
        for svc in leftovers:
            svc.remove(timeout=10.0)


LIVE_SERVICES = _LiveServices()
atexit.register(LIVE_SERVICES.remove_all)


#: The states of ``UpdateStatus`` while the manager is replacing a service's tasks.
UPDATING = frozenset({"updating", "rollback_started"})


def update_state(record: dict[str, Any]) -> str | None:
    """The state of the service's last update (``updating``, ``completed``...), if any."""
    return (record.get("UpdateStatus") or {}).get("State")


def replica_count(record: dict[str, Any]) -> int:
    """The replica count of a replicated service's record (1 for a global one)."""
    replicated = ((record.get("Spec") or {}).get("Mode") or {}).get("Replicated")
    return 1 if replicated is None else int(replicated.get("Replicas") or 0)


class SecureService:
    """A Swarm service made by :func:`secure_run.service`; use it in a ``with`` block.

    Attributes:
        id: The service's id.
        name: The service's name.
        config: The config it was made from.
        client: The client of the swarm manager.
        api_version: The Engine API version the spec was written for.
        swarm_opt_ins: The Swarm opt-ins the spec relies on (``swarm-daemon-nnp``...).
        network: The internal overlay made for ``network("none")``, or ``None``.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        service_id: str,
        name: str,
        config: RunConfig,
        client: docker.DockerClient,
        *,
        api_version: str,
        swarm_opt_ins: tuple[OptIn, ...] = (),
        network: str | None = None,
    ) -> None:
        self.id = service_id
        self.name = name
        self.config = config
        self.client = client
        self.api_version = api_version
        self.swarm_opt_ins = swarm_opt_ins
        self.network = network
        self._owned: contextlib.ExitStack | None = None
        self._removed = False

    @property
    def service_id(self) -> str:
        """The service's id (what :func:`secure_run.verify` recognises a service by)."""
        return self.id

    def __repr__(self) -> str:
        return f"<SecureService {self.name} {self.id[:12]}>"

    def __enter__(self) -> SecureService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def inspect(self) -> dict[str, Any]:
        """The manager's record of the service (``docker service inspect``)."""
        with translated(f"inspect service {self.name}", client=self.client):
            return dict(low_level(self.client).inspect_service(self.id))

    def tasks(self, *, desired_state: str | None = "running") -> list[dict[str, Any]]:
        """The service's tasks as the manager lists them, by desired state (``None``: all)."""
        filters: dict[str, Any] = {"service": self.id}
        if desired_state is not None:
            filters["desired-state"] = desired_state
        with translated(f"list the tasks of service {self.name}", client=self.client):
            return list(low_level(self.client).tasks(filters=filters))

    def running_tasks(self) -> list[dict[str, Any]]:
        """The tasks meant to run that are running now, each with its container."""
        return [
            t for t in self.tasks()
            if (t.get("Status") or {}).get("State") == "running"
            and ((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        ]  # fmt: skip

    def scale(self, replicas: int) -> None:
        """Run ``replicas`` tasks (replicated mode)."""
        with translated(f"scale service {self.name}", client=self.client):
            spec = self.inspect()
            low_level(self.client).update_service(
                self.id,
                version=spec["Version"]["Index"],
                task_template=spec["Spec"]["TaskTemplate"],
                name=spec["Spec"]["Name"],
                labels=spec["Spec"].get("Labels"),
                mode={"Replicated": {"Replicas": replicas}},
                endpoint_spec=spec["Spec"].get("EndpointSpec"),
                networks=spec["Spec"].get("TaskTemplate", {}).get("Networks"),
            )

    def wait_running(
        self, timeout: float = 60.0, *, replicas: int | None = None
    ) -> list[dict[str, Any]]:
        """Wait until the service's replicas all run and no update is under way; return their tasks.

        After an update (``docker service update``) the manager replaces the tasks one by
        one: this waits for the update to finish, so the tasks returned run the current
        spec.

        Args:
            timeout: Seconds to wait.
            replicas: How many must run; the spec's replica count when omitted.

        Raises:
            RunTimeout: They did not all run in time, or the update did not finish.
        """
        deadline = time.monotonic() + timeout
        while True:
            record = self.inspect()
            wanted = replicas if replicas is not None else replica_count(record)
            updating = update_state(record) in UPDATING
            running = [t for t in self.running_tasks() if runs_current_spec(t, record)]
            if len(running) >= wanted and not updating:
                return running
            if time.monotonic() >= deadline:
                raise RunTimeout(self._not_running(len(running), wanted, timeout, record))
            time.sleep(0.2)

    def _not_running(self, running: int, wanted: int, timeout: float, record: Any) -> str:
        states = sorted(
            "{State}: {Err}".format_map({"Err": "", **(t.get("Status") or {})})
            for t in self.tasks(desired_state=None)
        )
        update = update_state(record)
        during = f", update {update}" if update in UPDATING else ""
        return (
            f"service {self.name}: {running} of {wanted} tasks running{during} after "
            f"{timeout:g} s (tasks: {'; '.join(states) or 'none'})"
        )

    def logs(self, *, tail: int | str = "all") -> str:
        """The output of every task so far, as one text (``docker service logs``)."""
        with translated(f"read the logs of service {self.name}", client=self.client):
            chunks = low_level(self.client).service_logs(
                self.id, stdout=True, stderr=True, tail=tail, follow=False
            )
            return b"".join(chunks).decode("utf-8", "replace")

    def remove(self, *, timeout: float = 30.0) -> None:
        """Remove the service (its tasks stop) and the network made for it; idempotent.

        Waits up to ``timeout`` seconds for the manager to drop the tasks, so the
        network can go too; what cannot be removed now is logged and reaped later by
        :func:`~secure_run.cleanup`.
        """
        if self._removed:
            return
        api = low_level(self.client)
        if _quietly(f"remove service {self.name}", lambda: api.remove_service(self.id)):
            self._removed = True
            LIVE_SERVICES.discard(self.id)
        deadline = time.monotonic() + timeout
        if self.network is not None:
            while not _quietly(None, lambda: api.remove_network(self.network)):
                if time.monotonic() >= deadline:
                    logger.warning("could not remove network %s yet", self.network)
                    break
                time.sleep(0.5)
        if self._removed and self._owned is not None:
            self._owned.close()


def _quietly(action: str | None, call: Any) -> bool:
    """Run a removal; True if the thing is gone. Failures are logged when ``action`` names one."""
    try:
        call()
        return True
    except docker.errors.NotFound:
        return True
    except (docker.errors.DockerException, requests.RequestException) as exc:
        if action is not None:
            logger.warning("could not %s: %s", action, exc)
        return False


def service(
    cfg: RunConfig,
    *,
    replicas: int = 1,
    client: docker.DockerClient | None = None,
    name: str | None = None,
    opt_ins: Iterable[OptIn | str] = (),
    constraints: Sequence[str] = (),
    preferences: Sequence[tuple[str, str]] = (),
    max_per_node: int | None = None,
) -> SecureService:
    """Create a Swarm service running ``cfg``; use it in a ``with`` block.

    Args:
        cfg: The configuration.
        replicas: How many tasks to run.
        client: A client of a swarm manager; ``docker.from_env()`` when omitted.
        name: The service's name; the config's name, else ``secure-run-<random>``.
        opt_ins: Swarm opt-ins stating what the nodes enforce (``"swarm-daemon-nnp"``,
            ``"swarm-default-swap"``).
        constraints: Placement constraints (``"node.role==worker"``).
        preferences: Placement preferences (``("spread", "node.labels.zone")``).
        max_per_node: At most this many tasks on one node.

    Raises:
        ConfigError: An argument the manager would refuse (a name, a replica count...):
            every one, named with its value and the fix, before any daemon is called.
        UnsupportedFeature: A setting has no form in a service at the manager's API.
        DaemonUnavailable: No engine answers.
        LaunchError: The manager refused the service.

    .. versionadded:: 0.2
    """
    check_arguments(
        cfg, name=name, replicas=replicas, opt_ins=opt_ins, constraints=constraints,
        preferences=preferences, max_per_node=max_per_node,
    )  # fmt: skip
    name = name or cfg.name or f"secure-run-{secrets.token_hex(6)}"
    with contextlib.ExitStack() as owned:
        engine = owned.enter_context(session(client))
        api_version = str(low_level(engine).api_version)
        waivers = swarm_waivers(cfg, api_version=api_version, opt_ins=opt_ins)
        kw = to_swarm(
            cfg, api_version=api_version, name=name, replicas=replicas, opt_ins=opt_ins,
            constraints=constraints, preferences=preferences, max_per_node=max_per_node,
        )  # fmt: skip
        ours = managed_labels()
        kw["labels"] = {**kw["labels"], **ours}
        kw["container_labels"] = {**kw["container_labels"], **ours}
        network = _isolated_network(engine, cfg, name, ours)
        try:
            request = service_request(kw)
            with translated(f"create service {name}", image=cfg.image, client=engine):
                created = low_level(engine).create_service(**request)
        except BaseException:
            if network is not None:
                _quietly(None, lambda: low_level(engine).remove_network(network))
            raise
        svc = SecureService(
            str(created["ID"]), name, cfg, engine,
            api_version=api_version, swarm_opt_ins=waivers, network=network,
        )  # fmt: skip
        LIVE_SERVICES.add(svc)
        svc._owned = owned.pop_all()
    return svc


def _isolated_network(
    engine: docker.DockerClient, cfg: RunConfig, name: str, labels: dict[str, str]
) -> str | None:
    """The internal overlay of a ``network("none")`` service, made now; None for others."""
    if cfg.network != "none":
        return None
    network = isolated_network(cfg, name)
    with translated(f"create the internal network {network}", client=engine):
        low_level(engine).create_network(
            network, driver="overlay", internal=True, attachable=False, labels=labels
        )
    return network

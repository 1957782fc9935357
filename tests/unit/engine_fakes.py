"""A stand-in Docker client for the engine package's unit tests: no engine, only records.

It answers the low-level calls launch, run, run_many and cleanup make, records each
one, and can be told to fail one of them. Containers "run" until they are killed,
or exit at once with ``exit_code`` when ``runs_for_ever`` is False.
"""

from __future__ import annotations

import signal
import socket
import struct
from typing import Any, Callable, cast

import docker
import docker.errors
import requests


class FakeApi:
    """The low-level API: records calls, answers like a Docker 20.10 engine would."""

    _version = "1.41"
    api_version = "1.41"
    base_url = "http://fake:2375"
    adapters: dict[str, Any] = {}  # noqa: RUF012  # read-only, as docker-py's is to us

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.removed: list[str] = []
        self.killed: list[str] = []
        self.fail: dict[str, BaseException] = {}
        self.on_create: Callable[[], None] | None = None
        self.runs_for_ever = False
        self.exit_code = 0
        self.containers_listed: list[dict[str, Any]] = []
        self.volumes_listed: list[dict[str, Any]] = []
        self.sigterm_at_create: object = None
        self.sigterm_at_start: object = None
        self._count = 0
        self._peers: list[socket.socket] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def create_container_config(self, **kwargs: Any) -> dict[str, Any]:
        return {"Labels": kwargs.get("labels"), "Image": kwargs.get("image")}

    def create_container_from_config(
        self, config: dict[str, Any], name: str | None, platform: str | None
    ) -> dict[str, Any]:
        self.sigterm_at_create = signal.getsignal(signal.SIGTERM)
        self._call("create")
        self._count += 1
        if self.on_create is not None:
            self.on_create()
        return {"Id": f"{self._count:064x}", "Warnings": None}

    def start(self, container_id: str) -> None:
        self.sigterm_at_start = signal.getsignal(signal.SIGTERM)
        self._call("start")

    def attach_socket(self, container_id: str, params: dict[str, int]) -> socket.socket:
        self._call("attach")
        ours, theirs = socket.socketpair()
        theirs.close()  # no output: the reader sees the end at once
        return ours

    def wait(self, container_id: str, timeout: float | None = None) -> dict[str, int]:
        self._call("wait")
        if self.runs_for_ever and container_id not in self.killed:
            raise requests.exceptions.ReadTimeout("read timed out")
        return {"StatusCode": 137 if container_id in self.killed else self.exit_code}

    def kill(self, container_id: str, signal: str | None = None) -> None:
        self._call("kill")
        self.killed.append(container_id)

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self._call("inspect")
        code = 137 if container_id in self.killed else self.exit_code
        return {"State": {"ExitCode": code, "OOMKilled": False, "Running": False}}

    def exec_create(self, container_id: str, cmd: list[str], **kwargs: Any) -> dict[str, str]:
        self._call("exec")
        return {"Id": "exec1"}

    def exec_start(self, exec_id: str, **kwargs: Any) -> socket.socket:
        """The exec's attached stream: one stdout frame, ``out``, then the end."""
        ours, theirs = socket.socketpair()
        theirs.sendall(struct.pack(">BxxxL", 1, 3) + b"out")
        theirs.close()
        self._peers.append(ours)
        return ours

    def exec_inspect(self, exec_id: str) -> dict[str, int]:
        return {"ExitCode": 0, "Running": False, "Pid": 0}

    def remove_container(self, container_id: str, force: bool = False, v: bool = False) -> None:
        self._call("remove")
        if container_id in self.removed:
            raise docker.errors.NotFound("no such container")
        self.removed.append(container_id)

    def containers(self, all: bool = False, filters: Any = None) -> list[dict[str, Any]]:
        self._call("containers")
        self.calls.append(f"filters={filters}")
        return self.containers_listed

    def volumes(self, filters: Any = None) -> dict[str, Any]:
        self._call("volumes")
        return {"Volumes": self.volumes_listed}

    def remove_volume(self, name: str, force: bool = False) -> None:
        self._call("remove_volume")
        self.removed.append(name)


class FakeClient:
    """A ``docker.DockerClient`` stand-in that counts its ``close()`` calls."""

    def __init__(self) -> None:
        self.api = FakeApi()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def as_client(fake: FakeClient) -> docker.DockerClient:
    """The fake, typed as the client it stands in for."""
    return cast(docker.DockerClient, fake)

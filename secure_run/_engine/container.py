"""A launched container: :class:`SecureContainer`, and what its commands return.

A :class:`SecureContainer` is running until :meth:`~SecureContainer.close` (or the
end of its ``with`` block) removes it; then it refuses further use. When
:func:`~secure_run.launch` made the client itself, the container owns it and
closes it on close; a client the caller gave is never closed.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import attrs
import docker
import docker.errors
import requests
from typing_extensions import Self

from .._config.run_config import RunConfig
from .._errors import ConfigError, HardeningNotApplied, LaunchError, RunTimeout
from .._proof.verify import VerifyReport, verify
from .client import low_level
from .errors import translated
from .live import release

__all__ = ["ExecResult", "SecureContainer", "kill", "verify_started", "wait_for_exit"]


class _State(enum.Enum):
    RUNNING = "running"
    CLOSED = "closed"


@attrs.frozen
class ExecResult:
    """What a command run with :meth:`SecureContainer.exec` returned.

    .. versionadded:: 0.1
    """

    exit_code: int
    stdout: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    stderr: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


def wait_for_exit(
    client: docker.DockerClient, container_id: str, deadline: float | None
) -> int | None:
    """Wait for the container to exit and return its status; None if the deadline passed.

    A connection error before the deadline is not ours: it is raised (the engine went
    away), for :func:`~secure_run._engine.errors.translated` to map.
    """
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return None
        try:
            return int(low_level(client).wait(container_id, timeout=remaining)["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            if deadline is None or time.monotonic() < deadline - 0.05:
                raise


def kill(client: docker.DockerClient, container_id: str, signal: str = "SIGKILL") -> None:
    """Send a signal to the container's main process; one that is not running is no error."""
    try:
        client.api.kill(container_id, signal=signal)
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: not running (it exited on its own meanwhile)
            raise


class SecureContainer:
    """A running, verified container that is removed when its ``with`` block ends.

    Made by :func:`launch`. After :meth:`close` (or the end of the ``with``
    block) it refuses further use.

    .. versionadded:: 0.1
    """

    def __init__(self, container_id: str, config: RunConfig, client: docker.DockerClient) -> None:
        self.id = container_id
        self.config = config
        self.client = client
        self.report: VerifyReport | None = None
        self._state = _State.RUNNING
        #: What was made for this container and is closed with it (a client launch made).
        self._owned = contextlib.ExitStack()

    def __repr__(self) -> str:
        return f"<SecureContainer {self.id[:12]} {self.config.image} {self._state.value}>"

    def __enter__(self) -> Self:
        self._alive()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether the container has been removed."""
        return self._state is _State.CLOSED

    def _alive(self) -> None:
        if self._state is _State.CLOSED:
            raise LaunchError(
                f"container {self.id[:12]} was closed and removed; launch a new one with "
                "secure_run.launch(config)"
            )

    def close(self) -> None:
        """Remove the container (killing it if needed). Safe to call more than once."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        try:
            release(self.client, self.id)
        finally:
            self._owned.close()

    def inspect(self) -> dict[str, Any]:
        """The engine's current record of the container (``docker inspect``)."""
        self._alive()
        with translated("inspect container", client=self.client):
            result: dict[str, Any] = self.client.api.inspect_container(self.id)
        return result

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container to exit and return its exit code.

        Raises:
            RunTimeout: It did not exit within ``timeout`` seconds; it keeps running
                until it is stopped, killed, or the ``with`` block ends.
            DaemonUnavailable: The engine went away while waiting.
        """
        self._alive()
        deadline = None if timeout is None else time.monotonic() + timeout
        with translated("wait for container", client=self.client):
            code = wait_for_exit(self.client, self.id, deadline)
        if code is None:
            raise RunTimeout(
                f"container {self.id[:12]} did not exit within {timeout} s; "
                "stop or kill it, or wait longer"
            )
        return code

    def logs(self, *, stdout: bool = True, stderr: bool = True) -> bytes:
        """The container's output so far."""
        self._alive()
        with translated("read logs", client=self.client):
            data: bytes = self.client.api.logs(self.id, stdout=stdout, stderr=stderr)
        return data

    def exec(self, argv: Sequence[str], *, user: str | None = None) -> ExecResult:
        """Run a command in the container, as its configured user unless told otherwise."""
        self._alive()
        if isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
            raise ConfigError.single("exec", argv, "give the argv as a list of strings",
                                     'write e.g. ["id", "-u"]; no shell is implied')  # fmt: skip
        run_as = user if user is not None else (str(self.config.user or "") or None)
        with translated("exec in container", client=self.client):
            api = low_level(self.client)
            exec_id = api.exec_create(self.id, list(argv), user=run_as or "")["Id"]
            out, err = api.exec_start(exec_id, demux=True)
            code = api.exec_inspect(exec_id)["ExitCode"]
        return ExecResult(int(code if code is not None else -1), out or b"", err or b"")

    def stats(self) -> dict[str, Any]:
        """One snapshot of the container's resource use (``docker stats --no-stream``)."""
        self._alive()
        with translated("read stats", client=self.client):
            data: dict[str, Any] = self.client.api.stats(self.id, stream=False)
        return data

    def stop(self, timeout: int | None = None) -> None:
        """Send the stop signal, and SIGKILL after ``timeout`` seconds (the config's default)."""
        self._alive()
        with translated("stop container", client=self.client):
            self.client.api.stop(self.id, timeout=timeout)

    def kill(self, signal: str = "SIGKILL") -> None:
        """Send a signal to the container's main process (SIGKILL by default)."""
        self._alive()
        with translated("kill container", client=self.client):
            kill(self.client, self.id, signal)

    def verify(self, *, strict: bool = True) -> VerifyReport:
        """Check the daemon's record and the kernel's state against the config."""
        self._alive()
        return verify(self, strict=strict)


def verify_started(container: SecureContainer, strict: bool) -> VerifyReport:
    """Verify a just-started container, telling a hardening gap from a process that died.

    A command that fails at once (exit code not 0) is a :class:`LaunchError` with its
    last output; one that finished at once, successfully, is checked against the
    daemon's record only, since its processes are gone.
    """
    try:
        return container.verify(strict=strict)
    except HardeningNotApplied as exc:
        report = exc.report
        if not isinstance(report, VerifyReport) or any(
            check.property != "State.Running" for check in report.failures
        ):
            raise
        state = container.inspect()["State"]
        if state.get("ExitCode", 0) != 0:
            tail = container.logs()[-500:].decode(errors="replace").strip()
            raise LaunchError(
                f"container {container.id[:12]} exited at once with code {state['ExitCode']}"
                f"{': ' + tail if tail else ''}; check the command and the image"
            ) from exc
        return verify(container, strict=strict, kernel=False)

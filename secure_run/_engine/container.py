"""A launched container: :class:`SecureContainer`, and what its commands return.

A :class:`SecureContainer` is running until :meth:`~SecureContainer.close` (or the
end of its ``with`` block) removes it; then it refuses further use. When
:func:`~secure_run.launch` made the client itself, the container owns it and
closes it on close; a client the caller gave is never closed.
"""

from __future__ import annotations

import contextlib
import enum
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
import docker.errors
import requests
from typing_extensions import Self

from .._config.run_config import RunConfig
from .._errors import ConfigError, HardeningNotApplied, LaunchError, RunTimeout
from .._files.tar_out import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_SIZE,
    DEFAULT_MAX_TOTAL,
    check_read,
)
from .._proof.verify import VerifyReport, verify
from .client import low_level
from .errors import translated
from .exec import ExecOptions, ExecResult, ExecStream, refuse_if_ended, run_exec, stream_exec
from .live import release
from .podman import is_not_running_refusal
from .workspace import WorkspaceVolume, input_tar, workspace_of

__all__ = ["ExecResult", "ExecStream", "SecureContainer", "kill", "verify_started", "wait_for_exit"]


class _State(enum.Enum):
    RUNNING = "running"
    CLOSED = "closed"


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
        # 409: not running (it exited on its own meanwhile); Podman says so with a 500
        if exc.status_code != 409 and not is_not_running_refusal(exc):
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
        #: The workspace volume and its keeper, when the config has a workspace.
        self.workspace: WorkspaceVolume | None = None

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
        refuse_if_ended(self)  # a timed-out exec that could not be killed alone ended it
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
            try:
                if self.workspace is not None:
                    self.workspace.close()
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

    def exec(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        timeout: float | None = None,
        stdin: bytes | None = None,
        max_output: int = 1_000_000,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecResult:
        """Run a command in the container and return what it did.

        The command runs as the config's user unless ``user`` says otherwise, in the
        config's working directory unless ``workdir`` says otherwise, with ``env``
        added to the container's environment. Standard output and error are kept
        apart, each capped at ``max_output`` bytes (the rest is read and dropped, so
        the command still finishes; ``ExecResult.truncated`` says so).

        At the ``timeout`` (wall clock, from the start) the command and every process
        it started are killed, double-forked ones included, and ``timed_out`` is set:
        nothing of it keeps running, and the container stays usable. Where that
        cannot be done process by process (a remote engine) the whole container is
        killed and removed instead, and later calls raise :class:`LaunchError` (see
        :mod:`secure_run._engine.exec`). An interrupt (``KeyboardInterrupt``) kills
        the command the same way before it propagates.

        Args:
            argv: The command and its arguments; no shell is implied.
            user: The user (name or uid, ``"uid:gid"``) to run as.
            timeout: Seconds before the command is killed; ``None`` waits for ever.
            stdin: Bytes written to the command's standard input, then end of file.
            max_output: Bytes kept of each of standard output and error.
            env: Variables added to the container's environment for this command.
            workdir: The directory to run in (an absolute path).

        Raises:
            ConfigError: A bad argument, before the engine is called.
            LaunchError: The engine refused the command, or the container's session
                ended (an earlier timed-out exec could only be ended with it).
            DaemonUnavailable: The engine went away.

        .. versionadded:: 0.1
        .. versionchanged:: 0.2 ``timeout``, ``stdin``, ``max_output``, ``env`` and
           ``workdir``.
        """
        options = ExecOptions.checked(argv, user=user, timeout=timeout, stdin=stdin,
                                      max_output=max_output, env=env, workdir=workdir)  # fmt: skip
        refuse_if_ended(self)
        self._alive()
        return run_exec(self, options)

    def exec_stream(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        timeout: float | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecStream:
        """Start a command in the container and hand on its output as it happens.

        Iterate the :class:`ExecStream` for ``("stdout" | "stderr", chunk)`` pairs;
        once it has ended, ``ExecStream.result`` holds the exit code and whether the
        command timed out. Leaving the loop early, ``close()`` or the end of its
        ``with`` block kills the command if it still runs. The arguments are those of
        :meth:`exec`, and a timeout kills the same way.

        Raises:
            ConfigError: A bad argument, before the engine is called.
            LaunchError: As for :meth:`exec`.
            DaemonUnavailable: The engine went away.

        .. versionadded:: 0.2
        """
        options = ExecOptions.checked(argv, user=user, timeout=timeout, stdin=stdin,
                                      env=env, workdir=workdir)  # fmt: skip
        refuse_if_ended(self)
        self._alive()
        return stream_exec(self, options)

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

    # -- files: the workspace (see secure_run._engine.workspace) -------------

    def _files(self) -> WorkspaceVolume:
        self._alive()
        if self.workspace is None:
            workspace_of(self.config, "moving files")  # raises, saying how to add one
            raise LaunchError("this container was not launched with its workspace")
        return self.workspace

    def put(
        self,
        name: str | Mapping[str, bytes | os.PathLike[str]],
        data: bytes | os.PathLike[str] | None = None,
    ) -> None:
        """Write files into the workspace, owned by the config's user.

        ``put("main.sh", b"...")``, ``put("in.csv", Path("in.csv"))``, or a mapping of
        many names to bytes or host paths, sent as one archive. Names are relative to
        the workspace; every name and size is checked before the engine is called.

        Raises:
            ConfigError: A bad name or value, or more than the workspace holds.
            WorkspaceFull: The workspace filled up during the put (it is not done).

        .. versionadded:: 0.2
        """
        files = dict(name) if isinstance(name, Mapping) else {name: data}
        if not isinstance(name, Mapping) and data is None:
            fix = 'call put("name", b"bytes") or put({"name": data})'
            raise ConfigError.single("put", name, "no data given for the file", fix)
        workspace = self._files()
        workspace.put_tar(input_tar(self.config, files), list(files))  # type: ignore[arg-type]

    def get(self, name: str, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Read one regular file of the workspace; a link is refused, never followed.

        Raises:
            ConfigError: A bad name or ``max_size``; raised before the engine is called.
            SandboxFileNotFound: No such file.
            UnsafeArchive: It is a link, a device or a FIFO (its target is never read).
            OutputTooLarge: It holds more than ``max_size`` bytes (nothing is read).

        .. versionadded:: 0.2
        """
        checked = check_read(name, "get", {"max_size": max_size})
        return self._files().get(checked, max_size=max_size)

    def get_tree(
        self,
        name: str,
        into: str | os.PathLike[str],
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_total: int = DEFAULT_MAX_TOTAL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> list[Path]:
        """Copy a directory of the workspace into ``into`` (``into/<name>/...``), safely.

        Every entry is checked before anything is written: links, devices, FIFOs,
        absolute names and ``..`` are refused; caps bound each file, the total and
        the number of entries. Nothing is written outside ``into``.

        Raises:
            ConfigError: A bad name or cap, or ``into`` is not an existing directory;
                raised before the engine is called.
            SandboxFileNotFound: No such directory.
            UnsafeArchive: Listing every refused entry; nothing was written.
            OutputTooLarge: A cap was passed.

        .. versionadded:: 0.2
        """
        caps = {"max_size": max_size, "max_total": max_total, "max_entries": max_entries}
        checked = check_read(name, "get_tree", caps, into)
        return self._files().get_tree(checked, into, max_size=max_size, max_total=max_total,
                                      max_entries=max_entries)  # fmt: skip

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

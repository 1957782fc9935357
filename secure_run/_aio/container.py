""":class:`AsyncSecureContainer`: a launched container, with awaitable methods.

Each method runs its :class:`~secure_run.SecureContainer` twin in a thread of its
own, so the event loop never waits on the engine. A cancelled method call leaves its
thread to finish on its own (a ``wait()`` ends when the container exits or is
closed); closing always runs to the end, even when the closing task is cancelled.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from .._files.tar_out import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_SIZE, DEFAULT_MAX_TOTAL
from .calls import in_thread, settle_call
from .stream import AsyncExecStream

if TYPE_CHECKING:
    from .._config.run_config import RunConfig
    from .._engine.container import ExecResult, SecureContainer
    from .._proof.verify import VerifyReport

__all__ = ["AsyncSecureContainer"]


class AsyncSecureContainer:
    """A running, verified container for asyncio, removed when its ``async with`` ends.

    Made by :func:`secure_run.aio.launch`. Each method is the awaitable twin of the
    :class:`~secure_run.SecureContainer` method of the same name and arguments, run
    in a thread; :attr:`sync` is that container itself.

    .. versionadded:: 0.2
    """

    def __init__(self, container: SecureContainer) -> None:
        #: The :class:`~secure_run.SecureContainer` every method calls.
        self.sync = container

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running"
        return f"<AsyncSecureContainer {self.id[:12]} {self.config.image} {state}>"

    async def __aenter__(self) -> Self:
        self.sync._alive()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def id(self) -> str:
        """The container's id."""
        return self.sync.id

    @property
    def config(self) -> RunConfig:
        """The config it was launched from."""
        return self.sync.config

    @property
    def report(self) -> VerifyReport | None:
        """What verification found at launch (``None`` when launched with ``verify=False``)."""
        return self.sync.report

    @property
    def closed(self) -> bool:
        """Whether the container has been removed."""
        return self.sync.closed

    async def close(self) -> None:
        """Remove the container (killing it if needed). Safe to call more than once.

        The removal runs to its end even if this task is cancelled meanwhile; the
        cancellation is raised once the container is gone.
        """
        if await settle_call(self.sync.close):
            raise asyncio.CancelledError

    async def aclose(self) -> None:
        """The same as :meth:`close` (the name ``contextlib.aclosing`` calls)."""
        await self.close()

    async def inspect(self) -> dict[str, Any]:
        """The engine's current record of the container (``docker inspect``)."""
        return await in_thread(self.sync.inspect)

    async def wait(self, timeout: float | None = None) -> int:
        """Wait for the container to exit and return its exit code.

        Raises:
            RunTimeout: It did not exit within ``timeout`` seconds.
            DaemonUnavailable: The engine went away while waiting.
        """
        return await in_thread(lambda: self.sync.wait(timeout))

    async def logs(self, *, stdout: bool = True, stderr: bool = True) -> bytes:
        """The container's output so far."""
        return await in_thread(lambda: self.sync.logs(stdout=stdout, stderr=stderr))

    async def exec(
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
        """Run a command in the container and return what it did (:meth:`SecureContainer.exec`).

        A ``timeout`` kills the command's processes at the deadline, as in the sync
        API. Cancelling the await does not: the command runs on to its end or its
        deadline (give a ``timeout``, or use :meth:`exec_stream` and ``aclose()``).
        """
        return await in_thread(
            lambda: self.sync.exec(
                argv, user=user, timeout=timeout, stdin=stdin, max_output=max_output,
                env=env, workdir=workdir,
            )
        )  # fmt: skip

    def exec_stream(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        timeout: float | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> AsyncExecStream:
        """Start a command and hand on its output as it happens, for ``async for``.

        The twin of :meth:`SecureContainer.exec_stream`; see :class:`AsyncExecStream`.

        .. versionadded:: 0.2
        """
        return AsyncExecStream(
            lambda: self.sync.exec_stream(
                argv, user=user, timeout=timeout, stdin=stdin, env=env, workdir=workdir
            )
        )

    async def stats(self) -> dict[str, Any]:
        """One snapshot of the container's resource use (``docker stats --no-stream``)."""
        return await in_thread(self.sync.stats)

    async def stop(self, timeout: int | None = None) -> None:
        """Send the stop signal, and SIGKILL after ``timeout`` seconds (the config's default)."""
        await in_thread(lambda: self.sync.stop(timeout))

    async def kill(self, signal: str = "SIGKILL") -> None:
        """Send a signal to the container's main process (SIGKILL by default)."""
        await in_thread(lambda: self.sync.kill(signal))

    async def put(
        self,
        name: str | Mapping[str, bytes | os.PathLike[str]],
        data: bytes | os.PathLike[str] | None = None,
    ) -> None:
        """Write files into the workspace, as :meth:`SecureContainer.put` does.

        .. versionadded:: 0.2
        """
        await in_thread(lambda: self.sync.put(name, data))

    async def get(self, name: str, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
        """Read one regular file of the workspace, as :meth:`SecureContainer.get` does.

        .. versionadded:: 0.2
        """
        return await in_thread(lambda: self.sync.get(name, max_size=max_size))

    async def get_tree(
        self,
        name: str,
        into: str | os.PathLike[str],
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_total: int = DEFAULT_MAX_TOTAL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> list[Path]:
        """Copy a workspace directory into ``into``, as :meth:`SecureContainer.get_tree` does.

        .. versionadded:: 0.2
        """
        return await in_thread(
            lambda: self.sync.get_tree(
                name, into, max_size=max_size, max_total=max_total, max_entries=max_entries
            )
        )

    async def verify(self, *, strict: bool = True) -> VerifyReport:
        """Check the daemon's record and the kernel's state against the config."""
        return await in_thread(lambda: self.sync.verify(strict=strict))

""":class:`AsyncExecStream`: a command's output for ``async for``, fed by a thread.

A thread of its own starts the sync :class:`~secure_run._engine.exec.ExecStream`
and iterates it, handing each ``(stream, chunk)`` to the event loop through an
:class:`asyncio.Queue`; the sync stream buffers what is not yet read, so a slow
reader never blocks the command, as in the sync API. Only that thread iterates the
sync stream; :meth:`AsyncExecStream.aclose` calls its ``close()`` (which kills the
command if it still runs), and then waits for the thread to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Callable, Union

from typing_extensions import Self

from .calls import settle, settle_call, start

if TYPE_CHECKING:
    from .._engine.exec import ExecResult, ExecStream

__all__ = ["AsyncExecStream"]


class _End:
    """The sync stream ended; or, with ``error``, failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


_Item = Union[tuple[str, bytes], _End]


class AsyncExecStream:
    """A running command's output, chunk by chunk as it happens, for ``async for``.

    Made by :meth:`AsyncSecureContainer.exec_stream`; the twin of
    :class:`~secure_run._engine.exec.ExecStream`. Iterate it for ``(stream, chunk)``
    pairs, ``stream`` being ``"stdout"`` or ``"stderr"``; once the iteration has
    ended, :attr:`result` holds the exit code. :meth:`aclose`, or the end of an
    ``async with`` block, kills the command if it still runs::

        async with box.exec_stream(["sh", "-c", "make test"], timeout=60) as stream:
            async for name, chunk in stream:
                print(name, chunk.decode(errors="replace"), end="")
        print(stream.result.exit_code)

    The command starts at the first ``async for`` step or at ``async with``; an
    argument error is raised there, before the engine is called.

    .. versionadded:: 0.2
    """

    def __init__(self, open_stream: Callable[[], ExecStream]) -> None:
        self._open = open_stream
        self._lock = threading.Lock()
        self._sync: ExecStream | None = None
        self._closing = False
        self._ended = False
        self._queue: asyncio.Queue[_Item] | None = None
        self._feeder: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        state = "ended" if self._ended else "running" if self._feeder else "not started"
        return f"<AsyncExecStream {state}>"

    @property
    def result(self) -> ExecResult | None:
        """What the command did, once it ended (``None`` until then)."""
        return None if self._sync is None else self._sync.result

    @property
    def sync(self) -> ExecStream | None:
        """The sync stream this one reads (``None`` until the command started)."""
        return self._sync

    def _begin(self) -> asyncio.Queue[_Item]:
        if self._queue is None:
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[_Item] = asyncio.Queue()
            self._queue = queue
            self._feeder = asyncio.wrap_future(start(lambda: self._feed(loop, queue)))
        return self._queue

    def _feed(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[_Item]) -> None:
        """In the thread: start the command, hand on each chunk, then the end."""

        def hand_on(item: _Item) -> None:
            with contextlib.suppress(RuntimeError):  # the loop was closed: nobody reads
                loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            stream = self._open()
            with self._lock:
                self._sync = stream
                closing = self._closing
            if closing:
                stream.close()
            else:
                for item in stream:
                    hand_on(item)
            hand_on(_End())
        except BaseException as exc:  # raised by __anext__ in the reading task
            hand_on(_End(exc))

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> tuple[str, bytes]:
        if self._ended:
            raise StopAsyncIteration
        item = await self._begin().get()
        if isinstance(item, _End):
            self._ended = True
            if item.error is not None:
                raise item.error
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Kill the command if it still runs, and wait for the reading thread to end.

        Safe to call more than once; it runs to its end even if this task is
        cancelled meanwhile (the cancellation is raised afterwards).
        """
        with self._lock:
            self._closing = True
            sync = self._sync
        cancelled = False
        if sync is not None:
            cancelled = await settle_call(sync.close)
        if self._feeder is not None:
            cancelled = await settle(self._feeder) or cancelled
        self._ended = True
        if cancelled:
            raise asyncio.CancelledError

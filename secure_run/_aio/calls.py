"""Sync engine calls awaited from asyncio: each in a thread, undone on cancellation.

:func:`watched` runs a call that creates containers (``run``, ``launch``) in a thread
entered with ``LIVE.watch()``. When the awaiting task is cancelled, everything that
thread created is killed and removed (and whatever it creates later, as soon as it
is recorded), the thread is waited for, and only then is ``CancelledError`` raised
again. A second cancellation during that clean-up is absorbed: the clean-up always
finishes first.

Threads: a call gets a thread of its own unless an executor is given (``run_many``
gives one of ``workers`` threads), never the event loop's default executor, which is
capped at ``min(32, cpus + 4)`` threads and shared with the rest of the program.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from typing import Any, Callable, Generic, TypeVar

from .._engine.live import LIVE, Watch
from .._engine.signals import SIGTERM_AS_EXIT

__all__ = ["in_thread", "relay_to_loop", "settle", "settle_call", "start", "watched"]

logger = logging.getLogger("secure_run")

T = TypeVar("T")


class _NotBegun(Exception):
    """The call was cancelled before its thread began it."""


class _WatchedCall(Generic[T]):
    """One sync call, run under ``LIVE.watch()``, whose creations a cancel removes."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._watch: Watch | None = None
        self._cancelled = False

    def __call__(self) -> T:
        with LIVE.watch() as watch:
            with self._lock:
                if self._cancelled:
                    raise _NotBegun
                self._watch = watch
            return self._fn()

    def cancel(self) -> None:
        """Remove what the call created, and from now on what it creates next."""
        with self._lock:
            self._cancelled = True
            watch = self._watch
        if watch is not None:
            watch.cancel()


def start(
    fn: Callable[[], T], executor: concurrent.futures.Executor | None = None
) -> concurrent.futures.Future[T]:
    """Begin ``fn`` in ``executor``, or in a new daemon thread of its own."""
    if executor is not None:
        return executor.submit(fn)
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting task, as an executor does
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=target, name="secure-run-aio", daemon=True).start()
    return future


async def in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread of its own; a cancelled await leaves the thread to finish."""
    return await asyncio.wrap_future(start(fn))


async def settle(future: asyncio.Future[Any]) -> bool:
    """Wait until ``future`` is done, whatever happens to this task meanwhile.

    Returns:
        Whether this task was cancelled while it waited (the caller raises it again).
    """
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            cancelled = True
    if not future.cancelled():
        future.exception()  # retrieved: the outcome is the caller's to use or drop
    return cancelled


async def settle_call(fn: Callable[[], object]) -> bool:
    """Run ``fn`` in a thread of its own to the end, even if this task is cancelled.

    Returns:
        Whether this task was cancelled meanwhile. An error of ``fn`` is raised.
    """
    future = asyncio.wrap_future(start(fn))
    cancelled = await settle(future)
    if not future.cancelled() and future.exception() is not None and not cancelled:
        future.result()
    return cancelled


async def watched(
    fn: Callable[[], T],
    *,
    executor: concurrent.futures.Executor | None = None,
    undo: Callable[[T], object] | None = None,
) -> T:
    """``fn()`` in a thread under ``LIVE.watch()``; a cancel removes what it created.

    On cancellation of the awaiting task: a call not yet begun never begins; what the
    call created is killed and removed; the thread is waited for; ``undo`` is applied
    to a result that arrived meanwhile (e.g. closing a launched container); and then
    ``CancelledError`` is raised again.
    """
    call = _WatchedCall(fn)
    future = start(call, executor)
    waiter = asyncio.wrap_future(future)
    with SIGTERM_AS_EXIT.active():  # in the loop's thread: a SIGTERM unwinds the loop
        try:
            return await asyncio.shield(waiter)
        except asyncio.CancelledError:
            future.cancel()  # not begun: dropped from the executor's queue
            await _quietly(call.cancel)
            await settle(waiter)
            if undo is not None and not waiter.cancelled() and waiter.exception() is None:
                result = waiter.result()
                await _quietly(lambda: undo(result))
            raise


async def _quietly(fn: Callable[[], object]) -> None:
    """Clean up during a cancellation: an error is logged, so the cancellation goes on."""
    try:
        await settle_call(fn)
    except Exception:
        logger.warning("clean-up after an asyncio cancellation failed", exc_info=True)


def relay_to_loop(
    callback: Callable[[str, bytes], None] | None,
) -> Callable[[str, bytes], None] | None:
    """``callback``, called in the running loop's thread instead of the caller's thread."""
    if callback is None:
        return None
    loop = asyncio.get_running_loop()

    def relay(stream: str, chunk: bytes) -> None:
        with contextlib.suppress(RuntimeError):  # the loop was closed: nobody listens
            loop.call_soon_threadsafe(callback, stream, chunk)

    return relay

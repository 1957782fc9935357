"""The one signal policy of the engine: no signal may leave a container behind.

Used alike by :func:`~secure_run.launch`, :func:`~secure_run.run` and
:func:`~secure_run.run_many`:

1. While this process has engine work in flight (a container alive, a create
   request, a ``run_many`` batch), SIGTERM becomes ``SystemExit(128 + signum)``,
   so every ``finally`` removes its container. Only the default disposition is
   replaced: a program's own SIGTERM handler, or ``SIG_IGN``, is its choice and is
   kept. The default comes back when the last piece of work ends.
2. While a create request is in flight, SIGINT and SIGTERM are held: cutting the
   request short would lose the daemon's answer, and with it the id of a container
   the daemon goes on to create. A held signal is raised again once the request is
   answered (by when the container is tracked); a second one of the same kind is
   acted on at once.

Python runs signal handlers in the main thread only, so both act there; other
threads never change a handler (their containers are removed by the main thread's
unwinding, or at interpreter exit).
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["SIGTERM_AS_EXIT", "held_during_create"]


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class SigtermAsExit:
    """Counts the work in flight; while there is some, a default SIGTERM is ``SystemExit``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0

    @property
    def users(self) -> int:
        """How many pieces of work are in flight."""
        return self._users

    def enter(self) -> None:
        """One more piece of work in flight (from any thread)."""
        with self._lock:
            self._users += 1
            self._sync()

    def leave(self) -> None:
        """One piece of work fewer (from any thread)."""
        with self._lock:
            self._users -= 1
            self._sync()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """The block is work in flight."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def _sync(self) -> None:
        """Install or restore the handler, as the count says (main thread only)."""
        if not _in_main_thread():
            return
        current = signal.getsignal(signal.SIGTERM)
        if self._users and current is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        elif not self._users and current is _exit_on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: The process's one SIGTERM policy.
SIGTERM_AS_EXIT = SigtermAsExit()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM with work in flight: unwind cleanly, so every ``finally`` removes its container."""
    if SIGTERM_AS_EXIT.users == 0:
        # Left installed when the last work ended in another thread: act as the default.
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
        return
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def held_during_create() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block (a create request); raise them again after."""
    if not _in_main_thread():
        yield  # the request is never interrupted here: handlers run in the main thread
        return
    with SIGTERM_AS_EXIT.active():  # a default SIGTERM now unwinds instead of killing
        held: list[int] = []
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if callable(handler):  # SIG_DFL and SIG_IGN need no holding
                previous[signum] = handler
                signal.signal(signum, functools.partial(_hold, held, handler))
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for again in held:
                signal.raise_signal(again)


def _hold(held: list[int], previous: Any, signum: int, frame: FrameType | None) -> None:
    """A signal during a create request: hold it, unless it is the second of its kind."""
    if signum in held:
        previous(signum, frame)
        return
    held.append(signum)

"""A process's output and input over docker's attach and exec streams.

One reader for :func:`~secure_run.run` (the container's attach stream) and
:meth:`~secure_run.SecureContainer.exec` (an exec's stream): docker multiplexes
standard output and error on one socket in frames; :class:`Collector` reads the
frames in a thread, hands each chunk to a callback as it arrives, and keeps at most
a cap a stream while it keeps draining (so a process that writes a lot never blocks
on a full pipe). :func:`send_stdin` writes a process's input, then half-closes the
socket, which the process reads as end of file (this works with a read-only root).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import attrs
from docker.utils import socket as _sdk_socket

from .._errors import Problem, show

__all__ = [
    "Collector",
    "OutputCallback",
    "Streams",
    "close_stream",
    "io_problems",
    "raw_socket",
    "send_stdin",
]

# docker-py's attach-stream demultiplexer; it is not in the type stubs.
_frames_iter: Callable[[Any, bool], Iterator[tuple[int, bytes]]] = getattr(  # noqa: B009
    _sdk_socket, "frames_iter"
)


@attrs.frozen
class Streams:
    """A flag for each output stream, e.g. which ones were truncated.

    .. versionadded:: 0.1
    """

    stdout: bool = False
    stderr: bool = False

    def __bool__(self) -> bool:
        return self.stdout or self.stderr


#: Called with ``"stdout"`` or ``"stderr"`` and each chunk of output as it arrives.
OutputCallback = Callable[[str, bytes], None]


class Collector:
    """Reads a multiplexed stream in a thread, keeping at most ``limit`` bytes a stream."""

    def __init__(self, sock: Any, limit: int, on_output: OutputCallback | None) -> None:
        self.sock = sock
        self._limit = limit
        self._on_output = on_output
        self.data = {1: bytearray(), 2: bytearray()}
        self.truncated = {1: False, 2: False}
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, daemon=True, name="secure-run-output")
        self._thread.start()

    def _read(self) -> None:
        try:
            for stream, chunk in _frames_iter(self.sock, False):
                buffer = self.data.get(stream)
                if buffer is None:
                    continue
                if self._on_output is not None:
                    self._on_output("stdout" if stream == 1 else "stderr", chunk)
                room = self._limit - len(buffer)
                if len(chunk) > room:
                    self.truncated[stream] = True
                buffer += chunk[: max(room, 0)]  # keep draining, so the process never blocks
        except (OSError, ValueError) as exc:
            self.error = exc

    @property
    def done(self) -> bool:
        """Whether the stream has ended (every chunk has been handed on)."""
        return not self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def raw_socket(sock: Any) -> socket.socket:
    """The socket under docker-py's file wrapper (or the socket itself)."""
    raw: socket.socket = getattr(sock, "_sock", sock)
    return raw


def close_stream(sock: Any) -> None:
    """Close a stream: the file wrapper first, then the socket under it."""
    raw = raw_socket(sock)
    with contextlib.suppress(OSError):
        if sock is not raw:
            sock.close()
        raw.close()


def send_stdin(sock: Any, data: bytes) -> None:
    """Write ``data`` to the process, then half-close: it reads end of file after it."""
    raw = raw_socket(sock)
    try:
        raw.sendall(data)
    except OSError:
        pass  # the process exited without reading all of it, or the stream was closed
    finally:
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)


def io_problems(timeout: object, stdin: object, max_output: object) -> list[Problem]:
    """Every problem with a deadline, a stdin and an output cap (of run and exec alike)."""
    problems = []
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not (math.isfinite(timeout) and timeout > 0)
    ):
        problems.append(Problem("timeout", show(timeout), "not a positive number of seconds",
                                "give e.g. 10, or None to wait for ever"))  # fmt: skip
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        problems.append(Problem("max_output", show(max_output), "not a byte count",
                                "give e.g. 1_000_000"))  # fmt: skip
    if stdin is not None and not isinstance(stdin, bytes):
        problems.append(Problem("stdin", type(stdin).__name__, "not bytes", "encode it first"))
    return problems

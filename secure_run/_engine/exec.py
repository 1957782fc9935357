"""Commands in a running container: a deadline, stdin, capped or streamed output.

:meth:`SecureContainer.exec() <secure_run.SecureContainer.exec>` and
:meth:`~secure_run.SecureContainer.exec_stream` run here. One exec, step by step:

1. check: the arguments (:meth:`ExecOptions.checked`), before the engine is called.
2. record: on a local engine, the container's processes (host pid and start time,
   read from its cgroup's ``cgroup.procs``), so what the exec starts is told apart
   from what was there before (:class:`.exec_host.HostView`).
3. start: ``exec_create`` then ``exec_start(socket=True)``; a thread demultiplexes
   the output (:class:`~.output.Collector`), another writes stdin and then
   half-closes the socket, which the process reads as end of file.
4. wait: until the output ends and the daemon says the exec is no longer running,
   or the deadline (wall clock from the start) passes. A timer enforces the deadline
   even when the caller of a stream is busy elsewhere.
5. kill: at the deadline, on ``close()`` of a stream still running, or when the
   caller is interrupted (``KeyboardInterrupt``: kill, then re-raise). See below.
6. finish: the socket is closed and the threads are joined on every path.

An exec that ends on its own leaves what it started in the background running, as
``docker exec`` does; the engine ends its output two seconds after its process
exits even when a background process still holds the pipe.

Killing an exec
---------------
Docker's API has no call to kill an exec. secure_run acts from the host, which it
can when the engine is local (a unix socket), the container runs under ``runc``,
and the container's init process is visible in this machine's ``/proc`` with a
cgroup that names the container's id (so a pid of an engine in another machine or
VM is never taken for the container's):

1. pause the container (``docker pause``, the cgroup freezer): nothing in it runs
   or forks while it is looked at;
2. read its processes from ``cgroup.procs`` (with each one's parent and start
   time) and SIGKILL

   - the exec's process (``exec_inspect()["Pid"]``) and all its descendants, and
   - every process that was not there when the exec started (pid *and* start time,
     so a reused pid is not confused): this catches what left the exec's tree, by a
     double fork and ``setsid``, to be reparented to the container's init,

   except the container's init and the trees of the other execs this
   :class:`~secure_run.SecureContainer` is running. The signals stay pending while
   the processes are frozen;
3. unpause: the processes die before running another instruction;
4. wait, 10 s at most, until each one is gone (or a zombie) and the daemon says
   the exec is no longer running.

Processes the container's main command starts while the exec runs are killed too:
they cannot be told from an escaped one.

The fallback: when that cannot be done (a remote engine, another runtime, no
permission, a failed pause) or does not work (a process outlives the wait), the
whole container is killed and removed, which ends every process in it. The session
is over: a later ``exec`` raises :class:`~secure_run.LaunchError` saying that exec
X timed out and its processes could not be killed one by one, and every other use
raises as for a closed container. No process of a timed-out exec is ever left.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import docker.errors
from typing_extensions import Self

from .._errors import ConfigError, LaunchError, Problem, show
from .client import low_level
from .errors import translated
from .exec_host import KILL_CONFIRM_S, Baseline, HostView, kill_exec
from .output import (
    Collector,
    OutputCallback,
    Streams,
    close_stream,
    io_problems,
    raw_socket,
    send_stdin,
)
from .podman import is_not_running_refusal

if TYPE_CHECKING:
    from .container import SecureContainer

__all__ = ["ExecOptions", "ExecResult", "ExecStream", "refuse_if_ended", "run_exec", "stream_exec"]

#: Seconds for the output thread to see the end once the process is gone.
_JOIN_S = 5.0
#: The longest the waiting thread sleeps at once, so an interrupt is seen soon.
_SLICE_S = 0.25


def _shown(data: bytes) -> str:
    return f"<{len(data)} bytes>"


@attrs.frozen
class ExecResult:
    """What a command run with :meth:`SecureContainer.exec` did.

    Attributes:
        exit_code: The command's exit status (137 after a kill; -1 if the engine
            reported none).
        stdout: Standard output, at most ``max_output`` bytes (empty for a stream).
        stderr: Standard error, at most ``max_output`` bytes (empty for a stream).
        timed_out: The timeout passed and secure_run killed the command.
        truncated: Which streams went over ``max_output``.
        duration_s: Wall-clock seconds from the start to the end (or the kill); not
            compared by ``==``.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``timed_out``, ``truncated`` and ``duration_s``.
    """

    exit_code: int
    stdout: bytes = attrs.field(repr=_shown)
    stderr: bytes = attrs.field(repr=_shown)
    timed_out: bool = False
    truncated: Streams = attrs.field(factory=Streams)
    duration_s: float = attrs.field(default=0.0, eq=False)  # a measure, not what it did


def _env_repr(env: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f"{key!r}: '***'" for key, _ in env) + "}"


@attrs.frozen
class ExecOptions:
    """One exec's arguments, each known to be sound (checked before the engine is called)."""

    argv: tuple[str, ...]
    user: str | None
    timeout: float | None
    stdin: bytes | None = attrs.field(repr=lambda b: "None" if b is None else _shown(b))
    max_output: int = 1_000_000
    env: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=_env_repr)
    workdir: str | None = None

    @classmethod
    def checked(
        cls,
        argv: Sequence[str],
        *,
        user: str | None = None,
        timeout: float | None = None,
        stdin: bytes | None = None,
        max_output: int = 1_000_000,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecOptions:
        """The options, or one :class:`ConfigError` listing every problem found.

        The rules of ``timeout``, ``stdin`` and ``max_output`` are :func:`~secure_run.run`'s.
        """
        problems = [
            *_argv_problems(argv),
            *_text_problems("user", user, "give a user name or uid, e.g. '65534'"),
            *io_problems(timeout, stdin, max_output),
            *_env_problems(env),
            *_text_problems("workdir", workdir, "give an absolute path, e.g. '/workspace'"),
        ]
        if isinstance(workdir, str) and workdir and not workdir.startswith("/"):
            problems.append(Problem("workdir", show(workdir), "not an absolute path",
                                    "give a path from the root, e.g. '/workspace'"))  # fmt: skip
        if problems:
            raise ConfigError(problems)
        pairs = tuple((key, (env or {})[key]) for key in (env or {}))
        return cls(tuple(argv), user, timeout, stdin, max_output, pairs, workdir)


def _argv_problems(argv: object) -> list[Problem]:
    fix = 'write e.g. ["id", "-u"]; no shell is implied'
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        return [Problem("argv", show(argv), "give the argv as a list of strings", fix)]
    if not argv or not all(isinstance(a, str) for a in argv):
        return [Problem("argv", show(list(argv)), "give the argv as a non-empty list of strings",
                        fix)]  # fmt: skip
    if any("\0" in a for a in argv):
        return [Problem("argv", show(list(argv)), "an argument holds a NUL byte", "remove it")]
    return []


def _text_problems(field: str, value: object, fix: str) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, str) or not value or "\0" in value:
        return [Problem(field, show(value), "not a non-empty string without NUL bytes", fix)]
    return []


def _env_problems(env: object) -> list[Problem]:
    """Problems of an environment mapping; values are never shown, names are."""
    fix = "give a mapping of names to string values, e.g. {'LANG': 'C.UTF-8'}"
    if env is None:
        return []
    if not isinstance(env, Mapping):
        return [Problem("env", type(env).__name__, "not a mapping", fix)]
    problems = []
    for key, value in env.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            problems.append(Problem("env", show(key), "not a variable name", fix))
        elif not isinstance(value, str) or "\0" in value:
            problems.append(Problem("env", show(key), "its value is not a string without NUL "
                                    "bytes", fix))  # fmt: skip
    return problems


# -- what secure_run knows of one container's execs -----------------------------------


class _Box:
    """One SecureContainer's execs: those running, its host view, why its session ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # one kill at a time: pause and unpause must pair
        self.running: set[_Session] = set()
        self.host: HostView | None = None
        self.ended: str | None = None


_BOXES: weakref.WeakKeyDictionary[SecureContainer, _Box] = weakref.WeakKeyDictionary()
_BOXES_LOCK = threading.Lock()


def _box(container: SecureContainer) -> _Box:
    with _BOXES_LOCK:
        found = _BOXES.get(container)
        if found is None:
            found = _BOXES[container] = _Box()
        return found


def refuse_if_ended(container: SecureContainer) -> None:
    """Raise LaunchError if an exec's fallback kill ended this container's session."""
    with _BOXES_LOCK:
        box = _BOXES.get(container)
    if box is not None and box.ended is not None:
        raise LaunchError(box.ended)


# -- one exec -----------------------------------------------------------------------


class _Session:
    """One exec from its creation to its end: output, stdin, deadline and kill."""

    def __init__(
        self, container: SecureContainer, options: ExecOptions, *, keep: int,
        on_output: OutputCallback | None = None,
    ) -> None:  # fmt: skip
        self.container = container
        self.options = options
        self.client = container.client
        self.box = _box(container)
        self.exec_id = ""
        self.started = 0.0
        self.deadline: float | None = None
        self.launched = False
        self.killed = False
        self.timed_out = False
        self._keep = keep
        self._on_output = on_output
        self._kill_lock = threading.Lock()
        self._finish_lock = threading.Lock()
        self._kill_error: BaseException | None = None
        self._ended_code: int | None = None
        self._baseline: Baseline | None = None
        self._sock: Any = None
        self.output: Collector | None = None
        self._stdin: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._result: ExecResult | None = None
        self._why_not = ""
        self._finished = False

    def start(self) -> None:
        """Record the container's processes, create and start the exec, start the threads."""
        options, api = self.options, low_level(self.client)
        user = options.user
        if user is None:
            user = str(self.container.config.user or "") or None
        with translated("exec in container", client=self.client):
            self._record()
            self.exec_id = api.exec_create(
                self.container.id, list(options.argv), stdin=options.stdin is not None,
                user=user or "", environment=[f"{k}={v}" for k, v in options.env] or None,
                workdir=options.workdir,
            )["Id"]  # fmt: skip
            with self.box.lock:
                self.box.running.add(self)
            try:
                self._sock = api.exec_start(self.exec_id, socket=True)
            except BaseException:
                self.launched = self._started_all_the_same()
                self.kill(timed_out=False)  # only if it runs all the same
                self._forget()
                raise
            self.launched = True
        self.started = time.monotonic()
        if options.timeout is not None:
            self.deadline = self.started + options.timeout
            self._timer = threading.Timer(options.timeout, self._on_deadline)
            self._timer.daemon = True
            self._timer.start()
        self.output = Collector(self._sock, self._keep, self._on_output)
        if options.stdin is not None:
            self._stdin = threading.Thread(target=send_stdin, args=(self._sock, options.stdin),
                                           daemon=True, name="secure-run-stdin")  # fmt: skip
            self._stdin.start()

    def _started_all_the_same(self) -> bool:
        """After a failed or interrupted start: whether the command runs even so."""
        try:
            found = low_level(self.client).exec_inspect(self.exec_id)
        except Exception:  # the engine is gone: nothing to kill there
            return False
        return bool(found.get("Running") or found.get("Pid"))

    def _record(self) -> None:
        """The container's processes before the exec, when they can be read from here."""
        host = self.box.host
        if host is None or not host.current():
            found = HostView.find(self.client, self.container.id)
            self.box.host = host = found if isinstance(found, HostView) else None
            self._why_not = found if isinstance(found, str) else ""
        try:
            if host is not None:
                self._baseline = host.baseline()
        except OSError as exc:
            self._why_not = f"its processes are not readable here ({exc})"

    def _forget(self) -> None:
        with self.box.lock:
            self.box.running.discard(self)

    # -- waiting ----------------------------------------------------------------------

    def remaining(self) -> float:
        """Seconds to wait in one go: until the deadline, at most a slice."""
        if self.deadline is None:
            return _SLICE_S
        return max(0.0, min(_SLICE_S, self.deadline - time.monotonic()))

    def expired(self) -> bool:
        """Kill at the deadline; whether the exec was killed (now or before)."""
        if not self.killed and self.deadline is not None and time.monotonic() >= self.deadline:
            self.kill(timed_out=True)
        return self.killed

    def running(self) -> bool:
        """Whether the exec still runs: not once it was killed (the kill confirmed its end)."""
        return not self.killed and self._daemon_running()

    def _daemon_running(self) -> bool:
        with translated("inspect exec", client=self.client):
            return bool(low_level(self.client).exec_inspect(self.exec_id).get("Running"))

    def wait(self) -> None:
        """Until the output has ended and the exec is no longer running, or it is killed."""
        output = self.output
        while output is not None and not output.done:
            if self.expired():
                return
            output.join(self.remaining())
        delay = 0.01
        while self.running():
            if self.expired():
                return
            time.sleep(min(delay, self.remaining()))
            delay = min(delay * 2, _SLICE_S)

    def _on_deadline(self) -> None:
        self.kill(timed_out=True)

    # -- killing ----------------------------------------------------------------------

    def kill(self, *, timed_out: bool) -> None:
        """Kill the exec's processes (once); an error is kept for :meth:`finish` to raise."""
        with self._kill_lock:
            if self.killed or self._finished or not self.launched:
                return  # nothing started, or it ended: nothing to kill
            self.killed, self.timed_out = True, timed_out
            try:
                with self.box.lock:
                    why = self._kill_one_by_one()
                if why:
                    self._end_session(why)
            except Exception as exc:  # raised by finish(), in the caller's thread
                self._kill_error = exc

    def _kill_one_by_one(self) -> str:
        """Kill the exec's processes from the host; ``""``, or why that could not be done."""
        host = self.box.host
        if host is None or self._baseline is None:
            return self._why_not or "its processes are not readable here"
        others = [s.exec_id for s in self.box.running if s is not self and s.exec_id]
        return kill_exec(self.client, self.container.id, host, self._baseline, self.exec_id,
                         others)  # fmt: skip

    def _end_session(self, why: str) -> None:
        """The fallback: kill and remove the whole container; its session is over."""
        api, cid = low_level(self.client), self.container.id
        with translated("kill container", client=self.client):
            try:
                api.kill(cid)
            except docker.errors.APIError as exc:
                if exc.status_code != 409 and not is_not_running_refusal(exc):  # not running
                    raise
            with contextlib.suppress(Exception):
                api.wait(cid, timeout=KILL_CONFIRM_S)
            self._ended_code = 137  # SIGKILL, unless the daemon says otherwise
            with contextlib.suppress(docker.errors.NotFound):
                code = api.exec_inspect(self.exec_id).get("ExitCode")
                self._ended_code = int(code) if code is not None else 137
        self.box.ended = (
            f"the session of container {cid[:12]} ended: exec {self.exec_id[:12]} "
            f"({' '.join(self.options.argv)[:60]!r}) "
            f"{'timed out' if self.timed_out else 'was stopped'} and its processes could "
            f"not be killed one by one ({why}), so the container was killed and removed; "
            "launch a new one with secure_run.launch(config)"
        )
        self.container.close()

    # -- the end ----------------------------------------------------------------------

    def finish(self) -> ExecResult:
        """Close the socket, join the threads, and return the result, once.

        Whichever thread asks first does it: a stream's reader, or its ``close()``
        from another thread; the other gets the same result.
        """
        with self._finish_lock:
            return self._finish()

    def _finish(self) -> ExecResult:
        if self._result is not None:
            return self._result
        if self._timer is not None:
            self._timer.cancel()
        with self._kill_lock:  # a kill under way (the deadline's timer) ends first
            self._finished = True
        output = self.output
        try:
            if output is not None:
                output.join(_JOIN_S if self.killed else 0.0)
        finally:
            if self._sock is not None:
                # A killed gVisor sandbox may leave the attach stream open: shutdown wakes
                # a reader still blocked in it (close alone does not).
                with contextlib.suppress(OSError):
                    raw_socket(self._sock).shutdown(socket.SHUT_RDWR)
                close_stream(self._sock)
            if output is not None:
                output.join(_JOIN_S)
            if self._stdin is not None:
                self._stdin.join(_JOIN_S)
            self._forget()
        duration = time.monotonic() - self.started
        if self._kill_error is not None:
            raise self._kill_error
        self._result = ExecResult(
            exit_code=self._exit_code(),
            stdout=bytes(output.data[1]) if output is not None else b"",
            stderr=bytes(output.data[2]) if output is not None else b"",
            timed_out=self.timed_out,
            truncated=Streams(*(output.truncated[n] for n in (1, 2)))
            if output is not None and self._on_output is None  # a stream keeps nothing
            else Streams(),
            duration_s=duration,
        )
        return self._result

    def _exit_code(self) -> int:
        if self._ended_code is not None:
            return self._ended_code
        with translated("inspect exec", client=self.client):
            code = low_level(self.client).exec_inspect(self.exec_id).get("ExitCode")
        return int(code) if code is not None else -1

    def abort(self) -> None:
        """On an interrupt or error of the caller: kill, close and join, quietly."""
        self.kill(timed_out=False)
        with contextlib.suppress(Exception):
            self.finish()


def run_exec(container: SecureContainer, options: ExecOptions) -> ExecResult:
    """Run one exec to its end or its deadline; its output kept up to ``max_output``."""
    session = _Session(container, options, keep=options.max_output)
    try:
        session.start()
        session.wait()
    except BaseException:
        session.abort()
        raise
    return session.finish()


def stream_exec(container: SecureContainer, options: ExecOptions) -> ExecStream:
    """Start one exec whose output is handed on as it comes."""
    return ExecStream(container, options)


class ExecStream:
    """A running command's output, chunk by chunk as it happens.

    Made by :meth:`SecureContainer.exec_stream`. Iterate it for ``(stream, chunk)``
    pairs, ``stream`` being ``"stdout"`` or ``"stderr"``, in the order the chunks
    arrived. Once the iteration has ended, :attr:`result` holds the exit code and
    whether the command timed out (its ``stdout`` and ``stderr`` are empty: they
    were handed on). Leaving the ``for`` loop early, :meth:`close`, or the end of a
    ``with`` block kills the command if it still runs. A chunk not yet read is
    buffered here, so a slow reader never blocks the command; the deadline holds
    even while the reader is busy.

    Example::

        with box.exec_stream(["sh", "-c", "make test"], timeout=60) as stream:
            for name, chunk in stream:
                print(name, chunk.decode(errors="replace"), end="")
        print(stream.result.exit_code)

    Attributes:
        result: What the command did, once it ended (``None`` until then).

    .. versionadded:: 0.2
    """

    def __init__(self, container: SecureContainer, options: ExecOptions) -> None:
        self._chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._session = _Session(container, options, keep=0, on_output=self._put)
        self.result: ExecResult | None = None
        self._session.start()

    def _put(self, stream: str, chunk: bytes) -> None:
        self._chunks.put((stream, chunk))

    def __repr__(self) -> str:
        state = "running" if self.result is None else f"exit {self.result.exit_code}"
        return f"<ExecStream {self._session.exec_id[:12]} {state}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        session = self._session
        output = session.output
        try:
            while output is not None:
                try:
                    yield self._chunks.get(timeout=session.remaining() or 0.05)
                except queue.Empty:
                    done = output.done  # read before the queue: every chunk is in by then
                    if (done and self._chunks.empty()) or self.result is not None:
                        break  # the end, or close() from another thread ended it
                    if session.expired():
                        # Killed: finish() ends the output. A killed gVisor sandbox may
                        # leave the stream open, so its end is not waited for here.
                        break
            if self.result is None:
                session.wait()
                result = session.finish()
                while not self._chunks.empty():  # what came in before the stream closed
                    yield self._chunks.get_nowait()
                self.result = result
        finally:
            self.close()

    def close(self) -> None:
        """Kill the command if it still runs; close the stream. Safe to call more than once."""
        if self.result is not None:
            return
        session = self._session
        try:
            if session.output is not None and (not session.output.done or session.running()):
                session.kill(timed_out=False)
        except BaseException:
            session.abort()
            raise
        self.result = session.finish()

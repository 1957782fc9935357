"""Launching: create, start, verify, collect, and always remove.

Every container secure_run creates carries ``io.secure-run.managed=1`` and an
owner label (host, pid and the process's start time), is tracked while it is
alive in this process, and is removed on every exit path: a normal return, an
exception, ``KeyboardInterrupt``, SIGTERM (turned into a clean ``SystemExit``
while a launch is live), and interpreter exit. A container whose owner was
killed outright is reaped later by :func:`cleanup`.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import functools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType, TracebackType
from typing import Any, Callable, Literal

import attrs
import docker
import docker.errors
import requests
from docker.utils import socket as _sdk_socket
from typing_extensions import Self

from .._config.run_config import RunConfig
from .._config.values import LABEL_PREFIX
from .._errors import ConfigError, HardeningNotApplied, ImageNotFound, LaunchError, RunTimeout
from .._export.translate import create_args, sdk_kwargs
from .._proof.procfs import start_time
from .._proof.verify import VerifyReport, verify
from .client import connect
from .errors import _close_unix_sockets, translated
from .facts import create_warnings, engine_facts, refuse_unsupported

__all__ = ["ExecResult", "RunResult", "SecureContainer", "Streams", "launch", "run"]

logger = logging.getLogger("secure_run")

PullPolicy = Literal["never", "missing", "always"]
_PULL_POLICIES = ("never", "missing", "always")
MANAGED_LABEL = LABEL_PREFIX + "managed"
OWNER_LABEL = LABEL_PREFIX + "owner"
CREATED_LABEL = LABEL_PREFIX + "created"
_KILL_CONFIRM_S = 10.0

# docker-py's attach-stream demultiplexer; it is not in the type stubs.
_frames_iter: Callable[[Any, bool], Iterator[tuple[int, bytes]]] = getattr(  # noqa: B009
    _sdk_socket, "frames_iter"
)


# -- who owns a container ------------------------------------------------------------


def _api(client: docker.DockerClient) -> Any:
    """The low-level client, untyped: its stubs lack calls and take ints for float timeouts."""
    return client.api


def owner_id(pid: int | None = None) -> str:
    """``host:pid:start`` for a process: unique even after the pid is reused."""
    pid = os.getpid() if pid is None else pid
    started = start_time(pid)
    return f"{socket.gethostname()}:{pid}:{'?' if started is None else started}"


def _labels() -> dict[str, str]:
    return {
        MANAGED_LABEL: "1",
        OWNER_LABEL: owner_id(),
        CREATED_LABEL: f"{time.time():.3f}",
    }


# -- containers alive in this process, and the signals that must not leak them -------


class _Live:
    """The containers this process has created and not yet removed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, docker.DockerClient] = {}
        self._previous: Any = None
        self._installed = False
        #: Signals held while a create request is in flight (main thread only).
        self.held: list[int] | None = None

    def add(self, container_id: str, client: docker.DockerClient) -> None:
        with self._lock:
            self._containers[container_id] = client
            self._install_sigterm()

    def discard(self, container_id: str) -> None:
        with self._lock:
            self._containers.pop(container_id, None)
            if not self._containers:
                self._restore_sigterm()

    def remove_all(self) -> None:
        """Remove every container still alive (at interpreter exit)."""
        with self._lock:
            leftovers = list(self._containers.items())
        for container_id, client in leftovers:
            _remove(client, container_id)
            self.discard(container_id)

    @contextlib.contextmanager
    def creating(self) -> Iterator[None]:
        """Hold SIGINT and SIGTERM while a create request is in flight (main thread only).

        Cutting the request short would lose the daemon's answer, and with it the id of
        a container the daemon goes on to create. A signal that arrives meanwhile is
        raised again when the block ends, by when the container is tracked; a second
        SIGINT is acted on at once. In other threads the request is never interrupted
        (Python runs signal handlers in the main thread).
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        held: list[int] = []
        with self._lock:
            self._install_sigterm()  # SIGTERM is now _on_sigterm, which holds it below
        previous_int = signal.getsignal(signal.SIGINT)
        holds_int = callable(previous_int)
        if holds_int:
            signal.signal(signal.SIGINT, functools.partial(_hold_sigint, held, previous_int))
        self.held = held
        try:
            yield
        finally:
            self.held = None
            if holds_int:
                signal.signal(signal.SIGINT, previous_int)
            with self._lock:
                if not self._containers:
                    self._restore_sigterm()
            for signum in held:
                signal.raise_signal(signum)

    def _install_sigterm(self) -> None:
        if self._installed or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:
            return  # the program chose to ignore SIGTERM; keep its choice
        self._previous = previous
        signal.signal(signal.SIGTERM, _on_sigterm)
        self._installed = True

    def _restore_sigterm(self) -> None:
        if not self._installed or threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._previous)
        self._installed = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM during a launch: unwind cleanly, so every ``finally`` removes its container."""
    held = _LIVE.held
    if held is not None and signum not in held:
        held.append(signum)  # a create request is in flight: act once it is answered
        return
    raise SystemExit(128 + signum)


def _hold_sigint(held: list[int], previous: Any, signum: int, frame: FrameType | None) -> None:
    """SIGINT while a create request is in flight: hold it, unless it is the second."""
    if signum in held:
        previous(signum, frame)
        return
    held.append(signum)


_LIVE = _Live()
atexit.register(_LIVE.remove_all)


def _remove(client: docker.DockerClient, container_id: str) -> bool:
    """Remove a container and its anonymous volumes; True if it is gone.

    A Ctrl-C during the removal is answered by trying once more before it is raised.
    """
    for attempt in (1, 2):
        try:
            client.api.remove_container(container_id, force=True, v=True)
            return True
        except docker.errors.NotFound:
            return True
        except (docker.errors.DockerException, requests.RequestException) as exc:
            _close_unix_sockets(exc)  # docker-py leaves a failed connect()'s socket open
            logger.warning("could not remove container %s: %s", container_id[:12], exc)
            return False
        except KeyboardInterrupt:
            if attempt == 2:
                raise
    return False


def _release(client: docker.DockerClient, container_id: str) -> None:
    """Remove a tracked container, or keep tracking it for the retry at interpreter exit.

    A container that cannot be removed now (no engine answers) stays tracked.
    """
    if _remove(client, container_id):
        _LIVE.discard(container_id)


# -- creating ------------------------------------------------------------------------


def _check_pull(pull: str) -> None:
    if pull not in _PULL_POLICIES:
        raise ConfigError.single(
            "pull", pull, "unknown pull policy", f"use one of {_PULL_POLICIES}"
        )


def _ensure_image(client: docker.DockerClient, image: str, pull: str) -> None:
    """Make sure the image is present under the pull policy; no implicit pulls."""
    present = True
    try:
        with translated("inspect image", image=image, client=client):
            _api(client).inspect_image(image)
    except ImageNotFound:
        present = False
    if pull == "always" or (pull == "missing" and not present):
        try:
            with translated("pull image", image=image, client=client):
                client.images.pull(image)
        except LaunchError as exc:  # the registry refused or could not be reached
            raise ImageNotFound(
                f"image {image!r} could not be pulled ({exc}); check the name and the "
                "registry, or build or load it locally",
                image=image,
            ) from exc
    elif not present:
        raise _not_present(image)


def _not_present(image: str) -> ImageNotFound:
    return ImageNotFound(
        f"image {image!r} is not present and the pull policy is 'never'; build or load "
        f"it first (docker build / docker load), or pass pull='missing' to allow a pull",
        image=image,
    )


def _create(client: docker.DockerClient, cfg: RunConfig, *, strict: bool, stdin: bool) -> str:
    """Create the container through the low-level API, so the engine's Warnings are seen."""
    kwargs = sdk_kwargs(cfg)
    kwargs.setdefault("command", None)  # no command: the image's own CMD
    kwargs["labels"] = {**kwargs["labels"], **_labels()}
    kwargs.pop("use_config_proxy")  # only create_container() knows it; it is not applied here
    kwargs["version"] = _api(client)._version
    kwargs["stdin_open"] = stdin
    create = create_args(kwargs)
    name, platform = create.pop("name", None), create.pop("platform", None)
    config = _api(client).create_container_config(**create, stop_timeout=cfg.stop_timeout)
    if stdin:
        config["StdinOnce"] = True  # stdin closes when the attached writer closes
    container_id: str | None = None
    try:
        with _LIVE.creating():  # a signal now would lose the id of what the daemon makes
            try:
                with translated("create container", image=cfg.image, client=client):
                    response = _api(client).create_container_from_config(config, name, platform)
            except ImageNotFound:
                # The Engine API never pulls on create; with the default policy, 'never',
                # no image inspect comes first (a request saved on every launch).
                raise _not_present(cfg.image) from None
            container_id = str(response["Id"])
            _LIVE.add(container_id, client)
        create_warnings(response.get("Warnings"), strict=strict, logger=logger)
    except BaseException:
        if container_id is not None:
            _release(client, container_id)
        raise
    return container_id


def _prepare(cfg: RunConfig, client: docker.DockerClient | None, pull: str) -> docker.DockerClient:
    _check_pull(pull)
    client = connect(client)
    refuse_unsupported(cfg, engine_facts(client))
    if pull != "never":  # under 'never', create's own 404 says the image is missing
        _ensure_image(client, cfg.image, pull)
    return client


# -- launch() ------------------------------------------------------------------------


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
        _release(self.client, self.id)

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
        """
        self._alive()
        with translated("wait for container", client=self.client):
            try:
                result = _api(self.client).wait(self.id, timeout=timeout)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
                raise RunTimeout(
                    f"container {self.id[:12]} did not exit within {timeout} s; "
                    "stop or kill it, or wait longer"
                ) from exc
        return int(result["StatusCode"])

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
            api = _api(self.client)
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
            try:
                self.client.api.kill(self.id, signal=signal)
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: not running, which is what was wanted
                    raise

    def verify(self, *, strict: bool = True) -> VerifyReport:
        """Check the daemon's record and the kernel's state against the config."""
        self._alive()
        return verify(self, strict=strict)


def launch(
    cfg: RunConfig,
    *,
    client: docker.DockerClient | None = None,
    verify: bool = True,
    strict: bool = True,
    pull: PullPolicy = "never",
) -> SecureContainer:
    """Create, start and verify a container; use it in a ``with`` block.

    Args:
        cfg: The configuration.
        client: The Docker client; ``docker.from_env()`` when omitted.
        verify: Check the daemon's record and the kernel's state once started;
            a difference removes the container and raises.
        strict: Raise on an engine warning at create, and on a verification
            difference; otherwise log the warning and keep the report.
        pull: ``"never"`` (the default), ``"missing"`` or ``"always"``.

    Raises:
        DaemonUnavailable: No engine answers.
        ImageNotFound: The image is absent and the pull policy forbids a pull.
        UnsupportedFeature: The engine cannot honour a setting.
        LaunchError: The engine refused to create or start the container.
        HardeningNotApplied: The container did not get what the config asked for.

    .. versionadded:: 0.1
    """
    client = _prepare(cfg, client, pull)
    container_id = _create(client, cfg, strict=strict, stdin=False)
    container = SecureContainer(container_id, cfg, client)
    try:
        with translated("start container", client=client):
            client.api.start(container_id)
        if verify:
            container.report = _verify_started(container, strict)
    except BaseException:
        container.close()
        raise
    return container


def _verify_started(container: SecureContainer, strict: bool) -> VerifyReport:
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


# -- run() ---------------------------------------------------------------------------


@attrs.frozen
class Streams:
    """A flag for each output stream, e.g. which ones were truncated.

    .. versionadded:: 0.1
    """

    stdout: bool = False
    stderr: bool = False

    def __bool__(self) -> bool:
        return self.stdout or self.stderr


def _shown(data: bytes) -> str:
    return f"<{len(data)} bytes>"


@attrs.frozen
class RunResult:
    """What :func:`run` saw of one container, which is gone by the time this is returned.

    Attributes:
        exit_code: The container's exit status (137 after a kill).
        stdout: Standard output, at most ``max_output`` bytes.
        stderr: Standard error, at most ``max_output`` bytes.
        timed_out: The timeout passed and secure_run killed the container.
        oom_killed: The kernel's OOM killer ended a process (``State.OOMKilled``).
        duration_s: Wall-clock seconds from start to exit.
        truncated: Which streams went over ``max_output``.
        container_id: The removed container's id.
        kill_latency_s: After a timeout, seconds from the deadline until the
            container was seen dead.

    .. versionadded:: 0.1
    """

    exit_code: int
    stdout: bytes = attrs.field(repr=_shown)
    stderr: bytes = attrs.field(repr=_shown)
    timed_out: bool
    oom_killed: bool
    duration_s: float
    truncated: Streams
    container_id: str
    kill_latency_s: float | None = None


#: Called with ``"stdout"`` or ``"stderr"`` and each chunk of output as it arrives.
OutputCallback = Callable[[str, bytes], None]


class _Collector:
    """Reads the attached stream in a thread, keeping at most ``limit`` bytes a stream."""

    def __init__(self, sock: Any, limit: int, on_output: OutputCallback | None) -> None:
        self._sock = sock
        self._limit = limit
        self._on_output = on_output
        self.data = {1: bytearray(), 2: bytearray()}
        self.truncated = {1: False, 2: False}
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, daemon=True, name="secure-run-output")
        self._thread.start()

    def _read(self) -> None:
        try:
            for stream, chunk in _frames_iter(self._sock, False):
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

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _raw(sock: Any) -> socket.socket:
    raw: socket.socket = getattr(sock, "_sock", sock)
    return raw


def _close_attach(sock: Any) -> None:
    """Close the attach stream: the file wrapper first, then the socket under it."""
    raw = _raw(sock)
    with contextlib.suppress(OSError):
        if sock is not raw:
            sock.close()
        raw.close()


def _send_stdin(sock: Any, data: bytes) -> None:
    raw = _raw(sock)
    try:
        raw.sendall(data)
    except BrokenPipeError:
        pass  # the process exited without reading all of it
    finally:
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)


def _wait_until(client: docker.DockerClient, container_id: str, deadline: float | None) -> bool:
    """Wait for the exit; False if the deadline passed first."""
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        try:
            _api(client).wait(container_id, timeout=remaining)
            return True
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            if deadline is None or time.monotonic() < deadline - 0.05:
                raise  # not our timeout: the engine went away


def run(
    cfg: RunConfig,
    *,
    timeout: float | None = None,
    stdin: bytes | None = None,
    max_output: int = 1_000_000,
    client: docker.DockerClient | None = None,
    strict: bool = True,
    pull: PullPolicy = "never",
    verify: bool = False,
    on_output: OutputCallback | None = None,
) -> RunResult:
    """Run a container to completion and return what it did; the container is removed.

    The timeout is a wall-clock kill of the container, not an HTTP timeout.
    The daemon's record of the container is verified before it starts; with
    ``verify=True`` the kernel's state is verified too, once it runs.
    ``on_output`` is called with each chunk as it arrives (``max_output`` caps
    only what is kept in the result).
    Standard output and error are kept apart and capped at ``max_output`` bytes
    each. ``stdin`` is written to the process (this works with a read-only root).

    Raises:
        DaemonUnavailable: As for :func:`launch`.
        ImageNotFound: As for :func:`launch`.
        UnsupportedFeature: As for :func:`launch`.
        LaunchError: As for :func:`launch`.
        HardeningNotApplied: As for :func:`launch`. A timeout is not an error: see
            ``RunResult.timed_out``.

    .. versionadded:: 0.1
    """
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        raise ConfigError.single(
            "max_output", max_output, "not a byte count", "give e.g. 1_000_000"
        )
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ConfigError.single("timeout", timeout, "not a positive number of seconds",
                                 "give e.g. 10, or None to wait for ever")  # fmt: skip
    if stdin is not None and not isinstance(stdin, bytes):
        raise ConfigError.single("stdin", type(stdin).__name__, "not bytes", "encode it first")
    client = _prepare(cfg, client, pull)
    return _run_prepared(client, cfg, _RunOptions(timeout, stdin, max_output, strict, verify,
                                                  on_output))  # fmt: skip


def _run_prepared(
    client: docker.DockerClient,
    cfg: RunConfig,
    options: _RunOptions,
    *,
    on_created: Callable[[str], None] | None = None,
) -> RunResult:
    """Create, run and remove one container; ``on_created`` sees its id before the start.

    Shared by :func:`run` and :func:`~secure_run.run_many`, which tracks the ids so an
    interrupt can kill what runs. The container is removed on every path.
    """
    container_id = _create(client, cfg, strict=options.strict, stdin=options.stdin is not None)
    try:
        if on_created is not None:
            on_created(container_id)
        return _run_created(client, cfg, container_id, options)
    finally:
        _release(client, container_id)


@attrs.frozen
class _RunOptions:
    timeout: float | None
    stdin: bytes | None
    max_output: int
    strict: bool
    verify: bool
    on_output: OutputCallback | None


def _run_created(
    client: docker.DockerClient, cfg: RunConfig, container_id: str, options: _RunOptions
) -> RunResult:
    verify(container_id, cfg, client=client, strict=options.strict, kernel=False)
    stdin = options.stdin
    params = {"stdout": 1, "stderr": 1, "stream": 1, "stdin": int(stdin is not None)}
    with translated("attach to container", client=client):
        sock = client.api.attach_socket(container_id, params=params)
    try:
        collector = _Collector(sock, options.max_output, options.on_output)
        with translated("start container", client=client):
            client.api.start(container_id)
        started = time.monotonic()
        if options.verify:
            _verify_started(SecureContainer(container_id, cfg, client), options.strict)
        if stdin is not None:
            _send_stdin(sock, stdin)
        timeout = options.timeout
        deadline = None if timeout is None else started + timeout
        with translated("wait for container", client=client):
            exited = _wait_until(client, container_id, deadline)
            kill_latency = None
            if not exited:
                _kill(client, container_id)
                exited = _wait_until(client, container_id, time.monotonic() + _KILL_CONFIRM_S)
                kill_latency = time.monotonic() - (deadline or started)
            if not exited:
                raise RunTimeout(f"container {container_id[:12]} did not die after SIGKILL")
            duration = time.monotonic() - started
            state = client.api.inspect_container(container_id)["State"]
        collector.join(5.0)
    finally:
        _close_attach(sock)
    return RunResult(
        exit_code=int(state["ExitCode"]),
        stdout=bytes(collector.data[1]),
        stderr=bytes(collector.data[2]),
        timed_out=kill_latency is not None,
        oom_killed=bool(state.get("OOMKilled")),
        duration_s=duration,
        truncated=Streams(stdout=collector.truncated[1], stderr=collector.truncated[2]),
        container_id=container_id,
        kill_latency_s=kill_latency,
    )


def _kill(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.kill(container_id)
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: it exited on its own meanwhile
            raise

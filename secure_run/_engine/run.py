"""run(): one container from create to removal, and what it did.

The route of one ``run(cfg)``; each step is one call in :func:`run` or :func:`run_prepared`:

1. prepare: check the arguments, take or make a client, refuse what the engine cannot honour.
2. create: one create request with secure_run's labels, signals held, the id tracked at once.
3. start/attach: verify the daemon's record, attach to the output, start, send stdin.
4. wait/kill: wait for the exit; at the deadline, kill and wait for it to die.
5. collect: the output (kept apart, capped a stream) and the exit state become a RunResult.
6. remove: the container is removed on every path; a client made in step 1 is closed.

Where each step lives: 1 ``RunOptions.checked``, ``client.session``, ``create.prepare``
(facts, image under the pull policy); 2 ``create.create`` (``labels``, ``signals``,
``live``); 3 ``_proof.verify``, :func:`_attached`, :func:`_start` (the kernel's state
too with ``verify=True``); 4 :func:`_wait_or_kill` with ``container.wait_for_exit``;
5 ``_Ended.result``; 6 ``live.release``, ``client.session``. Every engine call runs
inside ``errors.translated``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Callable

import attrs
import docker

from .._config.run_config import RunConfig
from .._errors import ConfigError, OutputTooLarge, Problem, RunTimeout, UnsafeArchive, show
from .._files.names import check_collect_names
from .._files.tar_out import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOTAL
from .._proof.probe import FrozenMap
from .._proof.verify import verify
from .client import session
from .container import SecureContainer, kill, verify_started, wait_for_exit
from .create import PullPolicy, check_pull, create, prepare
from .errors import translated
from .live import release
from .output import Collector as _Collector
from .output import OutputCallback, Streams, close_stream, io_problems, send_stdin
from .workspace import WorkspaceVolume, input_tar, workspace_of

__all__ = ["OutputCallback", "RunOptions", "RunResult", "Streams", "run", "run_prepared"]

#: Seconds to wait for a killed container to be seen dead.
_KILL_CONFIRM_S = 10.0


def _shown(data: bytes) -> str:
    return f"<{len(data)} bytes>"


def _shown_files(files: Mapping[str, bytes]) -> str:
    return "{" + ", ".join(f"{k!r}: {_shown(v)}" for k, v in files.items()) + "}"


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
        files: With ``collect=``, each collected file's content by its name in the
            workspace (a read-only mapping; a directory's files as ``"dir/name"``).
        missing: The ``collect=`` names that were not in the workspace.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``files`` and ``missing``.
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
    files: Mapping[str, bytes] = attrs.field(factory=FrozenMap, repr=_shown_files)
    missing: tuple[str, ...] = ()


@attrs.frozen
class RunOptions:
    """How to run each container: the arguments of :func:`run` past the config and client."""

    timeout: float | None
    stdin: bytes | None
    max_output: int
    strict: bool
    verify: bool
    on_output: OutputCallback | None

    @classmethod
    def checked(
        cls,
        timeout: float | None,
        stdin: bytes | None,
        max_output: int,
        strict: bool,
        verify: bool,
        on_output: OutputCallback | None,
    ) -> RunOptions:
        """The options, once each is known to be sound (before the engine is contacted)."""
        problems = io_problems(timeout, stdin, max_output)
        if on_output is not None and not callable(on_output):
            fix = "give a function of (stream, chunk), e.g. lambda stream, chunk: print(chunk)"
            problems.append(Problem("on_output", show(on_output), "not callable", fix))
        if problems:
            raise ConfigError(problems)
        return cls(timeout, stdin, max_output, strict, verify, on_output)


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
    files: Mapping[str, bytes | os.PathLike[str]] | None = None,
    collect: Sequence[str] = (),
    max_collect: int = DEFAULT_MAX_TOTAL,
) -> RunResult:
    """Run a container to completion and return what it did; the container is removed.

    The timeout is a wall-clock kill of the container, not an HTTP timeout.
    The daemon's record of the container is verified before it starts; with
    ``verify=True`` the kernel's state is verified too, once it runs.
    ``on_output`` is called with each chunk as it arrives (``max_output`` caps
    only what is kept in the result).
    Standard output and error are kept apart and capped at ``max_output`` bytes
    each. ``stdin`` is written to the process (this works with a read-only root).

    ``files`` are put into the config's workspace before the command starts
    (bytes, or paths of host files, by names relative to the workspace), and the
    ``collect`` names are read from it after the command ended, into
    ``RunResult.files`` (a name ending in ``/`` collects a directory). What is
    collected was written by the sandbox: links are refused, never followed, and
    ``max_collect`` caps the bytes read in all (see :meth:`SecureContainer.get`).

    Raises:
        DaemonUnavailable: As for :func:`launch`.
        ImageNotFound: As for :func:`launch`.
        UnsupportedFeature: As for :func:`launch`.
        LaunchError: As for :func:`launch`.
        HardeningNotApplied: As for :func:`launch`. A timeout is not an error: see
            ``RunResult.timed_out``.
        ConfigError: Also for ``files`` or ``collect`` without a workspace, a bad
            name, or more input than the workspace holds (before any engine call).
        UnsafeArchive: A collected entry is a link, a device or a FIFO; nothing of
            it was read. The run's result is on the error's ``result``.
        OutputTooLarge: The collected files passed ``max_collect``; the run's
            result is on the error's ``result``.

    .. versionadded:: 0.1
    """
    options = RunOptions.checked(timeout, stdin, max_output, strict, verify, on_output)
    check_pull(pull)
    transfer = Transfer.checked(cfg, files, collect, max_collect)
    with session(client) as engine:
        prepare(cfg, engine, pull)
        if transfer is None:
            return run_prepared(engine, cfg, options)
        return _run_with_files(engine, cfg, options, transfer)


@attrs.frozen
class Transfer:
    """The files of one :func:`run`: the tar to put, and the names to collect."""

    archive: bytes | None
    names: tuple[str, ...]
    collect: tuple[str, ...]
    max_collect: int

    @classmethod
    def checked(
        cls,
        cfg: RunConfig,
        files: Mapping[str, bytes | os.PathLike[str]] | None,
        collect: Sequence[str],
        max_collect: int,
    ) -> Transfer | None:
        """The transfer, every name and size checked (before the engine is contacted)."""
        if not files and not collect:
            return None
        workspace_of(cfg, "files= and collect=")
        if isinstance(max_collect, bool) or not isinstance(max_collect, int) or max_collect < 0:
            raise ConfigError.single("max_collect", max_collect, "not a byte count",
                                     "give e.g. 100_000_000")  # fmt: skip
        names = tuple(check_collect_names(collect)) if collect else ()
        archive = input_tar(cfg, files) if files else None
        return cls(archive, tuple(files or ()), names, max_collect)


def _run_with_files(
    client: docker.DockerClient, cfg: RunConfig, options: RunOptions, transfer: Transfer
) -> RunResult:
    """Put the files, run the command, collect its files: all in one keeper's workspace."""
    with WorkspaceVolume.open(client, cfg, strict=options.strict) as workspace:
        if transfer.archive is not None:
            workspace.put_tar(transfer.archive, transfer.names)
        result = run_prepared(client, cfg, options, workspace_volume=workspace.volume)
        try:
            found, missing = workspace.collect(
                transfer.collect, max_total=transfer.max_collect, max_entries=DEFAULT_MAX_ENTRIES
            )
        except OutputTooLarge as exc:  # the caller's cap is max_collect, whichever was hit
            error = OutputTooLarge(exc.what, "max_collect", transfer.max_collect, exc.detail)
            error.result = result
            raise error from exc
        except UnsafeArchive as exc:
            exc.result = result
            raise
    return attrs.evolve(result, files=FrozenMap(found), missing=missing)


def run_prepared(
    client: docker.DockerClient,
    cfg: RunConfig,
    options: RunOptions,
    *,
    on_created: Callable[[str], None] | None = None,
    workspace_volume: str | None = None,
) -> RunResult:
    """Create, run and remove one container; ``on_created`` sees its id before the start.

    Shared by :func:`run` and :func:`~secure_run.run_many`, which tracks the ids so an
    interrupt can kill what runs. The container is removed on every path.
    """
    container_id = create(client, cfg, strict=options.strict, stdin=options.stdin is not None,
                          workspace_volume=workspace_volume)  # fmt: skip
    try:
        if on_created is not None:
            on_created(container_id)
        verify(container_id, cfg, client=client, strict=options.strict, kernel=False)
        with _attached(client, container_id, options) as output:
            started = _start(client, cfg, container_id, options, output.sock)
            ended = _wait_or_kill(client, container_id, started, options.timeout)
            output.join(5.0)
        return ended.result(container_id, output)
    finally:
        release(client, container_id)


@contextlib.contextmanager
def _attached(
    client: docker.DockerClient, container_id: str, options: RunOptions
) -> Iterator[_Collector]:
    """The output, collected from before the start; the stream is closed after the block."""
    params = {"stdout": 1, "stderr": 1, "stream": 1, "stdin": int(options.stdin is not None)}
    with translated("attach to container", client=client):
        sock = client.api.attach_socket(container_id, params=params)
    try:
        yield _Collector(sock, options.max_output, options.on_output)
    finally:
        close_stream(sock)


def _start(
    client: docker.DockerClient, cfg: RunConfig, container_id: str, options: RunOptions, sock: Any
) -> float:
    """Start the container, verify its kernel state if asked, send stdin; the start time."""
    with translated("start container", client=client):
        client.api.start(container_id)
    started = time.monotonic()
    if options.verify:
        verify_started(SecureContainer(container_id, cfg, client), options.strict)
    if options.stdin is not None:
        send_stdin(sock, options.stdin)
    return started


@attrs.frozen
class _Ended:
    """How the container ended: its engine state, run time and, after a kill, the latency."""

    state: dict[str, Any]
    duration_s: float
    kill_latency_s: float | None

    def result(self, container_id: str, output: _Collector) -> RunResult:
        return RunResult(
            exit_code=int(self.state["ExitCode"]),
            stdout=bytes(output.data[1]),
            stderr=bytes(output.data[2]),
            timed_out=self.kill_latency_s is not None,
            oom_killed=bool(self.state.get("OOMKilled")),
            duration_s=self.duration_s,
            truncated=Streams(stdout=output.truncated[1], stderr=output.truncated[2]),
            container_id=container_id,
            kill_latency_s=self.kill_latency_s,
        )


def _wait_or_kill(
    client: docker.DockerClient, container_id: str, started: float, timeout: float | None
) -> _Ended:
    """Wait for the exit; at the deadline, kill the container and wait for it to die."""
    deadline = None if timeout is None else started + timeout
    with translated("wait for container", client=client):
        code = wait_for_exit(client, container_id, deadline)
        kill_latency = None
        if code is None:
            kill(client, container_id)
            code = wait_for_exit(client, container_id, time.monotonic() + _KILL_CONFIRM_S)
            kill_latency = time.monotonic() - (deadline or started)
        if code is None:
            raise RunTimeout(f"container {container_id[:12]} did not die after SIGKILL")
        duration = time.monotonic() - started
        state = client.api.inspect_container(container_id)["State"]
        if kill_latency is None:
            state = _with_late_oom(client, container_id, state)
    return _Ended(state, duration, kill_latency)


#: How long the record of a container that died of SIGKILL is re-read for an OOM kill.
#: containerd's shim reports the OOM and the exit from separate goroutines, and dockerd
#: sets ``State.OOMKilled`` whenever the OOM event arrives, under load after the exit.
_OOM_SETTLE_S = 1.0
_SIGKILL_EXIT = 137


def _with_late_oom(
    client: docker.DockerClient, container_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    """``state``, or a later one that says OOMKilled, for a container that died of SIGKILL."""
    deadline = time.monotonic() + _OOM_SETTLE_S
    while state.get("ExitCode") == _SIGKILL_EXIT and not state.get("OOMKilled"):
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
        state = client.api.inspect_container(container_id)["State"]
    return state

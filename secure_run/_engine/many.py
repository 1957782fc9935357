"""Running a batch of configs with bounded concurrency: :func:`run_many`.

Each config runs as :func:`~secure_run.run` would run it, in a pool of worker
threads that share one Docker client. Every config gets a :class:`RunOutcome`, in
input order: its :class:`~secure_run.RunResult`, or the error that ended it, so one
failure never loses the others' results.

On ``KeyboardInterrupt`` (or SIGTERM, turned into ``SystemExit`` while the batch
runs, by the engine's one signal policy in :mod:`.signals`) the configs not yet
started are dropped, the containers already running are killed, every container
is removed, and the interrupt is raised again once the workers have finished.

The client is shared: docker-py sends each call through requests and urllib3's
connection pool, which is safe for concurrent requests, and the run path never
changes the client's state (headers, adapters, version) once it is made.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Iterable
from typing import Any, cast

import attrs
import docker
import docker.constants
import docker.errors
import requests

from .._config.run_config import RunConfig
from .._errors import ConfigError, Problem, show
from .client import connect
from .create import PULL_POLICIES, PullPolicy, prepare
from .run import RunOptions, RunResult, run_prepared
from .signals import SIGTERM_AS_EXIT

__all__ = ["RunOutcome", "run_many"]

#: How often, while a cancelled batch drains, the containers still running are killed again.
_DRAIN_POLL_S = 0.2


@attrs.frozen
class RunOutcome:
    """What :func:`run_many` did with one config: its result, or the error that ended it.

    Attributes:
        config: The config, as given.
        result: What the container did, when it ran (a timeout or a non-zero exit
            code is a result, not an error).
        error: Why it did not run to the end (for example
            :class:`~secure_run.ImageNotFound`, :class:`~secure_run.LaunchError` or
            :class:`~secure_run.HardeningNotApplied`), else ``None``.

    .. versionadded:: 0.1
    """

    config: RunConfig = attrs.field(repr=lambda c: f"<RunConfig {c.image}>")
    result: RunResult | None = None
    error: Exception | None = None

    def __attrs_post_init__(self) -> None:
        if (self.result is None) == (self.error is None):
            raise ValueError("a RunOutcome holds a result or an error, exactly one of them")

    @property
    def ok(self) -> bool:
        """Whether the container ran to the end (whatever its exit code)."""
        return self.error is None

    def unwrap(self) -> RunResult:
        """The result, or raise the error that ended the run.

        Raises:
            Exception: The error stored in :attr:`error`.
        """
        if self.error is not None:
            raise self.error
        return cast(RunResult, self.result)  # set, since error is not


class _Cancelled(Exception):
    """The batch was interrupted before this config's container started."""


class _Batch:
    """The running containers of one batch, so an interrupt can kill them."""

    def __init__(self, client: docker.DockerClient, options: RunOptions, pull: str) -> None:
        self.client = client
        self.options = options
        self.pull = pull
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._cancelled = False

    def run_one(self, cfg: RunConfig) -> RunOutcome:
        """Run one config as :func:`~secure_run.run` does; never raises an ``Exception``."""
        try:
            if self._cancelled:
                raise _Cancelled
            prepare(cfg, self.client, self.pull)
            ids: list[str] = []
            try:
                result = run_prepared(
                    self.client, cfg, self.options, on_created=lambda cid: self._track(cid, ids)
                )
            finally:
                with self._lock:
                    self._running.difference_update(ids)
        except Exception as exc:
            return RunOutcome(config=cfg, error=exc)
        return RunOutcome(config=cfg, result=result)

    def _track(self, container_id: str, ids: list[str]) -> None:
        with self._lock:
            if self._cancelled:
                raise _Cancelled
            self._running.add(container_id)
            ids.append(container_id)

    def cancel(self) -> None:
        """Start no more containers, and kill the ones running."""
        with self._lock:
            self._cancelled = True
        self.kill_running()

    def kill_running(self) -> None:
        """Kill every container of the batch still running (again, if need be)."""
        with self._lock:
            running = list(self._running)
        for container_id in running:
            # 409: not running (yet, or any more); 404: already removed.
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                self.client.api.kill(container_id)


def _check(items: list[Any], workers: object, timeout: object, max_output: object,
           pull: object) -> None:  # fmt: skip
    """Refuse bad arguments, every problem at once, before the engine is contacted."""
    problems: list[Problem] = []
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        problems.append(Problem("workers", show(workers), "not a positive number of threads",
                                "give e.g. 4 (1 runs the configs one after another)"))  # fmt: skip
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        problems.append(Problem("timeout", show(timeout), "not a positive number of seconds",
                                "give e.g. 10, or None to wait for ever"))  # fmt: skip
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        problems.append(Problem("max_output", show(max_output), "not a byte count",
                                "give e.g. 1_000_000"))  # fmt: skip
    if pull not in PULL_POLICIES:
        problems.append(Problem("pull", show(pull), "unknown pull policy",
                                f"use one of {PULL_POLICIES}"))  # fmt: skip
    for index, item in enumerate(items):
        if not isinstance(item, RunConfig):
            problems.append(Problem(f"configs[{index}]", type(item).__name__, "not a RunConfig",
                                    "build each first: sr.builder(image)...build()"))  # fmt: skip
    if problems:
        raise ConfigError(problems)


def run_many(
    configs: Iterable[RunConfig],
    *,
    workers: int = 4,
    timeout: float | None = None,
    max_output: int = 1_000_000,
    client: docker.DockerClient | None = None,
    strict: bool = True,
    pull: PullPolicy = "never",
    verify: bool = False,
) -> list[RunOutcome]:
    """Run many configs to completion, at most ``workers`` at a time; each is removed.

    Each config runs as ``sr.run(config, timeout=..., ...)`` would, in a pool of
    ``workers`` threads sharing one client. The outcomes come back in the order of
    ``configs``, once all have finished; an error in one config (a missing image, an
    engine refusal, a hardening difference) is kept in its outcome and does not stop
    the others::

        outcomes = sr.run_many(configs, workers=8, timeout=30)
        for outcome in outcomes:
            if outcome.ok:
                print(outcome.result.exit_code)
            else:
                print("failed:", outcome.error)
        results = [o.unwrap() for o in outcomes]  # or: raise the first error

    Args:
        configs: The configs to run; the same config may appear more than once.
        workers: How many containers may run at the same time (at least 1).
        timeout: Seconds each container may run before it is killed, as for
            :func:`~secure_run.run`.
        max_output: Bytes of each stream kept for each container.
        client: The Docker client all workers share; when omitted, one client is
            made for the batch, with a connection pool of at least ``workers``. A
            client given here should have ``max_pool_size`` of at least ``workers``
            (docker-py's default is 10), or urllib3 opens and drops extra connections.
        strict: As for :func:`~secure_run.run`.
        pull: As for :func:`~secure_run.run`.
        verify: As for :func:`~secure_run.run`.

    Returns:
        One outcome per config, in the order given.

    Raises:
        ConfigError: An argument is wrong or an item is not a ``RunConfig``; raised
            before the engine is contacted, with every problem listed.
        DaemonUnavailable: No client was given and no engine answers.
        KeyboardInterrupt: Raised again after the batch was cancelled: configs not
            started were dropped, running containers killed, all removed.

    .. versionadded:: 0.1
    """
    items = list(configs)
    _check(items, workers, timeout, max_output, pull)
    if not items:
        return []
    # One pooled connection per worker: each holds one while it waits for its container.
    pool_size = max(workers, docker.constants.DEFAULT_MAX_POOL_SIZE)
    batch = _Batch(
        connect(client, max_pool_size=pool_size),
        RunOptions(timeout, None, max_output, strict, verify, None),
        pull,
    )
    return _run_batch(batch, items, workers, owns_client=client is None)


def _run_batch(
    batch: _Batch, items: list[RunConfig], workers: int, *, owns_client: bool
) -> list[RunOutcome]:
    """Run the batch in a pool; a client made for it is closed once no worker uses it."""
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(items)), thread_name_prefix="secure-run-many"
    )
    futures: list[concurrent.futures.Future[RunOutcome]] = []
    try:
        with SIGTERM_AS_EXIT.active():
            futures += [pool.submit(batch.run_one, cfg) for cfg in items]
            try:
                _wait(futures)
            except BaseException:
                _cancel(batch, futures)
                raise
    finally:
        pool.shutdown(wait=False)
        if owns_client and all(future.done() for future in futures):
            batch.client.close()  # made for the batch, and no worker uses it any more
    return [future.result() for future in futures]


def _wait(futures: list[concurrent.futures.Future[RunOutcome]]) -> None:
    pending: set[concurrent.futures.Future[RunOutcome]] = set(futures)
    while pending:
        # A bounded wait, so a Ctrl-C is seen promptly on every Python version.
        _, pending = concurrent.futures.wait(pending, timeout=1.0)


def _cancel(batch: _Batch, futures: list[concurrent.futures.Future[RunOutcome]]) -> None:
    """Drop what has not started, kill what runs, and wait until every worker is done."""
    for future in futures:
        future.cancel()
    batch.cancel()
    pending = {future for future in futures if not future.done()}
    while pending:
        _, pending = concurrent.futures.wait(pending, timeout=_DRAIN_POLL_S)
        if pending:
            batch.kill_running()  # one killed before its start has started since

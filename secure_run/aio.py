"""secure_run for asyncio: ``run``, ``launch`` and ``run_many`` that never block the loop.

The same names, arguments and results as the sync API, awaited::

    import secure_run.aio as sra

    res = await sra.run(cfg, timeout=10)                 # a secure_run.RunResult
    async with sra.launch(cfg) as box:                   # an AsyncSecureContainer
        r = await box.exec(["id", "-u"])
    outcomes = await sra.run_many(cfgs, workers=8)       # secure_run.RunOutcome, in order

Each call runs the sync engine in a thread: a thread of its own for :func:`run`,
:func:`launch` and each container method, so N calls awaited together run N at a
time; a pool of ``workers`` threads for :func:`run_many`. The event loop's default
executor (capped at ``min(32, cpus + 4)`` threads, and shared) is never used.

**Cancellation.** Cancelling a task that awaits :func:`run` or :func:`launch`, or
that is inside ``async with launch(...)``, kills and removes the container (and any
volume secure_run made for it) *before* ``CancelledError`` leaves the awaited call;
``asyncio.wait_for`` and ``asyncio.timeout`` therefore leave nothing behind either.
A cancellation that arrives during that clean-up waits for it. While a call is in
flight, SIGTERM unwinds the loop's thread as it does for the sync API (see
:func:`secure_run.launch`), so ``asyncio.run`` cancels, and cleans up, every task.

.. versionadded:: 0.2
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Generator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Callable

import docker
import docker.constants

from ._aio.calls import relay_to_loop, settle, start, watched
from ._aio.container import AsyncSecureContainer
from ._aio.stream import AsyncExecStream
from ._config.run_config import RunConfig
from ._engine.client import connect
from ._engine.container import SecureContainer
from ._engine.create import PullPolicy, check_pull
from ._engine.launch import launch as _sync_launch
from ._engine.many import RunOutcome, _check
from ._engine.run import OutputCallback, RunOptions, RunResult
from ._engine.run import run as _sync_run
from ._errors import LaunchError
from ._files.tar_out import DEFAULT_MAX_TOTAL

__all__ = ["AsyncExecStream", "AsyncSecureContainer", "launch", "run", "run_many"]


async def run(
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

    :func:`secure_run.run`, awaited: the same arguments, checks, result and errors
    (``files`` are put into the workspace and ``collect`` read from it, in the thread).
    ``on_output`` is called in the event loop's thread (so it may touch asyncio
    objects), with each chunk in order, all of them before the await returns.

    Raises:
        ConfigError: An argument is wrong; raised before the engine is contacted.
        DaemonUnavailable: As for :func:`secure_run.run`.
        ImageNotFound: As for :func:`secure_run.run`.
        UnsupportedFeature: As for :func:`secure_run.run`.
        LaunchError: As for :func:`secure_run.run`.
        HardeningNotApplied: As for :func:`secure_run.run`.
        UnsafeArchive: As for :func:`secure_run.run`.
        OutputTooLarge: As for :func:`secure_run.run`.
        asyncio.CancelledError: The task was cancelled; the container is gone by then.

    .. versionadded:: 0.2
    """
    RunOptions.checked(timeout, stdin, max_output, strict, verify, on_output)
    check_pull(pull)
    relay = relay_to_loop(on_output)
    return await watched(
        lambda: _sync_run(
            cfg, timeout=timeout, stdin=stdin, max_output=max_output, client=client,
            strict=strict, pull=pull, verify=verify, on_output=relay, files=files,
            collect=collect, max_collect=max_collect,
        )
    )  # fmt: skip


class _Launching:
    """What :func:`launch` returns: await it, or enter it with ``async with``."""

    def __init__(self, start: Callable[[], SecureContainer]) -> None:
        self._start = start
        self._begun = False
        self._box: AsyncSecureContainer | None = None

    def __await__(self) -> Generator[Any, None, AsyncSecureContainer]:
        return self._launch().__await__()

    async def _launch(self) -> AsyncSecureContainer:
        if self._begun:
            raise LaunchError("this launch was already awaited; call sra.launch(cfg) again")
        self._begun = True
        container = await watched(self._start, undo=lambda c: c.close())
        return AsyncSecureContainer(container)

    async def __aenter__(self) -> AsyncSecureContainer:
        self._box = await self._launch()
        return self._box

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._box is not None:
            await self._box.aclose()


def launch(
    cfg: RunConfig,
    *,
    client: docker.DockerClient | None = None,
    verify: bool = True,
    strict: bool = True,
    pull: PullPolicy = "never",
) -> _Launching:
    """Create, start and verify a container; use it in an ``async with`` block.

    :func:`secure_run.launch`, awaited: the same arguments, checks and errors. Use
    ``async with sra.launch(cfg) as box:`` (the container is removed when the block
    ends, on every path, cancellation included), or ``box = await sra.launch(cfg)``
    and then ``await box.aclose()``.

    Returns:
        An awaitable, and async context manager, giving an :class:`AsyncSecureContainer`.

    Raises:
        ConfigError: An argument is wrong; raised before the engine is contacted.
        DaemonUnavailable: As for :func:`secure_run.launch`.
        ImageNotFound: As for :func:`secure_run.launch`.
        UnsupportedFeature: As for :func:`secure_run.launch`.
        LaunchError: As for :func:`secure_run.launch`.
        HardeningNotApplied: As for :func:`secure_run.launch`.
        asyncio.CancelledError: The task was cancelled; the container is gone by then.

    .. versionadded:: 0.2
    """
    check_pull(pull)
    return _Launching(
        lambda: _sync_launch(cfg, client=client, verify=verify, strict=strict, pull=pull)
    )


async def run_many(
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

    :func:`secure_run.run_many`, awaited: the same arguments and checks, one shared
    client, a :class:`~secure_run.RunOutcome` per config in the order given, and an
    error in one config kept in its outcome. Cancelling the task drops the configs
    not started, and kills and removes every container of the batch before
    ``CancelledError`` is raised.

    Raises:
        ConfigError: An argument is wrong or an item is not a ``RunConfig``; raised
            before the engine is contacted, with every problem listed.
        DaemonUnavailable: No client was given and no engine answers.
        asyncio.CancelledError: The task was cancelled; every container is gone by then.

    .. versionadded:: 0.2
    """
    items = list(configs)
    _check(items, workers, timeout, max_output, pull)
    if not items:
        return []
    pool_size = max(workers, docker.constants.DEFAULT_MAX_POOL_SIZE)
    engine = await _connected(client, pool_size)
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(items)), thread_name_prefix="secure-run-aio"
    )

    async def one(cfg: RunConfig) -> RunOutcome:
        def call() -> RunResult:
            return _sync_run(cfg, timeout=timeout, max_output=max_output, client=engine,
                             strict=strict, pull=pull, verify=verify)  # fmt: skip

        try:
            return RunOutcome(config=cfg, result=await watched(call, executor=pool))
        except Exception as exc:
            return RunOutcome(config=cfg, error=exc)

    try:
        return await _all(items, one)
    finally:
        pool.shutdown(wait=False)
        if client is None:
            engine.close()  # made for the batch; every worker is done with it


async def _connected(client: docker.DockerClient | None, pool_size: int) -> docker.DockerClient:
    """``client``, or a new one made in a thread; one made for a cancelled task is closed."""
    made = asyncio.wrap_future(start(lambda: connect(client, max_pool_size=pool_size)))
    if await settle(made):
        if client is None and made.exception() is None:
            made.result().close()
        raise asyncio.CancelledError
    return made.result()


async def _all(items: list[RunConfig], one: Callable[[RunConfig], Any]) -> list[RunOutcome]:
    """``one(item)`` for each item, concurrently; on cancellation, each is cleaned up first."""
    tasks = [asyncio.ensure_future(one(cfg)) for cfg in items]
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        for task in tasks:
            await settle(task)
        raise
    return [task.result() for task in tasks]

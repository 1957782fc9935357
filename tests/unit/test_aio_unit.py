"""secure_run.aio without an engine: argument checks, mirrored signatures, the cancel machinery."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any

import pytest

import secure_run as sr
import secure_run.aio as sra
from secure_run._aio import calls
from secure_run._engine.live import LIVE


class _NoEngine:
    """A stand-in client that fails the test if anything touches it."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the engine was contacted ({name})")


class _RecordingClient:
    """A stand-in client whose ``api.remove_container`` records the ids it is given."""

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.api = self

    def remove_container(self, container_id: str, **_: Any) -> None:
        self.removed.append(container_id)


@pytest.fixture
def cfg() -> sr.RunConfig:
    return sr.builder("busybox").command(["true"]).build()


def _result(container_id: str = "abc") -> sr.RunResult:
    return sr.RunResult(
        exit_code=0, stdout=b"", stderr=b"", timed_out=False, oom_killed=False,
        duration_s=0.1, truncated=sr.Streams(), container_id=container_id,
    )  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"timeout": -1}, {"max_output": -1}, {"stdin": "text"}, {"pull": "often"},
     {"on_output": "print"}],
    ids=["timeout-0", "timeout-negative", "max_output", "stdin-str", "pull", "on_output"],
)
def test_run_refuses_bad_arguments_before_the_engine(cfg, kwargs) -> None:
    """sra.run raises ConfigError for a bad argument without touching the client."""
    with pytest.raises(sr.ConfigError):
        asyncio.run(sra.run(cfg, client=_NoEngine(), **kwargs))  # type: ignore[arg-type]


def test_launch_refuses_a_bad_pull_policy_at_the_call(cfg) -> None:
    """sra.launch raises ConfigError for an unknown pull policy before anything is awaited."""
    with pytest.raises(sr.ConfigError):
        sra.launch(cfg, client=_NoEngine(), pull="often")  # type: ignore[arg-type]


def test_run_many_lists_every_bad_argument_before_the_engine(cfg) -> None:
    """sra.run_many raises one ConfigError naming each bad argument and item, engine untouched."""
    with pytest.raises(sr.ConfigError) as caught:
        asyncio.run(sra.run_many([cfg, "x"], workers=0, timeout=-1, client=_NoEngine()))  # type: ignore[list-item]
    fields = {problem.field for problem in caught.value.problems}
    assert fields == {"workers", "timeout", "configs[1]"}


def test_run_many_of_nothing_is_an_empty_list(cfg) -> None:
    """sra.run_many of no configs returns [] without contacting the engine."""
    assert asyncio.run(sra.run_many([], client=_NoEngine())) == []  # type: ignore[arg-type]


def _parameters(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize(
    ("async_fn", "sync_fn"),
    [(sra.run, sr.run), (sra.launch, sr.launch), (sra.run_many, sr.run_many)],
    ids=["run", "launch", "run_many"],
)
def test_entry_points_take_the_sync_arguments(async_fn, sync_fn) -> None:
    """Each sra function has the very parameters (names, kinds, defaults) of its sync twin."""
    assert _parameters(async_fn) == _parameters(sync_fn)


def _public_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items()
            if not name.startswith("_") and callable(value)}  # fmt: skip


def test_the_async_container_has_a_twin_of_every_method() -> None:
    """AsyncSecureContainer has each public SecureContainer method, as a coroutine function."""
    missing = _public_methods(sr.SecureContainer) - _public_methods(sra.AsyncSecureContainer)
    assert missing == set()
    for name in _public_methods(sr.SecureContainer) - {"exec_stream"}:
        assert inspect.iscoroutinefunction(getattr(sra.AsyncSecureContainer, name)), name


@pytest.mark.parametrize("name", sorted(_public_methods(sr.SecureContainer)))
def test_each_twin_takes_the_sync_arguments(name) -> None:
    """Each AsyncSecureContainer method has the parameters of its SecureContainer twin."""
    twin = getattr(sra.AsyncSecureContainer, name)
    assert _parameters(twin) == _parameters(getattr(sr.SecureContainer, name))


def test_a_cancel_removes_what_the_thread_created_before_it_propagates() -> None:
    """Cancelling a watched call removes its container and waits for its thread, then raises."""
    client = _RecordingClient()
    created, release, finished = threading.Event(), threading.Event(), threading.Event()

    def work() -> str:
        LIVE.add("c0ffee", client)  # type: ignore[arg-type]
        created.set()
        release.wait(10)
        finished.set()
        return "done"

    async def main() -> tuple[list[str], bool]:
        task = asyncio.ensure_future(calls.watched(work))
        while not created.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        asyncio.get_running_loop().call_later(0.2, release.set)
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(client.removed), finished.is_set()

    removed, thread_done = asyncio.run(main())
    assert removed == ["c0ffee"]
    assert thread_done
    assert "c0ffee" not in LIVE


def test_a_call_cancelled_before_its_thread_begins_never_runs() -> None:
    """A watched call queued behind a busy executor and cancelled there is never run."""
    ran: list[str] = []
    gate = threading.Event()

    async def main() -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(gate.wait, 10)
            task = asyncio.ensure_future(calls.watched(lambda: ran.append("x"), executor=pool))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            gate.set()

    asyncio.run(main())
    assert ran == []


def test_a_result_that_arrives_with_the_cancel_is_undone() -> None:
    """When the call ends as its task is cancelled, ``undo`` gets the result before the raise."""
    undone: list[str] = []
    started, release = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait(10)
        return "box"

    async def main() -> None:
        task = asyncio.ensure_future(calls.watched(work, undo=undone.append))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert undone == ["box"]


def test_a_second_cancel_during_the_clean_up_waits_for_it() -> None:
    """A cancel that arrives while a cancelled call cleans up does not cut the clean-up short."""
    release, finished = threading.Event(), threading.Event()

    def work() -> None:
        release.wait(10)
        finished.set()

    async def main() -> bool:
        task = asyncio.ensure_future(calls.watched(work))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()
        asyncio.get_running_loop().call_later(0.2, release.set)
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main())


def test_on_output_is_called_in_the_loop_thread(cfg, monkeypatch) -> None:
    """sra.run calls on_output in the event loop's thread, every chunk before the await returns."""
    seen: list[tuple[str, bytes, bool]] = []

    def fake_run(cfg: sr.RunConfig, **kwargs: Any) -> sr.RunResult:
        for n in range(3):
            kwargs["on_output"]("stdout", b"%d" % n)
        return _result()

    monkeypatch.setattr(sra, "_sync_run", fake_run)

    def record(stream: str, chunk: bytes) -> None:
        seen.append((stream, chunk, threading.current_thread() is threading.main_thread()))

    asyncio.run(sra.run(cfg, on_output=record))
    assert seen == [("stdout", b"0", True), ("stdout", b"1", True), ("stdout", b"2", True)]


def test_run_many_keeps_input_order_and_errors(cfg, monkeypatch) -> None:
    """sra.run_many returns one outcome per config in input order, an error kept in its outcome."""
    configs = [sr.builder("busybox").command(["echo", str(n)]).build() for n in range(3)]

    def fake_run(config: sr.RunConfig, **kwargs: Any) -> sr.RunResult:
        if config is configs[1]:
            raise sr.LaunchError("refused")
        return _result(container_id=str(configs.index(config)))

    monkeypatch.setattr(sra, "_sync_run", fake_run)
    outcomes = asyncio.run(sra.run_many(configs, workers=2, client=_NoEngine()))  # type: ignore[arg-type]
    assert [o.config for o in outcomes] == configs
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, sr.LaunchError)


class _FakeStream:
    """A sync exec stream of fixed chunks that records its close()."""

    def __init__(self, chunks: list[tuple[str, bytes]]) -> None:
        self.chunks = chunks
        self.closed = 0
        self.result: Any = None

    def __iter__(self) -> Any:
        yield from self.chunks
        self.result = "done"

    def close(self) -> None:
        self.closed += 1


def test_async_stream_hands_on_the_sync_chunks_in_order() -> None:
    """AsyncExecStream yields the sync stream's chunks in order, then its result."""
    from secure_run._aio.stream import AsyncExecStream

    chunks = [("stdout", b"%d" % n) for n in range(50)] + [("stderr", b"e")]
    fake = _FakeStream(chunks)

    async def main() -> list[tuple[str, bytes]]:
        async with AsyncExecStream(lambda: fake) as stream:  # type: ignore[arg-type,return-value]
            got = [item async for item in stream]
        assert stream.result == "done"
        return got

    assert asyncio.run(main()) == chunks
    assert fake.closed == 1


def test_async_stream_raises_the_opening_error_at_the_first_step() -> None:
    """An error starting the sync stream (e.g. a bad argument) is raised by the first step."""
    from secure_run._aio.stream import AsyncExecStream

    def refuse() -> Any:
        raise sr.ConfigError.single("exec", "x", "bad", "fix it")

    async def main() -> None:
        stream = AsyncExecStream(refuse)
        with pytest.raises(sr.ConfigError):
            await stream.__anext__()

    asyncio.run(main())

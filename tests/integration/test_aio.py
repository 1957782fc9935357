"""secure_run.aio on the real engine: results, real concurrency, cancellation leaving nothing."""

from __future__ import annotations

import asyncio
import threading
import uuid

import docker
import pytest

import secure_run as sr
import secure_run.aio as sra
from secure_run.testing import TEST_LABELS

AIO_KEY = "secure-run.test.aio"

#: Prints the host kernel's uptime (shared by every container) before and after a sleep.
_INTERVAL = ["sh", "-c", "cut -d' ' -f1 /proc/uptime; sleep 2; cut -d' ' -f1 /proc/uptime"]


@pytest.fixture
def tag() -> str:
    """A label value unique to this test's containers."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def box(test_image: str, tag: str) -> sr.RunBuilder:
    """The restricted preset on the test image, labelled for the leak check and this test."""
    return sr.builder(test_image).labels({**TEST_LABELS, AIO_KEY: tag})


def _left(client: docker.DockerClient, tag: str) -> list[str]:
    """The containers and volumes of this test that exist now (containers running or not)."""
    label = {"label": f"{AIO_KEY}={tag}"}
    found = [c["Id"] for c in client.api.containers(all=True, filters=label)]
    volumes = client.api.volumes(filters=label).get("Volumes") or ()
    return found + [f"volume:{v['Name']}" for v in volumes]


def _interval(result: sr.RunResult) -> tuple[float, float]:
    start, end = result.stdout.split()
    return float(start), float(end)


def test_run_gives_what_the_sync_run_gives(box, docker_client) -> None:
    """sra.run returns a RunResult with the same exit code, output and flags as sr.run."""
    cfg = box.command(["sh", "-c", "echo out; echo err >&2; exit 3"]).build()
    want = sr.run(cfg, timeout=30, client=docker_client)
    got = asyncio.run(sra.run(cfg, timeout=30, client=docker_client))
    assert isinstance(got, sr.RunResult)
    fields = ("exit_code", "stdout", "stderr", "timed_out", "oom_killed", "truncated")
    assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
    assert got.container_id != want.container_id


def test_concurrent_runs_overlap(box, docker_client, tag, engine) -> None:
    """Four sra.run calls awaited together run at once: every container's interval overlaps.

    On Podman the four share the session's client: a client of its own reads the engine's
    version and info first, which Podman answers in 1 to 3 s each on this loaded machine,
    so four such reads alone spread the starts over more than the 2 s each container runs;
    and each sleeps 5 s there, as its creates take up to a second."""
    cfg = box.command(_INTERVAL).build()
    client = None
    if engine.podman:
        cfg = box.command([a.replace("sleep 2", "sleep 5") for a in _INTERVAL]).build()
        client = docker_client

    async def main() -> list[sr.RunResult]:
        return await asyncio.gather(*(sra.run(cfg, timeout=60, client=client) for _ in range(4)))

    intervals = [_interval(r) for r in asyncio.run(main())]
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
    assert _left(docker_client, tag) == []


def test_run_many_with_four_workers_overlaps(box, docker_client, tag) -> None:
    """sra.run_many(workers=4) of four 2 s sleeps runs all four at once (intervals overlap)."""
    configs = [box.command(_INTERVAL).build() for _ in range(4)]
    outcomes = asyncio.run(sra.run_many(configs, workers=4, timeout=60))
    intervals = [_interval(o.unwrap()) for o in outcomes]
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
    assert _left(docker_client, tag) == []


def test_run_many_keeps_order_and_captures_errors(box, docker_client, tag) -> None:
    """sra.run_many gives outcomes in input order; a missing image is an error in its outcome."""
    configs = [box.command(["sh", "-c", f"sleep 0.{3 - i}; echo {i}"]).build() for i in range(3)]
    missing = sr.builder("secure-run-test/absent:never").labels({**TEST_LABELS, AIO_KEY: tag})
    configs.insert(1, missing.build())
    outcomes = asyncio.run(sra.run_many(configs, workers=4, client=docker_client))
    assert [o.config for o in outcomes] == configs
    assert isinstance(outcomes[1].error, sr.ImageNotFound)
    assert [o.unwrap().stdout for o in outcomes if o.ok] == [b"0\n", b"1\n", b"2\n"]
    assert _left(docker_client, tag) == []


def test_the_loop_runs_while_a_run_waits(box) -> None:
    """Another coroutine keeps ticking while sra.run waits for a 1 s container."""
    cfg = box.command(["sleep", "1"]).build()

    async def main() -> int:
        run = asyncio.ensure_future(sra.run(cfg, timeout=60))
        ticks = 0
        while not run.done():
            await asyncio.sleep(0.02)
            ticks += 1
        await run
        return ticks

    assert asyncio.run(main()) >= 5


async def _until_created(client: docker.DockerClient, tag: str, task: asyncio.Future) -> None:
    """Wait until this test's container exists (the task still awaiting), polling the engine."""
    while not _left(client, tag):
        assert not task.done(), task
        await asyncio.sleep(0.01)


async def _until_set(event: asyncio.Event, task: asyncio.Future) -> None:
    """Wait until ``event`` is set; if ``task`` ends first, raise its error (an engine's
    refusal then skips the test) or say it ended, instead of waiting for ever."""
    waiting = asyncio.ensure_future(event.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not event.is_set():
        waiting.cancel()
        task.result()
        raise AssertionError(f"{task} ended before it set the event")


def test_cancelling_a_run_removes_its_container_first(box, docker_client, tag) -> None:
    """When a task awaiting sra.run(sleep 600) is cancelled, its container is gone at the raise."""
    cfg = box.command(["sleep", "600"]).build()

    async def main() -> list[str]:
        task = asyncio.ensure_future(sra.run(cfg, client=docker_client))
        await _until_created(docker_client, tag, task)
        await asyncio.sleep(0.3)  # running, waited on
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return _left(docker_client, tag)
        raise AssertionError("the run was not cancelled")

    assert asyncio.run(main()) == []


def test_a_timeout_around_run_removes_its_container_first(box, docker_client, tag) -> None:
    """asyncio.wait_for around sra.run(sleep 600) raises TimeoutError with the container gone."""
    cfg = box.command(["sleep", "600"]).build()

    async def main() -> list[str]:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sra.run(cfg, client=docker_client), 1.0)
        return _left(docker_client, tag)

    assert asyncio.run(main()) == []


@pytest.mark.parametrize("workspace", [False, True], ids=["plain", "workspace"])
def test_cancelling_inside_launch_block_removes_the_container(
    box, docker_client, tag, workspace
) -> None:
    """A task cancelled in an ``async with sra.launch()`` body leaves no container at the raise;
    with a workspace, no keeper and no volume either."""
    cfg = (box.workspace("/workspace", size="16m") if workspace else box).command(["sleep", "600"])
    cfg = cfg.build()

    async def main() -> list[str]:
        inside = asyncio.Event()

        async def session() -> None:
            async with sra.launch(cfg, client=docker_client) as session_box:
                assert isinstance(session_box, sra.AsyncSecureContainer)
                assert (await session_box.exec(["true"])).exit_code == 0
                inside.set()
                await asyncio.sleep(600)

        task = asyncio.ensure_future(session())
        await _until_set(inside, task)
        assert len(_left(docker_client, tag)) == (3 if workspace else 1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return _left(docker_client, tag)
        raise AssertionError("the session was not cancelled")

    assert asyncio.run(main()) == []


def test_cancelling_the_launch_call_removes_the_container(box, docker_client, tag) -> None:
    """A task cancelled while sra.launch is still starting and verifying leaves no container."""
    cfg = box.command(["sleep", "600"]).build()

    async def main() -> list[str]:
        async def session() -> None:
            async with sra.launch(cfg, client=docker_client, verify=True):
                raise AssertionError("the launch finished before it was cancelled")

        task = asyncio.ensure_future(session())
        await _until_created(docker_client, tag, task)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return _left(docker_client, tag)
        raise AssertionError("the launch was not cancelled")

    assert asyncio.run(main()) == []


def test_launched_box_methods_answer_and_close_removes(box, docker_client, tag) -> None:
    """An awaited launch gives a working AsyncSecureContainer; aclose removes the container."""
    cfg = box.command(["sh", "-c", "echo ready; sleep 600"]).build()

    async def main() -> tuple[int, bool, bool]:
        started = await sra.launch(cfg, client=docker_client)
        assert started.sync.id == started.id
        assert started.report is not None
        uid = (await started.exec(["id", "-u"])).stdout.strip()
        running = (await started.inspect())["State"]["Running"]
        await started.aclose()
        return int(uid), running, started.closed

    uid, running, closed = asyncio.run(main())
    assert uid != 0
    assert running
    assert closed
    assert _left(docker_client, tag) == []


def test_files_go_in_and_come_out_of_an_async_run(box, docker_client, tag) -> None:
    """sra.run puts ``files`` into the workspace and returns the ``collect`` ones it wrote."""
    cfg = box.workspace("/workspace", size="16m").command(["sh", "-c", "rev in.txt > out.txt"])

    async def main() -> sr.RunResult:
        return await sra.run(cfg.build(), files={"in.txt": b"abc"}, collect=["out.txt"])

    assert asyncio.run(main()).files["out.txt"] == b"cba"
    assert _left(docker_client, tag) == []


def test_cancelling_a_run_with_a_workspace_removes_its_volume(box, docker_client, tag) -> None:
    """A cancelled sra.run with files leaves neither container nor workspace volume at the raise."""
    cfg = box.workspace("/workspace", size="16m").command(["sleep", "600"]).build()

    async def main() -> list[str]:
        task = asyncio.ensure_future(sra.run(cfg, files={"a.txt": b"x"}, client=docker_client))
        while len(_left(docker_client, tag)) < 3:  # the volume, its keeper, the sandbox
            assert not task.done(), task
            await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return _left(docker_client, tag)
        raise AssertionError("the run was not cancelled")

    assert asyncio.run(main()) == []


def test_files_cross_an_async_session(box, docker_client, tag) -> None:
    """put, exec and get of AsyncSecureContainer move a file in, through a command, and out."""
    cfg = box.workspace("/workspace", size="16m").command(["sleep", "600"]).build()

    async def main() -> bytes:
        async with sra.launch(cfg, client=docker_client) as session_box:
            await session_box.put("in.txt", b"abc")
            assert (await session_box.exec(["sh", "-c", "rev in.txt > out.txt"])).exit_code == 0
            return await session_box.get("out.txt")

    assert asyncio.run(main()) == b"cba"
    assert _left(docker_client, tag) == []


def test_exec_stream_hands_on_chunks_then_the_result(box, docker_client, tag) -> None:
    """``async for`` over exec_stream yields the output in order; ``result`` has the exit code."""
    cfg = box.command(["sleep", "600"]).build()
    script = "for i in 1 2 3; do echo $i; sleep 0.1; done; echo oops >&2; exit 4"

    async def main() -> tuple[list[tuple[str, bytes]], int | None]:
        async with sra.launch(cfg, client=docker_client) as session_box:
            async with session_box.exec_stream(["sh", "-c", script], timeout=30) as stream:
                chunks = [item async for item in stream]
            return chunks, None if stream.result is None else stream.result.exit_code

    chunks, code = asyncio.run(main())
    assert b"".join(c for s, c in chunks if s == "stdout") == b"1\n2\n3\n"
    assert b"".join(c for s, c in chunks if s == "stderr") == b"oops\n"
    assert code == 4
    assert _left(docker_client, tag) == []


def test_aclose_of_a_stream_kills_its_command(box, docker_client, tag, engine) -> None:
    """aclose() of a running exec_stream leaves no process of it in the container (ps).

    Under gVisor the host cannot kill an exec's processes one by one (the host's pids
    are the sandbox's), so aclose() ends the session: the container is killed and gone.
    """
    cfg = box.command(["sleep", "900"]).build()
    gvisor = engine.is_gvisor(cfg.runtime)

    async def main() -> bytes:
        async with sra.launch(cfg, client=docker_client) as session_box:
            stream = session_box.exec_stream(["sh", "-c", "echo started; exec sleep 601"])
            assert await stream.__anext__() == ("stdout", b"started\n")
            await stream.aclose()
            assert stream.result is not None
            if gvisor:
                with pytest.raises(sr.LaunchError, match="could not be killed one by one"):
                    await session_box.exec(["true"])
                return b""
            return (await session_box.exec(["ps", "-o", "args"])).stdout

    processes = asyncio.run(main())
    if gvisor:
        assert _left(docker_client, tag) == []
        return
    assert b"sleep 900" in processes  # ps saw the container's processes
    assert b"sleep 601" not in processes


def test_on_output_of_an_async_run_comes_in_the_loop_thread(box, docker_client, tag) -> None:
    """sra.run(on_output=) calls back in the loop's thread, each chunk in order, before it returns.

    The first chunk arrives while the container still runs: the loop sees it before the end.
    """
    cfg = box.command(["sh", "-c", "echo a; sleep 2; echo b"]).build()

    async def main() -> tuple[list[tuple[str, bytes]], set[int], bool]:
        seen: list[tuple[str, bytes]] = []
        threads: set[int] = set()
        first = asyncio.Event()

        def on_output(stream: str, chunk: bytes) -> None:
            seen.append((stream, chunk))
            threads.add(threading.get_ident())
            first.set()  # an asyncio object: only safe in the loop's thread

        run = asyncio.ensure_future(sra.run(cfg, timeout=30, on_output=on_output))
        await _until_set(first, run)
        early = not run.done()
        await run
        return seen, threads, early

    seen, threads, early = asyncio.run(main())
    assert seen == [("stdout", b"a\n"), ("stdout", b"b\n")]
    assert threads == {threading.get_ident()}  # asyncio.run runs the loop in this thread
    assert early
    assert _left(docker_client, tag) == []


def test_get_tree_of_an_async_session_writes_under_into(box, docker_client, tag, tmp_path) -> None:
    """AsyncSecureContainer.get_tree copies a directory the command wrote; a link is refused."""
    cfg = box.workspace("/workspace", size="16m").command(["sleep", "600"]).build()
    into = tmp_path / "into"
    into.mkdir()

    async def main() -> list[str]:
        async with sra.launch(cfg, client=docker_client) as session_box:
            made = await session_box.exec(["sh", "-c", "mkdir -p r/s && echo 1 > r/s/one"])
            assert made.exit_code == 0
            written = await session_box.get_tree("r/", into=into)
            await session_box.exec(["ln", "-s", "/etc/passwd", "r/s/pw"])
            with pytest.raises(sr.UnsafeArchive, match="r/s/pw"):
                await session_box.get_tree("r/", into=tmp_path)
            return [p.relative_to(into).as_posix() for p in written]

    assert asyncio.run(main()) == ["r/s/one"]
    assert (into / "r/s/one").read_bytes() == b"1\n"
    assert not (tmp_path / "r").exists()
    assert _left(docker_client, tag) == []

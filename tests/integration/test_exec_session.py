"""exec() and exec_stream() on the real engine: output, stdin, caps, deadlines and the kill.

What a timed-out exec leaves is read from inside the container (``ps``, by another
exec) and from the daemon (``exec_inspect`` of every exec the container had).
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator

import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import engine_facts
from secure_run.testing import TEST_LABELS


@pytest.fixture
def box(test_image: str, docker_client: docker.DockerClient) -> Iterator[sr.SecureContainer]:
    """A running session on the test image (restricted preset: read-only root, pids limit)."""
    cfg = sr.builder(test_image).command(["sleep", "600"]).labels(TEST_LABELS).build()
    with sr.launch(cfg) as container:
        yield container


@pytest.fixture
def kills_one_by_one(gvisor_default: bool) -> None:
    """Skip, saying why, where the host cannot kill an exec's processes one by one."""
    if gvisor_default:
        pytest.skip(
            "under gVisor the host's pids are the sandbox's, not the exec's processes, so "
            "they cannot be killed one by one: the fallback ends the session instead "
            "(tests/integration/test_gvisor.py::test_a_timed_out_exec_ends_the_session_under_gvisor)"
        )


def _processes(box: sr.SecureContainer) -> list[str]:
    """What runs in the container (not zombies, not the ps asking), as ``ps`` shows it."""
    listing = box.exec(["ps", "-o", "stat,args"])
    assert listing.exit_code == 0, listing
    rows = [line.split(None, 1) for line in listing.stdout.decode().splitlines()[1:]]
    return [args for stat, args in rows if not stat.startswith("Z") and args != "ps -o stat,args"]


def _running_execs(client: docker.DockerClient, container_id: str) -> list[str]:
    """The execs of the container that the daemon still counts as running."""
    ids = client.api.inspect_container(container_id)["ExecIDs"] or []
    return [i for i in ids if client.api.exec_inspect(i)["Running"]]


#: What the session runs of its own: the init and its command.
OWN = ["/sbin/docker-init -- sleep 600", "sleep 600"]
#: The same under Podman, whose init is catatonit at /run/podman-init.
OWN_PODMAN = ["/run/podman-init -- sleep 600", "sleep 600"]


def _assert_nothing_left(box: sr.SecureContainer, client: docker.DockerClient) -> None:
    assert _running_execs(client, box.id) == []
    assert _processes(box) == (OWN_PODMAN if engine_facts(client).podman else OWN)


def test_exec_returns_stdout_stderr_and_the_exit_code(box: sr.SecureContainer) -> None:
    """Standard output and error come back apart, with the command's exit status."""
    result = box.exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 3)
    assert (result.timed_out, result.truncated) == (False, sr.Streams())


def test_stdin_reaches_the_process_under_a_read_only_root(
    box: sr.SecureContainer, gvisor_default: bool
) -> None:
    """cat reads stdin to its end of file, in a container whose root cannot be written.

    gVisor refuses the write to its read-only root with EACCES, not EROFS.
    """
    result = box.exec(["sh", "-c", "cat; touch /written"], stdin=b"hello\nworld")
    assert result.stdout == b"hello\nworld"
    assert result.exit_code != 0
    refusal = b"Permission denied" if gvisor_default else b"Read-only file system"
    assert refusal in result.stderr


def test_env_and_workdir_apply_to_the_command(box: sr.SecureContainer) -> None:
    """env is added to the container's environment; workdir is where the command starts."""
    result = box.exec(["sh", "-c", 'echo "$GREETING:$PATH"; pwd'], env={"GREETING": "hi"},
                      workdir="/tmp")  # fmt: skip
    greeting, where = result.stdout.decode().splitlines()
    assert greeting.startswith("hi:/")
    assert where == "/tmp"


def test_max_output_truncates_while_the_process_finishes(box: sr.SecureContainer) -> None:
    """Output past max_output is dropped and flagged; the command still runs to its end."""
    script = "head -c 200000 /dev/zero; echo finished >&2; exit 4"
    result = box.exec(["sh", "-c", script], max_output=1000)
    assert (len(result.stdout), result.stderr, result.exit_code) == (1000, b"finished\n", 4)
    assert result.truncated == sr.Streams(stdout=True, stderr=False)


HANGS = {
    "sleep": ["sleep", "1000"],
    "background child": ["sh", "-c", "sleep 1000 & sleep 1000"],
    "double fork and setsid": ["sh", "-c", "(setsid sleep 1000 &) ; sleep 1000"],
}


@pytest.mark.parametrize("argv", HANGS.values(), ids=HANGS.keys())
@pytest.mark.usefixtures("kills_one_by_one")
def test_a_timed_out_exec_leaves_no_process_and_no_exec(
    box: sr.SecureContainer, docker_client: docker.DockerClient, argv: list[str]
) -> None:
    """At the deadline every process the exec started is killed, escapes included."""
    result = box.exec(argv, timeout=1)
    assert (result.timed_out, result.exit_code) == (True, 137)
    _assert_nothing_left(box, docker_client)


@pytest.mark.usefixtures("kills_one_by_one")
def test_the_session_stays_usable_after_a_timeout(box: sr.SecureContainer) -> None:
    """A timed-out exec kills only its own: the next exec runs, in the same container."""
    box.exec(["sh", "-c", "echo kept > /tmp/mark; sleep 1000"], timeout=1)
    after = box.exec(["cat", "/tmp/mark"])
    assert (after.stdout, after.exit_code, box.closed) == (b"kept\n", 0, False)


@pytest.mark.usefixtures("kills_one_by_one")
def test_a_fork_bomb_under_a_timeout_is_killed_entirely(
    box: sr.SecureContainer, docker_client: docker.DockerClient
) -> None:
    """A fork bomb, held by the pids limit, is gone after its deadline, to the last process."""
    # exec: the shell needs no fork of its own to wait, so the pids limit cannot end it early.
    result = box.exec(["sh", "-c", "b() { b | b & }; b; exec sleep 1000"], timeout=2)
    assert result.timed_out
    _assert_nothing_left(box, docker_client)


@pytest.mark.usefixtures("kills_one_by_one")
def test_another_running_exec_survives_a_timeout(
    box: sr.SecureContainer, docker_client: docker.DockerClient
) -> None:
    """Killing one timed-out exec spares a second exec that runs at the same time."""
    with box.exec_stream(["sh", "-c", "echo up; sleep 3; echo still here"], timeout=30) as other:
        chunks = iter(other)
        assert next(chunks) == ("stdout", b"up\n")
        assert box.exec(["sleep", "1000"], timeout=0.5).timed_out
        assert list(chunks) == [("stdout", b"still here\n")]
    assert other.result == sr.ExecResult(0, b"", b"")
    _assert_nothing_left(box, docker_client)


@pytest.mark.usefixtures("kills_one_by_one")
def test_an_interrupted_exec_is_killed_before_the_interrupt_propagates(
    box: sr.SecureContainer, docker_client: docker.DockerClient
) -> None:
    """KeyboardInterrupt while waiting: the command is killed, then the interrupt is raised."""
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            box.exec(["sh", "-c", "sleep 1000 & sleep 1000"])
    finally:
        timer.cancel()
    _assert_nothing_left(box, docker_client)


def test_the_first_chunk_arrives_while_the_command_runs(
    box: sr.SecureContainer, docker_client: docker.DockerClient
) -> None:
    """exec_stream hands on output as it happens: the first chunk comes before the end."""
    with box.exec_stream(["sh", "-c", "echo a; sleep 3; echo b"]) as stream:
        chunks = iter(stream)
        assert next(chunks) == ("stdout", b"a\n")
        assert len(_running_execs(docker_client, box.id)) == 1
        assert list(chunks) == [("stdout", b"b\n")]
    assert stream.result == sr.ExecResult(0, b"", b"")


def test_stream_chunks_come_in_order_with_their_stream(box: sr.SecureContainer) -> None:
    """Chunks of stdout and stderr come in the order written, each named by its stream."""
    script = "echo 1; sleep 0.3; echo 2 >&2; sleep 0.3; echo 3"
    chunks = list(box.exec_stream(["sh", "-c", script]))
    assert chunks == [("stdout", b"1\n"), ("stderr", b"2\n"), ("stdout", b"3\n")]


@pytest.mark.usefixtures("kills_one_by_one")
def test_breaking_out_of_a_stream_kills_the_command(
    box: sr.SecureContainer, docker_client: docker.DockerClient
) -> None:
    """Leaving the for loop early kills the command and everything it started."""
    for stream, chunk in box.exec_stream(["sh", "-c", "echo a; sleep 1000 & sleep 1000"]):
        assert (stream, chunk) == ("stdout", b"a\n")
        break
    _assert_nothing_left(box, docker_client)


@pytest.mark.usefixtures("kills_one_by_one")
def test_a_stream_past_its_deadline_is_killed(
    box: sr.SecureContainer, docker_client: docker.DockerClient
) -> None:
    """A stream's timeout holds even while its reader is busy; the result says it timed out."""
    with box.exec_stream(["sh", "-c", "echo a; sleep 1000"], timeout=1) as stream:
        for _ in stream:
            time.sleep(2)  # the reader is busy past the deadline
    assert stream.result is not None
    assert stream.result.timed_out
    _assert_nothing_left(box, docker_client)


def test_without_a_local_view_a_timeout_ends_the_session(
    box: sr.SecureContainer, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: the container is killed and removed; later calls say why."""
    monkeypatch.setattr("secure_run._engine.exec_host.is_local", lambda client: False)
    result = box.exec(["sh", "-c", "(setsid sleep 1000 &) ; sleep 1000"], timeout=1)
    assert result.timed_out
    assert box.closed
    assert box.id not in {c["Id"] for c in docker_client.api.containers(all=True)}
    with pytest.raises(sr.LaunchError, match="timed out and its processes could not be killed"):
        box.exec(["true"])


def test_run_hands_each_chunk_to_on_output_as_it_comes(test_image: str) -> None:
    """run(on_output=) gets stdout and stderr chunks in order, the first before the run ends."""
    seen: list[tuple[str, bytes, float]] = []
    cfg = (
        sr.builder(test_image)
        .command(["sh", "-c", "echo a; sleep 2; echo b >&2; sleep 0.3; echo c"])
        .labels(TEST_LABELS)
        .build()
    )
    result = sr.run(cfg, timeout=30, on_output=lambda s, c: seen.append((s, c, time.monotonic())))
    ended = time.monotonic()
    assert [(s, c) for s, c, _ in seen] == [("stdout", b"a\n"), ("stderr", b"b\n"),
                                            ("stdout", b"c\n")]  # fmt: skip
    assert ended - seen[0][2] > 1.5  # "a" came while the command still slept
    assert (result.stdout, result.stderr) == (b"a\nc\n", b"b\n")

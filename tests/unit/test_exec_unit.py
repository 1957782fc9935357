"""exec() and exec_stream() without an engine: argument checks, the calls made, the fallback.

A fake client (engine_fakes.FakeApi, taught exec sessions here) records every call;
the choice of what a timed-out exec kills is tested on process tables written out.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest
from engine_fakes import FakeApi, FakeClient, as_client

import secure_run as sr
from secure_run._engine.exec_host import PAUSE_ATTEMPTS, Proc, _pause, descendants, targets

EXEC_ID = "e" * 64


def _frame(stream: int, data: bytes) -> bytes:
    """One frame of docker's multiplexed stream: stream number, length, data."""
    return struct.pack(">BxxxL", stream, len(data)) + data


class ExecApi(FakeApi):
    """The fake API with exec sessions: output frames, then the end (or running until killed)."""

    def __init__(self) -> None:
        super().__init__()
        self.exec_kwargs: dict[str, Any] = {}
        self.frames = _frame(1, b"out") + _frame(2, b"err") + _frame(1, b"put")
        self.exec_runs = False
        self.open_after_kill = False  # as runsc may leave the stream of a killed sandbox
        self._peer: socket.socket | None = None

    def exec_create(self, container_id: str, cmd: list[str], **kwargs: Any) -> dict[str, str]:
        self._call("exec")
        self.exec_kwargs = {"cmd": cmd, **kwargs}
        return {"Id": EXEC_ID}

    def exec_start(self, exec_id: str, socket: bool = False, **kwargs: Any) -> Any:
        self._call("exec_start")
        ours, theirs = _socketpair()
        theirs.sendall(self.frames)
        if self.exec_runs:
            self._peer = theirs  # held open: the command runs until the container is killed
        else:
            theirs.close()
        return ours

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:  # type: ignore[override]
        running = self.exec_runs and not self.killed
        code = None if running else (137 if self.killed else 0)
        return {"Running": running, "ExitCode": code, "Pid": 0}

    def kill(self, container_id: str, signal: str | None = None) -> None:
        super().kill(container_id, signal)
        if self._peer is not None and not self.open_after_kill:
            self._peer.close()


def _socketpair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair()


class ExecClient(FakeClient):
    def __init__(self) -> None:
        super().__init__()
        self.api = ExecApi()


@pytest.fixture(autouse=True)
def no_engine_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's facts and the verification are not what these tests are about."""
    monkeypatch.setattr("secure_run._engine.launch.prepare", lambda *a, **k: None)
    monkeypatch.setattr("secure_run._engine.container.verify", lambda *a, **k: None)


@pytest.fixture
def fake() -> ExecClient:
    return ExecClient()


@pytest.fixture
def box(fake: ExecClient) -> Iterator[sr.SecureContainer]:
    cfg = sr.builder("busybox").command(["sleep", "600"]).build()
    with sr.launch(cfg, client=as_client(fake), verify=False) as container:
        yield container


BAD: dict[str, dict[str, Any]] = {
    "argv as a string": {"argv": "id -u"},
    "empty argv": {"argv": []},
    "argv with a number": {"argv": ["sleep", 1]},
    "argv with NUL": {"argv": ["echo", "a\0b"]},
    "zero timeout": {"timeout": 0},
    "negative timeout": {"timeout": -1},
    "bool timeout": {"timeout": True},
    "text timeout": {"timeout": "5"},
    "nan timeout": {"timeout": float("nan")},
    "infinite timeout": {"timeout": float("inf")},
    "text stdin": {"stdin": "hello"},
    "empty user": {"user": ""},
    "env not a mapping": {"env": ["A=1"]},
    "env name with =": {"env": {"A=B": "1"}},
    "env value not text": {"env": {"A": 1}},
    "relative workdir": {"workdir": "tmp"},
    "workdir not text": {"workdir": 5},
}


@pytest.mark.parametrize("method", ["exec", "exec_stream"])
@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
def test_bad_arguments_are_refused_before_the_engine(
    box: sr.SecureContainer, fake: ExecClient, method: str, bad: dict[str, Any]
) -> None:
    """Each bad argument is a ConfigError naming its field; the engine is not called."""
    kwargs = dict(bad)
    argv = kwargs.pop("argv", ["true"])
    calls = list(fake.api.calls)
    with pytest.raises(sr.ConfigError) as caught:
        getattr(box, method)(argv, **kwargs)
    assert caught.value.problems[0].field == next(iter(bad))
    assert fake.api.calls == calls


@pytest.mark.parametrize("max_output", [-1, True, 1.5])
def test_a_bad_max_output_is_refused(box: sr.SecureContainer, max_output: Any) -> None:
    """max_output must be a byte count, as for run()."""
    with pytest.raises(sr.ConfigError, match="max_output"):
        box.exec(["true"], max_output=max_output)


def test_every_problem_is_reported_at_once(box: sr.SecureContainer) -> None:
    """Several bad arguments give one ConfigError listing each, with its fix."""
    with pytest.raises(sr.ConfigError) as caught:
        box.exec("ls", timeout=-1, workdir="rel", env={"": "x"})
    fields = [p.field for p in caught.value.problems]
    assert sorted(fields) == ["argv", "env", "timeout", "workdir"]
    assert all(p.fix for p in caught.value.problems)


def test_env_values_never_show_in_errors(box: sr.SecureContainer) -> None:
    """A refused environment names its variables, never their values."""
    with pytest.raises(sr.ConfigError) as caught:
        box.exec(["true"], env={"TOKEN": "s3cret\0", "OK": "fine"}, timeout=0)
    assert "TOKEN" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_exec_sends_its_arguments_to_the_engine(box: sr.SecureContainer, fake: ExecClient) -> None:
    """argv, env (added as NAME=value), workdir, user and the stdin flag reach exec_create."""
    box.exec(["sh", "-c", "env"], env={"A": "1"}, workdir="/tmp", user="1000", stdin=b"x")
    sent = fake.api.exec_kwargs
    assert sent["cmd"] == ["sh", "-c", "env"]
    assert (sent["environment"], sent["workdir"], sent["user"], sent["stdin"]) == (
        ["A=1"], "/tmp", "1000", True)  # fmt: skip


def test_exec_runs_as_the_configured_user_by_default(
    box: sr.SecureContainer, fake: ExecClient
) -> None:
    """Without user=, the config's user is asked for; without stdin, none is attached."""
    box.exec(["id"])
    assert (fake.api.exec_kwargs["user"], fake.api.exec_kwargs["stdin"]) == ("65534:65534", False)


def test_output_is_kept_apart_and_capped(box: sr.SecureContainer) -> None:
    """stdout and stderr come back apart; past max_output the rest is dropped and flagged."""
    result = box.exec(["x"], max_output=4)
    assert (result.stdout, result.stderr, result.exit_code) == (b"outp", b"err", 0)
    assert result.truncated == sr.Streams(stdout=True, stderr=False)
    assert not result.timed_out


def test_exec_result_stays_positional_and_compares_without_duration() -> None:
    """ExecResult(code, out, err) still works; two results differing in duration are equal."""
    plain = sr.ExecResult(0, b"o", b"e")
    timed = sr.ExecResult(0, b"o", b"e", False, sr.Streams(), 1.5)
    assert plain == timed
    assert (plain.timed_out, plain.truncated, plain.duration_s) == (False, sr.Streams(), 0.0)


def test_a_stream_hands_on_chunks_in_order_with_their_stream(box: sr.SecureContainer) -> None:
    """exec_stream yields (stream, chunk) as they come; the result follows, with no output."""
    stream = box.exec_stream(["x"])
    assert stream.result is None
    chunks = list(stream)
    assert chunks == [("stdout", b"out"), ("stderr", b"err"), ("stdout", b"put")]
    assert stream.result == sr.ExecResult(0, b"", b"")


def test_a_timeout_on_a_remote_engine_ends_the_session(
    box: sr.SecureContainer, fake: ExecClient
) -> None:
    """Where processes cannot be killed one by one, the container is killed and removed."""
    fake.api.exec_runs = True
    result = box.exec(["sleep", "1000"], timeout=0.2)
    assert (result.timed_out, result.exit_code) == (True, 137)
    assert fake.api.killed == [box.id]
    assert fake.api.removed == [box.id]
    assert "pause" not in fake.api.calls
    with pytest.raises(sr.LaunchError, match=f"exec {EXEC_ID[:12]} .*timed out.*one by one"):
        box.exec(["true"])


def test_closing_a_running_stream_on_a_remote_engine_ends_the_session(
    box: sr.SecureContainer, fake: ExecClient
) -> None:
    """Leaving a stream early kills its command: on a remote engine, with the container."""
    fake.api.exec_runs = True
    with box.exec_stream(["sh", "-c", "echo a; sleep 1000"]) as stream:
        for _ in stream:
            break
    assert stream.result is not None
    assert (stream.result.timed_out, stream.result.exit_code) == (False, 137)
    assert fake.api.removed == [box.id]
    with pytest.raises(sr.LaunchError, match="was stopped"):
        box.exec_stream(["true"])


def test_a_stream_past_its_deadline_ends_though_the_engine_keeps_its_output_open(
    box: sr.SecureContainer, fake: ExecClient
) -> None:
    """The deadline ends the iteration even when the killed container's stream stays open
    (a killed gVisor sandbox's may): every chunk is handed on, then the timed-out result."""
    fake.api.exec_runs = fake.api.open_after_kill = True
    got: list[list[tuple[str, bytes]]] = []
    stream = box.exec_stream(["sh", "-c", "echo a; sleep 1000"], timeout=0.3)
    reader = threading.Thread(target=lambda: got.append(list(stream)), daemon=True)
    reader.start()
    reader.join(10.0)
    if fake.api._peer is not None:
        fake.api._peer.close()  # the engine's end, held open until now
    assert not reader.is_alive(), "the iteration did not end at the deadline"
    assert got == [[("stdout", b"out"), ("stderr", b"err"), ("stdout", b"put")]]
    assert stream.result is not None
    assert (stream.result.timed_out, stream.result.exit_code) == (True, 137)
    assert fake.api.removed == [box.id]


def test_a_refused_start_is_an_error_and_kills_nothing(
    box: sr.SecureContainer, fake: ExecClient
) -> None:
    """An exec the engine refuses to start is a LaunchError; the session goes on."""
    fake.api.fail["exec_start"] = docker.errors.APIError("unable to find user nobody2")
    with pytest.raises(sr.LaunchError, match="unable to find user"):
        box.exec(["id"], user="nobody2", timeout=5)
    assert (fake.api.killed, box.closed) == ([], False)


# -- what a timed-out exec kills ------------------------------------------------------

INIT, MAIN = 100, 101
#: The container before the exec: docker-init (100) and its command (101).
BASELINE = frozenset({(INIT, 1), (MAIN, 2)})


def _procs(*rows: tuple[int, int, int]) -> dict[int, Proc]:
    """A process table from (pid, ppid, start) rows, with the init and its command."""
    table = {INIT: Proc(0, 1, False), MAIN: Proc(INIT, 2, False)}
    table.update({pid: Proc(ppid, start, False) for pid, ppid, start in rows})
    return table


def test_the_exec_and_its_descendants_are_killed() -> None:
    """The exec's process and the tree under it are chosen; the container's own are not."""
    procs = _procs((200, 0, 10), (201, 200, 11), (202, 201, 12))
    assert set(targets(procs, BASELINE, INIT, 200, ())) == {200, 201, 202}


def test_an_escape_reparented_to_init_is_killed() -> None:
    """A double-forked process, now a child of init, is chosen because it is new."""
    procs = _procs((200, 0, 10), (300, INIT, 13))
    assert set(targets(procs, BASELINE, INIT, 200, ())) == {200, 300}


def test_a_reused_pid_is_new() -> None:
    """A process with a pid from before the exec, but a later start time, is chosen."""
    procs = _procs((200, 0, 10))
    procs[MAIN] = Proc(INIT, 99, False)  # the command's pid, reused by a process started later
    assert set(targets(procs, BASELINE, INIT, 200, ())) == {200, MAIN}


def test_other_execs_and_the_init_are_spared() -> None:
    """Another running exec's tree, the init and zombies are never chosen."""
    procs = _procs((200, 0, 10), (400, 0, 20), (401, 400, 21))
    procs[500] = Proc(INIT, 30, True)
    assert set(targets(procs, BASELINE, INIT, 200, (400,))) == {200}


def test_descendants_stop_at_the_table() -> None:
    """A root not in the table is dropped; a cycle in the parents does not loop."""
    procs = {1: Proc(2, 1, False), 2: Proc(1, 2, False), 3: Proc(2, 3, False)}
    assert descendants(procs, {1, 9}) == {1, 2, 3}


class _Pauses:
    """``pause`` that fails ``failures`` times (runc's "unable to freeze"), then works."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def pause(self, container_id: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise docker.errors.APIError(
                "500 Server Error",
                explanation="Cannot pause container: OCI runtime pause failed: unable to freeze",
            )


def test_a_failed_freeze_is_tried_again() -> None:
    """runc's freeze of a forking cgroup can give up on a busy host: pausing is retried."""
    api = _Pauses(failures=PAUSE_ATTEMPTS - 1)
    assert _pause(as_client(FakeClient()), api, "c") == ""
    assert api.calls == PAUSE_ATTEMPTS


def test_a_freeze_that_keeps_failing_is_the_reason_for_the_fallback() -> None:
    """After the last attempt, why the container could not be paused is the answer."""
    api = _Pauses(failures=PAUSE_ATTEMPTS)
    why = _pause(as_client(FakeClient()), api, "c")
    assert why.startswith("the container could not be paused")
    assert "unable to freeze" in why
    assert api.calls == PAUSE_ATTEMPTS

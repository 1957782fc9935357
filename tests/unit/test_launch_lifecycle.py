"""launch(), run() and SecureContainer against a fake client: lifecycle and policies.

No engine: the engine's facts and the verification are stubbed, and the fake client
(engine_fakes.py) records every call, so each test sees what the engine was asked.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any, Callable

import docker.errors
import pytest
import requests
from engine_fakes import FakeClient, as_client

import secure_run as sr
from secure_run._engine import client as client_module
from secure_run._engine.signals import SIGTERM_AS_EXIT, _exit_on_sigterm


@pytest.fixture
def cfg() -> sr.RunConfig:
    return sr.builder("busybox").command(["true"]).build()


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture(autouse=True)
def no_engine_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's facts and the verification are not what these tests are about."""
    for module in ("launch", "run", "many"):
        monkeypatch.setattr(f"secure_run._engine.{module}.prepare", lambda *a, **k: None)
    for module in ("container", "run"):
        monkeypatch.setattr(f"secure_run._engine.{module}.verify", lambda *a, **k: None)


@pytest.fixture(autouse=True)
def default_sigterm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with the default SIGTERM disposition and no work in flight.

    Earlier tests in the same process may leave containers tracked on purpose (an engine
    that was down at removal: they are retried at exit), so the count is isolated here.
    """
    monkeypatch.setattr(SIGTERM_AS_EXIT, "_users", 0)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def made(fake: FakeClient, monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    """The fake, as the client an entry point makes itself when it is given none."""
    monkeypatch.setattr(client_module, "connect", lambda **options: fake)
    return fake


def _refused() -> docker.errors.APIError:
    return docker.errors.APIError("refused", explanation="refused for the test")


def _run_ok(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    assert sr.run(cfg, client=client).exit_code == 0


def _run_error(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    fake.api.fail["start"] = _refused()
    with pytest.raises(sr.LaunchError):
        sr.run(cfg, client=client)


def _run_timeout(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    fake.api.runs_for_ever = True
    assert sr.run(cfg, client=client, timeout=0.01).timed_out


def _launch_ok(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    with sr.launch(cfg, client=client, verify=False) as container:
        assert fake.closed == 0  # the container still needs it
    container.close()  # a second close closes nothing twice


def _launch_error(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    fake.api.fail["start"] = _refused()
    with pytest.raises(sr.LaunchError):
        sr.launch(cfg, client=client)


def _launch_wait_timeout(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    fake.api.runs_for_ever = True
    container = sr.launch(cfg, client=client, verify=False)
    with container, pytest.raises(sr.RunTimeout):
        container.wait(timeout=0.01)


def _launch_unverified(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise sr.HardeningNotApplied("forced for the test", report=None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("secure_run._engine.container.verify", refuse)
        with pytest.raises(sr.HardeningNotApplied):
            sr.launch(cfg, client=client)


def _cleanup_ok(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    assert sr.cleanup(client) == []


def _cleanup_error(cfg: sr.RunConfig, client: Any, fake: FakeClient) -> None:
    fake.api.fail["containers"] = requests.exceptions.ConnectionError("engine gone")
    with pytest.raises(sr.DaemonUnavailable):
        sr.cleanup(client)


PATHS: dict[str, Callable[[sr.RunConfig, Any, FakeClient], None]] = {
    "run-ok": _run_ok,
    "run-error": _run_error,
    "run-timeout": _run_timeout,
    "launch-ok": _launch_ok,
    "launch-error": _launch_error,
    "launch-wait-timeout": _launch_wait_timeout,
    "launch-unverified": _launch_unverified,
    "cleanup-ok": _cleanup_ok,
    "cleanup-error": _cleanup_error,
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_a_given_client_is_never_closed(path: Any, cfg: sr.RunConfig, fake: FakeClient) -> None:
    """A client the caller gave is used as it is and never closed, on any path."""
    path(cfg, as_client(fake), fake)
    assert fake.closed == 0


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_a_made_client_is_closed_once_on_every_path(
    path: Any, cfg: sr.RunConfig, made: FakeClient
) -> None:
    """A client an entry point made is closed once it is done: success, error or timeout."""
    path(cfg, None, made)
    assert made.closed == 1


@pytest.mark.parametrize("path", [p for n, p in PATHS.items() if not n.startswith("cleanup")])
def test_every_container_is_removed_on_every_path(
    path: Any, cfg: sr.RunConfig, fake: FakeClient
) -> None:
    """Whatever happens, each container created is removed, exactly once."""
    path(cfg, as_client(fake), fake)
    assert fake.api.calls.count("create") == 1
    assert fake.api.calls.count("remove") == 1
    assert len(fake.api.removed) == 1


def test_run_follows_the_route_in_order(cfg: sr.RunConfig, fake: FakeClient) -> None:
    """run() creates, attaches, starts, waits, reads the exit state and removes, in order."""
    sr.run(cfg, client=as_client(fake))
    assert fake.api.calls == ["create", "attach", "start", "wait", "inspect", "remove"]


@pytest.mark.parametrize("on_output", ["print", 1, b"cb"])
def test_run_refuses_an_on_output_that_is_not_callable(
    cfg: sr.RunConfig, fake: FakeClient, on_output: Any
) -> None:
    """on_output must be callable: a ConfigError naming it, the engine not called."""
    with pytest.raises(sr.ConfigError) as caught:
        sr.run(cfg, client=as_client(fake), on_output=on_output)
    assert [p.field for p in caught.value.problems] == ["on_output"]
    assert fake.api.calls == []


def test_run_kills_at_the_deadline(cfg: sr.RunConfig, fake: FakeClient) -> None:
    """A run past its timeout is killed, waited for again and reported as timed out."""
    fake.api.runs_for_ever = True
    result = sr.run(cfg, client=as_client(fake), timeout=0.01)
    assert (result.timed_out, result.exit_code) == (True, 137)
    calls = [c for c in fake.api.calls if c != "wait"]
    assert calls == ["create", "attach", "start", "kill", "inspect", "remove"]


# -- the container's lifecycle --------------------------------------------------------


def test_a_launched_container_is_running_until_its_block_ends(
    cfg: sr.RunConfig, fake: FakeClient
) -> None:
    """Inside the block the container is running; after it, closed and removed."""
    with sr.launch(cfg, client=as_client(fake), verify=False) as container:
        assert not container.closed
        assert repr(container).endswith(" busybox running>")
        assert fake.api.removed == []
    assert container.closed
    assert repr(container).endswith(" busybox closed>")
    assert fake.api.removed == [container.id]


def test_closing_twice_removes_once(cfg: sr.RunConfig, fake: FakeClient) -> None:
    """A second close() does nothing: one removal request in all."""
    container = sr.launch(cfg, client=as_client(fake), verify=False)
    container.close()
    container.close()
    assert fake.api.calls.count("remove") == 1


USES: dict[str, Callable[[sr.SecureContainer], object]] = {
    "exec": lambda c: c.exec(["id"]),
    "inspect": lambda c: c.inspect(),
    "wait": lambda c: c.wait(timeout=1),
    "logs": lambda c: c.logs(),
    "stats": lambda c: c.stats(),
    "stop": lambda c: c.stop(),
    "kill": lambda c: c.kill(),
    "verify": lambda c: c.verify(),
    "with": lambda c: c.__enter__(),
}


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_a_closed_container_refuses_use(use: Any, cfg: sr.RunConfig, fake: FakeClient) -> None:
    """After close(), every use is a LaunchError that says to launch anew; no request is made."""
    container = sr.launch(cfg, client=as_client(fake), verify=False)
    container.close()
    calls = list(fake.api.calls)
    with pytest.raises(sr.LaunchError, match="was closed and removed"):
        use(container)
    assert fake.api.calls == calls


def test_exec_runs_in_a_live_container(cfg: sr.RunConfig, fake: FakeClient) -> None:
    """exec() on a running container returns the command's exit code and output."""
    with sr.launch(cfg, client=as_client(fake), verify=False) as container:
        assert container.exec(["id"]) == sr.ExecResult(0, b"out", b"")


def test_wait_past_its_timeout_is_a_run_timeout(cfg: sr.RunConfig, fake: FakeClient) -> None:
    """wait() whose timeout passes raises RunTimeout; the container keeps running."""
    fake.api.runs_for_ever = True
    with sr.launch(cfg, client=as_client(fake), verify=False) as container:
        with pytest.raises(sr.RunTimeout, match="did not exit within"):
            container.wait(timeout=0.01)
        assert not container.closed


def test_a_lost_engine_during_wait_is_daemon_unavailable(
    cfg: sr.RunConfig, fake: FakeClient
) -> None:
    """A connection error in wait() is DaemonUnavailable (the translation point's answer)."""
    with sr.launch(cfg, client=as_client(fake), verify=False) as container:
        fake.api.fail["wait"] = requests.exceptions.ConnectionError("connection reset")
        with pytest.raises(sr.DaemonUnavailable) as info:
            container.wait(timeout=30)
    assert not isinstance(info.value, sr.RunTimeout)
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)


# -- the one signal policy ------------------------------------------------------------


def _launch_and_close(cfg: sr.RunConfig, client: Any) -> None:
    sr.launch(cfg, client=client, verify=False).close()


ENTRY_POINTS: dict[str, Callable[[sr.RunConfig, Any], object]] = {
    "run": lambda cfg, client: sr.run(cfg, client=client),
    "launch": _launch_and_close,
    "run_many": lambda cfg, client: sr.run_many([cfg], client=client)[0].unwrap(),
}


def _own_handler(signum: int, frame: object) -> None:
    """A program's own SIGTERM handler."""


@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
@pytest.mark.parametrize(
    ("before", "while_working"),
    [
        (signal.SIG_DFL, _exit_on_sigterm),  # the default becomes a clean SystemExit
        (_own_handler, _own_handler),  # the program's own handler is its choice: kept
        (signal.SIG_IGN, signal.SIG_IGN),  # so is ignoring SIGTERM
    ],
    ids=["default", "own-handler", "ignored"],
)
def test_every_entry_point_follows_the_one_sigterm_policy(
    entry: Any, before: Any, while_working: Any, cfg: sr.RunConfig, fake: FakeClient
) -> None:
    """run, launch and run_many treat SIGTERM alike, and restore it when done."""
    signal.signal(signal.SIGTERM, before)
    entry(cfg, as_client(fake))
    assert fake.api.sigterm_at_start is while_working
    assert signal.getsignal(signal.SIGTERM) is before
    assert SIGTERM_AS_EXIT.users == 0


def test_sigterm_while_a_container_lives_unwinds_and_removes_it(
    cfg: sr.RunConfig, fake: FakeClient
) -> None:
    """A default SIGTERM inside a launch is SystemExit(143), and the block removes the container."""
    container = sr.launch(cfg, client=as_client(fake), verify=False)
    with pytest.raises(SystemExit) as info, container:
        signal.raise_signal(signal.SIGTERM)
    assert info.value.code == 128 + signal.SIGTERM
    assert len(fake.api.removed) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize(
    ("signum", "raised"),
    [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_create_waits_for_the_id_then_removes_it(
    signum: int, raised: type[BaseException], cfg: sr.RunConfig, fake: FakeClient
) -> None:
    """A signal while the create request is in flight acts once the answer is in: no leak."""
    fake.api.on_create = lambda: signal.raise_signal(signum)
    with pytest.raises(raised):
        sr.launch(cfg, client=as_client(fake), verify=False)
    assert fake.api.calls == ["create", "remove"]  # never started, but its id was not lost
    assert len(fake.api.removed) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

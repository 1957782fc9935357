"""A second dockerd, stopped mid-run and restarted: DaemonUnavailable while down, then recovery.

The test starts a dockerd of its own (root only), on a socket, data root and exec
root under a temporary directory, in a network namespace of its own (``unshare
--net``: with no bridge, a dockerd deletes any ``docker0`` link it sees, and the host's
is the main engine's), with no bridge, no iptables rules, no IP forwarding or
masquerading, an empty configuration file (``/etc/docker/daemon.json``
is not read), containerd namespaces of its own, and ``HTTP(S)_PROXY`` pointed at a
closed loopback port, so nothing it does can reach past the machine. With no system
containerd at ``/run/containerd/containerd.sock`` it starts its own containerd under
its exec root. The test image is copied into it from the main engine (``docker save``
piped to ``docker load`` through the SDK); its containers use network ``none``.

While containers run on it (a ``run()`` waiting on one, a ``launch()`` holding
another), the test stops that dockerd with SIGTERM to the pid it started. While it is
down, ``engine_facts`` (for a client with no cached facts), ``run``, ``launch``,
``exec``, ``cleanup``, and a client made from ``DOCKER_HOST``, must each raise
``DaemonUnavailable`` at once, never a docker or requests exception nor a hang.
It is then started again on the same socket and data root: a fresh client works
(``engine_facts``, a ``run`` of ``true``), the client from before works again, and
the containers stranded by the stop are reaped by ``cleanup(older_than=0)`` (not
by ``cleanup()``: their owner, this process, is alive).

The engine the other tests use is never stopped, restarted or reconfigured; the
second dockerd is always stopped (by its pid) and its data removed, pass or fail.

With ``SECURE_RUN_RELIABILITY_RECORD=<path>`` the figures go under the key
``"daemon_restart"`` of the JSON object in that file (other keys are kept)::

    {
      "daemon_restart": {
        "start_s": 0.4,               # dockerd start until it answers
        "stop_s": 1.1,                # SIGTERM until the process is gone
        "restart_s": 0.3,             # the second start until it answers
        "unavailable_s": {"engine_facts": 0.001, "run": 0.001, ...},  # per call, while down
        "unavailable_max_s": 0.002,
        "mid_run": "RunResult exit 143",  # what the run() waiting at the stop gave
        "own_containerd": true,       # it ran its own containerd, not the system's
        "engine": "20.10.24+dfsg1",
        ...
      }
    }
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, NoReturn

import docker
import docker.errors
import pytest

import secure_run as sr
from secure_run._engine.labels import MANAGED_LABEL
from secure_run.testing import TEST_LABELS

_DEAD_PROXY = "http://127.0.0.1:9"
_START_BOUND_S = 60.0  # bounds on a hang, not speed claims
_STOP_BOUND_S = 30.0
_CALL_BOUND_S = 10.0
#: Unix socket paths are limited to 108 bytes; containerd's go under the exec root.
_LONGEST_SOCKET = "exec/containerd/containerd.sock.ttrpc"
_SOCKET_PATH_MAX = 100


def _cannot(why: str) -> NoReturn:
    if os.environ.get("SECURE_RUN_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{why} (SECURE_RUN_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(f"{why}; set SECURE_RUN_REQUIRE_DOCKER=1 to fail instead")


def _mount_points_under(root: Path) -> list[str]:
    """Mount points at or under ``root``, deepest first (from /proc/self/mountinfo)."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].encode().decode("unicode_escape")  # \040 and friends
            if point == str(root) or point.startswith(f"{root}/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


class SecondDaemon:
    """A dockerd this test starts, stops and restarts, on paths of its own under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.log = root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        config = root / "daemon.json"
        config.write_text("{}\n", encoding="utf-8")
        self.argv = [
            # Its own network namespace: with --bridge=none a dockerd deletes any "docker0"
            # link it can see, which on the host is the main engine's default bridge.
            "unshare",
            "--net",
            "dockerd",
            f"--host={self.url}",
            f"--data-root={root / 'data'}",
            f"--exec-root={root / 'exec'}",
            f"--pidfile={root / 'docker.pid'}",
            f"--config-file={config}",
            "--containerd-namespace=secure-run-second",
            "--containerd-plugins-namespace=secure-run-second-plugins",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--userland-proxy=false",
        ]
        proxy = {k: _DEAD_PROXY for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
        env = {k: v for k, v in os.environ.items() if k.upper() not in ("NO_PROXY", "DOCKER_HOST")}
        self.env = {**env, **proxy}

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def start(self) -> float:
        """Start dockerd and wait until it answers; the seconds that took."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C on pytest does not reach it
            )
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"dockerd exited with {self.process.returncode}:\n{self.tail()}")
            if self.socket.exists():
                probe = docker.DockerClient(base_url=self.url, version="1.41", timeout=5)
                try:
                    probe.ping()
                    return time.monotonic() - started
                except (docker.errors.DockerException, OSError):
                    pass
                finally:
                    probe.close()
            if time.monotonic() - started > _START_BOUND_S:
                pytest.fail(f"dockerd did not answer within {_START_BOUND_S} s:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self) -> float:
        """SIGTERM to the dockerd this object started, and wait for it to go; the seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return 0.0
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_BOUND_S)
            raise AssertionError(
                f"dockerd {process.pid} ignored SIGTERM for {_STOP_BOUND_S} s; killed it"
            ) from None
        return time.monotonic() - started

    def own_containerd_pid(self) -> int | None:
        """The pid of the containerd this dockerd started under its exec root, if any."""
        pidfile = self.root / "exec" / "containerd" / "containerd.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.root).encode() in cmdline else None

    def remove(self) -> None:
        """Stop everything this daemon started, and remove its files."""
        containerd = self.own_containerd_pid()
        try:
            self.stop()
        finally:
            # After a clean stop dockerd has stopped its containerd; after a SIGKILL it
            # could not, and that containerd (our child's child) is stopped here.
            if containerd is not None and self.own_containerd_pid() == containerd:
                os.kill(containerd, signal.SIGKILL)
            for point in _mount_points_under(self.root):
                subprocess.run(["umount", "-l", point], check=False, capture_output=True)
            shutil.rmtree(self.root)


@pytest.fixture
def second_daemon(tmp_path: Path) -> Iterator[SecondDaemon]:
    """A dockerd of the test's own, not yet started; stopped and removed afterwards."""
    if os.geteuid() != 0:
        _cannot("starting a second dockerd needs root")
    if shutil.which("dockerd") is None:
        _cannot("dockerd is not on PATH (apt-get install docker.io)")
    root = tmp_path / "dockerd"
    if len(str(root / _LONGEST_SOCKET)) > _SOCKET_PATH_MAX:
        root = Path(tempfile.mkdtemp(prefix="sr-dockerd-"))
    root.mkdir(exist_ok=True)
    daemon = SecondDaemon(root)
    try:
        yield daemon
    finally:
        daemon.remove()


def _host_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_the_second_daemon_leaves_the_hosts_network_alone(second_daemon: SecondDaemon) -> None:
    """Starting and stopping the second dockerd removes no host link (docker0 included).

    With --bridge=none a dockerd deletes any link named docker0 it can see; in the host's
    network namespace that is the main engine's default bridge, and every later container
    on the bridge network would fail to start.
    """
    before = _host_links()
    second_daemon.start()
    second_daemon.stop()
    assert _host_links() >= before


def _unavailable(call: Callable[[], Any], address: str) -> float:
    """Assert that ``call`` raises DaemonUnavailable naming ``address``; the seconds it took."""
    started = time.monotonic()
    with pytest.raises(sr.DaemonUnavailable) as info:
        call()
    took = time.monotonic() - started
    assert address in str(info.value)
    assert took < _CALL_BOUND_S, f"took {took:.1f} s: a hang, not a quick refusal"
    return took


@contextlib.contextmanager
def _removal_not_logged() -> Iterator[None]:
    """Keep secure_run's "could not remove" warning from being logged in the block.

    pytest keeps log records until the test ends, and that one holds the SDK's
    exception, and through its traceback the socket a failed removal leaves open.
    """
    logger = logging.getLogger("secure_run")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _managed(client: docker.DockerClient, *, running: bool = False) -> set[str]:
    filters: dict[str, Any] = {"label": f"{MANAGED_LABEL}=1"}
    if running:
        filters["status"] = "running"
    return {c["Id"] for c in client.api.containers(all=True, filters=filters)}


def test_daemon_down_then_back(
    second_daemon: SecondDaemon,
    docker_client: docker.DockerClient,
    test_image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reliability_record: Callable[[str, dict[str, Any]], Any],
) -> None:
    """While a second dockerd is down every call raises DaemonUnavailable; once back, all works."""
    start_s = second_daemon.start()
    own_containerd = second_daemon.own_containerd_pid() is not None
    url = second_daemon.url
    box = sr.builder(test_image).labels(TEST_LABELS).network("none")
    with contextlib.ExitStack() as closing:
        before = docker.DockerClient(base_url=url, version="auto", timeout=30)
        closing.callback(before.close)
        before.images.load(b"".join(docker_client.images.get(test_image).save(named=True)))
        assert sr.run(box.command(["true"]).build(), client=before, timeout=60).exit_code == 0

        # Mid-run: a run() waiting on a container, and a launch() holding one.
        outcome: list[object] = []

        def waiting_run() -> None:
            try:
                outcome.append(sr.run(box.command(["sleep", "60"]).build(), client=before))
            except Exception as exc:  # checked below: it must be DaemonUnavailable
                outcome.append(exc)

        waiter = threading.Thread(target=waiting_run, name="waiting-run")
        waiter.start()
        held = sr.launch(box.command(["sleep", "60"]).build(), client=before)
        closing.callback(held.close)  # on an early failure; closing twice is a no-op
        deadline = time.monotonic() + _CALL_BOUND_S
        while len(_managed(before, running=True)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_managed(before, running=True)) == 2, "the run() and launch() do not run"

        with _removal_not_logged():  # the run() fails to remove its container
            stop_s = second_daemon.stop()
            waiter.join(_CALL_BOUND_S + 60)
        assert not waiter.is_alive(), "run() hung when the engine went away"
        (mid_run,) = outcome
        # The daemon stops its containers as it shuts down, so the run sees its container
        # exit (SIGTERM: 143), or the engine vanish first.
        assert isinstance(mid_run, (sr.RunResult, sr.DaemonUnavailable)), repr(mid_run)
        if isinstance(mid_run, sr.RunResult):
            assert (mid_run.exit_code, mid_run.timed_out) == (143, False), mid_run

        cfg = box.command(["true"]).build()
        fresh_down = docker.DockerClient(base_url=url, version="1.41")  # asks nothing yet
        closing.callback(fresh_down.close)
        took = {
            "exec": _unavailable(lambda: held.exec(["true"]), url),
            "engine_facts": _unavailable(lambda: sr.engine_facts(fresh_down), url),
            "run": _unavailable(lambda: sr.run(cfg, client=before), url),
            "launch": _unavailable(lambda: sr.launch(cfg, client=before), url),
            "cleanup": _unavailable(lambda: sr.cleanup(client=before), url),
        }
        with monkeypatch.context() as env:
            env.setenv("DOCKER_HOST", url)
            took["run_from_env"] = _unavailable(lambda: sr.run(cfg), url)
        with _removal_not_logged():
            held.close()  # the removal fails (logged); the block's end must not raise
        assert held.closed

        restart_s = second_daemon.start()
        fresh = docker.DockerClient(base_url=url, version="auto", timeout=30)
        closing.callback(fresh.close)
        facts = sr.engine_facts(fresh)
        assert facts.server_version
        assert facts.os_type == "linux"
        result = sr.run(cfg, client=fresh, timeout=60)
        assert (result.exit_code, result.timed_out) == (0, False)
        assert sr.run(cfg, client=before, timeout=60).exit_code == 0, "the old client is stuck"

        stranded = _managed(fresh)
        assert held.id in stranded, "the launch's container should outlive the engine's stop"
        assert not {r.container_id for r in sr.cleanup(client=fresh)} & stranded
        reaped = {r.container_id for r in sr.cleanup(client=fresh, older_than=0)}
        assert stranded <= reaped
        assert _managed(fresh) == set()

    # The main engine answers, and never saw the second one's containers.
    assert docker_client.ping()
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_container(held.id)
    figures = {
        "start_s": round(start_s, 2),
        "stop_s": round(stop_s, 2),
        "restart_s": round(restart_s, 2),
        "unavailable_s": {k: round(v, 4) for k, v in took.items()},
        "unavailable_max_s": round(max(took.values()), 4),
        "mid_run": (
            f"RunResult exit {mid_run.exit_code}"
            if isinstance(mid_run, sr.RunResult)
            else type(mid_run).__name__
        ),
        "own_containerd": own_containerd,
        "engine": facts.server_version,
    }
    reliability_record("daemon_restart", figures)
    with capsys.disabled():
        print(
            f"\ndaemon restart: start {start_s:.2f} s, stop {stop_s:.2f} s, restart "
            f"{restart_s:.2f} s; DaemonUnavailable while down in at most "
            f"{max(took.values()) * 1000:.1f} ms ({len(took)} calls); mid-run: "
            f"{figures['mid_run']}; own containerd: {own_containerd}"
        )


def test_removal_while_no_engine_answers_closes_its_socket(tmp_path: Path) -> None:
    """Removing a container while no engine answers leaves no socket open behind it."""
    nowhere = docker.DockerClient(base_url=f"unix://{tmp_path}/no-engine.sock", version="1.41")
    cfg = sr.builder("secure-run-test/busybox:latest").build()
    container = sr.SecureContainer("0" * 64, cfg, nowhere)
    try:
        with warnings.catch_warnings(record=True) as seen, _removal_not_logged():
            warnings.simplefilter("always", ResourceWarning)
            container.close()  # the removal fails
            gc.collect()
    finally:
        nowhere.close()
    assert container.closed
    leaked = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    assert not leaked, leaked

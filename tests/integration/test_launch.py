"""run(), launch() and cleanup() on the real engine: results, timeouts, OOM, and no leaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

import secure_run as sr
from secure_run._engine.container import verify_started as _verify_started
from secure_run._engine.labels import MANAGED_LABEL, OWNER_LABEL
from secure_run.testing import TEST_LABELS


@pytest.fixture
def box(test_image: str) -> sr.RunBuilder:
    """The restricted preset on the test image, labelled for the leak check."""
    return sr.builder(test_image).labels(TEST_LABELS)


def _managed(client: docker.DockerClient, pid: int | None = None) -> list[str]:
    """Ids of secure_run's containers owned by one process (this one by default).

    Counting only one owner's keeps the count true while other sessions use the engine.
    """
    pid = os.getpid() if pid is None else pid
    found = client.api.containers(all=True, filters={"label": f"{MANAGED_LABEL}=1"})
    return [c["Id"] for c in found if f":{pid}:" in c["Labels"].get(OWNER_LABEL, "")]


def _gone(client: docker.DockerClient, container_id: str) -> bool:
    try:
        client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return True
    return False


# -- run() ---------------------------------------------------------------------------


def test_exit_code_propagates(box: sr.RunBuilder, docker_client) -> None:
    """The container's exit status is the result's exit code, and the container is gone."""
    result = sr.run(box.command(["sh", "-c", "exit 3"]).build(), client=docker_client)
    assert result.exit_code == 3
    assert (result.timed_out, result.oom_killed) == (False, False)
    assert _gone(docker_client, result.container_id)


def test_stdout_and_stderr_are_kept_apart(box: sr.RunBuilder, docker_client) -> None:
    """Standard output and error come back separately."""
    cfg = box.command(["sh", "-c", "echo out; echo err >&2"]).build()
    result = sr.run(cfg, client=docker_client)
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    assert not result.truncated


def test_output_is_capped_per_stream(box: sr.RunBuilder, docker_client) -> None:
    """Output past max_output is dropped, flagged per stream, and the process still ends."""
    cfg = box.command(["sh", "-c", "yes | head -c 3000000; echo short >&2"]).build()
    result = sr.run(cfg, client=docker_client, max_output=1000, timeout=60)
    assert result.exit_code == 0
    assert result.stdout == b"y\n" * 500
    assert result.stderr == b"short\n"
    assert result.truncated == sr.Streams(stdout=True, stderr=False)


def test_stdin_reaches_a_read_only_container(box: sr.RunBuilder, docker_client) -> None:
    """Bytes given as stdin are what the process reads, with a read-only root."""
    cfg = box.command(["cat"]).build()
    assert cfg.read_only
    result = sr.run(cfg, client=docker_client, stdin=b"hello\x00world\n", timeout=30)
    assert result.stdout == b"hello\x00world\n"


def test_timeout_kills_an_endless_loop(box: sr.RunBuilder, docker_client) -> None:
    """An endless loop is killed at the wall-clock timeout and its container removed."""
    cfg = box.command(["sh", "-c", "while :; do :; done"]).build()
    started = time.monotonic()
    result = sr.run(cfg, client=docker_client, timeout=1)
    elapsed = time.monotonic() - started
    assert result.timed_out is True
    assert result.oom_killed is False
    assert result.exit_code == 137
    assert result.kill_latency_s is not None
    assert elapsed < 30  # a bound on a hang, not a speed claim (see benchmarks/)
    assert _gone(docker_client, result.container_id)


def test_oom_is_reported_as_oom(box: sr.RunBuilder, docker_client) -> None:
    """A memory bomb is killed by the kernel's OOM killer, reported as such, not as a timeout."""
    cfg = box.memory("16m").command(["tail", "/dev/zero"]).build()
    result = sr.run(cfg, client=docker_client, timeout=60)
    assert result.oom_killed is True
    assert result.timed_out is False
    assert result.exit_code == 137


def test_missing_image_under_never(docker_client) -> None:
    """A missing image with pull='never' raises ImageNotFound naming the image."""
    cfg = sr.builder("secure-run-test/no-such-image:1").labels(TEST_LABELS).build()
    with pytest.raises(sr.ImageNotFound) as info:
        sr.run(cfg, client=docker_client)
    assert info.value.image == "secure-run-test/no-such-image:1"
    assert "secure-run-test/no-such-image:1" in str(info.value)


def test_a_config_without_a_command_runs_the_images_cmd(test_image: str, docker_client) -> None:
    """With no command the image's own CMD runs (the test image's is /bin/sh, fed stdin)."""
    cfg = sr.builder(test_image).labels(TEST_LABELS).build()
    result = sr.run(cfg, client=docker_client, stdin=b"echo from-cmd", timeout=30)
    assert (result.exit_code, result.stdout) == (0, b"from-cmd\n")


def test_unknown_pull_policy(box: sr.RunBuilder, docker_client) -> None:
    """An unknown pull policy is a ConfigError before anything is created."""
    with pytest.raises(sr.ConfigError):
        sr.run(box.build(), client=docker_client, pull="sometimes")  # type: ignore[arg-type]


# -- launch() ------------------------------------------------------------------------


def test_launch_is_started_verified_and_usable(box: sr.RunBuilder, docker_client) -> None:
    """A launched container runs verified, as the configured user, and is removed after."""
    with sr.launch(box.command(["sleep", "30"]).build(), client=docker_client) as c:
        assert c.report is not None
        assert c.report.ok
        assert c.exec(["id", "-u"]).stdout == b"65534\n"
        assert c.inspect()["State"]["Running"] is True
        assert "memory_stats" in c.stats()
        container_id = c.id
    assert _gone(docker_client, container_id)


def test_launch_wait_and_logs(box: sr.RunBuilder, docker_client) -> None:
    """wait() returns the exit code and logs() the output."""
    with sr.launch(box.command(["sh", "-c", "echo done; exit 4"]).build(), client=docker_client,
                   verify=False) as c:  # fmt: skip
        assert c.wait(timeout=30) == 4
        assert c.logs() == b"done\n"


def test_wait_timeout_is_a_run_timeout(box: sr.RunBuilder, docker_client) -> None:
    """wait() past its timeout raises RunTimeout, not a requests exception."""
    with sr.launch(box.command(["sleep", "30"]).build(), client=docker_client) as c:
        with pytest.raises(sr.RunTimeout):
            c.wait(timeout=0.5)
        c.kill()


def test_stop_timeout_reaches_the_engine(box: sr.RunBuilder, docker_client) -> None:
    """launch() carries stop_timeout, which docker-py's containers.run() cannot."""
    with sr.launch(box.stop_timeout(5).command(["sleep", "30"]).build(), client=docker_client) as c:
        assert c.inspect()["Config"]["StopTimeout"] == 5


def test_closed_container_refuses_reuse(box: sr.RunBuilder, docker_client) -> None:
    """After the with block, the container object refuses further use."""
    with sr.launch(box.command(["sleep", "30"]).build(), client=docker_client) as c:
        pass
    assert c.closed
    with pytest.raises(sr.LaunchError):
        c.exec(["true"])
    with pytest.raises(sr.LaunchError), c:
        pass


def test_owner_and_managed_labels(box: sr.RunBuilder, docker_client) -> None:
    """Launched containers carry the managed label and this process as owner."""
    with sr.launch(box.command(["sleep", "30"]).build(), client=docker_client) as c:
        labels = c.inspect()["Config"]["Labels"]
    assert labels[MANAGED_LABEL] == "1"
    assert f":{os.getpid()}:" in labels[OWNER_LABEL]


# -- nothing leaks -------------------------------------------------------------------


def test_failure_at_create_leaves_nothing(box: sr.RunBuilder, docker_client) -> None:
    """A create the engine refuses (the name is taken) raises LaunchError and leaves nothing."""
    name = f"secure-run-test-taken-{os.getpid()}"
    cfg = box.name(name).command(["sleep", "30"]).build()
    before = set(_managed(docker_client))
    with sr.launch(cfg, client=docker_client):
        with pytest.raises(sr.LaunchError):
            sr.launch(cfg, client=docker_client)
        assert len(set(_managed(docker_client)) - before) == 1
    assert set(_managed(docker_client)) == before


def test_failure_at_start_leaves_nothing(box: sr.RunBuilder, docker_client) -> None:
    """A start that fails (no such executable) raises LaunchError and removes the container."""
    cfg = box.init(False).command(["/no/such/program"]).build()  # no init: runc itself fails
    before = set(_managed(docker_client))
    with pytest.raises(sr.LaunchError):
        sr.launch(cfg, client=docker_client)
    with pytest.raises(sr.LaunchError):
        sr.run(cfg, client=docker_client)
    assert set(_managed(docker_client)) == before


def test_verifying_a_command_that_failed_at_once(box: sr.RunBuilder, docker_client) -> None:
    """A container whose command already failed is a LaunchError with its output, not a gap."""
    cfg = box.command(["sh", "-c", "echo no config file >&2; exit 5"]).build()
    with sr.launch(cfg, client=docker_client, verify=False) as c:
        assert c.wait(timeout=30) == 5
        with pytest.raises(sr.LaunchError, match="code 5: no config file"):
            _verify_started(c, strict=True)


def test_verifying_a_command_that_finished_at_once(box: sr.RunBuilder, docker_client) -> None:
    """A container whose command already succeeded is checked against the daemon's record."""
    with sr.launch(box.command(["true"]).build(), client=docker_client, verify=False) as c:
        assert c.wait(timeout=30) == 0
        report = _verify_started(c, strict=True)
    assert report.ok
    assert report.sources() == frozenset({"inspect"})


def test_failure_at_verify_leaves_nothing(
    box: sr.RunBuilder, docker_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verification failure raises HardeningNotApplied and removes the container."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise sr.HardeningNotApplied("forced for the test", report=None)

    monkeypatch.setattr("secure_run._engine.container.verify", refuse)
    before = set(_managed(docker_client))
    with pytest.raises(sr.HardeningNotApplied):
        sr.launch(box.command(["sleep", "30"]).build(), client=docker_client)
    assert set(_managed(docker_client)) == before


def test_exception_in_the_with_body_leaves_nothing(box: sr.RunBuilder, docker_client) -> None:
    """An exception inside the with block still removes the container."""
    before = set(_managed(docker_client))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), sr.launch(box.command(["sleep", "30"]).build(), client=docker_client):
        raise Boom
    assert set(_managed(docker_client)) == before


_CHILD = textwrap.dedent(
    """
    import sys, time
    import secure_run as sr
    cfg = sr.builder(sys.argv[1]).labels({"secure-run.test": "1"}).command(["sleep", "60"]).build()
    with sr.launch(cfg) as c:
        print(c.id, flush=True)
        time.sleep(60)
    """
)


@pytest.fixture
def child(test_image: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A Python process inside ``sr.launch()``, and the id of its container."""
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, test_image], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        container_id = process.stdout.readline().strip()
        assert container_id, "the child did not launch"
        try:
            yield process, container_id
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_a_launching_process_leaves_nothing(signum: int, child, docker_client) -> None:
    """SIGINT or SIGTERM to a process inside a launch removes its container before it exits."""
    process, container_id = child
    assert _managed(docker_client, process.pid) == [container_id]
    process.send_signal(signum)
    process.wait(timeout=30)
    assert _managed(docker_client, process.pid) == []


def test_sigkill_leaves_one_that_cleanup_reaps(child, docker_client) -> None:
    """A launcher killed with SIGKILL leaves its container; cleanup() finds and removes it."""
    process, container_id = child
    process.kill()
    process.wait(timeout=30)
    assert _managed(docker_client, process.pid) == [container_id]
    reaped = sr.cleanup(client=docker_client)
    assert container_id in [r.container_id for r in reaped]
    assert _managed(docker_client, process.pid) == []


def test_cleanup_leaves_live_owners_alone(box: sr.RunBuilder, docker_client) -> None:
    """cleanup() does not touch a container whose owner (this process) is alive."""
    with sr.launch(box.command(["sleep", "30"]).build(), client=docker_client) as c:
        reaped = sr.cleanup(client=docker_client)
        assert c.id not in [r.container_id for r in reaped]
        assert not _gone(docker_client, c.id)


def test_cleanup_by_age(box: sr.RunBuilder, docker_client) -> None:
    """cleanup(older_than=) also removes managed containers past that age, live owner or not."""
    with sr.launch(box.command(["sleep", "30"]).build(), client=docker_client) as c:
        time.sleep(1.1)
        reaped = sr.cleanup(client=docker_client, older_than=1)
        assert c.id in [r.container_id for r in reaped]
        assert _gone(docker_client, c.id)


def test_concurrent_launches(box: sr.RunBuilder, docker_client) -> None:
    """20 launches from 8 threads all succeed and all are removed."""
    before = set(_managed(docker_client))
    cfg = box.command(["sleep", "30"]).build()
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()
    todo = list(range(20))

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            try:
                with sr.launch(cfg, client=docker_client) as c:
                    assert c.exec(["true"]).exit_code == 0
                    with lock:
                        ids.append(c.id)
            except BaseException as exc:  # collected and asserted below
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(set(ids)) == 20
    assert set(_managed(docker_client)) == before


def test_pytest_plugin_fixture(pytester: pytest.Pytester, test_image: str) -> None:
    """The secure_launch fixture launches a container and removes it when the test ends."""
    pytester.makepyfile(
        f"""
        import docker, secure_run as sr

        def test_inside(secure_launch):
            cfg = sr.builder({test_image!r}).labels({{"secure-run.test": "1"}})
            c = secure_launch(cfg.command(["sleep", "30"]).build())
            assert c.exec(["echo", "hi"]).stdout == b"hi\\n"
            open("id.txt", "w").write(c.id)
        """
    )
    result = pytester.runpytest_subprocess()  # the plugin loads through its entry point
    result.assert_outcomes(passed=1)
    container_id = Path(pytester.path / "id.txt").read_text()
    assert _gone(docker.from_env(), container_id)


def test_launch_with_host_pid_namespace_verifies(
    box: sr.RunBuilder, docker_client, unremapped
) -> None:
    """The daemon's own label=disable for a host PID namespace is not taken for a weaker option."""
    cfg = unremapped(box.host_namespace("pid").opt_in("host-namespace"))
    cfg = cfg.command(["sleep", "30"]).build()
    with sr.launch(cfg, client=docker_client) as c:
        assert "label=disable" in c.inspect()["HostConfig"]["SecurityOpt"]
        assert c.report is not None
        assert c.report.ok

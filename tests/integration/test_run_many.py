"""run_many() on the real engine: order, bounded concurrency, isolation of failures, no leaks."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import docker
import docker.constants
import pytest

import secure_run as sr
from secure_run.testing import TEST_LABELS

BATCH_KEY = "secure-run.test.batch"


@pytest.fixture
def batch() -> str:
    """A label value unique to this test's containers."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def box(test_image: str, batch: str) -> sr.RunBuilder:
    """The restricted preset on the test image, labelled for the leak check and the batch."""
    return sr.builder(test_image).labels({**TEST_LABELS, BATCH_KEY: batch})


def _containers(client: docker.DockerClient, batch: str, running: bool = False) -> list[str]:
    filters: dict[str, object] = {"label": f"{BATCH_KEY}={batch}"}
    if running:
        filters["status"] = "running"
    return [c["Id"] for c in client.api.containers(all=not running, filters=filters)]


def test_outcomes_come_back_in_input_order(box: sr.RunBuilder, docker_client, batch) -> None:
    """Outcomes follow the input order even when later configs finish first."""
    n = 6
    configs = [
        box.command(["sh", "-c", f"sleep {(n - i) * 0.15:.2f}; echo {i}"]).build() for i in range(n)
    ]
    outcomes = sr.run_many(configs, workers=n, client=docker_client)
    assert [o.config for o in outcomes] == configs
    assert [o.unwrap().stdout for o in outcomes] == [f"{i}\n".encode() for i in range(n)]
    assert _containers(docker_client, batch) == []


def test_concurrency_is_bounded_by_workers(box: sr.RunBuilder, docker_client, batch) -> None:
    """With 2 workers, exactly 2 of 6 one-second containers run at the same time, at most."""
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(len(_containers(docker_client, batch, running=True)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcomes = sr.run_many(
            [box.command(["sleep", "1"]).build()] * 6, workers=2, client=docker_client
        )
    finally:
        done.set()
        watcher.join()
    assert all(o.ok and o.unwrap().exit_code == 0 for o in outcomes)
    assert max(seen) == 2  # never more than the bound, and the bound is reached
    assert _containers(docker_client, batch) == []


def test_a_failing_config_does_not_affect_the_others(
    box: sr.RunBuilder, docker_client, batch
) -> None:
    """A missing image and a command that cannot start fail alone; the rest run to the end."""
    configs = [
        box.command(["echo", "a"]).build(),
        sr.builder("secure-run-test/no-such-image:latest").labels(TEST_LABELS).build(),
        box.command(["sh", "-c", "exit 3"]).build(),
        box.init(False).command(["/no/such/program"]).build(),
        box.command(["echo", "b"]).build(),
    ]
    outcomes = sr.run_many(configs, workers=3, client=docker_client)
    assert [o.ok for o in outcomes] == [True, False, True, False, True], [o.error for o in outcomes]
    assert isinstance(outcomes[1].error, sr.ImageNotFound)
    assert isinstance(outcomes[3].error, sr.LaunchError)
    assert outcomes[0].unwrap().stdout == b"a\n"
    assert outcomes[2].unwrap().exit_code == 3  # a non-zero exit is a result, not an error
    assert outcomes[4].unwrap().stdout == b"b\n"
    assert _containers(docker_client, batch) == []


def test_timeout_applies_to_each_container(
    box: sr.RunBuilder, docker_client, batch, engine
) -> None:
    """The timeout kills each container that overruns it, and only those.

    Podman's wait sees even ``true`` exit 0.3 to 1.2 s after its start on this loaded
    machine (conmon's exit file, then its cleanup), so the timeout there is 3 s."""
    configs = [box.command(["sleep", "30"]).build(), box.command(["true"]).build()]
    timeout = 3.0 if engine.podman else 0.5
    outcomes = sr.run_many(configs, workers=2, timeout=timeout, client=docker_client)
    assert [o.unwrap().timed_out for o in outcomes] == [True, False]
    assert _containers(docker_client, batch) == []


def test_without_a_client_one_is_made(box: sr.RunBuilder, docker_client, batch) -> None:
    """With no client given, run_many connects as docker.from_env() would and runs the batch."""
    outcomes = sr.run_many([box.command(["echo", "x"]).build()] * 2, workers=2)
    assert [o.unwrap().stdout for o in outcomes] == [b"x\n", b"x\n"]
    assert _containers(docker_client, batch) == []


def test_more_workers_than_docker_pys_pool_drop_no_connection(
    box: sr.RunBuilder, batch, caplog: pytest.LogCaptureFixture
) -> None:
    """With 12 workers the batch's own client pools 12 connections: urllib3 discards none.

    docker-py's default pool keeps 10; the 11th and 12th concurrent waits would each open
    a connection that urllib3 then drops with "Connection pool is full".
    """
    workers = docker.constants.DEFAULT_MAX_POOL_SIZE + 2
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        outcomes = sr.run_many([box.command(["sleep", "1"]).build()] * workers, workers=workers)
    assert [o.unwrap().exit_code for o in outcomes] == [0] * workers
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []


_CHILD = textwrap.dedent(
    """
    import sys
    import secure_run as sr
    image, batch = sys.argv[1], sys.argv[2]
    cfg = (sr.builder(image).command(["sleep", "60"])
           .labels({"secure-run.test": "1", "secure-run.test.batch": batch}).build())
    try:
        sr.run_many([cfg] * 6, workers=2)
    except KeyboardInterrupt:
        sys.exit(130)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_cancels_and_removes_everything(
    signum: int, test_image: str, docker_client, batch
) -> None:
    """SIGINT or SIGTERM mid-batch ends the process promptly, with no container left."""
    with subprocess.Popen([sys.executable, "-c", _CHILD, test_image, batch]) as process:
        try:
            deadline = time.monotonic() + 30
            while len(_containers(docker_client, batch, running=True)) < 2:
                assert time.monotonic() < deadline, "the batch did not start"
                assert process.poll() is None, "the child ended early"
                time.sleep(0.05)
            sent = time.monotonic()
            process.send_signal(signum)
            code = process.wait(timeout=30)
            elapsed = time.monotonic() - sent
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 128 + signum  # 130 for SIGINT (KeyboardInterrupt), 143 for SIGTERM
    assert elapsed < 15  # the 60 s containers were killed, not waited for
    assert _containers(docker_client, batch) == []

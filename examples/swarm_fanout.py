"""An orchestrator on a Docker Swarm: a batch of jobs fanned out as one service each.

Usage: python3 examples/swarm_fanout.py [IMAGE]

Each job is a one-shot service (``sr.service(cfg, replicas=1)``) of the ``sandbox``
config: the swarm places it on whichever node has room, it runs once (a config with
no restart policy becomes the restart condition ``none``, so a finished task is not
started again), and its output is read back with ``SecureService.logs()``. All the
services are made first, so the jobs run at the same time across the nodes; each is
removed, with the internal overlay its ``network("none")`` got, when the ``with``
block ends, whatever happens (Ctrl-C included).

One job exits 3 on purpose: its task ends ``failed`` and the batch carries on. The
script exits 0 when every job ended as expected, 1 otherwise.

The manager comes from ``$SECURE_RUN_SWARM_MANAGER`` (a Docker base URL, as
``eval "$(scripts/swarm.sh env)"`` sets it after ``make swarm-up``); without it the
script says so and exits 0. The image comes from the first argument, else
``$SECURE_RUN_IMAGE``, else ``secure-run-test/busybox:latest``, and must be on every
node: nothing is ever pulled.

The nodes of the test swarm run ``dockerd --no-new-privileges``, and their manager
speaks Engine API 1.41, which has no service field for no-new-privileges or swap: the
opt-ins ``swarm-daemon-nnp`` and ``swarm-default-swap`` say so (a manager at API 1.44
or later needs neither for no-new-privileges). Without them ``sr.service()`` refuses.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

import docker

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
MANAGER_ENV = "SECURE_RUN_SWARM_MANAGER"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
OPT_INS = ("swarm-daemon-nnp", "swarm-default-swap")  # what the nodes carry (see above)
JOBS = 5  # job i prints i and its square; one more job fails on purpose
FAILING_EXIT = 3
TIMEOUT = 90.0  # seconds the whole batch may take
#: The states a task does not leave again (docker's ``TaskState``).
FINAL = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def batch(image: str) -> dict[str, sr.RunConfig]:
    """The jobs by name: JOBS that succeed, then one that exits FAILING_EXIT."""
    sandbox = sr.preset("sandbox", image).memory("32m").labels(EXAMPLE_LABELS)
    jobs = {
        f"fanout-job-{i}": sandbox.command(["sh", "-c", f"echo job {i}: $(({i} * {i}))"]).build()
        for i in range(JOBS)
    }
    fails = ["sh", "-c", f"echo giving up >&2; exit {FAILING_EXIT}"]
    jobs["fanout-job-fails"] = sandbox.command(fails).build()
    return jobs


def final_task(svc: sr.SecureService, deadline: float) -> dict[str, Any]:
    """The service's one task once it has ended (restart none: it is not started again)."""
    while True:
        tasks = svc.tasks(desired_state=None)
        ended = [t for t in tasks if (t.get("Status") or {}).get("State") in FINAL]
        if ended:
            return ended[0]
        if time.monotonic() >= deadline:
            states = [(t.get("Status") or {}).get("State") for t in tasks]
            raise sr.RunTimeout(f"service {svc.name} has not ended (tasks: {states})")
        time.sleep(0.2)


def run_batch(manager: docker.DockerClient, jobs: dict[str, sr.RunConfig]) -> list[str]:
    """Fan the jobs out, wait for each, collect each outcome line; remove everything."""
    lines = []
    started = time.monotonic()
    with contextlib.ExitStack() as stack:  # every service is removed on every exit path
        services = [
            stack.enter_context(sr.service(cfg, replicas=1, client=manager, name=name,
                                           opt_ins=OPT_INS))
            for name, cfg in jobs.items()
        ]  # fmt: skip
        print(f"fanned out {len(services)} services in {time.monotonic() - started:.1f} s")
        deadline = started + TIMEOUT
        for svc in services:
            task = final_task(svc, deadline)
            status = task["Status"]
            exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
            output = " | ".join(svc.logs().split("\n")).strip(" |")
            node = task.get("NodeID", "?")[:12]
            lines.append(f"{svc.name}: {status['State']} (exit {exit_code}) on node {node}: "
                         f"{output}")  # fmt: skip
            print(lines[-1])
    print(f"{len(lines)} jobs done and removed in {time.monotonic() - started:.1f} s")
    return lines


def main() -> int:
    url = os.environ.get(MANAGER_ENV, "").strip()
    if not url:
        print(f"skipped: {MANAGER_ENV} is not set (start a swarm with `make swarm-up`, "
              f'then `eval "$(scripts/swarm.sh env)"`)')  # fmt: skip
        return 0
    manager = docker.DockerClient(base_url=url, version="auto")
    try:
        lines = run_batch(manager, batch(image_name()))
    finally:
        manager.close()
    expected = [f"fanout-job-{i}: complete (exit 0)" for i in range(JOBS)]
    outputs = [f"job {i}: {i * i}" for i in range(JOBS)]
    good = all(
        line.startswith(want) and line.endswith(out)
        for line, want, out in zip(lines, expected, outputs)
    )
    failed = lines[-1].startswith(f"fanout-job-fails: failed (exit {FAILING_EXIT})")
    print(f"every job as expected: {good and failed}")
    return 0 if good and failed else 1


if __name__ == "__main__":
    sys.exit(main())

"""An orchestrator: a batch of sandboxed jobs, at most a few at a time, results in order.

Usage: python3 examples/orchestrator.py [IMAGE]

``sr.run_many()`` runs each config as ``sr.run()`` would (hardened, killed at its
timeout, output capped, always removed) in a pool of ``workers`` threads sharing
one Docker client, and returns one outcome per config in the order given. One job
that fails does not lose the others: here a job whose image is missing comes back
as an ``ImageNotFound`` error (nothing is pulled) and a job that runs too long as
a timed-out result, while the rest finish. Ctrl-C drops the jobs not yet started,
kills the running ones and removes every container before it is raised.

The script exits 0 when every job ended as expected, 1 otherwise.

The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import sys
import time

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
JOBS = 12  # each sleeps JOB_SECONDS, then prints its number and its square
JOB_SECONDS = 1
WORKERS = 4  # containers running at the same time, at most
TIMEOUT = 3  # seconds each job may run
MISSING_IMAGE = "secure-run-example/missing:latest"


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def batch(image: str) -> list[sr.RunConfig]:
    """One job that never ends, one whose image is missing, then JOBS ordinary ones."""
    sandbox = sr.preset("sandbox", image).memory("32m").labels(EXAMPLE_LABELS)
    never_ends = sandbox.command(["sh", "-c", "while :; do :; done"]).build()
    missing = sandbox.image(MISSING_IMAGE).command(["true"]).build()
    jobs = [
        sandbox.command(["sh", "-c", f"sleep {JOB_SECONDS}; echo job {i}: $(({i} * {i}))"]).build()
        for i in range(JOBS)
    ]
    return [never_ends, missing, *jobs]


def main() -> int:
    configs = batch(image_name())
    started = time.monotonic()
    outcomes = sr.run_many(configs, workers=WORKERS, timeout=TIMEOUT, max_output=4096)
    elapsed = time.monotonic() - started

    for index, outcome in enumerate(outcomes):  # one per config, in the order given
        if outcome.error is not None:
            print(f"{index:>2}: error {type(outcome.error).__name__}: {outcome.error}")
        elif outcome.result is not None and outcome.result.timed_out:
            print(f"{index:>2}: killed at the {TIMEOUT} s timeout")
        elif outcome.result is not None:
            output = outcome.result.stdout.decode().strip()
            print(f"{index:>2}: exit {outcome.result.exit_code}: {output}")

    serial = TIMEOUT + JOBS * JOB_SECONDS
    print(f"{len(outcomes)} outcomes for {len(configs)} configs in {elapsed:.1f} s with "
          f"{WORKERS} workers (one at a time: over {serial} s)")  # fmt: skip
    never_ends, missing, *jobs = outcomes
    results = [o.unwrap() for o in jobs]  # unwrap(): the result, or raise the error
    in_order = [r.stdout.decode().strip() for r in results] == [
        f"job {i}: {i * i}" for i in range(JOBS)
    ]
    killed = never_ends.result is not None and never_ends.result.timed_out
    reported = isinstance(missing.error, sr.ImageNotFound)
    print(f"results in input order: {in_order}; timeout killed: {killed}; "
          f"missing image reported: {reported}")  # fmt: skip
    return 0 if in_order and killed and reported else 1


if __name__ == "__main__":
    sys.exit(main())

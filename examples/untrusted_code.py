"""Run untrusted code in the ``sandbox`` preset and report how each program ended.

Usage: python3 examples/untrusted_code.py [IMAGE]

Five "untrusted" shell programs run, one container each, in the sandbox: no
network, nobody, no capabilities, a read-only root, 0.5 CPU, 256 MiB and 64
processes. Each program reaches the container on its standard input, which works
with a read-only root where copying a file in would not. ``sr.run()`` kills the
container at the wall-clock timeout (docker-py's ``wait(timeout=)`` only stops
waiting), keeps at most ``max_output`` bytes of each stream, tells an OOM kill
from a timeout, and removes the container on every path.

The programs: one that finishes, a busy loop (killed at its timeout), a memory
hog (killed by the kernel at the memory limit), a fork loop (stopped by the pids
limit) and an output flood (cut at ``max_output``). The script exits 0 when each
ended the way the sandbox should make it end, 1 otherwise.

The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
MAX_OUTPUT = 64 * 1024  # bytes kept of each stream; the rest is read and dropped

PRIMES = """
n=2; found=""
while [ "$n" -lt 60 ]; do
    d=2; prime=1
    while [ $((d * d)) -le "$n" ]; do
        [ $((n % d)) -eq 0 ] && { prime=0; break; }
        d=$((d + 1))
    done
    [ "$prime" -eq 1 ] && found="$found $n"
    n=$((n + 1))
done
echo "primes below 60:$found"
"""


class Job(NamedTuple):
    name: str
    program: str
    timeout: float
    memory: str  # the sandbox's 256m, or less for the memory hog
    expected: str  # how the sandbox should make it end


JOBS = (
    Job("primes", PRIMES, 20, "256m", "finished"),
    Job("busy loop", "echo spinning; while :; do :; done", 2, "256m", "timed out"),
    Job("memory hog", "dd if=/dev/zero of=/dev/null bs=128M count=1", 20, "64m", "OOM-killed"),
    Job("fork loop", "while :; do sleep 60 & done", 20, "256m", "failed"),
    Job("output flood", "yes 'all work and no play' | head -c 5000000", 20, "256m", "truncated"),
)


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def run_untrusted(sandbox: sr.RunBuilder, job: Job) -> sr.RunResult:
    """Run one program with ``sh -s``, its source on standard input."""
    cfg = sandbox.memory(job.memory).command(["sh", "-s"]).build()
    return sr.run(cfg, stdin=job.program.encode(), timeout=job.timeout, max_output=MAX_OUTPUT)


def outcome(result: sr.RunResult) -> str:
    """How a run ended: who stopped it, if anyone."""
    if result.timed_out:
        return "timed out"  # secure_run killed it at the deadline
    if result.oom_killed or result.exit_code == 137:
        # The kernel killed it at the memory limit. A SIGKILL secure_run did not send
        # counts too: containerd sometimes misses the OOM event (containerd#8180), and
        # then State.OOMKilled stays false.
        return "OOM-killed"
    if result.truncated:
        return "truncated"  # more output than max_output; the rest was dropped
    return "finished" if result.exit_code == 0 else "failed"


def main() -> int:
    sandbox = sr.preset("sandbox", image_name()).labels(EXAMPLE_LABELS)
    held = 0
    for job in JOBS:
        result = run_untrusted(sandbox, job)
        got = outcome(result)
        held += got == job.expected
        print(f"{job.name}: {got} (exit {result.exit_code}, {result.duration_s:.2f} s)")
        if result.kill_latency_s is not None:
            print(f"    killed {result.kill_latency_s:.2f} s after the {job.timeout:g} s deadline")
        kept = f"{len(result.stdout)} bytes kept" + (", truncated" if result.truncated else "")
        first = result.stdout.decode(errors="replace").splitlines()[:1]
        print(f"    stdout: {kept}{': ' + first[0] if first else ''}")
        for line in result.stderr.decode(errors="replace").splitlines()[:2]:
            print(f"    stderr: {line}")
    print(f"the sandbox held for {held} of {len(JOBS)} programs")
    return 0 if held == len(JOBS) else 1


if __name__ == "__main__":
    sys.exit(main())

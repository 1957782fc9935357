"""Run untrusted code in the ``sandbox`` preset, with a wall-clock timeout that really kills.

Usage: python3 examples/untrusted_code.py [IMAGE]

Two jobs run in the same sandbox: a small shell computation that finishes, and a
busy loop that never would. ``container.wait(timeout=)`` is only an HTTP read
timeout in docker-py and leaves the container running, so on a timeout the
container is killed, and in every case it is removed in a ``finally``.

The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import sys

import docker
import requests

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}

# The "untrusted" programs: busybox sh scripts.
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
BUSY_LOOP = "echo 'spinning forever'; while :; do :; done"


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def run_untrusted(
    client: docker.DockerClient, cfg: sr.RunConfig, timeout: float
) -> tuple[int, bool, str]:
    """Run ``cfg`` for at most ``timeout`` seconds: (exit status, timed out?, output)."""
    kwargs = cfg.to_docker_kwargs()
    kwargs["labels"] = {**kwargs["labels"], **EXAMPLE_LABELS}
    container = client.containers.create(**kwargs)
    try:
        container.start()
        try:
            status = container.wait(timeout=timeout)["StatusCode"]
            timed_out = False
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            container.kill()
            status = container.wait(timeout=30)["StatusCode"]
            timed_out = True
        # The sandbox's log limit (1 MiB x 2 files) bounds how much output there can be.
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return status, timed_out, output
    finally:
        container.remove(force=True)


def main() -> int:
    sandbox = sr.preset("sandbox", image_name())  # no network, nobody, 0.5 CPU, 256 MiB, 64 pids
    client = docker.from_env()
    try:
        for label, script, timeout in (("primes", PRIMES, 20), ("busy loop", BUSY_LOOP, 3)):
            cfg = sandbox.command(["sh", "-c", script]).build()
            status, timed_out, output = run_untrusted(client, cfg, timeout)
            verdict = f"killed after {timeout} s" if timed_out else "finished"
            print(f"{label}: {verdict}, exit status {status}")
            for line in output.strip().splitlines():
                print(f"    {line}")
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lifecycle figures: how soon a timed-out container dies, and how many containers leak.

Run: ``python benchmarks/lifecycle.py [N]`` with an engine up and the test image
built (``make test`` builds it). Prints the median and worst time from the
timeout's deadline to the container seen dead, over N runs of an endless loop,
and the count of secure_run containers left after a mixed batch of launches
that return, raise, time out, and fail to start.
"""

from __future__ import annotations

import contextlib
import statistics
import sys

import docker

import secure_run as sr
from secure_run._engine.labels import MANAGED_LABEL
from secure_run.testing import build_test_image


def managed(client: docker.DockerClient) -> int:
    return len(client.api.containers(all=True, filters={"label": f"{MANAGED_LABEL}=1"}))


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    client = docker.from_env()
    box = sr.builder(build_test_image(client)).labels({"secure-run.bench": "1"})
    before = managed(client)

    loop = box.command(["sh", "-c", "while :; do :; done"]).build()
    latencies = []
    for _ in range(runs):
        result = sr.run(loop, timeout=0.5, client=client)
        assert result.timed_out
        assert result.kill_latency_s is not None
        latencies.append(result.kill_latency_s * 1000)

    attempts = 0
    for _ in range(runs):
        attempts += 4
        sr.run(box.command(["true"]).build(), client=client)
        try:
            with sr.launch(box.command(["sleep", "30"]).build(), client=client):
                raise RuntimeError("user code failed")
        except RuntimeError:
            pass
        sr.run(loop, timeout=0.2, client=client)
        with contextlib.suppress(sr.LaunchError):
            sr.launch(box.init(False).command(["/no/such/program"]).build(), client=client)
    leaked = managed(client) - before

    print(f"engine: Docker {client.version()['Version']}, {runs} timed-out runs")
    print(
        f"deadline to container dead: median {statistics.median(latencies):.0f} ms, "
        f"worst {max(latencies):.0f} ms"
    )
    print(
        f"leaked containers after {attempts} launches (return, raise, timeout, failed start): "
        f"{leaked}"
    )
    return 0 if leaked == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

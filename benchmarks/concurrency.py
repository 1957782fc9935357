"""Concurrency: launch, run and remove 40 containers with 1, 2, 4 and 8 workers.

``sr.run_many(configs, workers=w)`` against raw docker-py on a thread pool of the
same width (``client.containers.run(**cfg.to_docker_kwargs(), remove=True)`` per
config, one shared client). Each round runs both, in alternating order; the
throughput ratio is taken per round and its median reported.

Run alone: ``python3 benchmarks/concurrency.py``.
"""

from __future__ import annotations

import concurrent.futures
import sys
from typing import Any

import common
import docker

import secure_run as sr

WIDTHS = (1, 2, 4, 8)


def sr_batch(client: docker.DockerClient, configs: list[sr.RunConfig], workers: int) -> None:
    outcomes = sr.run_many(configs, workers=workers, client=client)
    assert all(o.unwrap().exit_code == 0 for o in outcomes)


def raw_batch(client: docker.DockerClient, configs: list[sr.RunConfig], workers: int) -> None:
    kwargs = [cfg.to_docker_kwargs() for cfg in configs]  # as a caller would: per config
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda k: client.containers.run(**k, remove=True), kwargs))


def measure(
    client: docker.DockerClient, image: str, containers: int, rounds: int
) -> dict[str, Any]:
    configs = [common.restricted(image, ["true"])] * containers
    sr_batch(client, configs[:4], 2)  # warm-up both paths
    raw_batch(client, configs[:4], 2)
    rows = []
    for width in WIDTHS:
        sr_s: list[float] = []
        raw_s: list[float] = []
        for r in range(rounds):
            pair = [("sr", sr_batch, sr_s), ("raw", raw_batch, raw_s)]
            for _, fn, out in pair if r % 2 == 0 else pair[::-1]:
                out.append(common.timed(lambda fn=fn, w=width: fn(client, configs, w)))
            print(
                f"  concurrency w={width} round {r + 1}/{rounds}: run_many {sr_s[-1]:.2f} s, "
                f"docker-py {raw_s[-1]:.2f} s",
                flush=True,
            )
        rows.append(
            {
                "workers": width,
                "run_many_s": common.summary(sr_s),
                "docker_py_s": common.summary(raw_s),
                "run_many_per_s": containers / common.summary(sr_s)["median"],
                "docker_py_per_s": containers / common.summary(raw_s)["median"],
                # throughput ratio per round: docker-py's time over run_many's (>1: run_many faster)
                "throughput_ratio": common.summary([b / a for a, b in zip(sr_s, raw_s)]),
            }
        )
    return {"containers": containers, "rounds": rounds, "rows": rows}


def main() -> int:
    client = docker.from_env()
    try:
        image = common.image(client)
        containers, rounds = (8, 1) if common.QUICK else (40, 6)
        res = measure(client, image, containers, rounds)
        for row in res["rows"]:
            print(
                f"w={row['workers']}: run_many {row['run_many_per_s']:.1f}/s, "
                f"docker-py {row['docker_py_per_s']:.1f}/s, "
                f"ratio {row['throughput_ratio']['median']:.3f}"
            )
    finally:
        common.remove_leftovers(client)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""asyncio throughput: N concurrent ``sra.run`` calls against ``sr.run_many(workers=N)``.

The same configs (a busybox ``true`` under the restricted preset) run three ways per
round, in rotating order:

- ``run_many``: ``sr.run_many(configs, workers=N, client=shared)``;
- ``aio``: N ``sra.run(cfg, client=shared)`` in flight at a time (``asyncio.gather``
  of every call, each entered under an ``asyncio.Semaphore(N)``), as a web service
  sharing one client would call them;
- ``aio_own_client``: the same with no client given, so each call makes its own (as
  ``sr.run`` without a client does).

The shared client has a pool of N connections. Each figure is the median of the
rounds; the throughput ratio (``run_many`` seconds over ``aio`` seconds, > 1: aio
faster) is taken per round and its median reported; the goal is within 5% (>= 0.95).

Run alone: ``python3 benchmarks/aio_throughput.py [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, Callable

import common
import docker

import secure_run as sr
import secure_run.aio as sra
from secure_run._engine.client import connect as sr_connect

WORKERS = 8


def many_batch(client: docker.DockerClient, configs: list[sr.RunConfig], n: int) -> None:
    outcomes = sr.run_many(configs, workers=n, client=client)
    assert all(o.unwrap().exit_code == 0 for o in outcomes)


def aio_batch(client: docker.DockerClient | None, configs: list[sr.RunConfig], n: int) -> None:
    """N calls in flight at a time, as N workers would keep them."""

    async def main() -> list[sr.RunResult]:
        limit = asyncio.Semaphore(n)

        async def one(cfg: sr.RunConfig) -> sr.RunResult:
            async with limit:
                return await sra.run(cfg, client=client)

        return await asyncio.gather(*(one(cfg) for cfg in configs))

    assert all(r.exit_code == 0 for r in asyncio.run(main()))


def measure(client: docker.DockerClient, image: str, containers: int, rounds: int,
            workers: int = WORKERS) -> dict[str, Any]:  # fmt: skip
    shared = sr_connect(max_pool_size=workers)
    try:
        configs = [common.restricted(image, ["true"])] * containers
        ways: list[tuple[str, Callable[[], None]]] = [
            ("run_many", lambda: many_batch(shared, configs, workers)),
            ("aio", lambda: aio_batch(shared, configs, workers)),
            ("aio_own_client", lambda: aio_batch(None, configs, workers)),
        ]
        many_batch(shared, configs[:4], 2)  # warm-up every path
        aio_batch(shared, configs[:4], 2)
        seconds: dict[str, list[float]] = {name: [] for name, _ in ways}
        for r in range(rounds):
            order = ways[r % len(ways) :] + ways[: r % len(ways)]
            for name, fn in order:
                seconds[name].append(common.timed(fn))
            shown = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items())
            print(f"  aio round {r + 1}/{rounds}: {shown}", flush=True)
    finally:
        shared.close()
    many = seconds["run_many"]
    return {
        "workers": workers,
        "containers": containers,
        "rounds": rounds,
        **{f"{name}_s": common.summary(s) for name, s in seconds.items()},
        **{
            f"{name}_per_s": containers / common.summary(s)["median"] for name, s in seconds.items()
        },
        # per round: run_many's time over aio's (> 1: aio faster; the goal is >= 0.95)
        "aio_ratio": common.summary([m / a for m, a in zip(many, seconds["aio"])]),
        "aio_own_client_ratio": common.summary(
            [m / a for m, a in zip(many, seconds["aio_own_client"])]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    client = docker.from_env()
    try:
        image = common.image(client)
        containers, rounds = (16, 1) if common.QUICK else (48, 5)
        res = measure(client, image, containers, rounds)
        res["machine"] = common.machine(client)
        own_ratio = res["aio_own_client_ratio"]["median"]
        print(
            f"N={res['workers']}, {containers} containers, {rounds} rounds: "
            f"run_many {res['run_many_per_s']:.1f}/s, aio {res['aio_per_s']:.1f}/s "
            f"(ratio {res['aio_ratio']['median']:.3f}), aio with a client per call "
            f"{res['aio_own_client_per_s']:.1f}/s (ratio {own_ratio:.3f})"
        )
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump(res, f, indent=2)
    finally:
        common.remove_leftovers(client)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

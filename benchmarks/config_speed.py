"""Config speed: build and validate a config from a preset with ten settings changed,
and translate it with ``to_docker_kwargs()``. No engine is needed.

Run alone: ``python3 benchmarks/config_speed.py``. Each figure is the median, over
many ``timeit`` repeats, of the per-call time of a repeat.
"""

from __future__ import annotations

import re
import sys
import timeit
from typing import Any, Callable

import common

import secure_run as sr

#: The ten settings changed from the restricted preset, as a user would write them.
TEN_SETTINGS = (
    "command",
    "env",
    "user",
    "memory",
    "cpus",
    "pids_limit",
    "ulimit",
    "tmpfs",
    "workdir",
    "labels",
)


def builder() -> sr.RunBuilder:
    """The restricted preset with the ten settings changed, not built yet."""
    return (
        sr.builder(common.TEST_IMAGE_FOR_CONFIG)
        .command(["python3", "-c", "print(1)"])
        .env({"MODE": "batch"})
        .user(1000, 1000)
        .memory("256m", reservation="128m")
        .cpus(0.5)
        .pids_limit(64)
        .ulimit("nofile", 512)
        .tmpfs("/scratch", size="32m")
        .workdir("/home/app")
        .labels({"team": "bench"})
    )


def per_call(fn: Callable[[], object], number: int, repeat: int) -> list[float]:
    """Seconds per call, one figure per repeat of ``number`` calls."""
    return [t / number for t in timeit.repeat(fn, number=number, repeat=repeat)]


def profile(fn: Callable[[], object], n: int, limit: int = 12) -> list[dict[str, Any]]:
    rows = []
    for filename, line, name, ncalls, tottime, _cum in common.cprofile(fn, n):
        short = re.sub(r".*/(secure_run/|site-packages/)", r"\1", filename)
        rows.append(
            {
                "function": f"{short}:{line}({name})",
                "calls_per_op": ncalls / n,
                "own_us": tottime / n * 1e6,
            }
        )
    rows.sort(key=lambda r: -r["own_us"])
    return rows[:limit]


def measure() -> dict[str, Any]:
    number, repeat = (200, 15) if common.QUICK else (2000, 60)
    cfg = builder().build()
    steps = builder()  # the chain without build(): what the ten calls cost
    results: dict[str, Any] = {
        "settings_changed": list(TEN_SETTINGS),
        "number": number,
        "repeat": repeat,
        "build_and_validate_us": None,
        "chain_only_us": None,
        "build_only_us": None,
        "to_docker_kwargs_us": None,
    }
    build_all = per_call(lambda: builder().build(), number, repeat)
    chain = per_call(builder, number, repeat)
    build_only = per_call(steps.build, number, repeat)
    kwargs = per_call(cfg.to_docker_kwargs, number * 5, repeat)
    for key, samples in (
        ("build_and_validate_us", build_all),
        ("chain_only_us", chain),
        ("build_only_us", build_only),
        ("to_docker_kwargs_us", kwargs),
    ):
        results[key] = common.summary([s * 1e6 for s in samples])
    n = 300 if common.QUICK else 3000
    results["profile_build"] = profile(lambda: builder().build(), n)
    results["profile_to_docker_kwargs"] = profile(cfg.to_docker_kwargs, n)
    return results


def main() -> int:
    res = measure()
    for key in ("build_and_validate_us", "chain_only_us", "build_only_us", "to_docker_kwargs_us"):
        print(f"{key:24} median {res[key]['median']:8.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())

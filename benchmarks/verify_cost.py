"""What verify() costs on one running container, against the inspect call it needs anyway.

Run on a machine with a local Docker Engine (as root, so /proc/<pid> is readable)::

    python benchmarks/verify_cost.py            # N=200, exec probe N=20
    python benchmarks/verify_cost.py --n 500 --exec-n 50

It starts one restricted-preset container (``sleep 60``) on the test image, times
each way of checking it, interleaved, prints the median and 90th percentile in
milliseconds and the median cost beyond a bare ``inspect_container`` call (paired
per iteration), and always removes the container. ``run_all.py`` calls
:func:`measure` as part of ``make bench``. It is a script, not a test: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from typing import Any, Callable

import common  # puts this checkout's secure_run on sys.path
import docker
import docker.errors

import secure_run as sr
from secure_run._proof.verify import verify
from secure_run.testing import build_test_image


def timed(fn: Callable[[], object], n: int, warmup: int = 3) -> list[float]:
    """Milliseconds per call, ``n`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1]


def measure(
    client: docker.DockerClient, image: str, n: int = 200, exec_n: int = 20
) -> dict[str, Any]:
    """Time each way of checking one running restricted container, interleaved.

    Each iteration calls every way once (the exec probe only every ``n // exec_n``
    iterations), so drift touches all alike; "beyond inspect" is the median of the
    per-iteration differences from the bare ``inspect_container`` call.
    """
    cfg = sr.builder(image).command(["sleep", "60"]).labels(common.BENCH_LABELS).build()
    container = client.containers.run(**cfg.to_docker_kwargs(), detach=True)
    try:
        cid = container.id or ""
        report = verify(cid, cfg, client=client)  # strict: the container must be faithful
        host_checks = sum(c.source.startswith("host") for c in report.checks)
        ways: dict[str, Callable[[], object]] = {
            "inspect_container alone": lambda: client.api.inspect_container(cid),
            "verify(kernel=False)": lambda: verify(cid, cfg, client=client, kernel=False),
            "verify(kernel=True), host /proc": lambda: verify(cid, cfg, client=client),
            "verify(kernel='exec'), exec probe":
                lambda: verify(cid, cfg, client=client, kernel="exec"),
        }  # fmt: skip
        for fn in ways.values():
            timed(fn, 0, warmup=3)
        samples: dict[str, list[float]] = {name: [] for name in ways}
        every = max(1, n // max(exec_n, 1))
        for i in range(n):
            for name, fn in ways.items():
                if "exec" in name and i % every:
                    continue
                samples[name].extend(timed(fn, 1, warmup=0))
        base = samples["inspect_container alone"]
        rows = {}
        for name, s in samples.items():
            row: dict[str, Any] = {"n": len(s), "median_ms": statistics.median(s), "p90_ms": p90(s)}
            if name != "inspect_container alone":
                paired = [x - base[j * (every if "exec" in name else 1)] for j, x in enumerate(s)]
                row["beyond_inspect_ms"] = statistics.median(paired)
            rows[name] = row
        return {"checks": len(report.checks), "host_checks": host_checks, "ways": rows}
    finally:
        with contextlib.suppress(docker.errors.APIError):  # 404 gone, 409 being removed
            container.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="calls per way (default 200)")
    parser.add_argument("--exec-n", type=int, default=20, help="exec probe calls (default 20)")
    args = parser.parse_args()

    client = docker.from_env()
    try:
        image = build_test_image(client)
        res = measure(client, image, args.n, args.exec_n)
        info = client.version()
        print(
            f"engine {info.get('Version')} (API {info.get('ApiVersion')}), "
            f"python {platform.python_version()}, {res['checks']} checks "
            f"({res['host_checks']} from the host)"
        )
        print(f"{'way':36} {'n':>4} {'median ms':>10} {'p90 ms':>8} {'beyond inspect':>15}")
        for name, row in res["ways"].items():
            extra = row.get("beyond_inspect_ms")
            shown = "" if extra is None else f"{extra:+.3f} ms"
            print(f"{name:36} {row['n']:>4} {row['median_ms']:>10.3f} {row['p90_ms']:>8.3f} "
                  f"{shown:>15}")  # fmt: skip
    finally:
        client.close()


if __name__ == "__main__":
    main()

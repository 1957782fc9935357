"""What verify() costs on one running container, against the inspect call it needs anyway.

Run on a machine with a local Docker Engine (as root, so /proc/<pid> is readable)::

    python benchmarks/verify_cost.py            # N=200, exec probe N=20
    python benchmarks/verify_cost.py --n 500 --exec-n 50

It starts one restricted-preset container (``sleep 60``) on the test image, times
each way of checking it, prints the median and 90th percentile in milliseconds and
the median cost beyond a bare ``inspect_container`` call, and always removes the
container. It is a script, not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Callable

import docker

import secure_run as sr
from secure_run._verify import verify
from secure_run.testing import TEST_LABELS, build_test_image


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="calls per way (default 200)")
    parser.add_argument("--exec-n", type=int, default=20, help="exec probe calls (default 20)")
    args = parser.parse_args()

    client = docker.from_env()
    image = build_test_image(client)
    cfg = sr.builder(image).command(["sleep", "60"]).labels(TEST_LABELS).build()
    container = client.containers.run(**cfg.to_docker_kwargs(), detach=True)
    try:
        cid = container.id or ""
        report = verify(cid, cfg, client=client)  # strict: the container must be faithful
        host_checks = sum(c.source.startswith("host") for c in report.checks)
        ways: list[tuple[str, Callable[[], object], int]] = [
            ("inspect_container alone", lambda: client.api.inspect_container(cid), args.n),
            ("verify(kernel=False)", lambda: verify(cid, cfg, client=client, kernel=False),
             args.n),
            ("verify(kernel=True), host /proc", lambda: verify(cid, cfg, client=client),
             args.n),
            ("verify(kernel='exec'), exec probe",
             lambda: verify(cid, cfg, client=client, kernel="exec"), args.exec_n),
        ]  # fmt: skip
        info = client.version()
        print(
            f"engine {info.get('Version')} (API {info.get('ApiVersion')}), "
            f"python {platform.python_version()}, {len(report.checks)} checks "
            f"({host_checks} from the host)"
        )
        print(f"{'way':36} {'n':>4} {'median ms':>10} {'p90 ms':>8} {'beyond inspect':>15}")
        base = None
        for name, fn, n in ways:
            samples = timed(fn, n)
            median = statistics.median(samples)
            base = median if base is None else base
            extra = "" if median is base else f"{median - base:+.3f} ms"
            print(f"{name:36} {n:>4} {median:>10.3f} {p90(samples):>8.3f} {extra:>15}")
    finally:
        container.remove(force=True)
        client.close()


if __name__ == "__main__":
    main()

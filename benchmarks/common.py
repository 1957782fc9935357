"""What the benchmarks share: the machine's description, the config, labels, statistics.

Every container a benchmark makes uses the test image (never pulled), network
``none``, the restricted preset's settings, and carries ``TEST_LABELS`` plus
``secure-run.bench=1``, so a leak is easy to find and remove.
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime
import io
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import docker
import docker.errors

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's secure_run, installed or not

import secure_run as sr  # noqa: E402
from secure_run.testing import TEST_IMAGE, TEST_LABELS, build_test_image  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "results.json"
DOC = ROOT / "docs" / "performance.md"
#: Labels on every benchmark container. ``TEST_LABELS`` make them count in a test
#: session's leak check; ``BENCH_TEST_LABELS=0`` leaves those off, for a benchmark run
#: next to test sessions on the same engine, whose leak checks would otherwise remove
#: the benchmark's containers mid-run (and report them as their own leaks).
BENCH_LABELS = {
    **(TEST_LABELS if os.environ.get("BENCH_TEST_LABELS", "1") != "0" else {}),
    "secure-run.bench": "1",
}

#: ``BENCH_QUICK=1``: a smoke run with few repeats; its figures mean little.
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def image(client: docker.DockerClient) -> str:
    """The test image's tag, built from the host's busybox if absent; nothing is pulled."""
    return build_test_image(client, tag=TEST_IMAGE)


def restricted(image_tag: str, command: list[str]) -> sr.RunConfig:
    """The restricted preset on the test image, running ``command``, labelled for benches."""
    return sr.builder(image_tag).command(command).labels(BENCH_LABELS).build()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load_average() -> list[float]:
    with contextlib.suppress(OSError):
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    return []


def machine(client: docker.DockerClient) -> dict[str, Any]:
    """The engine, kernel, cgroup version, CPU, Python and the date of the run."""
    info = client.info()
    version = client.version()
    packages = {}
    for name in ("docker", "python-on-whales", "testcontainers"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version as dist_version

            packages[name] = dist_version(name)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "engine": str(info.get("ServerVersion")),
        "api": str(version.get("ApiVersion")),
        "os": str(info.get("OperatingSystem")),
        "kernel": str(info.get("KernelVersion")),
        "cgroup": f"v{info.get('CgroupVersion', '1')} ({info.get('CgroupDriver')} driver)",
        "storage": str(info.get("Driver")),
        "cpu": cpu_model(),
        "ncpu": int(info.get("NCPU") or os.cpu_count() or 0),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": packages,
        "load_before": load_average(),
    }


def summary(samples: list[float]) -> dict[str, float]:
    """Median, quartiles and count of a list of samples."""
    ordered = sorted(samples)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4)
    else:
        q1, q3 = ordered[0], ordered[-1]
    return {"median": statistics.median(ordered), "q1": q1, "q3": q3, "n": len(ordered)}


def cprofile(fn: Callable[[], object], n: int) -> list[tuple[str, int, str, int, float, float]]:
    """cProfile of ``n`` calls of ``fn``: ``(file, line, function, calls, own s, cumulative s)``
    for every function seen, totals over the ``n`` calls."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fn()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    return [(file, line, name, ncalls, tottime, cumtime)
            for (file, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.items()]


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def remove_leftovers(client: docker.DockerClient) -> int:
    """Remove every container carrying the bench label; return how many there were."""
    found = client.api.containers(all=True, filters={"label": "secure-run.bench=1"})
    for c in found:
        with contextlib.suppress(docker.errors.APIError):  # 404 gone, 409 being removed
            client.api.remove_container(c["Id"], force=True, v=True)
    return len(found)


#: The image named in configs that are only built, never launched.
TEST_IMAGE_FOR_CONFIG = TEST_IMAGE

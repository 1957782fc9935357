"""Helpers for the containment battery: presets, parsers, host cgroups, the record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import docker

import secure_run as sr
from secure_run._engine.runtimes import GVISOR_MIN_PIDS, is_gvisor_name
from secure_run.testing import TEST_LABELS

#: The presets every attack runs under.
PRESETS = ("restricted", "sandbox")

Figure = Union[int, float, str, bool, list[Any], dict[str, Any], None]


#: ``SECURE_RUN_TEST_RUNTIME=runsc`` runs every suite's config under that OCI runtime
#: (the engine must register it); unset, the engine's default runtime.
RUNTIME_ENV = "SECURE_RUN_TEST_RUNTIME"


def test_runtime() -> str | None:
    """The runtime the suites' configs ask for, from ``SECURE_RUN_TEST_RUNTIME``."""
    return os.environ.get(RUNTIME_ENV) or None


def under_gvisor() -> bool:
    """The suites run under gVisor (``SECURE_RUN_TEST_RUNTIME`` names runsc)."""
    return is_gvisor_name(test_runtime())


def with_test_runtime(builder: sr.RunBuilder) -> sr.RunBuilder:
    """``builder`` under the suites' runtime; under gVisor with the pids limit it starts with."""
    runtime = test_runtime()
    if runtime is None:
        return builder
    builder = builder.runtime(runtime)
    pids = builder.build().pids_limit
    if is_gvisor_name(runtime) and pids is not None and 0 < pids < GVISOR_MIN_PIDS:
        builder = builder.pids_limit(GVISOR_MIN_PIDS)
    return builder


def preset_builder(name: str, image: str) -> sr.RunBuilder:
    """The named preset on ``image``, with the test label every container carries."""
    return with_test_runtime(sr.preset(name, image).labels(TEST_LABELS))


def preset_config(name: str, image: str = "secure-run-test/busybox") -> sr.RunConfig:
    """The preset's own settings (the limits the attacks run into)."""
    return with_test_runtime(sr.preset(name, image)).build()


def parse_attack(line: str) -> tuple[str, str]:
    """``("mknod", "EPERM")`` from ``mknod: errno=EPERM (...)``; ``("mknod", "ok")``."""
    name, _, rest = line.strip().partition(": ")
    if rest.startswith("errno="):
        return name, rest[len("errno=") :].split(" ", 1)[0]
    return name, rest.split(" ", 1)[0]


def parse_values(text: str) -> dict[str, str]:
    """``key=value`` pairs from every line of ``text`` (later keys win)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        for pair in line.split():
            key, sep, value = pair.partition("=")
            if sep:
                values[key] = value
    return values


# -- the host side ----------------------------------------------------------------------


def mem_available() -> int:
    """The host's available memory in bytes: MemAvailable plus the per-CPU free lists.

    Pages a process frees go first to its CPU's free list, which MemFree and
    MemAvailable do not count. Since Linux 6.7 those lists grow with the load (up to
    hundreds of MiB after a memory bomb here) and drain over a minute or more, so
    MemAvailable alone reads the bomb's freed memory as lost. ``/proc/zoneinfo``
    gives each list's page count.
    """
    available = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) * 1024
    if available is None:
        raise AssertionError("/proc/meminfo has no MemAvailable line")
    return available + _per_cpu_free_pages() * os.sysconf("SC_PAGE_SIZE")


def _per_cpu_free_pages() -> int:
    """The pages in every zone's per-CPU free lists (``count:`` under ``pagesets``)."""
    zoneinfo = Path("/proc/zoneinfo")
    if not zoneinfo.exists():
        return 0
    return sum(
        int(line.split()[1])
        for line in zoneinfo.read_text().splitlines()
        if line.strip().startswith("count:")
    )


class HostCgroup:
    """A running container's cgroup, read from the host's /sys/fs/cgroup (v1 or v2)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        mounts_v1: dict[str, Path] = {}
        unified: Path | None = None
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields, _, fs = line.partition(" - ")
            fstype, _source, options = [*fs.split(" "), "", "", ""][:3]
            mountpoint = Path(fields.split(" ")[4])
            if fstype == "cgroup2":
                unified = mountpoint
            elif fstype == "cgroup":
                for option in options.split(","):
                    mounts_v1.setdefault(option, mountpoint)
        self._dirs: dict[str, Path] = {}
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                if controller and controller in mounts_v1:
                    self._dirs[controller] = mounts_v1[controller] / path.lstrip("/")
            if controllers == "" and unified is not None:
                self._dirs[""] = unified / path.lstrip("/")
        self.version = 1 if "memory" in self._dirs or "pids" in self._dirs else 2

    def read(self, controller: str, name: str) -> str:
        """A cgroup file's text; ``controller`` names the v1 hierarchy (ignored on v2)."""
        directory = self._dirs[controller if self.version == 1 else ""]
        return (directory / name).read_text().strip()

    def stat(self, controller: str, name: str) -> dict[str, int]:
        """A flat ``key value`` file (``cpu.stat``, ``pids.events``) as a dict."""
        return {
            key: int(value)
            for key, value in (line.split() for line in self.read(controller, name).splitlines())
        }

    def cpu_usage_s(self) -> float:
        """CPU time the cgroup's processes have used, in seconds."""
        if self.version == 1:
            return int(self.read("cpuacct", "cpuacct.usage")) / 1e9
        return self.stat("cpu", "cpu.stat")["usage_usec"] / 1e6

    def cpu_quota(self) -> float:
        """The CFS quota, in CPUs (quota / period)."""
        if self.version == 1:
            quota = int(self.read("cpu", "cpu.cfs_quota_us"))
            period = int(self.read("cpu", "cpu.cfs_period_us"))
        else:
            quota_text, period_text = self.read("cpu", "cpu.max").split()
            quota, period = int(quota_text), int(period_text)
        return quota / period


def container_pid(client: docker.DockerClient, container_id: str) -> int:
    """The host pid of a running container's first process (0 if it is not running)."""
    pid: int = client.api.inspect_container(container_id)["State"]["Pid"]
    return pid


class Battery:
    """Collects a test's attack outcomes; the ``battery`` fixture writes them at teardown."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, attack: str, preset: str, *, control: str, **figures: Figure) -> None:
        """Note an attack's name, preset, the control that stops it, and its figures.

        Call it before the assertions, so a failed test is recorded as ``failed``.
        """
        self.entries.append(
            {"attack": attack, "preset": preset, "control": control, "figures": figures}
        )


#: Under gVisor (``SECURE_RUN_TEST_RUNTIME=runsc``, runsc 0.0~20221219): the tests whose
#: attack or whose proof cannot apply at all, each with why. None today: where gVisor
#: contains an attack differently (ENXIO for a made node, EACCES for EROFS, a synthetic
#: /proc, a whole-sandbox OOM or pids kill, no seccomp filter on a ``docker exec``), the
#: test asserts what gVisor shows (``under_gvisor()`` in the test).
GVISOR_SKIPS: dict[str, str] = {}


def gvisor_skip_reason(nodeid: str) -> str | None:
    """Why the test ``nodeid`` does not apply under gVisor, or ``None``."""
    if not under_gvisor():
        return None
    for key, reason in GVISOR_SKIPS.items():
        if key in nodeid:
            return f"under gVisor: {reason}"
    return None

"""Fixtures for the containment battery: attacks run in preset containers on the real engine.

Every attack runs in a container from the ``restricted`` preset and again from
``sandbox`` (the ``preset`` fixture), built on the test image with its attack tool
(:data:`secure_run.testing.ATTACK_TOOL_PATH`). The autouse ``battery`` fixture checks,
after every test, that the engine still answers (``ping`` and ``info``) and that the
host's available memory (``MemAvailable`` plus the per-CPU free lists, see
``support.mem_available``) has come back to within ``MEM_TOLERANCE`` of what it was
before the test; a test that leaves either behind errors at teardown.

Record of a run
---------------
With ``SECURE_RUN_BATTERY_RECORD=<path>`` set, each outcome a test records with
``battery.record(...)`` is appended to ``<path>`` as one JSON object per line (delete
the file first to start afresh). A report generator (``docs/reliability.md``) reads it.
Each line has:

``attack``
    The attack's name: ``fork-bomb``, ``memory-bomb``, ``cpu-hog``, ``disk-fill``,
    ``chown``, ``mknod``, ``mount``, ``raw-socket``, ``sethostname``, ``ptrace``,
    ``ptrace-outside``, ``kill-outside``, ``init-module``, ``finit-module``,
    ``settime``, ``unshare-user``, ``setuid-escalation``, ``visibility``, ``network``,
    ``host-surface``, ``shell-injection``, and for what comes out of a workspace
    ``link-to-secret``, ``link-as-directory``, ``hostile-tree``, ``tar-bomb``,
    ``tar-bomb-tree``, ``many-files`` or ``workspace-full``.
``preset``
    The preset the container came from: ``"restricted"`` or ``"sandbox"``.
``result``
    ``"contained"`` when the test passed (the attack failed and the host stayed
    healthy), ``"failed"`` when it did not (read ``message``: either the attack got
    through or the proof could not be made), ``"skipped"`` when the test was skipped
    after recording.
``control``
    What stopped the attack, e.g. ``"pids limit (pids.max)"`` or ``"capability:
    CAP_MKNOD not held (non-root user; cap_drop ALL for uid 0)"``.
``figures``
    The attack's measurements: numbers, strings, lists and small objects, e.g.
    ``{"pids_max": 128, "pids_peak": 128, "forks_refused": 70123}``.
``health``
    ``{"engine_answers": bool, "mem_available_before_kib": int,
    "mem_available_after_kib": int, "mem_recovered": bool,
    "mem_available_session_start_kib": int}``: whether the engine answered ``ping`` and
    ``info`` after the test, and the host's MemAvailable before the test, after it
    (once recovered, or after 20 s) and when the battery started.
``message``
    The first line of the failure or skip reason; ``""`` when contained.
``test``
    The pytest node id.
``engine``
    ``{"version", "api_version", "kernel", "os", "cgroup_version", "cgroup_driver",
    "cpus", "mem_total_bytes"}``, as the engine reports them.
``recorded_at``
    UTC time of the record, ISO 8601.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Generator, Iterator
from typing import Any

import docker
import docker.errors
import pytest

from secure_run.testing import has_attack_tool, has_suid_probe

from .support import PRESETS, Battery, gvisor_skip_reason, mem_available

#: How far below its level before a test the host's MemAvailable may stay afterwards.
MEM_TOLERANCE = 128 << 20

#: How long the host's memory gets to come back after a test.
_RECOVERY_S = 20.0

_RECORD_ENV = "SECURE_RUN_BATTERY_RECORD"

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


# -- the container side -----------------------------------------------------------------


@pytest.fixture(params=PRESETS)
def preset(request: pytest.FixtureRequest) -> str:
    """The name of the preset the attack's container comes from."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def attack_image(docker_client: docker.DockerClient, test_image: str) -> str:
    """The test image, which must hold the attack tool and the setuid probe (gcc needed)."""
    if not (
        has_attack_tool(docker_client, test_image) and has_suid_probe(docker_client, test_image)
    ):
        pytest.skip(
            "the test image has no sr-attack or suid-probe: gcc with a static C library was "
            "missing when it was built (apt-get install gcc libc6-dev)"
        )
    return test_image


# -- the battery's record and the host's health ---------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under gVisor, skip each attack that cannot apply there, with what gVisor does."""
    for item in items:
        reason = gvisor_skip_reason(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, for the record written at teardown."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def engine_facts(docker_client: docker.DockerClient) -> dict[str, Any]:
    """What the engine says about itself, for the record."""
    version = docker_client.version()
    info = docker_client.info()
    return {
        "version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "kernel": info.get("KernelVersion"),
        "os": info.get("OperatingSystem"),
        "cgroup_version": info.get("CgroupVersion"),
        "cgroup_driver": info.get("CgroupDriver"),
        "cpus": info.get("NCPU"),
        "mem_total_bytes": info.get("MemTotal"),
    }


def _outcome(item: pytest.Item) -> tuple[str, str]:
    reports = item.stash.get(_REPORTS, {})
    for phase in ("setup", "call"):
        report = reports.get(phase)
        if report is None:
            continue
        if report.failed:
            return "failed", _first_line(report.longreprtext)
        if report.skipped:
            return "skipped", _first_line(report.longreprtext)
    return "contained", ""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][2:].strip() if errors else lines[-1] if lines else "")[:500]


@pytest.fixture(scope="session")
def session_mem_available() -> int:
    """The host's MemAvailable when the battery started, for the record."""
    return mem_available()


@pytest.fixture(autouse=True)
def battery(
    request: pytest.FixtureRequest,
    docker_client: docker.DockerClient,
    engine_facts: dict[str, Any],
    session_mem_available: int,
) -> Iterator[Battery]:
    """Record the test's outcomes (see the module docs) and check the host recovered."""
    before = mem_available()
    collected = Battery()
    yield collected

    engine_answers = True
    try:
        docker_client.ping()
        docker_client.info()
    except (docker.errors.DockerException, OSError):
        engine_answers = False
    after = mem_available()
    deadline = time.monotonic() + _RECOVERY_S
    while after < before - MEM_TOLERANCE and time.monotonic() < deadline:
        time.sleep(0.25)
        after = mem_available()
    recovered = after >= before - MEM_TOLERANCE
    health = {
        "engine_answers": engine_answers,
        "mem_available_before_kib": before // 1024,
        "mem_available_after_kib": after // 1024,
        "mem_recovered": recovered,
        "mem_available_session_start_kib": session_mem_available // 1024,
    }

    path = os.environ.get(_RECORD_ENV)
    if path and collected.entries:
        result, message = _outcome(request.node)
        if result == "contained" and not (engine_answers and recovered):
            result, message = "failed", "the host did not stay healthy"
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with open(path, "a", encoding="utf-8") as out:
            for entry in collected.entries:
                line = {
                    "attack": entry["attack"],
                    "preset": entry["preset"],
                    "result": result,
                    "control": entry["control"],
                    "figures": entry["figures"],
                    "health": health,
                    "message": message,
                    "test": request.node.nodeid,
                    "engine": engine_facts,
                    "recorded_at": stamp,
                }
                out.write(json.dumps(line, sort_keys=True) + "\n")

    if not engine_answers:
        pytest.fail("the engine no longer answers ping/info after the attack", pytrace=False)
    if not recovered:
        pytest.fail(
            f"the host's MemAvailable did not recover within {_RECOVERY_S:.0f} s: "
            f"{before >> 20} MiB before the test, {after >> 20} MiB after "
            f"(tolerance {MEM_TOLERANCE >> 20} MiB)",
            pytrace=False,
        )

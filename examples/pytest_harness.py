"""Tests that launch hardened containers, with secure_run's pytest plugin.

Usage: python3 -m pytest examples/pytest_harness.py  (image: ``$SECURE_RUN_IMAGE``,
else ``secure-run-test/busybox:latest``; nothing is ever pulled)

Installing secure_run registers the plugin (a ``pytest11`` entry point), so the
``secure_launch`` fixture is there without a conftest. It launches and verifies a
config and removes every container it made when the test ends, pass or fail.
For a container shared by several tests, ``sr.launch()`` in a ``with`` block
inside a wider-scoped fixture of your own does the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Callable

import pytest

import secure_run as sr

IMAGE = os.environ.get("SECURE_RUN_IMAGE", "secure-run-test/busybox:latest")
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves

Launch = Callable[..., sr.SecureContainer]


@pytest.fixture(scope="module")
def shared() -> Iterator[sr.SecureContainer]:
    """One sandbox container for the whole module, removed after its last test."""
    cfg = sr.preset("sandbox", IMAGE).command(["sleep", "300"]).labels(EXAMPLE_LABELS).build()
    with sr.launch(cfg) as container:
        yield container


def test_runs_as_nobody_on_a_read_only_root(secure_launch: Launch) -> None:
    """A restricted container runs as nobody, with a read-only root, and was verified."""
    cfg = sr.builder(IMAGE).command(["sleep", "30"]).labels(EXAMPLE_LABELS).build()
    container = secure_launch(cfg)
    assert container.exec(["id", "-u"]).stdout == b"65534\n"
    assert container.exec(["touch", "/x"]).exit_code != 0  # read-only root
    assert container.report is not None
    assert container.report.ok  # the kernel's state matched the config


def test_sandbox_has_only_loopback(shared: sr.SecureContainer) -> None:
    """The sandbox's network namespace holds the loopback interface and nothing else."""
    links = shared.exec(["ip", "-o", "link"]).stdout.decode().splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]


def test_sandbox_has_no_capabilities(shared: sr.SecureContainer) -> None:
    """Every capability set of the sandbox's process is empty."""
    status = shared.exec(["cat", "/proc/self/status"]).stdout.decode()
    caps = dict(line.split(":\t") for line in status.splitlines() if line.startswith("Cap"))
    assert set(caps.values()) == {"0000000000000000"}

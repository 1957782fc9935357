"""A pytest test that uses secure_run's ``secure_launch`` fixture.

Installing secure_run registers the plugin, so the fixture is there without a
conftest. Run: ``python -m pytest examples/pytest_harness.py``. Each container is
removed when its test ends, pass or fail.
"""

from __future__ import annotations

import os
from typing import Callable

import secure_run as sr

IMAGE = os.environ.get("SECURE_RUN_IMAGE", "secure-run-test/busybox:latest")


def test_service_answers_as_non_root(secure_launch: Callable[..., sr.SecureContainer]) -> None:
    """A hardened container runs as nobody, with a read-only root and no capabilities."""
    container = secure_launch(
        sr.builder(IMAGE).labels({"secure-run.example": "1"}).command(["sleep", "30"]).build()
    )
    assert container.exec(["id", "-u"]).stdout == b"65534\n"
    assert container.exec(["touch", "/x"]).exit_code != 0  # read-only root
    assert container.report is not None
    assert container.report.ok

"""Fixtures for running the scripts in ``examples/`` as a user would, and a leak check.

Every container an example makes carries ``secure-run.example=1`` (an example is
code to copy, so it does not carry the test suite's ``secure-run.test`` label). The
autouse ``example_leftovers`` fixture fails a ``docker`` test after which a container
with that label is left, and removes it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import docker
import docker.errors
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EXAMPLE_LABEL = "secure-run.example=1"
_LEAK_GRACE = 3.0

RunExample = Callable[..., "subprocess.CompletedProcess[str]"]


def _example_ids(client: docker.DockerClient) -> set[str]:
    return {c["Id"] for c in client.api.containers(all=True, filters={"label": EXAMPLE_LABEL})}


@pytest.fixture(autouse=True)
def example_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a ``docker`` test that leaves an example's container behind (and remove it)."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    client: docker.DockerClient = request.getfixturevalue("docker_client")
    before = _example_ids(client)
    yield
    deadline = time.monotonic() + _LEAK_GRACE
    left = _example_ids(client) - before
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left &= _example_ids(client)
    for container_id in left:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(container_id).remove(force=True)
    if left:
        pytest.fail(
            f"the example left {len(left)} container(s) labelled {EXAMPLE_LABEL} behind "
            f"(now removed): {sorted(c[:12] for c in left)}",
            pytrace=False,
        )


def _environment(image: str | None) -> dict[str, str]:
    """The caller's environment, with this checkout first on the path and the image set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if image is not None:
        env["SECURE_RUN_IMAGE"] = image
    else:
        env.pop("SECURE_RUN_IMAGE", None)
    return env


@pytest.fixture
def run_example() -> RunExample:
    """Run ``examples/<script>`` (or ``python -m <module> ...``) as a user would, from the repo.

    ``run_example("x.py", "arg", image=...)`` runs ``python examples/x.py arg`` with
    ``$SECURE_RUN_IMAGE`` set to ``image``; ``module="pytest"`` runs ``python -m
    pytest`` with the arguments instead. The output is text; stdout and stderr apart.
    """

    def run(
        script: str | None,
        *args: str,
        image: str | None = None,
        module: str | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        head = ["-m", module] if module is not None else [str(EXAMPLES / str(script))]
        return subprocess.run(
            [sys.executable, *head, *args],
            cwd=REPO,
            env=_environment(image),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run

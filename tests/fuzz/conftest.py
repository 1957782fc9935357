"""The fuzz suite's settings profiles, daemon tripwire and example record.

Profiles (``HYPOTHESIS_PROFILE``): ``ci`` (the default, 250 examples per test),
``thorough`` (1500) and ``quick`` (25, for editing). No example database is kept, so a
run leaves the tree clean; a failure prints its reproduction blob.

Every test here runs with docker's client constructors replaced by a tripwire that counts
each call and raises :class:`fuzzkit.DaemonTouched`; each fuzz example asserts the count
is still 0 (``fuzzkit.example()``).

With ``SECURE_RUN_RELIABILITY_RECORD_DIR=<dir>``, the number of examples each fuzz test
ran is written to ``<dir>/fuzz.json`` as ``{test id: examples}`` when the session ends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.api.client
import docker.client
import fuzzkit
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=250,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", settings.get_profile("ci"), max_examples=1500)
settings.register_profile("quick", settings.get_profile("ci"), max_examples=25)


@pytest.fixture(autouse=True)
def daemon_tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[fuzzkit.Tripwire]:
    """Replace every docker client constructor with a double that counts and refuses calls."""
    wire = fuzzkit.TRIPWIRE
    wire.calls.clear()
    monkeypatch.setattr(docker, "from_env", wire.refuse("docker.from_env"))
    monkeypatch.setattr(docker.client, "from_env", wire.refuse("docker.client.from_env"))
    monkeypatch.setattr(docker.DockerClient, "__init__", wire.refuse("docker.DockerClient()"))
    monkeypatch.setattr(docker.api.client.APIClient, "__init__", wire.refuse("docker.APIClient()"))
    yield wire
    wire.calls.clear()


@pytest.fixture(scope="session", autouse=True)
def fuzz_record() -> Iterator[None]:
    """At the end of the session, write the example counts where the record env var says."""
    yield
    folder = os.environ.get(fuzzkit.RECORD_DIR_ENV)
    if not folder:
        return
    path = Path(folder) / "fuzz.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(fuzzkit.EXAMPLES.items())), indent=2) + "\n")

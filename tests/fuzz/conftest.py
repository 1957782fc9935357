"""The fuzz suite's settings profiles, daemon tripwire and example record.

Profiles (``HYPOTHESIS_PROFILE``): ``ci`` (the default, 250 examples per test),
``thorough`` (1500) and ``quick`` (25, for editing). No example database is kept, so a
run leaves the tree clean. A failure prints its falsifying example and its
``@reproduce_failure`` blob (``print_blob``), and the report of every failed fuzz test
gets a "hypothesis" section with the seed and profile of the run: pass
``--hypothesis-seed=<seed>`` to draw the same examples again (the seed is chosen here
when none is given, so it can always be shown).

Every test here runs with docker's client constructors replaced by a tripwire that counts
each call and raises :class:`fuzzkit.DaemonTouched`; each fuzz example asserts the count
is still 0 (``fuzzkit.example()``).

With ``SECURE_RUN_RELIABILITY_RECORD_DIR=<dir>``, the number of examples each fuzz test
ran is written to ``<dir>/fuzz.json`` as ``{test id: examples}`` when the session ends.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.api.client
import docker.client
import fuzzkit
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import core as hypothesis_core

settings.register_profile(
    "ci",
    max_examples=250,
    deadline=None,
    database=None,
    print_blob=True,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", settings.get_profile("ci"), max_examples=1500)
settings.register_profile("quick", settings.get_profile("ci"), max_examples=25)


def pytest_configure(config: pytest.Config) -> None:
    """Choose the run's seed when none was given, so a failure can always name it."""
    if config.getoption("hypothesis_seed", None) is None:
        seed = random.SystemRandom().randrange(2**32)
        config.option.hypothesis_seed = seed
        hypothesis_core.global_force_seed = seed  # what --hypothesis-seed=<seed> sets


def pytest_report_header(config: pytest.Config) -> str:
    """The seed in the header too (shown when pytest is given tests/fuzz itself)."""
    return f"fuzz: --hypothesis-seed={config.getoption('hypothesis_seed')}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Add the seed and the profile to the report of a failed fuzz test."""
    report = yield
    if report.failed:
        seed = item.config.getoption("hypothesis_seed")
        profile = os.environ.get(fuzzkit.PROFILE_ENV, "ci")
        report.sections.append(
            (
                "hypothesis",
                f"rerun with: HYPOTHESIS_PROFILE={profile} python3 -m pytest "
                f"'{item.nodeid}' --hypothesis-seed={seed}",
            )
        )
    return report


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

"""The pytest plugin: ``secure_launch`` is there in every session and cleans up after a test.

Each test runs an inner pytest session (pytester) whose test module swaps the
plugin's ``launch`` for a fake that records what is launched and closed.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

_FAKE = """
import pytest
import secure_run.pytest_plugin as plugin

EVENTS = []


class FakeContainer:
    def __init__(self, cfg, kwargs):
        self.cfg = cfg
        EVENTS.append(("launch", cfg, kwargs))

    def close(self):
        EVENTS.append(("close", self.cfg))


@pytest.fixture(autouse=True)
def fake_launch(monkeypatch):
    def launch(cfg, **kwargs):
        if cfg == "refused":
            raise RuntimeError("the engine refused it")
        return FakeContainer(cfg, kwargs)

    monkeypatch.setattr(plugin, "launch", launch)
"""


def test_the_fixture_is_registered_by_the_entry_point(pytester: pytest.Pytester) -> None:
    """A session that names no plugin still has secure_launch (the pytest11 entry point)."""
    result = pytester.runpytest_inprocess("--fixtures")
    result.stdout.fnmatch_lines(["*secure_launch*"])


def test_each_container_is_closed_after_its_test_last_first(pytester: pytest.Pytester) -> None:
    """Containers launched in a test are closed when it ends, newest first, not before."""
    pytester.makepyfile(
        _FAKE
        + """
def test_uses(secure_launch):
    a = secure_launch("a", verify=False, pull="missing")
    assert a.cfg == "a"
    secure_launch("b")
    assert [e[0] for e in EVENTS] == ["launch", "launch"]


def test_after():
    assert EVENTS == [
        ("launch", "a", {"verify": False, "pull": "missing"}),
        ("launch", "b", {}),
        ("close", "b"),
        ("close", "a"),
    ]
"""
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_containers_are_closed_when_the_test_fails(pytester: pytest.Pytester) -> None:
    """A failing test, or a launch that raises, still closes what was launched before."""
    pytester.makepyfile(
        _FAKE
        + """
def test_fails(secure_launch):
    secure_launch("a")
    assert False, "the test body fails"


def test_launch_refused(secure_launch):
    secure_launch("b")
    secure_launch("refused")


def test_after():
    assert [e for e in EVENTS if e[0] == "close"] == [("close", "a"), ("close", "b")]
"""
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1, failed=2)

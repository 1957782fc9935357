"""A container that died of SIGKILL: its record is re-read for an OOM event that came late.

containerd's shim reports an OOM and the exit from separate goroutines; dockerd sets
``State.OOMKilled`` when the OOM event arrives, which under load can be after the exit.
The engine's answers here are scripted: what they stand for was seen on the userns engine
(exit 137 with ``OOMKilled`` false for a memory bomb under a 16m limit).
"""

from __future__ import annotations

from typing import Any

from secure_run._engine import run


class _Api:
    """Answers ``inspect_container`` with each of ``states`` in turn, then the last."""

    def __init__(self, *states: dict[str, Any]) -> None:
        self.states = list(states)
        self.calls = 0

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self.calls += 1
        return {"State": self.states[min(self.calls - 1, len(self.states) - 1)]}


class _Client:
    def __init__(self, api: _Api) -> None:
        self.api = api


def test_an_oom_event_after_the_exit_is_picked_up() -> None:
    api = _Api({"ExitCode": 137, "OOMKilled": False}, {"ExitCode": 137, "OOMKilled": True})
    state = run._with_late_oom(_Client(api), "c", {"ExitCode": 137, "OOMKilled": False})  # type: ignore[arg-type]
    assert state["OOMKilled"] is True
    assert api.calls == 2


def test_a_kill_that_was_no_oom_stays_so_after_the_settle_time() -> None:
    api = _Api({"ExitCode": 137, "OOMKilled": False})
    state = run._with_late_oom(_Client(api), "c", {"ExitCode": 137, "OOMKilled": False})  # type: ignore[arg-type]
    assert state["OOMKilled"] is False
    assert api.calls >= 1


def test_another_exit_is_not_re_read() -> None:
    api = _Api({"ExitCode": 0, "OOMKilled": False})
    state = run._with_late_oom(_Client(api), "c", {"ExitCode": 1, "OOMKilled": False})  # type: ignore[arg-type]
    assert state == {"ExitCode": 1, "OOMKilled": False}
    assert api.calls == 0

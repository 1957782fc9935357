"""verify() of a Swarm service, without a swarm: what it says about tasks mid-update."""

from __future__ import annotations

from typing import Any

import pytest

from secure_run._proof.verify_service import _convergence_checks, runs_current_spec

TEMPLATE = {"ContainerSpec": {"Image": "busybox", "ReadOnly": True}, "Runtime": "container"}


def record(replicas: int = 1, state: str | None = None, updated: bool = True) -> dict[str, Any]:
    rec: dict[str, Any] = {"Spec": {"TaskTemplate": TEMPLATE,
                                    "Mode": {"Replicated": {"Replicas": replicas}}}}  # fmt: skip
    if updated:
        rec["PreviousSpec"] = {}
    if state is not None:
        rec["UpdateStatus"] = {"State": state, "Message": f"update {state}"}
    return rec


def task(read_only: bool = True) -> dict[str, Any]:
    return {"Spec": {"ContainerSpec": {"Image": "busybox", "ReadOnly": read_only}}}


def test_a_task_of_the_current_template_is_current() -> None:
    """A task whose spec is the service's template (but for Runtime) runs the current spec."""
    assert runs_current_spec(task(), record())


def test_a_task_of_an_older_template_is_not_current() -> None:
    """After an update, a task made from the old template is not current."""
    assert not runs_current_spec(task(read_only=False), record())


def test_a_service_never_updated_has_only_current_tasks() -> None:
    """With no PreviousSpec every task counts as current, whatever the spec shows."""
    assert runs_current_spec(task(read_only=False), record(updated=False))


def test_mid_update_fails_on_the_update_state_with_a_note() -> None:
    """UpdateStatus updating: a failed 'service update' check and a note saying so."""
    notes: list[str] = []
    checks = {c.property: c for c in _convergence_checks(record(state="updating"), [task()], notes)}
    assert not checks["service update"].ok
    assert checks["service update"].actual == "updating: update updating"
    assert checks["running tasks"].ok
    assert any("being updated" in n for n in notes)


def test_stale_tasks_fail_before_the_update_is_reported() -> None:
    """An old task still running (no UpdateStatus yet) fails 'tasks on the current spec'."""
    notes: list[str] = []
    checks = {c.property: c for c in _convergence_checks(record(), [task(False)], notes)}
    assert not checks["tasks on the current spec"].ok
    assert checks["tasks on the current spec"].actual == "0 of 1"
    assert any("being updated" in n for n in notes)


@pytest.mark.parametrize(("running", "ok"), [(0, False), (2, False), (3, True)])
def test_running_tasks_are_counted_against_the_replicas(running: int, ok: bool) -> None:
    """Fewer running tasks than replicas fails 'running tasks'."""
    checks = _convergence_checks(record(replicas=3, state="completed"), [task()] * running, [])
    by_name = {c.property: c for c in checks}
    assert by_name["running tasks"].ok is ok
    assert by_name["service update"].ok

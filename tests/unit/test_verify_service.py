"""verify() of a Swarm service, without a swarm: what it says about tasks mid-update."""

from __future__ import annotations

from typing import Any

import pytest

import secure_run as sr
from secure_run._config.values import OptIn
from secure_run._proof.verify_report import VerifyReport, check
from secure_run._proof.verify_service import _as_service, _convergence_checks, runs_current_spec

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


class _Target:
    """Just what _as_service reads of a service: its config and its Swarm opt-ins."""

    def __init__(self, opt_ins: tuple[OptIn, ...]) -> None:
        self.config = sr.preset("sandbox", "busybox").build()
        self.swarm_opt_ins = opt_ins


def _task_report(no_new_privs: str | None) -> VerifyReport:
    """A task's report as verify makes it at API 1.41: no SecurityOpt, the kernel's NoNewPrivs."""
    checks = [check("HostConfig.SecurityOpt no-new-privileges", True, False, "inspect", False)]
    if no_new_privs is not None:
        checks.append(check("NoNewPrivs", "1", no_new_privs, "exec probe", no_new_privs == "1"))
    return VerifyReport("c" * 64, tuple(checks))


@pytest.mark.parametrize(("kernel", "ok"), [("1", True), ("0", False), (None, False)])
def test_swarm_daemon_nnp_is_proven_by_the_kernel_alone(kernel: str | None, ok: bool) -> None:
    """Under swarm-daemon-nnp the task passes on NoNewPrivs 1 only: 0 or unread fails."""
    target = _Target((OptIn.SWARM_DAEMON_NNP,))
    report = _as_service(_task_report(kernel), target, None, kernel is not None)  # type: ignore[arg-type]
    (nnp,) = [c for c in report.checks if c.property.startswith("no-new-privileges (node")]
    assert nnp.ok is ok
    assert nnp.actual == ("not read (kernel checks off)" if kernel is None else kernel)
    assert "HostConfig.SecurityOpt no-new-privileges" not in {c.property for c in report.checks}


def test_without_the_opt_in_the_daemon_record_still_counts() -> None:
    """Without swarm-daemon-nnp nothing is replaced: a missing SecurityOpt fails, as anywhere."""
    report = _as_service(_task_report("1"), _Target(()), None, True)  # type: ignore[arg-type]
    assert "HostConfig.SecurityOpt no-new-privileges" in {c.property for c in report.failures}

"""cleanup(): which managed containers are reaped, by their labels, without an engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import docker.errors
import pytest
from engine_fakes import FakeClient, as_client

import secure_run as sr
from secure_run._engine.cleanup import why_reaped
from secure_run._engine.labels import CREATED_LABEL, MANAGED_LABEL, OWNER_LABEL, owner_id

HOST = socket.gethostname()


@pytest.fixture(scope="module")
def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _labels(owner: str, created: float | str | None = None) -> dict[str, str]:
    labels = {MANAGED_LABEL: "1", OWNER_LABEL: owner}
    if created is not None:
        labels[CREATED_LABEL] = str(created)
    return labels


def test_the_owner_label_names_this_host_and_process() -> None:
    """owner_id() is host:pid:start for this process, with a known start time."""
    host, pid, start = owner_id().split(":")
    assert (host, pid) == (HOST, str(os.getpid()))
    assert start.isdecimal()


def test_a_container_of_a_live_owner_is_kept() -> None:
    """This process is alive: its containers are not reaped."""
    assert why_reaped(_labels(owner_id()), time.time(), None) is None


def test_a_container_whose_owner_is_gone_is_reaped(gone_pid: int) -> None:
    """An owner pid with no process behind it is reaped, and the reason says so."""
    reason = why_reaped(_labels(f"{HOST}:{gone_pid}:123"), time.time(), None)
    assert reason == f"owner process {gone_pid} is gone"


def test_a_reused_pid_does_not_count_as_the_owner() -> None:
    """A live pid whose start time differs from the label's belongs to another process."""
    reason = why_reaped(_labels(f"{HOST}:{os.getpid()}:1"), time.time(), None)
    assert reason == f"owner pid {os.getpid()} now belongs to another process"


@pytest.mark.parametrize("owner", ["elsewhere:1:1", "", "no-colons", f"{HOST}:notapid:1"], ids=repr)
def test_an_owner_on_another_host_or_unreadable_is_kept(owner: str) -> None:
    """Owners of other hosts, and labels that name no pid, are never judged gone."""
    assert why_reaped(_labels(owner), time.time(), None) is None


def test_older_than_reaps_old_containers_of_live_owners() -> None:
    """With older_than, a container created before that is reaped whoever owns it."""
    now = time.time()
    reason = why_reaped(_labels(owner_id(), created=now - 120), now, older_than=60)
    assert reason == "created 120 s ago, older than 60 s"
    assert why_reaped(_labels(owner_id(), created=now - 30), now, older_than=60) is None


@pytest.mark.parametrize("created", [None, "yesterday"], ids=["missing", "unreadable"])
def test_older_than_keeps_a_container_of_unknown_age(created: str | None) -> None:
    """A missing or unreadable creation label never makes a live owner's container old."""
    assert why_reaped(_labels(owner_id(), created=created), time.time(), older_than=60) is None


def _entry(container_id: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"Id": container_id, "Names": [f"/{container_id}-name"], "Labels": labels}


def test_cleanup_removes_only_what_is_reaped(gone_pid: int) -> None:
    """cleanup() lists managed containers, removes the orphans only, and reports each."""
    fake = FakeClient()
    orphan = _labels(f"{HOST}:{gone_pid}:123")
    fake.api.containers_listed = [_entry("live", _labels(owner_id())), _entry("orphan", orphan)]
    reaped = sr.cleanup(as_client(fake))
    assert reaped == [
        sr.Reaped("orphan", "orphan-name", orphan[OWNER_LABEL], f"owner process {gone_pid} is gone")
    ]
    assert fake.api.removed == ["orphan"]
    assert f"filters={{'label': '{MANAGED_LABEL}=1'}}" in fake.api.calls


def test_cleanup_does_not_report_what_it_could_not_remove(gone_pid: int) -> None:
    """An orphan whose removal the engine refuses is left out of the result."""
    fake = FakeClient()
    fake.api.containers_listed = [_entry("orphan", _labels(f"{HOST}:{gone_pid}:123"))]
    fake.api.fail["remove"] = docker.errors.APIError("refused", explanation="in use")
    assert sr.cleanup(as_client(fake)) == []

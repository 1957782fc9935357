"""An exec's processes seen from the host, and killing them one by one.

The host's half of :mod:`.exec`, whose module docstring explains the design: a
local container's processes are read from its cgroup's ``cgroup.procs`` and
``/proc`` (:class:`HostView`); :func:`kill_exec` pauses the container, SIGKILLs
what the exec started, unpauses it and confirms the end. Every failure is an
answer (why it did not work), for the caller to fall back on killing the container.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Collection, Mapping
from typing import Any

import attrs
import docker

from .._errors import LaunchError
from .._proof.host import cgroup_file_paths, read_text
from .._proof.kernel import parse_status
from .._proof.procfs import start_time
from .client import is_local, low_level
from .errors import translated
from .facts import cached_facts
from .podman import PODMAN_RUNTIME, libpod_details

__all__ = [
    "KILL_CONFIRM_S",
    "PAUSE_ATTEMPTS",
    "Baseline",
    "HostView",
    "Proc",
    "descendants",
    "kill_exec",
    "targets",
]

#: Seconds to wait for killed processes to be gone, and the daemon to see it.
KILL_CONFIRM_S = 10.0
#: The cgroup files that list a container's processes: v1 (pids or freezer), v2.
_PROCS_KEYS = ("pids/cgroup.procs", "freezer/cgroup.procs", "cgroup.procs")

#: The processes of a container at one moment: (host pid, start time) pairs.
Baseline = frozenset[tuple[int, "int | None"]]


@attrs.frozen
class Proc:
    """One process of the container: its parent's host pid, its start time, zombie or not."""

    ppid: int
    start: int | None
    zombie: bool


def _status(pid: int) -> dict[str, str]:
    return parse_status(read_text(f"/proc/{pid}/status").splitlines())


@attrs.frozen
class HostView:
    """A local container's processes, read from the host: its cgroup's ``cgroup.procs``."""

    init_pid: int
    init_start: int | None
    procs_file: str

    @classmethod
    def find(cls, client: docker.DockerClient, container_id: str) -> HostView | str:
        """The host's view of the container, or why there is none (for the fallback)."""
        if not is_local(client):
            return "the engine is not on this machine"
        with translated("inspect container", client=client):
            info = low_level(client).inspect_container(container_id)
        runtime = info.get("HostConfig", {}).get("Runtime") or "runc"
        if runtime == PODMAN_RUNTIME:  # Podman records "oci"; its own record names it
            with translated("inspect container", client=client):
                runtime = libpod_details(client, container_id)["OCIRuntime"] or runtime
        pid = int(info.get("State", {}).get("Pid") or 0)
        if runtime != "runc":
            return f"the container runs under {runtime}, not runc"
        try:
            text = read_text(f"/proc/{pid}/cgroup") if pid else ""
        except OSError as exc:
            return f"its init process is not readable here ({exc})"
        if container_id not in text:  # another machine's pid, or not running
            facts = cached_facts(client)
            if facts is not None and facts.without_cgroups:
                return (
                    "the engine runs rootless without cgroups: no cgroup lists the "
                    "container's processes, and none can freeze them"
                )
            return "its init process is not visible on this machine"
        _, paths = cgroup_file_paths(text, keys=_PROCS_KEYS)
        found = [p for key in _PROCS_KEYS for p in paths.get(key, ()) if os.path.exists(p)]
        if not found:
            return "its cgroup's process list is not readable here"
        return cls(pid, start_time(pid), found[0])

    def current(self) -> bool:
        """Whether the container's init is still the one this view was made for."""
        return start_time(self.init_pid) == self.init_start

    def processes(self) -> dict[int, Proc]:
        """Every process of the container now, by host pid (those gone meanwhile left out)."""
        found = {}
        for line in read_text(self.procs_file).split():
            pid = int(line)
            try:
                status = _status(pid)
            except OSError:
                continue
            zombie = status.get("State", "").startswith(("Z", "X"))
            found[pid] = Proc(int(status.get("PPid", "0")), start_time(pid), zombie)
        return found

    def baseline(self) -> Baseline:
        """The container's processes now, to tell apart later what is new."""
        return frozenset((pid, proc.start) for pid, proc in self.processes().items())

    def alive(self, pid: int, start: int | None) -> bool:
        """Whether that process (pid and start time) still exists and is not a zombie."""
        if start_time(pid) != start:
            return False
        try:
            state = _status(pid).get("State", "")
        except OSError:
            return False
        return not state.startswith(("Z", "X"))


def descendants(procs: Mapping[int, Proc], roots: Collection[int]) -> set[int]:
    """The roots that are processes of ``procs``, and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, proc in procs.items():
        children.setdefault(proc.ppid, []).append(pid)
    found: set[int] = set()
    todo = [root for root in roots if root in procs]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _exec_pid(api: Any, exec_id: str) -> int:
    return int(api.exec_inspect(exec_id).get("Pid") or 0)


def targets(
    procs: Mapping[int, Proc],
    baseline: Baseline,
    init_pid: int,
    exec_pid: int,
    other_exec_pids: Collection[int],
) -> dict[int, int | None]:
    """The processes to kill, with their start times: pure, for the unit tests.

    The exec's tree, and every process not in ``baseline``; never the init, nor the
    trees of the other execs (unless a process is also in the exec's own tree).
    """
    ours = descendants(procs, {exec_pid})
    theirs = descendants(procs, other_exec_pids) - ours
    new = {pid for pid, proc in procs.items() if (pid, proc.start) not in baseline}
    chosen = (ours | new) - theirs - {init_pid}
    return {pid: procs[pid].start for pid in chosen if not procs[pid].zombie}


def kill_exec(
    client: docker.DockerClient,
    container_id: str,
    host: HostView,
    baseline: Baseline,
    exec_id: str,
    other_exec_ids: Collection[str],
) -> str:
    """Pause, SIGKILL what the exec started, unpause, confirm; ``""`` or why it did not work.

    Raises:
        DaemonUnavailable: The engine went away meanwhile (nothing can be done then).
    """
    api = low_level(client)
    why = _pause(client, api, container_id)
    if why:
        return why
    chosen: dict[int, int | None] = {}
    try:
        with translated("inspect exec", client=client):
            exec_pid = _exec_pid(api, exec_id)
            others = {_exec_pid(api, other) for other in other_exec_ids}
        chosen = targets(host.processes(), baseline, host.init_pid, exec_pid, others)
        for pid, start in chosen.items():
            with contextlib.suppress(ProcessLookupError):
                if host.alive(pid, start):  # frozen: the pid cannot change meanwhile
                    os.kill(pid, signal.SIGKILL)
    except (OSError, LaunchError) as exc:
        why = f"its processes could not be signalled ({exc})"
    finally:
        try:
            with translated("unpause container", client=client):
                api.unpause(container_id)
        except LaunchError as exc:
            why = why or f"the container could not be unpaused ({exc})"
    return why or _confirm(client, host, chosen, exec_id)


#: Attempts at pausing: runc's freeze of a cgroup v1 group whose processes fork without
#: pause (a fork bomb) on a busy host can give up ("unable to freeze"); a second try
#: usually finds them held by the pids limit.
PAUSE_ATTEMPTS = 3
_PAUSE_RETRY_S = 0.2


def _pause(client: docker.DockerClient, api: Any, container_id: str) -> str:
    """Pause (freeze) the container, trying again on a failed freeze; ``""`` or why not."""
    failure = ""
    for attempt in range(PAUSE_ATTEMPTS):
        if attempt:
            time.sleep(_PAUSE_RETRY_S)
        try:
            with translated("pause container", client=client):
                api.pause(container_id)
        except LaunchError as exc:
            failure = f"the container could not be paused ({exc})"
            continue
        return ""
    return failure


def _confirm(
    client: docker.DockerClient, host: HostView, chosen: Mapping[int, int | None], exec_id: str
) -> str:
    """Wait until the killed processes are gone and the exec is not running; or why not."""
    limit = time.monotonic() + KILL_CONFIRM_S
    while True:
        alive = [pid for pid, start in chosen.items() if host.alive(pid, start)]
        if not alive:
            with translated("inspect exec", client=client):
                if not low_level(client).exec_inspect(exec_id).get("Running"):
                    return ""
        if time.monotonic() > limit:
            return f"{len(alive)} killed process(es) still alive after {KILL_CONFIRM_S:g} s"
        time.sleep(0.02)

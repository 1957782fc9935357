"""A seeded random run of launches with faults injected: nothing may be left behind.

The run is a plan of launches drawn from a seed, each either a plain success or a
fault injected at a random point:

=====================  ==============================================================
kind                   what happens, and what must hold
=====================  ==============================================================
``success``            ``run`` or ``launch`` of a short command; the result is right
``body_exception``     an exception (or a ``BaseException``) raised in the ``with``
                       body, at once, after an exec or after a kill; it propagates
                       unchanged
``timeout``            ``sr.run(loop, timeout=0.3)`` (timed out, 137, not OOM), or
                       ``wait(timeout=0.3)`` in a launch (``RunTimeout``)
``missing_image``      an image that is not there: ``ImageNotFound`` naming it
``invalid_config``     a bad setting or argument: ``ConfigError``, raised before any
                       daemon is asked (the client given points at no engine at all)
``oom``                ``memory("16m")`` and ``tail /dev/zero``: killed (137), not
                       reported as a timeout, and reported as OOM (see below)
``name_taken``         a second create with the name of a live container:
                       ``LaunchError`` (the engine's refusal), the first unharmed
``sigint_child``       a ``python -c`` child that launches (``run`` or ``launch``) gets
``sigterm_child``      SIGINT or SIGTERM before, during or after its launch; it exits
                       and leaves no container
``sigkill_child``      the child gets SIGKILL once its container runs; it leaves that
                       container, and ``sr.cleanup()`` reaps it
=====================  ==============================================================

The engine itself sometimes loses the OOM event (here about 1 OOM kill in 30 comes
back with ``State.OOMKilled`` false, with docker-py alone too: the exit and OOM events
race, containerd/containerd#8180 and #8893). ``oom_killed`` is that field, so a miss
is counted (``oom_unreported``) and fails the run only when no OOM kill at all of
three or more was reported.

Some launches use an internal network and a named volume the test creates (and
removes in ``finally``), so networks and volumes are counted too. About a quarter of
the launches that make containers, the child-process faults included, have a workspace
(``.workspace()``): a tmpfs volume and a keeper container of secure_run's own, carrying
the run's labels, with files put in (``run(files=, collect=)``, ``put``/``get``), so a
fault in any of them must leave no workspace volume and no keeper either; a SIGKILLed
child's workspace volume must be reaped by ``sr.cleanup()`` with its containers. The
workspace draw has a random source of its own per step, so a seed gives the same other
draws as before it existed. Launches run on a
few threads; child-process faults (a Python start each) take turns. Every container,
network and volume carries ``secure-run.test=1`` and ``secure-run.fault-run=<run id>``
(``<seed>-<pid>``); after the run none may remain, counted by that label.

Environment:
    ``SECURE_RUN_FAULT_LAUNCHES``: launches in the run (default 200).
    ``SECURE_RUN_FAULT_SEED``: the seed (default: random). It is printed at the start
    and is in every failure message; the same seed replays the same plan (the
    moments are the same, the engine's timing is not).
    ``SECURE_RUN_FAULT_THREADS``: worker threads (default 3).
    ``SECURE_RUN_RELIABILITY_RECORD``: a JSON file to record the figures in.

The record, under the key ``"fault_run"`` of the JSON object in that file (other
keys are kept)::

    {
      "fault_run": {
        "seed": 831047,                   # replay with SECURE_RUN_FAULT_SEED
        "launches": 200,                  # planned and executed, faults included
        "threads": 3,
        "successes": 38,                  # launches with no fault injected
        "workspaces": 33,                 # launches with a workspace (volume and keeper)
        "faults": {"body_exception": 27, "invalid_config": 16, ...},  # every kind
        "apis": {"run": 88, "launch": 96, "none": 16},  # how each was launched
        "leftovers": {"containers": 0, "networks": 0, "volumes": 0},  # after the run
        "leaks": 0,                       # containers found left along the way
        "oom_unreported": 0,              # OOM kills the engine did not report as such
        "failures": 0,                    # launches whose outcome was wrong
        "passed": true,
        "duration_s": 95.3,
        "engine": {"server_version": "20.10.24+dfsg1", "api_version": "1.41",
                   "kernel_version": "...", "cgroup_version": 1, "os_type": "linux"},
        "python": "3.11.7", "secure_run": "0.1.0.dev0",
        "recorded_at": "2026-11-22T16:00:00+00:00"
      }
    }
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import attrs
import docker
import docker.errors
import pytest

import secure_run as sr
from secure_run._engine.labels import OWNER_LABEL
from secure_run.testing import TEST_LABELS

RUN_LABEL = "secure-run.fault-run"
_DEFAULT_LAUNCHES = 200
_DEFAULT_THREADS = 3
_CHILD_EXIT_BOUND_S = 30.0  # a bound on a hang, not a speed claim
_SETTLE_S = 0.3  # lets a create the daemon was still doing show up in a listing

#: Kinds and their weights in the plan. Child-process faults start a Python each, so
#: they are a modest share; they take turns (one child at a time).
WEIGHTS = {
    "success": 20,
    "body_exception": 14,
    "timeout": 10,
    "missing_image": 8,
    "invalid_config": 8,
    "oom": 8,
    "name_taken": 8,
    "sigint_child": 6,
    "sigterm_child": 6,
    "sigkill_child": 5,
}
CHILD_KINDS = ("sigint_child", "sigterm_child", "sigkill_child")

#: Bad settings, each refused by build() with a problem naming the field.
BAD_SETTINGS: tuple[tuple[str, Callable[[sr.RunBuilder], sr.RunBuilder]], ...] = (
    ("memory", lambda b: b.memory("lots")),
    ("cpus", lambda b: b.cpus(-1)),
    ("cap_add", lambda b: b.cap_add("CAP_BOGUS")),
    ("pids_limit", lambda b: b.pids_limit(0)),
    ("user", lambda b: b.user(0, 0)),
    ("network", lambda b: b.network("host")),
    ("privileged", lambda b: b.privileged()),
    ("command", lambda b: b.command("echo hi")),  # one string, not an argv
)
#: Bad arguments to run() and launch(), refused before the daemon is asked.
BAD_ARGUMENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("run", "timeout", {"timeout": 0}),
    ("run", "timeout", {"timeout": -1}),
    ("run", "max_output", {"max_output": -1}),
    ("run", "stdin", {"stdin": "text"}),
    ("run", "pull", {"pull": "sometimes"}),
    ("launch", "pull", {"pull": "sometimes"}),
)

# The child: launches once, says so on stdout ("launching", then "ready [<id>]"), and
# waits to be signalled. A run() child learns it is running from the container's output.
CHILD = textwrap.dedent(
    """
    import faulthandler, json, signal, sys, time
    import secure_run as sr

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where a stuck child hangs

    image, labels, api = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    workspace = sys.argv[4:] == ["workspace"]
    if api == "slow-create":
        # The daemon has made the container, and its answer is not yet in secure_run's
        # hands: the window a signal can land in while the create request is in flight.
        import docker.api.container as container_api

        real = container_api.ContainerApiMixin.create_container_from_config

        def slow(self, *args, **kwargs):
            answer = real(self, *args, **kwargs)
            print("created", answer["Id"], flush=True)
            time.sleep(2)
            return answer

        container_api.ContainerApiMixin.create_container_from_config = slow
    box = sr.builder(image).labels(labels).command(["sh", "-c", "echo up; exec sleep 60"])
    cfg = (box.workspace("/workspace", "16m") if workspace else box).build()
    files = {"files": {"in.txt": b"1"}} if workspace else {}
    print("launching", flush=True)
    if api == "run":
        def seen(stream, chunk):
            if b"up" in chunk:
                print("ready", flush=True)

        sr.run(cfg, timeout=120, on_output=seen, **files)
    else:
        with sr.launch(cfg) as c:
            if workspace:
                c.put("in.txt", b"1")
            print("ready", c.id, flush=True)
            time.sleep(60)
    """
)


class Leaked(AssertionError):
    """A container was left behind."""


class InjectedFault(Exception):
    """Raised in a ``with`` body by the test."""


class InjectedAbort(BaseException):
    """Raised in a ``with`` body by the test; not an ``Exception``, like KeyboardInterrupt."""


@attrs.frozen
class Step:
    """One launch of the plan, with everything random about it drawn in advance."""

    index: int
    kind: str
    api: str  # "run", "launch" or "none" (refused before any launch)
    point: str  # where the fault lands; kind-specific
    delay: float  # seconds, for a signal
    network: bool  # on an internal network the test creates
    volume: bool  # with a named volume the test creates
    choice: int  # which bad setting or argument
    workspace: bool = False  # with a workspace: a tmpfs volume and its keeper

    @property
    def files(self) -> dict[str, Any]:
        """run()'s files and collect arguments for a step with a workspace (none without)."""
        if not self.workspace:
            return {}
        return {"files": {"in.txt": f"in-{self.index}".encode()}, "collect": ["in.txt"]}

    def __str__(self) -> str:
        where = f"{self.point}+{self.delay * 1000:.0f}ms" if self.delay else self.point
        extras = "".join((" +network" if self.network else "", " +volume" if self.volume else "",
                          " +workspace" if self.workspace else ""))  # fmt: skip
        return f"#{self.index} {self.kind} via {self.api} at {where}{extras}"


def plan(seed: int, launches: int) -> list[Step]:
    """The launches for a seed: the same seed gives the same list."""
    rng = random.Random(seed)  # noqa: S311  # a replayable plan, not a secret
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    steps = []
    for index in range(launches):
        kind = rng.choices(kinds, weights)[0]
        api = rng.choice(("run", "launch"))
        point, delay, choice = "-", 0.0, 0
        if kind == "body_exception":
            point = rng.choice(("at_once", "after_exec", "after_kill", "abort"))
            api = "launch"
        elif kind in ("sigint_child", "sigterm_child"):
            point = rng.choice(("before", "during", "after"))
            delay = rng.uniform(0.0, 0.25 if point == "during" else 0.1)
        elif kind == "sigkill_child":
            point, delay = "after", rng.uniform(0.0, 0.1)
        elif kind == "invalid_config":
            choice = rng.randrange(len(BAD_SETTINGS) + len(BAD_ARGUMENTS))
            bad_argument = choice >= len(BAD_SETTINGS)
            api = BAD_ARGUMENTS[choice - len(BAD_SETTINGS)][0] if bad_argument else "none"
        makes_container = kind in ("success", "body_exception", "timeout", "oom", "name_taken")
        network = makes_container and rng.random() < 0.2
        volume = makes_container and rng.random() < 0.2
        # Its own source: the main one draws what it drew before workspaces existed.
        draw = random.Random(f"workspace-{seed}-{index}").random()  # noqa: S311
        workspace = (makes_container or kind in CHILD_KINDS) and draw < 0.25
        steps.append(Step(index, kind, api, point, delay, network, volume, choice, workspace))
    return steps


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        pytest.fail(f"{name}={text!r} is not a whole number", pytrace=False)
    if value < 1:
        pytest.fail(f"{name}={text!r} must be at least 1", pytrace=False)
    return value


def _owner_pid(container: dict[str, Any]) -> int | None:
    owner = (container.get("Labels") or {}).get(OWNER_LABEL, "")
    parts = owner.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdecimal() else None


class FaultRun:
    """What a run shares between its threads: the engine, the labels and the tallies."""

    def __init__(self, client: docker.DockerClient, image: str, run_id: str) -> None:
        self.client = client
        self.image = image
        self.run_id = run_id
        self.labels = {**TEST_LABELS, RUN_LABEL: self.run_id}
        self.box = sr.builder(image).labels(self.labels)
        self.child_turn = threading.Lock()
        self._lock = threading.Lock()
        self.failures: list[str] = []
        self.leaks: list[str] = []
        self.ooms: list[bool] = []  # for each OOM kill, whether the engine reported it
        # A client of an engine that does not exist: whatever reaches it fails with
        # DaemonUnavailable, so a ConfigError through it was raised before any daemon.
        self.nowhere = docker.DockerClient(
            base_url=f"unix:///nonexistent/secure-run-{self.run_id}.sock", version="1.41"
        )

    def fail(self, step: Step, message: str) -> None:
        with self._lock:
            self.failures.append(f"{step}: {message}")

    def leak(self, step: Step, message: str) -> None:
        with self._lock:
            self.leaks.append(f"{step}: {message}")

    def oom(self, reported: bool) -> None:
        with self._lock:
            self.ooms.append(reported)

    def name(self, step: Step) -> str:
        return f"sr-fault-{self.run_id}-{step.index}"

    def gone(self, container_id: str) -> bool:
        try:
            self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return True
        return False

    def containers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.client.api.containers(
            all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
        )
        return found

    def networks(self) -> list[Any]:
        return list(self.client.networks.list(filters={"label": f"{RUN_LABEL}={self.run_id}"}))

    def volumes(self) -> list[Any]:
        return list(self.client.volumes.list(filters={"label": f"{RUN_LABEL}={self.run_id}"}))

    def volumes_of(self, pid: int) -> list[str]:
        """The run's volumes that the process ``pid`` made (workspace volumes)."""
        mine = [v for v in self.volumes() if _owner_pid({"Labels": v.attrs.get("Labels")}) == pid]
        return [v.name for v in mine]

    def sweep(self) -> None:
        """Remove whatever the run left (after it was counted)."""
        for found in self.containers():
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_container(found["Id"], force=True, v=True)
        for network in self.networks():
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
        for volume in self.volumes():
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)

    @contextlib.contextmanager
    def resources(self, step: Step) -> Iterator[sr.RunBuilder]:
        """The builder for a step, on the network and with the volume it asks for."""
        box = self.box
        made: list[Any] = []
        try:
            if step.network:
                network = self.client.networks.create(
                    self.name(step), internal=True, labels=self.labels
                )
                made.append(network)
                box = box.network(self.name(step))
            if step.volume:
                volume = self.client.volumes.create(self.name(step), labels=self.labels)
                made.append(volume)
                box = box.mount(self.name(step), "/data")
            if step.workspace:
                box = box.workspace("/workspace", "16m")
            yield box
        finally:
            for thing in reversed(made):
                try:
                    thing.remove()
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError as exc:  # in use: a container was left on it
                    self.fail(step, f"could not remove {thing.name}: {exc}")


# -- the steps -------------------------------------------------------------------------


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise AssertionError(message)


def _shape(step: Step) -> str:
    """A shell check that the network and volume are the ones the step asked for."""
    net = "test -d /sys/class/net/eth0" if step.network else "! test -d /sys/class/net/eth0"
    vol = " && test -d /data" if step.volume else ""
    return net + vol


def step_success(run: FaultRun, step: Step) -> None:
    token = f"ok-{step.index}"
    with run.resources(step) as box:
        if step.api == "run":
            cfg = box.command(["sh", "-c", f"{_shape(step)} && echo {token}"]).build()
            result = sr.run(cfg, client=run.client, timeout=60, **step.files)
            _check(
                (result.exit_code, result.stdout, result.timed_out)
                == (0, f"{token}\n".encode(), False),
                f"unexpected result {result} stdout={result.stdout!r} stderr={result.stderr!r}",
            )
            want = step.files.get("files", {})
            _check(dict(result.files) == want, f"collected {dict(result.files)}, put {want}")
            _check(run.gone(result.container_id), "the container was not removed")
        else:
            with sr.launch(box.command(["sleep", "30"]).build(), client=run.client) as c:
                _check(c.report is not None and c.report.ok, f"not verified: {c.report}")
                _check(c.exec(["sh", "-c", _shape(step)]).exit_code == 0, "wrong network/volume")
                out = c.exec(["echo", token])
                _check(out.stdout == f"{token}\n".encode(), f"exec gave {out.stdout!r}")
                if step.workspace:
                    c.put("in.txt", token.encode())
                    _check(c.get("in.txt") == token.encode(), "the workspace lost a file")
            _check(run.gone(c.id), "the container was not removed")


def step_body_exception(run: FaultRun, step: Step) -> None:
    fault: BaseException = (
        InjectedAbort(step.index) if step.point == "abort" else InjectedFault(step.index)
    )
    container_id = ""
    with run.resources(step) as box:
        try:
            with sr.launch(box.command(["sleep", "30"]).build(), client=run.client) as c:
                container_id = c.id
                if step.point == "after_exec":
                    _check(c.exec(["true"]).exit_code == 0, "exec failed")
                    if step.workspace:
                        c.put("in.txt", b"x")
                elif step.point == "after_kill":
                    c.kill()
                    _check(c.wait(timeout=30) == 137, "a killed container did not exit 137")
                raise fault
        except (InjectedFault, InjectedAbort) as exc:
            _check(exc is fault, f"another exception came out: {exc!r}")
        else:
            raise AssertionError("the exception raised in the with body did not propagate")
        _check(run.gone(container_id), "the container was not removed")


def step_timeout(run: FaultRun, step: Step) -> None:
    with run.resources(step) as box:
        cfg = box.command(["sh", "-c", "while :; do :; done"]).build()
        if step.api == "run":
            result = sr.run(cfg, client=run.client, timeout=0.3, **step.files)
            _check(
                (result.timed_out, result.oom_killed, result.exit_code) == (True, False, 137),
                f"not reported as a timeout: {result}",
            )
            _check(run.gone(result.container_id), "the container was not removed")
        else:
            with sr.launch(cfg, client=run.client) as c:
                try:
                    c.wait(timeout=0.3)
                except sr.RunTimeout:
                    pass
                else:
                    raise AssertionError("wait() on an endless loop returned")
            _check(run.gone(c.id), "the container was not removed")


def step_missing_image(run: FaultRun, step: Step) -> None:
    image = f"secure-run-test/no-such-image:fault-{run.run_id}-{step.index}"
    cfg = sr.builder(image).labels(run.labels).build()
    try:
        if step.api == "run":
            sr.run(cfg, client=run.client, timeout=30)
        else:
            sr.launch(cfg, client=run.client).close()
    except sr.ImageNotFound as exc:
        _check(exc.image == image and image in str(exc), f"does not name the image: {exc}")
    else:
        raise AssertionError("a missing image was launched")


def step_invalid_config(run: FaultRun, step: Step) -> None:
    if step.choice < len(BAD_SETTINGS):
        field, bad = BAD_SETTINGS[step.choice]
        try:
            bad(run.box.command(["true"])).build()
        except sr.ConfigError as exc:
            fields = [p.field for p in exc.problems]
            _check(field in fields, f"the problems {fields} do not name {field!r}")
        else:
            raise AssertionError(f"a bad {field} was built")
        return
    api, field, kwargs = BAD_ARGUMENTS[step.choice - len(BAD_SETTINGS)]
    cfg = run.box.command(["true"]).build()
    try:
        if api == "run":
            sr.run(cfg, client=run.nowhere, **kwargs)
        else:
            sr.launch(cfg, client=run.nowhere, **kwargs).close()
    except sr.ConfigError as exc:
        fields = [p.field for p in exc.problems]
        _check(field in fields, f"the problems {fields} do not name {field!r}")
    else:
        raise AssertionError(f"{api}() accepted {kwargs}")


def step_oom(run: FaultRun, step: Step) -> None:
    with run.resources(step) as box:
        cfg = box.memory("16m").command(["tail", "/dev/zero"]).build()
        if step.api == "run":
            result = sr.run(cfg, client=run.client, timeout=60, **step.files)
            _check(
                (result.timed_out, result.exit_code) == (False, 137),
                f"not an OOM kill: {result}",
            )
            run.oom(result.oom_killed)
            _check(run.gone(result.container_id), "the container was not removed")
        else:
            # verify=False: the bomb may be dead before a check of the running process.
            with sr.launch(cfg, client=run.client, verify=False) as c:
                code = c.wait(timeout=60)
                _check(code == 137, f"exit {code}, not an OOM kill")
                run.oom(bool(c.inspect()["State"]["OOMKilled"]))
            _check(run.gone(c.id), "the container was not removed")


def step_name_taken(run: FaultRun, step: Step) -> None:
    with run.resources(step) as box:
        cfg = box.name(run.name(step)).command(["sleep", "30"]).build()
        with sr.launch(cfg, client=run.client) as first:
            try:
                if step.api == "run":
                    sr.run(cfg, client=run.client, timeout=30, **step.files)
                else:
                    sr.launch(cfg, client=run.client).close()
            except sr.LaunchError as exc:
                _check("already in use" in str(exc), f"not the engine's refusal: {exc}")
            else:
                raise AssertionError("a second container took a name in use")
            _check(first.inspect()["State"]["Running"], "the first container was harmed")
        _check(run.gone(first.id), "the container was not removed")


def _spawn_child(run: FaultRun, api: str, workspace: bool = False) -> subprocess.Popen[str]:
    extra = ["workspace"] if workspace else []
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, run.image, json.dumps(run.labels), api, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _await_line(child: subprocess.Popen[str], prefix: str) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith(prefix):
        child.kill()
        _, err = child.communicate(timeout=_CHILD_EXIT_BOUND_S)
        raise AssertionError(f"the child said {line!r}, not {prefix!r}: {err[-500:]}")
    return line.split()[-1] if line.split()[1:] else ""


def _end_child(child: subprocess.Popen[str]) -> int:
    try:
        child.communicate(timeout=_CHILD_EXIT_BOUND_S)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGUSR1)  # the child's faulthandler prints every thread
        time.sleep(1.0)
        child.kill()
        _, err = child.communicate()
        raise AssertionError(
            f"the child did not exit within {_CHILD_EXIT_BOUND_S} s; its threads:\n{err[-3000:]}"
        ) from None
    return child.returncode


def _childs(run: FaultRun, pid: int) -> list[dict[str, Any]]:
    return [c for c in run.containers() if _owner_pid(c) == pid]


def step_signal_child(run: FaultRun, step: Step) -> None:
    signum = signal.SIGINT if step.kind == "sigint_child" else signal.SIGTERM
    with run.child_turn:
        child = _spawn_child(run, step.api, step.workspace)
        try:
            if step.point in ("during", "after"):
                _await_line(child, "launching")
            if step.point == "after":
                _await_line(child, "ready")
            time.sleep(step.delay)
            child.send_signal(signum)
        finally:
            code = _end_child(child)
        _check(code != 0, "the signalled child exited 0")
        time.sleep(_SETTLE_S)
        left = _childs(run, child.pid)
        if left:
            states = [(c["Id"][:12], c["State"]) for c in left]
            run.leak(step, f"child {child.pid} (exit {code}) left {states}")
            for found in left:
                run.client.api.remove_container(found["Id"], force=True, v=True)
        volumes = run.volumes_of(child.pid)
        if volumes:
            run.leak(step, f"child {child.pid} (exit {code}) left volumes {volumes}")
            for name in volumes:
                run.client.api.remove_volume(name, force=True)


def step_sigkill_child(run: FaultRun, step: Step) -> None:
    with run.child_turn:
        child = _spawn_child(run, step.api, step.workspace)
        try:
            _await_line(child, "launching")
            _await_line(child, "ready")
            time.sleep(step.delay)
            child.kill()
        finally:
            _end_child(child)
        time.sleep(_SETTLE_S)
        before = {c["Id"] for c in run.containers()}
        left = {c["Id"] for c in _childs(run, child.pid)}
        volumes = set(run.volumes_of(child.pid))
        made = (2, 1) if step.workspace else (1, 0)  # the sandbox, its keeper; the workspace
        _check((len(left), len(volumes)) == made,
               f"a SIGKILLed child left {len(left)} containers, {len(volumes)} volumes, "
               f"not {made}")  # fmt: skip
        reaped = sr.cleanup(client=run.client)
        reaped_ids = {r.container_id for r in reaped}
        _check(left <= reaped_ids, f"cleanup() did not reap {left}: {reaped}")
        reaped_volumes = {r.name for r in reaped if r.kind == "volume"}
        _check(volumes <= reaped_volumes, f"cleanup() did not reap {volumes}: {reaped}")
        _check(not _childs(run, child.pid), "the child's container is still there")
        _check(not run.volumes_of(child.pid), "the child's workspace volume is still there")
        # Children take turns, and this process is alive: any other container of the run
        # that cleanup() reaped was left behind by an earlier launch.
        for container_id in sorted((reaped_ids & before) - left):
            run.leak(step, f"cleanup() reaped {container_id[:12]}, left by an earlier launch")
        mine = [r for r in reaped if f":{os.getpid()}:" in r.owner]
        _check(not mine, f"cleanup() reaped containers of a live owner: {mine}")


STEPS: dict[str, Callable[[FaultRun, Step], None]] = {
    "success": step_success,
    "body_exception": step_body_exception,
    "timeout": step_timeout,
    "missing_image": step_missing_image,
    "invalid_config": step_invalid_config,
    "oom": step_oom,
    "name_taken": step_name_taken,
    "sigint_child": step_signal_child,
    "sigterm_child": step_signal_child,
    "sigkill_child": step_sigkill_child,
}


def _do(run: FaultRun, step: Step) -> None:
    try:
        STEPS[step.kind](run, step)
    except BaseException as exc:  # every outcome is tallied; the test asserts on the tally
        where = traceback.extract_tb(exc.__traceback__)[-1]
        run.fail(step, f"{type(exc).__name__}: {exc} (at {where.name}:{where.lineno})")


def _do_each(run: FaultRun, steps: list[Step]) -> None:
    for step in steps:
        _do(run, step)


# -- the test --------------------------------------------------------------------------


def test_fault_run_leaves_nothing(
    docker_client: docker.DockerClient,
    test_image: str,
    capsys: pytest.CaptureFixture[str],
    reliability_record: Callable[[str, dict[str, Any]], Any],
) -> None:
    """A seeded random run of launches with faults leaves no container, network or volume."""
    launches = _env_int("SECURE_RUN_FAULT_LAUNCHES", _DEFAULT_LAUNCHES)
    threads = _env_int("SECURE_RUN_FAULT_THREADS", _DEFAULT_THREADS)
    seed_text = os.environ.get("SECURE_RUN_FAULT_SEED", "").strip()
    seed = int(seed_text) if seed_text else secrets.randbelow(10**9)
    steps = plan(seed, launches)
    run = FaultRun(docker_client, test_image, f"{seed}-{os.getpid()}")
    with capsys.disabled():
        print(
            f"\nfault run: seed={seed} launches={launches} threads={threads} "
            f"label {RUN_LABEL}={run.run_id} (replay: SECURE_RUN_FAULT_SEED={seed})"
        )
    children = [s for s in steps if s.kind in CHILD_KINDS]
    started = time.monotonic()
    try:
        # The children take turns on one more thread, alongside the in-process launches.
        with ThreadPoolExecutor(max_workers=threads + 1, thread_name_prefix="fault") as pool:
            pool.submit(_do_each, run, children)
            for s in steps:
                if s.kind not in CHILD_KINDS:
                    pool.submit(_do, run, s)
        time.sleep(_SETTLE_S)
        leftovers = {
            "containers": len(run.containers()),
            "networks": len(run.networks()),
            "volumes": len(run.volumes()),
        }
    finally:
        run.sweep()
        run.nowhere.close()
    duration = time.monotonic() - started

    kinds = collections.Counter(s.kind for s in steps)
    apis = collections.Counter(s.api for s in steps)
    faults = {k: kinds.get(k, 0) for k in WEIGHTS if k != "success"}
    unreported = run.ooms.count(False)
    if len(run.ooms) >= 3 and unreported == len(run.ooms):
        run.failures.append(f"none of {len(run.ooms)} OOM kills was reported as OOM")
    passed = not run.failures and not run.leaks and not any(leftovers.values())
    facts = sr.engine_facts(docker_client)
    reliability_record(
        "fault_run",
        {
            "seed": seed,
            "launches": launches,
            "threads": threads,
            "successes": kinds.get("success", 0),
            "workspaces": sum(s.workspace for s in steps),
            "faults": faults,
            "apis": dict(sorted(apis.items())),
            "leftovers": leftovers,
            "leaks": len(run.leaks),
            "oom_unreported": unreported,
            "failures": len(run.failures),
            "passed": passed,
            "duration_s": round(duration, 1),
            "engine": {
                "server_version": facts.server_version,
                "api_version": facts.api_version,
                "kernel_version": facts.kernel_version,
                "cgroup_version": facts.cgroup_version,
                "os_type": facts.os_type,
            },
        },
    )
    summary = (
        f"fault run: seed={seed} launches={launches} successes={kinds.get('success', 0)} "
        f"faults: {' '.join(f'{k}={v}' for k, v in faults.items())} | leftovers: "
        f"{' '.join(f'{k}={v}' for k, v in leftovers.items())} leaks={len(run.leaks)} "
        f"oom_unreported={unreported} "
        f"failures={len(run.failures)} | {duration:.1f} s"
    )
    with capsys.disabled():
        print(summary)
    problems = [*(f"leak {m}" for m in run.leaks), *(f"failed {m}" for m in run.failures)]
    assert passed, (
        f"{summary}\nreplay with SECURE_RUN_FAULT_SEED={seed} "
        f"SECURE_RUN_FAULT_LAUNCHES={launches}\n" + "\n".join(problems[:30])
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_create_is_in_flight_leaves_nothing(
    signum: int, docker_client: docker.DockerClient, test_image: str
) -> None:
    """A signal once the daemon made the container, before secure_run has its id, leaves nothing."""
    run = FaultRun(docker_client, test_image, f"create-race-{os.getpid()}")
    try:
        child = _spawn_child(run, "slow-create")
        try:
            _await_line(child, "launching")
            container_id = _await_line(child, "created")
            child.send_signal(signum)
        finally:
            code = _end_child(child)
        time.sleep(_SETTLE_S)
        assert code != 0
        if not run.gone(container_id):
            raise Leaked(f"the container {container_id[:12]} made before the signal was left")
    finally:
        run.sweep()
        run.nowhere.close()

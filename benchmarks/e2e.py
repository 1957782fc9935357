"""End-to-end: run ``true`` in the test image to completion, removed, in each way people do.

Run alone: ``python3 benchmarks/e2e.py [N]``; ``run_all.py`` runs it as part of ``make bench``.

Every way gets the restricted preset's settings on the same image and command:

* ``sr.run(cfg)``;
* docker-py: ``client.containers.run(**cfg.to_docker_kwargs(), remove=True)``;
* the CLI: ``docker run --rm`` with ``cfg.to_cli()``'s arguments, as a subprocess;
* python-on-whales: ``docker.run(..., remove=True)`` with the same settings (it runs the CLI);
* testcontainers: ``DockerContainer`` with the same kwargs, reaper disabled,
  ``start()``, ``wait()``, ``stop()``;
* the floor: the Engine API calls alone (create from a prepared body, start, wait,
  remove) on the low-level client, with nothing else done in Python.

Each iteration runs every way once, in an order rotated by one each iteration, so
a drift in the engine's speed touches all ways alike; ratios are taken per
iteration (the pair in the same iteration) and their median is reported.

Before timing, each way's container is created once, inspected and compared with
``sr.run``'s, so the ways are shown to launch the same hardened container.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import docker
import docker.errors

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # no reaper: it would be pulled

import common

import secure_run as sr
from secure_run._engine.client import low_level as _api
from secure_run._export.docker import create_args as _create_container_args

#: The HostConfig fields (and Config.User) that carry the hardening, compared across ways.
HARDENING_FIELDS = (
    "CapAdd",
    "CapDrop",
    "Privileged",
    "SecurityOpt",
    "ReadonlyRootfs",
    "Tmpfs",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "NanoCpus",
    "PidsLimit",
    "Ulimits",
    "NetworkMode",
    "Init",
    "LogConfig",
    "RestartPolicy",
)


def fingerprint(attrs: dict[str, Any]) -> dict[str, Any]:
    host = attrs["HostConfig"]
    found = {name: host.get(name) for name in HARDENING_FIELDS}
    found["User"] = attrs["Config"].get("User")
    found["Image"] = attrs["Config"].get("Image")
    found["Cmd"] = attrs["Config"].get("Cmd")
    for key in ("CapAdd", "CapDrop", "SecurityOpt", "Ulimits"):
        found[key] = found[key] or None  # [] and None mean the same to the engine
    return found


class Ways:
    """The ways to run one config, each a no-argument callable that runs it once."""

    def __init__(self, client: docker.DockerClient, cfg: sr.RunConfig) -> None:
        self.client = client
        self.cfg = cfg
        self.kwargs = cfg.to_docker_kwargs()
        argv = cfg.to_cli()
        assert argv[:2] == ["docker", "run"]
        self.cli_argv = ["docker", "run", "--rm", *argv[2:]]
        self.cli_detached = ["docker", "run", "-d", *argv[2:]]
        create = _create_container_args({**self.kwargs, "version": _api(client)._version})
        create.pop("use_config_proxy", None)
        create.pop("name", None)
        create.pop("platform", None)
        self.floor_body = _api(client).create_container_config(**create)

    # -- the ways --------------------------------------------------------------------

    def secure_run(self) -> None:
        result = sr.run(self.cfg, client=self.client)
        assert result.exit_code == 0

    def docker_py(self) -> None:
        self.client.containers.run(**self.kwargs, remove=True)

    def cli(self) -> None:
        subprocess.run(self.cli_argv, check=True, capture_output=True)

    def python_on_whales(self) -> None:
        from python_on_whales import docker as whales

        whales.run(
            self.cfg.image, list(self.cfg.command or ()), remove=True, **self.whales_kwargs()
        )

    def testcontainers(self) -> None:
        container = self._testcontainer()
        container.start()
        try:
            assert container.wait() == 0
        finally:
            container.stop()

    def floor(self) -> None:
        api = _api(self.client)
        cid = api.create_container_from_config(self.floor_body, None)["Id"]
        try:
            api.start(cid)
            api.wait(cid)
        finally:
            api.remove_container(cid, v=True, force=True)

    # -- helpers ---------------------------------------------------------------------

    def whales_kwargs(self) -> dict[str, Any]:
        k = self.kwargs
        return {
            "pull": "never",
            "labels": k["labels"],
            "user": k["user"],
            "cap_add": k["cap_add"],
            "cap_drop": k["cap_drop"],
            "memory": k["mem_limit"],
            "memory_reservation": k["mem_reservation"],
            "memory_swap": k["memswap_limit"],
            "cpus": k["nano_cpus"] / 1e9,
            "pids_limit": k["pids_limit"],
            "ulimit": [f"{u['Name']}={u['Soft']}:{u['Hard']}" for u in k["ulimits"]],
            "read_only": k["read_only"],
            "tmpfs": [f"{path}:{opts}" for path, opts in k["tmpfs"].items()],
            "networks": [k["network_mode"]],
            "security_options": k["security_opt"],
            "init": k["init"],
            "log_driver": k["log_config"]["Type"],
            "log_options": [f"{key}={v}" for key, v in k["log_config"]["Config"].items()],
        }

    def _testcontainer(self) -> Any:
        from testcontainers.core.container import DockerContainer

        rest = dict(self.kwargs)
        image, command = rest.pop("image"), rest.pop("command")
        environment, tmpfs = rest.pop("environment"), rest.pop("tmpfs")
        rest.pop("use_config_proxy", None)
        container = DockerContainer(image, env=dict(environment)).with_command(command)
        container.tmpfs = dict(tmpfs)  # DockerContainer passes tmpfs itself
        return container.with_kwargs(**rest)

    def launched_settings(self) -> dict[str, dict[str, Any]]:
        """Each way's container, created once and inspected: its hardening fields."""
        api = self.client.api
        found: dict[str, dict[str, Any]] = {}

        # secure_run: the config as sr.run creates it (the same path as run()).
        from secure_run._engine.create import create as _create
        from secure_run._engine.live import release as _release

        cid = _create(self.client, self.cfg, strict=True, stdin=False)
        try:
            found["sr.run"] = fingerprint(api.inspect_container(cid))
        finally:
            _release(self.client, cid)

        container = self.client.containers.create(**self.kwargs)
        try:
            found["docker-py"] = fingerprint(api.inspect_container(container.id))
        finally:
            container.remove(force=True)

        cid = subprocess.run(self.cli_detached, check=True, capture_output=True, text=True)
        cid_s = cid.stdout.strip()
        try:
            found["docker CLI"] = fingerprint(api.inspect_container(cid_s))
        finally:
            api.remove_container(cid_s, force=True)

        from python_on_whales import docker as whales

        c = whales.run(
            self.cfg.image, list(self.cfg.command or ()), detach=True, **self.whales_kwargs()
        )
        try:
            found["python-on-whales"] = fingerprint(api.inspect_container(c.id))
        finally:
            api.remove_container(c.id, force=True)

        tc = self._testcontainer()
        tc.start()
        try:
            found["testcontainers"] = fingerprint(api.inspect_container(tc._container.id))
        finally:
            tc.stop()

        cid = api.create_container_from_config(self.floor_body, None)["Id"]
        try:
            found["Engine API floor"] = fingerprint(api.inspect_container(cid))
        finally:
            api.remove_container(cid, force=True)
        return found


class RequestLog:
    """Count the HTTP requests a client makes, and the time each kind takes."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.calls: collections.Counter[str] = collections.Counter()
        self.elapsed: dict[str, list[float]] = collections.defaultdict(list)

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        path = re.sub(r"/v[0-9.]+", "", response.request.path_url.split("?")[0])
        path = re.sub(r"/[0-9a-f]{64}", "/{id}", path)
        key = f"{response.request.method} {path}"
        self.calls[key] += 1
        self.elapsed[key].append(response.elapsed.total_seconds())

    @contextlib.contextmanager
    def recording(self) -> Any:
        hooks = self.client.api.hooks["response"]
        hooks.append(self.hook)
        try:
            yield self
        finally:
            hooks.remove(self.hook)


def requests_per_run(client: docker.DockerClient, fn: Callable[[], None], n: int) -> dict[str, Any]:
    """The API requests one run of ``fn`` makes, and their median time (ms) each."""
    log = RequestLog(client)
    with log.recording():
        for _ in range(n):
            fn()
    return {
        key: {"per_run": count / n, "median_ms": statistics.median(log.elapsed[key]) * 1000}
        for key, count in sorted(log.calls.items())
    }


def profile(fn: Callable[[], None], n: int, limit: int = 12) -> dict[str, Any]:
    """cProfile of ``n`` calls, per call: the total, the share spent in HTTP requests, and
    secure_run's own functions by cumulative time (their HTTP calls included)."""
    rows = []
    http = total = 0.0
    for filename, line, name, ncalls, tottime, cumtime in common.cprofile(fn, n):
        if filename.endswith("requests/sessions.py") and name == "send":
            http = cumtime / n * 1000
        if filename.endswith("benchmarks/e2e.py") and name == fn.__name__:
            total = cumtime / n * 1000
        if "/secure_run/" not in filename:
            continue
        short = re.sub(r".*/(secure_run/)", r"\1", filename)
        rows.append(
            {
                "function": f"{short}:{line}({name})",
                "calls_per_run": ncalls / n,
                "own_ms": tottime / n * 1000,
                "cumulative_ms": cumtime / n * 1000,
            }
        )
    rows.sort(key=lambda r: -r["cumulative_ms"])
    return {"total_ms": total, "http_ms": http, "functions": rows[:limit]}


def python_steps(client: docker.DockerClient, cfg: sr.RunConfig) -> dict[str, float]:
    """Microseconds of secure_run's own Python work in a run, timed without a profiler."""
    import timeit
    from unittest import mock

    from secure_run._engine.labels import owner_id
    from secure_run._export.docker import sdk_kwargs

    def per_call(fn: Callable[[], object], number: int) -> float:
        return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6

    container = client.containers.create(**cfg.to_docker_kwargs())
    try:
        record = client.api.inspect_container(container.id)
        with mock.patch.object(client.api, "inspect_container", return_value=record):
            check = per_call(
                lambda: sr.verify(container.id or "", cfg, client=client, kernel=False), 300
            )
    finally:
        container.remove(force=True)
    return {
        "owner labels (owner_id)": per_call(owner_id, 2000),
        "translation (sdk_kwargs)": per_call(lambda: sdk_kwargs(cfg), 2000),
        "record check (verify, inspect excluded)": check,
    }


WAY_NAMES = {
    "sr.run": "secure_run",
    "docker-py": "docker_py",
    "docker CLI": "cli",
    "python-on-whales": "python_on_whales",
    "testcontainers": "testcontainers",
    "Engine API floor": "floor",
}


def measure(client: docker.DockerClient, image: str, iterations: int) -> dict[str, Any]:
    cfg = common.restricted(image, ["true"])
    ways = Ways(client, cfg)
    notes: dict[str, str] = {}
    available: dict[str, Callable[[], None]] = {}
    for name, attr in WAY_NAMES.items():
        fn = getattr(ways, attr)
        try:
            fn()  # warm-up, and proof it works here
            fn()
        except Exception as exc:  # a way that cannot run here is reported, not timed
            notes[name] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        available[name] = fn

    settings = {}
    with contextlib.suppress(Exception):
        settings = ways.launched_settings()
    reference = settings.get("sr.run")
    same = {
        name: {k: (v, reference[k]) for k, v in fp.items() if v != reference[k]}
        for name, fp in settings.items()
        if reference is not None
    }

    names = list(available)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(iterations):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            samples[name].append(common.timed(available[name]))
        print(
            f"  e2e {i + 1}/{iterations}: "
            + ", ".join(f"{n} {samples[n][-1] * 1000:.0f}" for n in names)
            + " ms",
            flush=True,
        )

    def ratios(a: str, b: str) -> dict[str, float] | None:
        if a not in samples or b not in samples:
            return None
        return common.summary([x / y for x, y in zip(samples[a], samples[b])])

    results: dict[str, Any] = {
        "iterations": iterations,
        "command": ["true"],
        "times_s": {name: common.summary(s) for name, s in samples.items()},
        "raw_s": samples,
        "ratios_vs_docker_py": {n: ratios(n, "docker-py") for n in names if n != "docker-py"},
        "ratios_vs_sr_run": {n: ratios(n, "sr.run") for n in names if n != "sr.run"},
        "unavailable": notes,
        "settings_differences": same,
    }
    # Why: the requests each way makes, and where sr.run's time goes.
    n_prof = 3 if common.QUICK else 10
    results["requests"] = {
        name: requests_per_run(client, available[name], n_prof)
        for name in ("sr.run", "docker-py", "Engine API floor")
        if name in available
    }
    results["python_steps_us"] = python_steps(client, cfg)
    results["profile_sr_run"] = profile(ways.secure_run, n_prof)
    results["profile_docker_py"] = profile(ways.docker_py, n_prof, limit=0)
    return results


def main() -> int:
    client = docker.from_env()
    try:
        image = common.image(client)
        n = int(sys.argv[1]) if len(sys.argv) > 1 else (5 if common.QUICK else 40)
        started = time.monotonic()
        res = measure(client, image, n)
        for name, s in res["times_s"].items():
            print(f"{name:18} median {s['median'] * 1000:7.1f} ms")
        for name, r in res["ratios_vs_docker_py"].items():
            if r:
                print(f"{name:18} / docker-py: median ratio {r['median']:.3f}")
        print(f"unavailable: {res['unavailable']}")
        print(f"settings differences: {res['settings_differences']}")
        print(f"{time.monotonic() - started:.0f} s")
    finally:
        common.remove_leftovers(client)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The engine matrix: the same suites on every engine ``scripts/engines.sh`` can start.

For each engine, in order: ``scripts/engines.sh up NAME`` (the ``default`` engine is the
one ``make test`` uses and is never started or stopped here), the engine's exports from
``scripts/engines.sh env NAME``, the suites with ``DOCKER_HOST`` at its socket and
``SECURE_RUN_REQUIRE_DOCKER=1`` (so an engine that stops answering fails, never skips),
a count of what the suites left behind on it, then ``scripts/engines.sh down NAME`` on
every path (an error, Ctrl-C, SIGTERM).

The suites are ``tests/integration tests/security tests/examples tests/docs`` unless the
engine's exports name others in ``SECURE_RUN_ENGINE_SUITES`` (the ``cgroupv2`` engine,
whose guest runs under software emulation, names a subset). An engine script that exits
with :data:`CANNOT_RUN` says the engine cannot run on this machine: its last line, the
exact error, goes into the matrix as the reason, and the engine stays untested.

The results are merged into :data:`RESULTS` (one entry per engine, so a run of one
engine keeps the others') and rendered into ``docs/engine-support.md`` and
``docs/reliability.md`` between their ``matrix`` markers (``scripts/matrix_render.py``).
The exit status is 1 when any engine that ran had a failure, an error, a leak, or could
not be started for a reason other than :data:`CANNOT_RUN`.

Usage::

    python3 scripts/matrix.py                        # every engine
    python3 scripts/matrix.py --engines userns,gvisor
    python3 scripts/matrix.py --render               # re-render the docs from RESULTS
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent))

import matrix_render

ROOT = Path(__file__).resolve().parent.parent
ENGINES_SH = ROOT / "scripts" / "engines.sh"
RESULTS = ROOT / "docs" / "data" / "engine-matrix.json"
WORK = Path(os.environ.get("SECURE_RUN_MATRIX_DIR", str(ROOT / "build" / "matrix")))

ORDER = matrix_render.ORDER
DEFAULT_SUITES = ("tests/integration", "tests/security", "tests/examples", "tests/docs")
#: An engine script's exit status for "this engine cannot run on this machine".
CANNOT_RUN = 3
#: Seconds for an engine's ``up`` and ``down``, and for its suites.
UP_TIMEOUT = 1200.0
SUITES_TIMEOUT = 2400.0
MANAGED_LABEL = "secure-run.managed"
TEST_LABEL = "secure-run.test"


class Stopped(Exception):
    """SIGTERM arrived: stop the engine that is up and end."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Stopped(f"signal {signum}")


def engines_known() -> list[str]:
    """``default`` plus every engine script, in :data:`ORDER` (unknown names last)."""
    found = {p.stem for p in (ROOT / "scripts" / "engines").glob("*.sh")}
    names = ["default", *sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else 99, n))]
    return names


def run_script(action: str, name: str, log: Path, timeout: float) -> tuple[int, str]:
    """``scripts/engines.sh ACTION NAME``, its output into ``log``; the status and last line."""
    with log.open("ab") as out:
        out.write(f"\n$ scripts/engines.sh {action} {name}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                [str(ENGINES_SH), action, name], stdout=out, stderr=out, timeout=timeout,
                cwd=ROOT, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return 124, f"`scripts/engines.sh {action} {name}` ran past {timeout:g} s"
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return done.returncode, (lines[-1] if lines else "")


def engine_env(name: str) -> dict[str, str]:
    """The variables ``scripts/engines.sh env NAME`` exports (parsed by bash itself)."""
    if name == "default":
        url = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return {"SECURE_RUN_ENGINE_URL": url, "SECURE_RUN_ENGINE_NAME": "default"}
    script = f'eval "$({shlex.quote(str(ENGINES_SH))} env {shlex.quote(name)})" && env -0'
    done = subprocess.run(["bash", "-c", script], capture_output=True, check=True, cwd=ROOT,
                          env={"PATH": os.environ.get("PATH", "")})  # fmt: skip
    pairs = (item.partition("=") for item in done.stdout.decode().split("\0") if item)
    exported = {key: value for key, _, value in pairs}
    wanted = {k: v for k, v in exported.items() if k.startswith(("SECURE_RUN_", "DOCKER_"))}
    if "SECURE_RUN_ENGINE_URL" not in wanted:
        raise RuntimeError(f"`scripts/engines.sh env {name}` exported no SECURE_RUN_ENGINE_URL")
    return wanted


def engine_facts(url: str) -> dict[str, Any]:
    """The engine's own account of itself: versions, runtime, cgroup, security options."""
    import docker

    client = docker.DockerClient(base_url=url, timeout=60)
    try:
        version, info = client.version(), client.info()
    finally:
        client.close()
    components = {c.get("Name"): c.get("Version") for c in version.get("Components") or []}
    return {
        "server": version.get("Version"),
        "api": version.get("ApiVersion"),
        "platform": (version.get("Platform") or {}).get("Name", ""),
        "podman": components.get("Podman Engine"),
        "default_runtime": info.get("DefaultRuntime"),
        "runtimes": sorted(info.get("Runtimes") or {}),
        "cgroup": f"v{info.get('CgroupVersion') or '1'} {info.get('CgroupDriver') or ''}".strip(),
        "security_options": list(info.get("SecurityOptions") or []),
        "kernel": info.get("KernelVersion"),
    }


def leftovers(url: str) -> dict[str, int]:
    """What the suites left on the engine: secure_run's containers, volumes, networks, services."""
    import docker

    client = docker.DockerClient(base_url=url, timeout=60)
    label, test = {"label": MANAGED_LABEL}, {"label": TEST_LABEL}
    try:
        api = client.api
        containers = {c["Id"] for c in api.containers(all=True, filters=label)}
        containers |= {c["Id"] for c in api.containers(all=True, filters=test)}
        counts = {
            "containers": len(containers),
            "volumes": len((api.volumes(filters=label) or {}).get("Volumes") or []),
            "networks": len(api.networks(filters=test)),
        }
        # Services exist only on a swarm manager; elsewhere the engine refuses to list them.
        if (api.info().get("Swarm") or {}).get("ControlAvailable"):
            services = {s["ID"] for s in api.services(filters=label)}
            services |= {s["ID"] for s in api.services(filters=test)}
            counts["services"] = len(services)
    finally:
        client.close()
    return counts


def junit_counts(path: Path) -> dict[str, Any]:
    """Passed, failed, errors, skipped, and each skip reason with its count."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    reasons: dict[str, int] = {}
    failures: list[str] = []
    tree = ElementTree.parse(path)  # noqa: S314 - pytest's own report of this run
    for case in tree.getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None:
            counts["failed"] += 1
            failures.append(name)
        elif case.find("error") is not None:
            counts["errors"] += 1
            failures.append(name)
        elif (skip := case.find("skipped")) is not None:
            counts["skipped"] += 1
            reason = (skip.get("message") or "").removeprefix("Skipped: ") or "(no reason given)"
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            counts["passed"] += 1
    return {**counts, "skip_reasons": reasons, "failures": failures[:50]}


def no_report(code: int) -> dict[str, Any]:
    """The counts of a run that wrote no junit report: one error, saying why."""
    why = "timed out" if code == 124 else f"pytest exited {code}"
    return {"passed": 0, "failed": 0, "errors": 1, "skipped": 0, "skip_reasons": {},
            "failures": [f"no junit report: {why}"]}  # fmt: skip


def battery_summary(path: Path) -> dict[str, int]:
    """The containment battery's outcome counts (the last record of each attack and preset)."""
    if not path.exists():
        return {}
    latest: dict[tuple[str, str], str] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            latest[(str(row["attack"]), str(row["preset"]))] = str(row.get("result"))
    counts: dict[str, int] = {}
    for result in latest.values():
        counts[result] = counts.get(result, 0) + 1
    return counts


def run_suites(name: str, env: Mapping[str, str], folder: Path, extra: Sequence[str]) -> int:
    """The engine's suites under pytest, with its exports; pytest's exit status."""
    suites = env.get("SECURE_RUN_ENGINE_SUITES", "").split() or list(DEFAULT_SUITES)
    child = {**os.environ, **env, "DOCKER_HOST": env["SECURE_RUN_ENGINE_URL"],
             "SECURE_RUN_REQUIRE_DOCKER": "1",
             "SECURE_RUN_BATTERY_RECORD": str(folder / "battery.jsonl")}  # fmt: skip
    argv = [sys.executable, "-m", "pytest", *suites, "-q", "-p", "no:cacheprovider",
            f"--junitxml={folder / 'junit.xml'}", *extra]  # fmt: skip
    print(f"matrix: {name}: {' '.join(argv[1:])}", flush=True)
    try:
        done = subprocess.run(argv, env=child, cwd=ROOT, timeout=SUITES_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return 124
    return done.returncode


def host_links() -> set[str]:
    """The network links of this host's network namespace (docker0 among them)."""
    net = Path("/sys/class/net")
    return {p.name for p in net.iterdir()} if net.is_dir() else set()


def run_engine(name: str, extra: Sequence[str], suites: str | None = None) -> dict[str, Any]:
    """One engine: up, facts, suites, leftovers, down (always). Its matrix entry.

    A host link that was there before and is gone after ``down`` (a dockerd started with
    ``--bridge=none`` in the host's network namespace deletes docker0, say) is a problem.
    """
    folder = WORK / name
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("junit.xml", "battery.jsonl", "engine.log"):
        (folder / stale).unlink(missing_ok=True)
    log = folder / "engine.log"
    entry: dict[str, Any] = {"engine": name, "date": _now()}
    links_before = host_links()
    started = time.monotonic()
    try:
        if name != "default":
            status, last = run_script("up", name, log, UP_TIMEOUT)
            entry["up_s"] = round(time.monotonic() - started, 1)
            if status != 0:
                entry["status"] = "cannot run here" if status == CANNOT_RUN else "did not start"
                entry["reason"] = last
                return entry
        env = engine_env(name)
        if suites:
            env["SECURE_RUN_ENGINE_SUITES"] = suites
        entry["facts"] = engine_facts(env["SECURE_RUN_ENGINE_URL"])
        entry["env"] = {k: v for k, v in env.items() if k != "SECURE_RUN_ENGINE_URL"}
        began = time.monotonic()
        code = run_suites(name, env, folder, extra)
        entry["suites_s"] = round(time.monotonic() - began, 1)
        entry["pytest_exit"] = code
        junit = folder / "junit.xml"
        entry.update(junit_counts(junit) if junit.exists() else no_report(code))
        entry["battery"] = battery_summary(folder / "battery.jsonl")
        entry["leftovers"] = leftovers(env["SECURE_RUN_ENGINE_URL"])
        entry["status"] = "ran"
    except (Exception, KeyboardInterrupt, Stopped) as exc:
        entry.update(status="broken", reason=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (KeyboardInterrupt, Stopped)):
            raise
    finally:
        if name != "default":
            began = time.monotonic()
            status, last = run_script("down", name, log, UP_TIMEOUT)
            entry["down_s"] = round(time.monotonic() - began, 1)
            if status != 0:
                entry.setdefault("problems", []).append(f"down failed: {last}")
        if gone := sorted(links_before - host_links()):
            entry.setdefault("problems", []).append(f"host links gone: {', '.join(gone)}")
    return entry


def entry_ok(entry: Mapping[str, Any]) -> bool:
    """Whether an engine's entry counts as green."""
    if entry.get("status") == "cannot run here":
        return True
    if entry.get("status") != "ran" or entry.get("problems"):
        return False
    leaked = sum((entry.get("leftovers") or {}).values())
    clean = not entry["failed"] and not entry["errors"] and not leaked
    return clean and entry.get("pytest_exit") in (0, 5)


def load_results() -> dict[str, Any]:
    if RESULTS.exists():
        data: dict[str, Any] = json.loads(RESULTS.read_text())
        return data
    return {"engines": {}}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", help="a comma-separated list (default: every engine)")
    parser.add_argument("--suites", help="run these suites (space-separated) on each engine")
    parser.add_argument("--render", action="store_true", help="only re-render the docs")
    parser.add_argument("--no-render", action="store_true", help="do not touch the docs")
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest (after --)")
    args = parser.parse_args(argv)
    results = load_results()
    failed: list[str] = []
    if not args.render:
        known = engines_known()
        asked = [n for n in (args.engines or "").split(",") if n]
        unknown = [n for n in asked if n not in known]
        if unknown:
            parser.error(f"unknown engine(s): {', '.join(unknown)} (known: {', '.join(known)})")
        names = sorted(asked, key=known.index) if asked else known
        signal.signal(signal.SIGTERM, _on_term)
        ran: dict[str, Any] = {}
        for name in names:
            print(f"\n===== matrix: {name} =====", flush=True)
            entry = run_engine(name, args.pytest_args, args.suites)
            ran[name] = entry
            summary = matrix_render.one_line(entry)
            print(f"matrix: {name}: {summary}", flush=True)
            if not entry_ok(entry):
                failed.append(name)
        # Read again: another run (of other engines) may have written meanwhile.
        results = load_results()
        results["engines"].update(ran)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if not args.no_render:
        for path in matrix_render.render_docs(results, ROOT):
            print(f"matrix: wrote {path.relative_to(ROOT)}", flush=True)
    if failed:
        print(f"matrix: FAILED on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

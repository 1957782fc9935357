"""Audit speed: sr.audit_all() against the reference's method, on N running containers.

Run on a machine with a local Docker Engine and nothing else running on it::

    python3 benchmarks/audit_speed.py                        # 5 and 50 containers, 5 rounds
    python3 benchmarks/audit_speed.py --sizes 5 20 --rounds 3 --no-write

For each size N it starts N restricted-preset containers on the test image
(``sleep 600``, label ``secure-run.bench=1``, network none), waits until all of
them run, runs each way once untimed, then times R rounds, alternating:

* the reference: ``bash benchmarks/reference_section5.sh secure-run.bench=1``, the
  method of docker-bench-security v1.6.0 for CIS section 5 as a shell loop of the
  same CLI calls (one ``docker inspect --format ...`` per check per container, plus
  ``docker port``, ``docker ps``, ``docker info`` and the network reads), output
  discarded;
* ours: ``sr.audit_all(client)`` in this process, with one client for all rounds;
* ours, cold: a fresh ``python3`` process that imports secure_run and runs
  ``audit_all()``, which is what a command-line user pays.

Both sides skip the exec-based check (5.7), the default of each here. It prints the
medians, the ratios, the reference's CLI calls per container and per run, the
check counts and the machine, and writes ``docs/audit-speed.md``. audit_all audits
every running container, so any other running container is reported (and counted)
as a warning: the two sides then audit different sets. The benchmark's containers
are always removed, also on Ctrl-C or SIGTERM. It is a script, not a test: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import common  # puts this checkout's secure_run on sys.path; the labels
import docker
import docker.errors

import secure_run as sr
from secure_run.testing import build_test_image

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "reference_section5.sh"
OUTPUT = ROOT / "docs" / "audit-speed.md"
BENCH_LABEL = ("secure-run.bench", "1")
RUN_LABEL_KEY = "secure-run.bench.run"  # this run's containers, for the cleanup
COLD = (
    "import docker, secure_run as sr\n"
    "audit_all = getattr(sr, 'audit_all', None)\n"
    "if audit_all is None:\n"
    "    from secure_run._audit.audit import audit_all\n"
    "audit_all(docker.from_env())\n"
)


def _audit_all() -> Callable[..., Any]:
    """sr.audit_all, or the module's own while the package does not export it yet."""
    fn = getattr(sr, "audit_all", None)
    if fn is None:
        from secure_run._audit.audit import audit_all as fn
    return fn


def _checks() -> tuple[Any, ...]:
    from secure_run._audit.audit import CHECKS

    return tuple(CHECKS)


# --- the machine ----------------------------------------------------------------------


def machine(client: docker.DockerClient) -> dict[str, str]:
    info = client.info()
    version = client.version()
    return {
        "engine": f"Docker Engine {info.get('ServerVersion')} (API {version.get('ApiVersion')})",
        "kernel": str(info.get("KernelVersion")),
        "os": str(info.get("OperatingSystem")),
        "cpu": f"{common.cpu_model()}, {info.get('NCPU')} CPUs",
        "python": platform.python_version(),
    }


# --- the containers -------------------------------------------------------------------


def start(client: docker.DockerClient, image: str, n: int, run_label: str, ids: list[str]) -> None:
    cfg = (
        sr.builder(image)
        .labels({**common.BENCH_LABELS, BENCH_LABEL[0]: BENCH_LABEL[1], RUN_LABEL_KEY: run_label})
        .command(["sleep", "600"])
        .build()
    )
    for _ in range(n):
        container = client.containers.run(**cfg.to_docker_kwargs(), detach=True)
        ids.append(container.id or "")


def wait_running(client: docker.DockerClient, ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        listed = client.api.containers(filters={"status": "running", "id": list(pending)})
        running = {c["Id"] for c in listed}
        pending -= running
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} of {len(ids)} containers are not running")
        time.sleep(0.2)


def others_running(client: docker.DockerClient, ids: list[str]) -> list[str]:
    """The running containers that are not this run's: audit_all would audit them too."""
    mine = set(ids)
    return [
        (c.get("Names") or [c["Id"][:12]])[0].lstrip("/")
        for c in client.api.containers(filters={"status": "running"})
        if c["Id"] not in mine
    ]


def remove(client: docker.DockerClient, ids: list[str], run_label: str) -> None:
    """Remove this run's containers: the ones recorded, and any created but not recorded."""
    labelled = client.api.containers(all=True, filters={"label": f"{RUN_LABEL_KEY}={run_label}"})
    for cid in {*ids, *(c["Id"] for c in labelled)}:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(cid, force=True)
    ids.clear()


# --- the ways -------------------------------------------------------------------------


def reference(label: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        ["bash", str(SCRIPT), label],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        env=env,
    )


def cold() -> None:
    subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, check=True)


def reference_calls(label: str) -> int:
    """The docker CLI calls the reference makes in one run, as it runs now."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "calls.log"
        reference(label, env={**os.environ, "REFERENCE_CALL_LOG": str(log)})
        return len(log.read_text().splitlines()) if log.exists() else 0


# --- one size -------------------------------------------------------------------------


def bench(
    client: docker.DockerClient, image: str, n: int, rounds: int, run_label: str
) -> dict[str, Any]:
    audit_all = _audit_all()
    label = "=".join(BENCH_LABEL)
    ids: list[str] = []
    try:
        # The reference's calls are linear in the containers: count them on 1 and on n.
        start(client, image, 1, run_label, ids)
        wait_running(client, ids)
        calls_1 = reference_calls(label)
        start(client, image, n - 1, run_label, ids)
        wait_running(client, ids)
        calls_n = reference_calls(label)
        per_container = (calls_n - calls_1) // (n - 1) if n > 1 else calls_1
        per_run = calls_n - per_container * n
        others_max = 0

        def check_alone() -> None:
            nonlocal others_max
            others = others_running(client, ids)
            if others:
                others_max = max(others_max, len(others))
                shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
                print(
                    f"  WARNING: {len(others)} other running container(s) ({shown}); "
                    "audit_all audits them too, the reference does not",
                    file=sys.stderr,
                )

        check_alone()
        report = audit_all(client)  # warm-up, and the counts
        findings = len(getattr(report, "findings", ()))
        reference(label)  # warm-up
        cold()  # warm-up

        ref_s: list[float] = []
        ours_s: list[float] = []
        cold_s: list[float] = []
        for r in range(rounds):
            check_alone()
            ref_s.append(common.timed(lambda: reference(label)))
            ours_s.append(common.timed(lambda: audit_all(client)))
            cold_s.append(common.timed(cold))
            print(
                f"  round {r + 1}/{rounds}: reference {ref_s[-1]:.3f} s, "
                f"audit_all {ours_s[-1] * 1000:.1f} ms, cold {cold_s[-1] * 1000:.0f} ms"
            )
        check_alone()
    finally:
        remove(client, ids, run_label)

    ref, ours, cold_med = (statistics.median(x) for x in (ref_s, ours_s, cold_s))
    return {
        "containers": n,
        "rounds": rounds,
        "others": others_max,
        "calls_per_container": per_container,
        "calls_per_run": per_run,
        "calls": calls_n,
        "findings": findings,
        "reference_s": ref,
        "ours_s": ours,
        "cold_s": cold_med,
        "ratio": ref / ours,
        "cold_ratio": ref / cold_med,
    }


# --- the report -----------------------------------------------------------------------


def markdown(rows: list[dict[str, Any]], host: dict[str, str], checks: int, day: str) -> str:
    calls = rows[0]
    lines = [
        "# Audit speed",
        "",
        f"*Measured on {day} by `python3 benchmarks/audit_speed.py`; run it again to "
        "refresh this page. Timings depend on the machine.*",
        "",
        "How long an audit of CIS Docker Benchmark v1.6 section 5 takes on the same set",
        "of running containers, by the reference's method and by `sr.audit_all()`.",
        "",
        "- **Reference:** `benchmarks/reference_section5.sh`, the calls docker-bench-security",
        "  v1.6.0 makes for section 5, as a shell loop: one `docker inspect --format ...` CLI",
        "  call per check per container, plus `docker port`, `docker ps`, `docker info` and",
        f"  the network reads. Here that is {calls['calls_per_container']} CLI calls per "
        f"container and {calls['calls_per_run']} per run.",
        "- **`sr.audit_all(client)`:** one `inspect` per container, made concurrently, plus",
        f"  one `info` and one network listing per audit; {checks} checks per container.",
        "- **Cold process:** a new `python3` that imports secure_run and runs `audit_all()`,",
        "  the cost of a one-off command line, interpreter start-up and imports included.",
        "",
        "Both sides skip the exec-based check (5.7 sshd), which is opt-in in secure_run.",
        "The containers are restricted-preset `sleep` containers (network none); "
        + (
            "other containers ran too (see the warning below)."
            if any(row["others"] for row in rows)
            else "nothing else ran on the engine."
        ),
        "Each way runs once untimed, then the rounds alternate between the ways; the",
        "figures are medians.",
        "",
        "| running containers | rounds | reference | `sr.audit_all` | ratio | cold process "
        "| ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['containers']} | {row['rounds']} | {row['reference_s']:.2f} s "
            f"| {row['ours_s'] * 1000:.1f} ms | **{row['ratio']:.0f}x** "
            f"| {row['cold_s'] * 1000:.0f} ms | {row['cold_ratio']:.0f}x |"
        )
    lines += [
        "",
        "Ratio: the reference's median time divided by ours. The target, at least 20x,",
        "is for the library call, `sr.audit_all`.",
    ]
    slow = [row for row in rows if row["cold_ratio"] < 20]
    if slow:
        shown = ", ".join(
            f"{row['containers']} containers ({row['cold_ratio']:.0f}x)" for row in slow
        )
        lines += [
            "",
            f"A cold process is below 20x at {shown}: there, starting Python and importing",
            "docker-py and secure_run costs more than the audit itself.",
        ]
    lines += [
        "",
        "Machine:",
        "",
        f"- {host['engine']}, on {host['os']}",
        f"- kernel {host['kernel']}",
        f"- {host['cpu']}",
        f"- Python {host['python']}",
    ]
    if any(row["others"] for row in rows):
        lines += [
            "",
            "**Warning:** other containers ran during some rounds ("
            + ", ".join(
                f"up to {row['others']} at {row['containers']} containers"
                for row in rows
                if row["others"]
            )
            + "). `sr.audit_all` audits every running container, so it audited them too",
            "and did more work than the reference, which audits only the labelled set.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[5, 50], help="running containers (default 5 50)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per way (default 5)")
    parser.add_argument(
        "--no-write", action="store_true", help=f"print only; do not write {OUTPUT.name}"
    )
    args = parser.parse_args()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the finally blocks remove the containers

    signal.signal(signal.SIGTERM, on_term)

    client = docker.from_env()
    try:
        image = build_test_image(client)
        host = machine(client)
        checks = len(_checks())
        print(f"{host['engine']}; kernel {host['kernel']}; {host['cpu']}; {host['os']}")
        run_label = uuid.uuid4().hex[:12]
        rows = []
        for n in args.sizes:
            print(f"{n} running containers, {args.rounds} rounds:")
            row = bench(client, image, n, args.rounds, run_label)
            rows.append(row)
            print(
                f"  reference: {row['calls_per_container']} CLI calls per container + "
                f"{row['calls_per_run']} per run = {row['calls']} calls; "
                f"ours: {checks} checks per container, {row['findings']} findings\n"
                f"  median: reference {row['reference_s']:.3f} s, "
                f"audit_all {row['ours_s'] * 1000:.1f} ms -> {row['ratio']:.1f}x; "
                f"cold process {row['cold_s'] * 1000:.0f} ms -> {row['cold_ratio']:.1f}x"
                + (f"; WARNING: up to {row['others']} other containers ran" if row["others"]
                   else "")
            )  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted; the benchmark's containers were removed", file=sys.stderr)
        return 130
    finally:
        client.close()

    if not args.no_write:
        day = datetime.date.today().isoformat()
        OUTPUT.write_text(markdown(rows, host, checks, day), encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

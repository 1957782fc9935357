"""Run every benchmark in one go, save the figures as JSON, and regenerate the page.

``make bench`` runs this. It writes ``benchmarks/results/results.json`` (committed,
so the page can be regenerated and checked without an engine: ``python3
benchmarks/render.py --check``) and ``docs/performance.md``.

    python3 benchmarks/run_all.py                  # everything, about 13 minutes
    BENCH_QUICK=1 python3 benchmarks/run_all.py    # a smoke run: few repeats, small sizes
    python3 benchmarks/run_all.py --only e2e config --note "..."

``BENCH_QUICK=1`` writes to ``benchmarks/results/quick.json`` and leaves the page
alone unless ``--write-doc`` is given. The run exits 1 when a start-up figure is more
than 20% above ``benchmarks/results/startup_baseline.json`` (``startup.py``).
Nothing is pulled; every container runs with network none, carries the test labels
and is removed, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
import uuid
from typing import Any, Callable

import audit_speed
import common
import concurrency
import config_speed
import docker
import e2e
import import_time
import render
import sessions
import startup
import verify_cost

SECTIONS = ("e2e", "config", "verify", "concurrency", "audit", "import", "startup", "sessions")


def run_audit(client: docker.DockerClient, image: str) -> dict[str, Any]:
    sizes, rounds = ((3,), 1) if common.QUICK else ((5, 50), 3)
    run_label = uuid.uuid4().hex[:12]
    rows = []
    for n in sizes:
        print(f"  audit: {n} running containers, {rounds} rounds", flush=True)
        rows.append(audit_speed.bench(client, image, n, rounds, run_label))
    return {"checks": len(audit_speed._checks()), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument(
        "--note",
        default=os.environ.get("BENCH_NOTE", ""),
        help="a remark printed on the page (e.g. what else ran)",
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="with BENCH_QUICK=1, write the page anyway"
    )
    args = parser.parse_args(argv)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwind: every benchmark removes its containers

    signal.signal(signal.SIGTERM, on_term)
    wanted = args.only or SECTIONS
    client = docker.from_env()
    started = time.monotonic()
    results: dict[str, Any] = {"quick": common.QUICK, "note": args.note}
    try:
        image = common.image(client)
        results["machine"] = common.machine(client)
        results["machine"]["other_running_containers"] = len(
            client.api.containers(filters={"status": "running"})
        )
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "e2e": lambda: e2e.measure(client, image, 5 if common.QUICK else 40),
            "config": config_speed.measure,
            "verify": lambda: verify_cost.measure(
                client, image, *((30, 5) if common.QUICK else (300, 30))
            ),
            "concurrency": lambda: concurrency.measure(
                client, image, *((8, 1) if common.QUICK else (40, 6))
            ),
            "audit": lambda: run_audit(client, image),
            "import": lambda: import_time.measure(5 if common.QUICK else 30),
            "startup": lambda: startup.measure(5 if common.QUICK else 20),
            "sessions": lambda: sessions.measure(client, image),  # files, exec, aio, epicbox
        }
        for name in SECTIONS:
            if name not in wanted:
                continue
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            try:
                results[name] = steps[name]()
            except Exception as exc:  # one section's failure is reported, the rest still run
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                common.remove_leftovers(client)
            results[name]["elapsed_s"] = time.monotonic() - t0
        results["machine"]["load_after"] = common.load_average()
    except KeyboardInterrupt:
        print("interrupted; removing the benchmark's containers", file=sys.stderr)
        return 130
    finally:
        results["leftover_containers"] = common.remove_leftovers(client)
        results["leftover_volumes"] = sessions.remove_volumes(client)
        client.close()
    results["elapsed_s"] = time.monotonic() - started

    out = common.RESULTS.with_name("quick.json") if common.QUICK else common.RESULTS
    if args.only and out.exists():  # a partial run updates the saved figures
        saved = json.loads(out.read_text(encoding="utf-8"))
        saved.update({k: v for k, v in results.items() if k != "elapsed_s"})
        results = saved
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(common.ROOT)} ({results['elapsed_s']:.0f} s)")
    if not common.QUICK or args.write_doc:
        common.DOC.write_text(render.render(results), encoding="utf-8")
        print(f"wrote {common.DOC.relative_to(common.ROOT)}")
    if "startup" in wanted and "error" not in results.get("startup", {}):
        print("\n".join(startup.report(results["startup"])))
        return startup.fail_loudly(results["startup"])  # a start-up regression fails the run
    return 0


if __name__ == "__main__":
    sys.exit(main())

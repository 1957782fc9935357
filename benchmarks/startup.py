"""Start-up: ``import secure_run`` against ``import docker``, and the ``secure-run`` command
line against the ``docker`` CLI, each in a fresh process; fails loudly on a regression.

Every figure is the median wall time of ``runs`` fresh processes, the commands
interleaved round by round so a busy moment hits them all alike:

* ``python3 -c pass`` (the interpreter alone), ``python3 -c "import docker"`` and
  ``python3 -c "import secure_run"``;
* ``secure-run --help`` and ``secure-run presets`` (the console script installed beside
  this interpreter), and ``docker --help`` for reference;
* plus the cumulative ``-X importtime`` of both imports.

The goals: ``import secure_run`` at most 1.15x ``import docker``; ``secure-run --help``
and ``secure-run presets`` each under 150 ms. The figures are compared with
``benchmarks/results/startup_baseline.json``, each as a multiple of the same run's
``python3 -c pass`` (so a busier or slower machine does not count against secure_run):
one more than 20% above its baseline makes the run exit 1 with a message saying which
(``make bench`` fails with it). A
``BENCH_QUICK=1`` run only prints the comparison. After a deliberate change, write a
new baseline with ``--update-baseline``.

    python3 benchmarks/startup.py [--runs N] [--update-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common
import import_time

BASELINE = common.ROOT / "benchmarks" / "results" / "startup_baseline.json"
TOLERANCE = 1.20  # a figure more than 20% above its baseline is a regression
IMPORT_GOAL = 1.15  # import secure_run at most this many times import docker
CLI_GOAL_MS = 150.0

#: The interpreter's own start, which the other figures are measured against.
START = "python -c pass"
#: The figures held to the baseline: what secure_run itself controls.
GATED = ("import secure_run", "secure-run --help", "secure-run presets")


def _secure_run() -> list[str]:
    """The console script beside this interpreter, else ``python -m secure_run``."""
    script = Path(sys.executable).with_name("secure-run")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "secure_run"]


def commands() -> dict[str, list[str]]:
    """Each timed command by its figure's name (``docker --help`` only with a docker CLI)."""
    python = sys.executable
    timed = {
        START: [python, "-c", "pass"],
        "import docker": [python, "-c", "import docker"],
        "import secure_run": [python, "-c", "import secure_run"],
        "secure-run --help": [*_secure_run(), "--help"],
        "secure-run presets": [*_secure_run(), "presets"],
    }
    docker_cli = shutil.which("docker")
    if docker_cli is not None:
        timed["docker --help"] = [docker_cli, "--help"]
    return timed


def _wall_ms(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=import_time._env())
    return (time.perf_counter() - start) * 1000


def measure(runs: int) -> dict[str, Any]:
    """The wall-time figures, the ``-X importtime`` figures, the goals and the comparison."""
    timed = commands()
    for argv in timed.values():  # warm the file cache and the bytecode
        _wall_ms(argv)
    samples: dict[str, list[float]] = {name: [] for name in timed}
    importtime: dict[str, list[float]] = {"docker": [], "secure_run": []}
    for i in range(runs):
        order = list(timed) if i % 2 == 0 else list(timed)[::-1]
        for name in order:
            samples[name].append(_wall_ms(timed[name]))
        for module in importtime:
            importtime[module].append(import_time.importtime_us(module) / 1000)
    wall = {name: common.summary(s) for name, s in samples.items()}
    imports = {m: common.summary(s) for m, s in importtime.items()}
    figures = {name: s["median"] for name, s in wall.items()}
    ratio_wall = figures["import secure_run"] / figures["import docker"]
    ratio_importtime = imports["secure_run"]["median"] / imports["docker"]["median"]
    result: dict[str, Any] = {
        "runs": runs,
        "wall_ms": wall,
        "importtime_ms": imports,
        "ratio_import_wall": ratio_wall,
        "ratio_import_importtime": ratio_importtime,
        "goals": {
            "import secure_run / import docker": {
                "goal": f"<= {IMPORT_GOAL}x",
                "met": max(ratio_wall, ratio_importtime) <= IMPORT_GOAL,
            },
            **{
                name: {"goal": f"< {CLI_GOAL_MS:.0f} ms", "met": figures[name] < CLI_GOAL_MS}
                for name in ("secure-run --help", "secure-run presets")
            },
        },
    }
    baseline = _baseline()
    result["baseline_ms"] = baseline
    result["regressions"] = regressions(figures, baseline)
    return result


def _baseline() -> dict[str, float]:
    if not BASELINE.exists():
        return {}
    saved = json.loads(BASELINE.read_text(encoding="utf-8"))
    return {name: float(ms) for name, ms in saved["figures_ms"].items()}


def regressions(figures: dict[str, float], baseline: dict[str, float]) -> list[str]:
    """One line for each gated figure more than 20% above its baseline.

    Each figure is first divided by the same run's ``python -c pass`` (the interpreter's
    own start), so a machine that is busier or slower throughout does not read as a
    regression of secure_run's; without that figure the times are compared as they are.
    """
    found = []
    for name in GATED:
        if name not in baseline or name not in figures:
            continue
        now, was = _relative(figures, name), _relative(baseline, name)
        if now > was * TOLERANCE:
            found.append(
                f"{name}: {figures[name]:.1f} ms, {now / was - 1:+.0%} against the baseline's "
                f"{baseline[name]:.1f} ms, relative to the interpreter's start (allowed: +20%)"
            )
    return found


def _relative(figures: dict[str, float], name: str) -> float:
    start = figures.get(START)
    return figures[name] / start if start else figures[name]


def write_baseline(result: dict[str, Any]) -> None:
    """Save this run's medians as the baseline later runs are held to."""
    saved = {
        "note": "medians of benchmarks/startup.py; rewrite with --update-baseline",
        "machine": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": f"{common.cpu_model()}, {os.cpu_count()} CPUs",
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "load_before": common.load_average(),
        },
        "runs": result["runs"],
        "figures_ms": {name: round(s["median"], 1) for name, s in result["wall_ms"].items()},
    }
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    BASELINE.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")


def report(result: dict[str, Any]) -> list[str]:
    """The figures, the goals and the comparison with the baseline, as text lines."""
    lines = []
    baseline = result["baseline_ms"]
    for name, s in result["wall_ms"].items():
        base = baseline.get(name)
        against = f"  (baseline {base:.1f} ms, {s['median'] / base - 1:+.0%})" if base else ""
        lines.append(f"{name:20} {s['median']:7.1f} ms{against}")
    lines.append(
        f"import secure_run / import docker: {result['ratio_import_wall']:.2f}x wall, "
        f"{result['ratio_import_importtime']:.2f}x -X importtime"
    )
    for name, goal in result["goals"].items():
        lines.append(f"goal {name} {goal['goal']}: {'met' if goal['met'] else 'MISSED'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5 if common.QUICK else 20)
    parser.add_argument("--update-baseline", action="store_true",
                        help="save this run's figures as the new baseline")  # fmt: skip
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print("\n".join(report(result)))
    if args.update_baseline:
        write_baseline(result)
        print(f"wrote {BASELINE.relative_to(common.ROOT)}")
        return 0
    return fail_loudly(result)


def fail_loudly(result: dict[str, Any]) -> int:
    """1, with a message on stderr, when a figure regressed (a quick run only warns)."""
    if not result["regressions"]:
        return 0
    print("\nSTART-UP REGRESSION: more than 20% slower than "
          f"{BASELINE.relative_to(common.ROOT)}:", file=sys.stderr)  # fmt: skip
    for line in result["regressions"]:
        print(f"  {line}", file=sys.stderr)
    if common.QUICK:
        print("  (BENCH_QUICK=1: a smoke run's figures mean little; not failing)", file=sys.stderr)
        return 0
    print("  Find the import that came back, or if the change is deliberate, run:\n"
          "  python3 benchmarks/startup.py --update-baseline", file=sys.stderr)  # fmt: skip
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Render docs/reliability.md from the records of one run of the three batteries.

``scripts/reliability`` runs ``tests/security``, ``tests/reliability`` and ``tests/fuzz``
with their record variables pointing into one folder, then calls this module on it:

========================  ===========================================================
``battery.jsonl``         the containment battery (``SECURE_RUN_BATTERY_RECORD``): one
                          JSON object per attack and preset (tests/security/conftest.py)
``reliability.json``      the fault run and the daemon restart
                          (``SECURE_RUN_RELIABILITY_RECORD``, tests/reliability/conftest.py)
``fuzz.json``             the fuzz example counts (``SECURE_RUN_RELIABILITY_RECORD_DIR``,
                          tests/fuzz/conftest.py)
``junit.xml``             pytest's report of the run (``--junitxml``): totals, xfails
``run.json``              the command, its exit code, the Hypothesis profile, the times
``machine.json``          the engine, kernel, cgroup version and CPU (``--collect``)
========================  ===========================================================

A record that is missing is said to be missing in the document, never invented.

Usage::

    python3 scripts/render_reliability.py --collect DIR     # write DIR/machine.json
    python3 scripts/render_reliability.py DIR [-o docs/reliability.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "reliability.md"
COMMAND = "scripts/reliability"

#: The attacks in the order issue 5 lists them; others follow, sorted.
ATTACK_ORDER = (
    "fork-bomb", "memory-bomb", "cpu-hog", "disk-fill", "chown", "mknod", "mount",
    "raw-socket", "sethostname", "ptrace", "ptrace-outside", "init-module", "finit-module",
    "settime", "kill-outside", "unshare-user", "setuid-escalation", "visibility", "network",
    "host-surface", "shell-injection",
)  # fmt: skip
SUITES = ("tests/security", "tests/reliability", "tests/fuzz")


# -- reading the records -------------------------------------------------------------------


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _battery(path: Path) -> list[dict[str, Any]] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "attack" in row and "preset" in row:
            rows.append(row)
    return rows


def _junit(path: Path) -> dict[str, Any] | None:
    """Totals per suite, and the xfail reasons, from pytest's JUnit XML."""
    try:
        tree = ElementTree.parse(path)  # noqa: S314 - pytest's own report of this run
    except (OSError, ElementTree.ParseError):
        return None
    suites: dict[str, dict[str, int]] = {}
    xfails: dict[str, list[str]] = {}
    for case in tree.iter("testcase"):
        name = case.get("classname", "")
        suite = next((s for s in SUITES if name.startswith(s.replace("/", "."))), "other")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "errors"
            elif child.tag == "skipped":
                xfail = child.get("type") == "pytest.xfail"
                outcome = "xfailed" if xfail else "skipped"
                if xfail:
                    reason = child.get("message", "").removeprefix("xfail").strip(" :")
                    xfails.setdefault(suite, [])
                    if reason and reason not in xfails[suite]:
                        xfails[suite].append(reason)
        counts = suites.setdefault(suite, {})
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"suites": suites, "xfails": xfails}


def load(folder: Path) -> dict[str, Any]:
    """Every record in ``folder``; a missing one is None."""
    return {
        "battery": _battery(folder / "battery.jsonl"),
        "reliability": _json(folder / "reliability.json"),
        "fuzz": _json(folder / "fuzz.json"),
        "junit": _junit(folder / "junit.xml"),
        "run": _json(folder / "run.json"),
        "machine": _json(folder / "machine.json"),
    }


# -- the machine -----------------------------------------------------------------------------


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
            return value.strip()
    return platform.processor() or "unknown"


def collect_machine() -> dict[str, Any]:
    """The engine (from the daemon), kernel, cgroup version and CPU of this machine."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    facts: dict[str, Any] = {}
    try:
        import docker

        import secure_run as sr

        client = docker.from_env(version="auto")
        try:
            engine = sr.engine_facts(client)
        finally:
            client.close()
        facts.update(
            engine_version=engine.server_version,
            api_version=engine.api_version,
            max_api_version=engine.max_api_version,
            kernel=engine.kernel_version,
            cgroup_version=engine.cgroup_version,
            cgroup_driver=engine.cgroup_driver,
            ncpu=engine.ncpu,
            mem_total_bytes=engine.mem_total,
            security_options=list(engine.security_options),
            secure_run=sr.__version__,
        )
    except Exception as exc:  # the document says why the facts are missing
        facts["engine_error"] = f"{type(exc).__name__}: {exc}"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    facts.update(
        os=_os_name(),
        cpu_model=_cpu_model(cpuinfo),
        host_kernel=platform.release(),
        python=platform.python_version(),
        collected_at=_now(),
    )
    return facts


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return platform.system()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return platform.system()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# -- rendering ------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """Text safe for one Markdown table cell."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _value(value: object) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def _figures(figures: object, limit: int = 160) -> str:
    if not isinstance(figures, Mapping) or not figures:
        return ""
    text = ", ".join(f"{key}={_value(value)}" for key, value in figures.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _missing(what: str, variable: str) -> list[str]:
    return [f"**Missing:** no {what} was recorded in this run (`{variable}`).", ""]


def _attack_key(attack: str) -> tuple[int, str]:
    order = ATTACK_ORDER.index(attack) if attack in ATTACK_ORDER else len(ATTACK_ORDER)
    return order, attack


_RESULTS = {"contained": "contained", "failed": "**NOT CONTAINED / failed**", "skipped": "skipped"}


def _containment(rows: list[dict[str, Any]] | None) -> list[str]:
    out = ["## 1. Containment: every attack in every preset", ""]
    if rows is None:
        return out + _missing("containment battery", "SECURE_RUN_BATTERY_RECORD")
    if not rows:
        return [*out, "**Missing:** the containment battery recorded no attack.", ""]
    presets = sorted({str(r["preset"]) for r in rows})
    attacks = sorted({str(r["attack"]) for r in rows}, key=_attack_key)
    latest = {(str(r["attack"]), str(r["preset"])): r for r in rows}
    table = []
    for attack in attacks:
        for preset in presets:
            row = latest.get((attack, preset))
            if row is None:
                table.append((attack, preset, "not run", "", ""))
                continue
            result = _RESULTS.get(str(row.get("result")), str(row.get("result")))
            if row.get("result") != "contained" and row.get("message"):
                result += f": {row['message']}"
            table.append((attack, preset, result, row.get("control", ""),
                          _figures(row.get("figures"))))  # fmt: skip
    counts: dict[str, int] = {}
    for row in latest.values():
        counts[str(row.get("result"))] = counts.get(str(row.get("result")), 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    out += [
        f"{len(attacks)} attacks x {len(presets)} presets ({', '.join(presets)}): {summary}. "
        "Each runs in a container from the preset on the real engine; after each, the engine "
        "must answer and the host's free memory must come back.",
        "",
        *_table(("attack", "preset", "result", "control that stopped it", "figures"), table),
        "",
    ]
    unhealthy = [
        f"{r['attack']} ({r['preset']})"
        for r in latest.values()
        if isinstance(r.get("health"), Mapping)
        and not (r["health"].get("engine_answers") and r["health"].get("mem_recovered"))
    ]
    not_contained = [f"{a} ({p})" for (a, p), r in latest.items() if r.get("result") == "failed"]
    out.append(
        "Not contained or not proven: " + ", ".join(not_contained) + "."
        if not_contained
        else "Every recorded attack was contained."
    )
    if unhealthy:
        out += ["", "Host or engine not healthy afterwards: " + ", ".join(unhealthy) + "."]
    return [*out, ""]


def _faults(record: Mapping[str, Any] | None) -> list[str]:
    out = ["## 2. Faults", ""]
    if not isinstance(record, Mapping):
        return out + _missing("fault or daemon-restart figure", "SECURE_RUN_RELIABILITY_RECORD")
    run = record.get("fault_run")
    if isinstance(run, Mapping):
        leftovers = run.get("leftovers") or {}
        left = ", ".join(f"{n} {k}" for k, n in leftovers.items())
        out += [
            "### Seeded fault run",
            "",
            *_table(("figure", "value"), [
                ("launches (faults included)", run.get("launches")),
                ("threads", run.get("threads")),
                ("seed (replay: SECURE_RUN_FAULT_SEED)", run.get("seed")),
                ("plain successes", run.get("successes")),
                ("launches with a workspace (its volume and keeper)",
                 run.get("workspaces", "not recorded")),
                ("left behind after the run", left or "not recorded"),
                ("leaks found along the way", run.get("leaks")),
                ("OOM kills the engine did not report as OOM", run.get("oom_unreported")),
                ("launches with a wrong outcome", run.get("failures")),
                ("passed", run.get("passed")),
                ("duration", f"{run.get('duration_s')} s"),
                ("launched with", _figures(run.get("apis"))),
            ]),
            "",
            "Faults injected, by kind:",
            "",
            *_table(("fault", "launches"), sorted((run.get("faults") or {}).items())),
            "",
        ]  # fmt: skip
    else:
        out += ["**Missing:** no seeded fault run was recorded (`fault_run`).", ""]
    restart = record.get("daemon_restart")
    if isinstance(restart, Mapping):
        shown = {k: v for k, v in restart.items()
                 if k not in ("python", "secure_run", "recorded_at")}  # fmt: skip
        out += [
            "### Daemon restart",
            "",
            "A second dockerd, stopped mid-run and started again; the main engine untouched.",
            "",
            *_table(("figure", "value"), [(k, _value(v)) for k, v in shown.items()]),
            "",
        ]
    else:
        out += ["**Missing:** no daemon restart was recorded (`daemon_restart`).", ""]
    return out


def _fuzz(counts: object, run: Mapping[str, Any] | None, junit: Any) -> list[str]:
    out = ["## 3. Bad input: fuzz example counts", ""]
    if not isinstance(counts, Mapping) or not counts:
        return out + _missing("fuzz example count", "SECURE_RUN_RELIABILITY_RECORD_DIR")
    profile = (run or {}).get("hypothesis_profile") or "ci"
    total = sum(int(n) for n in counts.values())
    outcome = ((junit or {}).get("suites") or {}).get("tests/fuzz")
    if outcome is None:
        verdict = "Its outcome was not recorded (no junit.xml)."
    elif outcome.get("failed") or outcome.get("errors"):
        failed = outcome.get("failed", 0) + outcome.get("errors", 0)
        verdict = f"**{failed} fuzz test(s) failed in this run**: see the test outcomes below."
    else:
        xfailed = int(outcome.get("xfailed") or 0)
        tolerated = (
            f"the {xfailed} known bug(s) the fuzz tolerates are the strict xfails below"
            if xfailed
            else "it tolerates no known bug (none is open)"
        )
        verdict = (
            "Every fuzz test passed, so every example made 0 calls to the daemon and met "
            f"the invariants; {tolerated}."
        )
    out += [
        f"{len(counts)} fuzz tests ran {total} examples (Hypothesis profile `{profile}`). In "
        "each example, every input had to build a valid config or raise `ConfigError`, "
        "while docker's client constructors were replaced by a double that counts calls and "
        "refuses them, and each valid config had to translate (docker-py kwargs, `docker run` "
        "argv, compose, explain) and pass `audit_config` for its preset: every warning "
        "explained by one of the config's waivers, or by a documented allowance (5.9 and "
        "PSS-baseline-hostPorts for a published port; PSS-baseline-hostPathVolumes for a "
        "bind mount; see "
        f"tests/fuzz/test_fuzz_audit.py). {verdict}",
        "",
        *_table(("fuzz test", "examples"), sorted(counts.items())),
        "",
    ]
    return out


def _machine(machine: Mapping[str, Any] | None, run: Mapping[str, Any] | None) -> list[str]:
    out = ["## Where the figures came from", ""]
    if not isinstance(machine, Mapping):
        return [*out, "**Missing:** the machine's facts were not collected.", ""]
    rows = []
    if "engine_error" in machine:
        rows.append(("engine", f"not read: {machine['engine_error']}"))
    else:
        rows += [
            ("engine", f"Docker {machine.get('engine_version')}, API "
                       f"{machine.get('api_version')} (the engine's newest: "
                       f"{machine.get('max_api_version')})"),
            ("kernel", machine.get("kernel")),
            ("cgroup", f"v{machine.get('cgroup_version')} ({machine.get('cgroup_driver')})"),
            ("security options", ", ".join(machine.get("security_options") or [])),
        ]  # fmt: skip
        memory = machine.get("mem_total_bytes")
        if isinstance(memory, int):
            rows.append(("memory", f"{memory / 2**30:.1f} GiB"))
    rows += [
        ("OS", machine.get("os")),
        ("CPU", f"{machine.get('cpu_model')}, {machine.get('ncpu', '?')} CPUs"),
        ("Python", machine.get("python")),
    ]  # fmt: skip
    if machine.get("secure_run"):
        rows.append(("secure_run", machine["secure_run"]))
    if isinstance(run, Mapping):
        rows += [
            ("command", f"`{run.get('command')}`"),
            ("exit code", run.get("exit_code")),
            ("started", run.get("started_at")),
            ("finished", run.get("finished_at")),
        ]
    rows.append(("facts collected", machine.get("collected_at")))
    return [*out, *_table(("fact", "value"), rows), ""]


def _outcomes(junit: Mapping[str, Any] | None) -> list[str]:
    out = ["## Test outcomes", ""]
    if not isinstance(junit, Mapping):
        return [*out, "**Missing:** pytest's report (junit.xml) of the run.", ""]
    suites = junit.get("suites") or {}
    kinds = ("passed", "failed", "errors", "xfailed", "skipped")
    rows = [(suite, *(suites.get(suite, {}).get(k, 0) for k in kinds))
            for suite in (*SUITES, "other") if suite in suites]  # fmt: skip
    missing = [s for s in SUITES if s not in suites]
    out += [*_table(("suite", *kinds), rows), ""]
    if missing:
        out += [f"**Missing:** no test of {', '.join(missing)} ran.", ""]
    xfails = junit.get("xfails") or {}
    if xfails:
        out += ["Known bugs, each shown by a strict xfail (fails once fixed):", ""]
        for suite in sorted(xfails):
            out += [f"- {suite}: {reason}" for reason in xfails[suite]]
        out.append("")
    return out


def render(records: Mapping[str, Any]) -> str:
    """The whole document, from :func:`load`'s records."""
    run = records.get("run") if isinstance(records.get("run"), Mapping) else None
    date = (run or {}).get("finished_at") or (records.get("machine") or {}).get("collected_at")
    lines = [
        "# Reliability and security figures",
        "",
        f"Generated by `{COMMAND}` (`make reliability`) from one run on the machine below"
        f"{f', finished {date}' if date else ''}. Do not edit by hand: rerun it.",
        "",
        *_machine(records.get("machine"), run),
        *_containment(records.get("battery")),
        *_per_engine(),
        *_faults(records.get("reliability")),
        *_fuzz(records.get("fuzz"), run, records.get("junit")),
        *_outcomes(records.get("junit")),
    ]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def _per_engine() -> list[str]:
    """The battery's outcome on each engine of the matrix (``scripts/matrix.py``)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import matrix_render

    return [
        "### Containment on each engine",
        "",
        "The same battery, run by `make matrix` on every engine `scripts/engines.sh` starts "
        "(docs/engine-support.md has each engine's versions and skips).",
        "",
        matrix_render.BEGIN,
        *matrix_render.reliability_block(matrix_render.load(ROOT)),
        matrix_render.END,
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Collect the machine's facts, or render the document from a folder of records."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder holding the run's records")
    parser.add_argument("--collect", action="store_true", help="write FOLDER/machine.json")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.collect:
        args.folder.mkdir(parents=True, exist_ok=True)
        (args.folder / "machine.json").write_text(
            json.dumps(collect_machine(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return 0
    args.output.write_text(render(load(args.folder)), encoding="utf-8")
    print(f"render_reliability: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

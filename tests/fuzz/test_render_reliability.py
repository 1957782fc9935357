"""docs/reliability.md is rendered from the batteries' records: every figure, or "missing"."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"

BATTERY = [
    {"attack": "fork-bomb", "preset": "restricted", "result": "contained",
     "control": "pids limit (pids.max)", "figures": {"pids_max": 128, "forks_refused": 7012},
     "health": {"engine_answers": True, "mem_recovered": True}, "message": "",
     "test": "tests/security/test_x.py::test_fork[restricted]", "engine": {}},
    {"attack": "mknod", "preset": "sandbox", "result": "failed",
     "control": "capability: CAP_MKNOD | not held", "figures": {},
     "health": {"engine_answers": True, "mem_recovered": False},
     "message": "mknod succeeded", "test": "t", "engine": {}},
    {"attack": "mknod", "preset": "restricted", "result": "contained",
     "control": "capability: CAP_MKNOD not held", "figures": {"errno": "EPERM"},
     "health": {"engine_answers": True, "mem_recovered": True}, "message": "", "test": "t",
     "engine": {}},
]  # fmt: skip
RELIABILITY = {
    "fault_run": {
        "seed": 831047, "launches": 200, "threads": 3, "successes": 38,
        "faults": {"body_exception": 27, "oom": 9, "sigkill_child": 11},
        "apis": {"run": 88, "launch": 96, "none": 16},
        "leftovers": {"containers": 0, "networks": 0, "volumes": 0}, "leaks": 0,
        "oom_unreported": 1, "failures": 0, "passed": True, "duration_s": 95.3,
    },
    "daemon_restart": {"start_s": 0.4, "stop_s": 1.1, "unavailable_s": {"run": 0.001},
                       "python": "3.11.7"},
}  # fmt: skip
FUZZ = {"test_fuzz_builder.py::test_any": 250, "test_fuzz_cli.py::test_config": 251}
MACHINE = {
    "engine_version": "20.10.24+dfsg1", "api_version": "1.41", "max_api_version": "1.41",
    "kernel": "6.1.0-test", "cgroup_version": 1, "cgroup_driver": "cgroupfs", "ncpu": 4,
    "mem_total_bytes": 8 * 2**30, "security_options": ["name=seccomp,profile=default"],
    "cpu_model": "Test CPU @ 2.0GHz", "python": "3.11.7", "secure_run": "0.1.0.dev0",
    "collected_at": "2026-11-22T16:00:00+00:00",
}  # fmt: skip
RUN = {"command": "python3 -m pytest tests/security tests/reliability tests/fuzz -q",
       "exit_code": 1, "started_at": "2026-11-22T15:50:00+00:00",
       "finished_at": "2026-11-22T16:00:00+00:00", "hypothesis_profile": "ci"}  # fmt: skip
JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.security.test_containment_resources" name="test_fork"/>
<testcase classname="tests.security.test_containment_privileges" name="test_mknod">
  <failure message="mknod succeeded">trace</failure></testcase>
<testcase classname="tests.fuzz.test_fuzz_findings" name="test_cpus">
  <skipped type="pytest.xfail" message="BUG: cpus(1e300) builds"/></testcase>
<testcase classname="tests.fuzz.test_fuzz_builder" name="test_any"/>
</testsuite></testsuites>"""


def _renderer() -> ModuleType:
    path = ROOT / "scripts" / "render_reliability.py"
    spec = importlib.util.spec_from_file_location("render_reliability", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def renderer() -> ModuleType:
    """scripts/render_reliability.py, loaded from this checkout."""
    return _renderer()


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A folder holding one small record of each kind."""
    (tmp_path / "battery.jsonl").write_text(
        "\n".join(json.dumps(r) for r in BATTERY) + "\nnot json\n", encoding="utf-8"
    )
    for name, content in (("reliability.json", RELIABILITY), ("fuzz.json", FUZZ),
                          ("machine.json", MACHINE), ("run.json", RUN)):  # fmt: skip
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
    (tmp_path / "junit.xml").write_text(JUNIT, encoding="utf-8")
    return tmp_path


def _row(doc: str, *cells: str) -> str:
    """The one table row whose first cells are ``cells`` (the last one may go on)."""

    def matches(line: str) -> bool:
        found = line.strip().strip("|").strip().split(" | ")
        head, last = list(cells[:-1]), cells[-1]
        return (
            len(found) >= len(cells)
            and found[: len(head)] == head
            and found[len(head)].startswith(last)
        )

    (row,) = [line for line in doc.splitlines() if line.startswith("|") and matches(line)]
    return row


def test_every_attack_and_preset_is_a_row_with_its_result_and_control(renderer, records):
    """Each attack x preset is a row: result, control (pipes escaped) and figures."""
    doc = renderer.render(renderer.load(records))
    assert "pids limit (pids.max)" in _row(doc, "fork-bomb", "restricted", "contained")
    assert "pids_max=128, forks_refused=7012" in _row(doc, "fork-bomb", "restricted")
    assert "CAP_MKNOD \\| not held" in _row(doc, "mknod", "sandbox")
    assert "NOT CONTAINED" in _row(doc, "mknod", "sandbox")
    assert "not run" in _row(doc, "fork-bomb", "sandbox")
    assert "Not contained or not proven: mknod (sandbox)." in doc
    assert "Host or engine not healthy afterwards: mknod (sandbox)." in doc


def test_the_fault_run_shows_its_size_seed_faults_and_leaks(renderer, records):
    """The fault run's launches, seed, leftovers, leaks and each fault kind are in the doc."""
    doc = renderer.render(renderer.load(records))
    assert _row(doc, "launches (faults included)", "200")
    assert _row(doc, "seed (replay: SECURE_RUN_FAULT_SEED)", "831047")
    assert _row(doc, "leaks found along the way", "0")
    assert _row(doc, "left behind after the run", "0 containers, 0 networks, 0 volumes")
    assert _row(doc, "body_exception", "27")
    assert _row(doc, "sigkill_child", "11")
    assert _row(doc, "unavailable_s", '{"run": 0.001}')
    assert "| python |" not in doc


def test_the_fuzz_counts_and_their_total_are_in_the_doc(renderer, records):
    """Each fuzz test's example count is a row, and the total is stated."""
    doc = renderer.render(renderer.load(records))
    assert _row(doc, "test_fuzz_cli.py::test_config", "251")
    assert "2 fuzz tests ran 501 examples (Hypothesis profile `ci`)" in doc


def test_the_fuzz_verdict_counts_the_known_bugs_it_tolerates(renderer, records):
    """A passing fuzz suite with a strict xfail says one known bug is tolerated."""
    doc = renderer.render(renderer.load(records))
    assert "the 1 known bug(s) the fuzz tolerates are the strict xfails below." in doc


def test_the_fuzz_verdict_says_when_no_known_bug_is_open(renderer):
    """With no xfail in the fuzz suite the doc says no known bug is tolerated."""
    junit = {"suites": {"tests/fuzz": {"passed": 3, "failed": 0, "errors": 0, "xfailed": 0}}}
    text = "\n".join(renderer._fuzz({"test_a": 5}, None, junit))
    assert "it tolerates no known bug (none is open)." in text


def test_the_machine_and_date_the_figures_came_from_are_stated(renderer, records):
    """Engine and API, kernel, cgroup version, CPU model and the date head the doc."""
    doc = renderer.render(renderer.load(records))
    assert _row(doc, "engine", "Docker 20.10.24+dfsg1, API 1.41")
    assert _row(doc, "kernel", "6.1.0-test")
    assert _row(doc, "cgroup", "v1 (cgroupfs)")
    assert _row(doc, "CPU", "Test CPU @ 2.0GHz, 4 CPUs")
    assert "finished 2026-11-22T16:00:00+00:00" in doc.splitlines()[2]
    assert _row(doc, "exit code", "1")


def test_the_outcomes_per_suite_and_the_known_bugs_come_from_the_junit_report(renderer, records):
    """Passed/failed/xfailed per suite, a suite that did not run, and the xfail reasons."""
    doc = renderer.render(renderer.load(records))
    assert _row(doc, "tests/security", "1", "1", "0", "0", "0")
    assert _row(doc, "tests/fuzz", "1", "0", "0", "1", "0")
    assert "**Missing:** no test of tests/reliability ran." in doc
    assert "- tests/fuzz: BUG: cpus(1e300) builds" in doc


def test_missing_records_are_reported_missing_not_invented(renderer, tmp_path):
    """With no records at all, each section says what is missing."""
    doc = renderer.render(renderer.load(tmp_path))
    for variable in ("SECURE_RUN_BATTERY_RECORD", "SECURE_RUN_RELIABILITY_RECORD",
                     "SECURE_RUN_RELIABILITY_RECORD_DIR"):  # fmt: skip
        assert f"(`{variable}`)" in doc
    assert "the machine's facts were not collected" in doc
    assert "| contained |" not in doc


def test_main_writes_the_document(renderer, records, tmp_path):
    """``render_reliability.py DIR -o FILE`` writes what render() gives."""
    out = tmp_path / "reliability.md"
    assert renderer.main([str(records), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == renderer.render(renderer.load(records))


def test_the_committed_doc_is_the_renderers():
    """docs/reliability.md is generated (by scripts/reliability), not written by hand."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Reliability and security figures"
    assert lines[2].startswith("Generated by `scripts/reliability`")

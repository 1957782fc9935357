"""scripts/matrix.py and scripts/matrix_render.py: counting, judging and rendering a matrix run."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.a" name="test_ok"/>
<testcase classname="tests.a" name="test_bad"><failure message="boom"/></testcase>
<testcase classname="tests.a" name="test_broken"><error message="fixture"/></testcase>
<testcase classname="tests.b" name="test_s1"><skipped message="no gVisor runtime"/></testcase>
<testcase classname="tests.b" name="test_s2"><skipped message="no gVisor runtime"/></testcase>
<testcase classname="tests.b" name="test_s3"><skipped message="no AppArmor"/></testcase>
</testsuite></testsuites>
"""


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))


@pytest.fixture(scope="module")
def matrix() -> ModuleType:
    """scripts/matrix.py, loaded from this checkout."""
    return _load("matrix")


@pytest.fixture(scope="module")
def render() -> ModuleType:
    """scripts/matrix_render.py, loaded from this checkout."""
    return _load("matrix_render")


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "status": "ran", "passed": 10, "failed": 0, "errors": 0, "skipped": 1,
        "skip_reasons": {"no AppArmor": 1}, "pytest_exit": 0, "suites_s": 200.0,
        "leftovers": {"containers": 0, "volumes": 0, "networks": 0},
        "facts": {"server": "20.10.24", "api": "1.41", "cgroup": "v1 cgroupfs",
                  "security_options": ["name=seccomp,profile=default", "name=userns"]},
    }  # fmt: skip
    entry.update(changes)
    return entry


def test_junit_counts_each_outcome_and_groups_skip_reasons(matrix, tmp_path):
    """pytest's report gives passed, failed, errors, skipped, and each skip reason's count."""
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    counts = matrix.junit_counts(path)
    assert (counts["passed"], counts["failed"], counts["errors"], counts["skipped"]) == (1, 1, 1, 3)
    assert counts["skip_reasons"] == {"no gVisor runtime": 2, "no AppArmor": 1}
    assert counts["failures"] == ["tests.a::test_bad", "tests.a::test_broken"]


def test_a_clean_run_is_green(matrix):
    """No failure, no error, nothing left behind: the engine's entry is green."""
    assert matrix.entry_ok(_entry())


@pytest.mark.parametrize(
    "changes",
    [{"failed": 1}, {"errors": 1}, {"leftovers": {"containers": 1}}, {"pytest_exit": 1},
     {"status": "did not start"}, {"problems": ["down failed: x"]}],
)  # fmt: skip
def test_a_failure_an_error_a_leak_or_a_failed_start_is_red(matrix, changes):
    """Any failure, error, leftover, bad exit, failed start or failed teardown turns it red."""
    assert not matrix.entry_ok(_entry(**changes))


def test_an_engine_that_removes_a_host_link_is_red(matrix, monkeypatch, tmp_path):
    """A host link gone after the engine's up and down (docker0, deleted by a dockerd
    started with --bridge=none in the host's network namespace) is a problem: red."""
    links = iter([{"lo", "eth0", "docker0"}, {"lo", "eth0"}])
    monkeypatch.setattr(matrix, "WORK", tmp_path)
    monkeypatch.setattr(matrix, "host_links", lambda: next(links))
    monkeypatch.setattr(matrix, "run_script", lambda *args: (0, ""))
    monkeypatch.setattr(matrix, "engine_env", lambda name: {"SECURE_RUN_ENGINE_URL": "unix://x"})
    monkeypatch.setattr(matrix, "engine_facts", lambda url: {})
    monkeypatch.setattr(matrix, "run_suites", lambda *args: 0)
    monkeypatch.setattr(matrix, "leftovers", lambda url: {"containers": 0})
    entry = matrix.run_engine("gvisor", [])
    assert entry["problems"] == ["host links gone: docker0"]
    assert not matrix.entry_ok(entry)


def test_an_engine_that_cannot_run_here_is_listed_not_failed(matrix, render):
    """Exit status CANNOT_RUN: not a failure; the reason goes into the table."""
    entry = {"status": "cannot run here", "reason": "cgroups in hybrid mode not supported"}
    assert matrix.entry_ok(entry)
    text = "\n".join(render.support_block({"engines": {"crun": entry}}))
    assert "cannot run here" in text
    assert "cgroups in hybrid mode not supported" in text


def test_a_run_without_a_report_is_one_error_that_renders(matrix, render):
    """pytest timed out before writing junit: red, and its line says so (no KeyError)."""
    entry = _entry(**matrix.no_report(124), pytest_exit=124)
    assert not matrix.entry_ok(entry)
    assert render.one_line(entry).startswith("0 passed, 0 failed, 1 errors, 0 skipped")
    assert entry["failures"] == ["no junit report: timed out"]


def test_battery_summary_keeps_the_last_record_of_each_attack(matrix, tmp_path):
    """A re-run attack counts once, with its last outcome."""
    rows = [{"attack": "fork-bomb", "preset": "sandbox", "result": "failed"},
            {"attack": "fork-bomb", "preset": "sandbox", "result": "contained"},
            {"attack": "mknod", "preset": "sandbox", "result": "contained"}]  # fmt: skip
    path = tmp_path / "battery.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert matrix.battery_summary(path) == {"contained": 2}


def test_support_block_lists_every_skip_reason_with_its_count(render):
    """Each engine's section names every skip reason and how many tests it covered."""
    reasons = {"no gVisor runtime": 12, "no AppArmor": 1}
    text = "\n".join(render.support_block({"engines": {"userns": _entry(skip_reasons=reasons)}}))
    assert "- 12: no gVisor runtime" in text
    assert "- 1: no AppArmor" in text
    assert "| `userns` | Docker 20.10.24, API 1.41 | " in text
    assert "seccomp, userns" in text


def test_replace_block_rewrites_only_between_the_markers(render, tmp_path):
    """The text around the markers is kept byte for byte."""
    text = f"before\n{render.BEGIN}\nold\n{render.END}\nafter\n"
    new = render.replace_block(text, ["new"], tmp_path / "doc.md")
    assert new == f"before\n{render.BEGIN}\nnew\n{render.END}\nafter\n"


def test_replace_block_refuses_a_page_without_markers(render, tmp_path):
    """A page whose markers were removed is an error, not a silently unchanged page."""
    with pytest.raises(SystemExit, match="markers are missing"):
        render.replace_block("no markers here\n", ["new"], tmp_path / "doc.md")


def test_the_committed_pages_hold_the_rendered_results(render):
    """docs/engine-support.md and docs/reliability.md match docs/data/engine-matrix.json."""
    root = SCRIPTS.parent
    results = render.load(root)
    for name, block in (("engine-support.md", render.support_block(results)),
                        ("reliability.md", render.reliability_block(results))):  # fmt: skip
        text = (root / "docs" / name).read_text()
        assert render.replace_block(text, block, Path(name)) == text, (
            f"rerun scripts/matrix.py --render ({name})"
        )

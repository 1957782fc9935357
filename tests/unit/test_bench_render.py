"""benchmarks/render.py: docs/performance.md from a fixed results file, no engine, no timing."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "bench" / "results.json"


def _load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_render", ROOT / "benchmarks" / "render.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_render"] = module
    spec.loader.exec_module(module)
    return module


render = _load_render()


@pytest.fixture
def results() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _goal(page: str, what: str) -> str:
    """The goals-table row that starts with ``what``."""
    rows = [line for line in page.splitlines() if line.startswith(f"| {what}")]
    assert len(rows) == 1, rows
    return rows[0]


def test_page_names_the_machine_and_the_date(results) -> None:
    """The page states engine, API, kernel, cgroup version, CPU and count, Python and date."""
    page = render.render(results)
    for fact in ("Docker Engine 20.10.24+dfsg1 (API 1.41)", "kernel 6.18.44-fc-v669",
                 "cgroup v1 (cgroupfs driver)", "AMD EPYC, 2 CPUs", "CPython 3.11.7",
                 "2026-01-02 03:04 UTC"):  # fmt: skip
        assert fact in page


def test_page_has_every_section(results) -> None:
    """All six benchmark sections are rendered, in order."""
    page = render.render(results)
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    numbered = [h.split(".")[0] for h in headings if h[3].isdigit()]
    assert numbered == ["## 1", "## 2", "## 3", "## 4", "## 5", "## 6"]


def test_goals_are_judged_from_the_figures(results) -> None:
    """A figure inside its goal reads met, one outside reads missed (fixture: 1.012x, 95 µs)."""
    page = render.render(results)
    assert "**met**" in _goal(page, "`sr.run` vs raw docker-py")
    assert "1.012x" in _goal(page, "`sr.run` vs raw docker-py")
    assert "**missed**" in _goal(page, "build and validate")
    assert "95.0 µs" in _goal(page, "build and validate")
    assert "**met**" in _goal(page, "`to_docker_kwargs()`")


def test_a_way_that_could_not_run_is_reported(results) -> None:
    """A way that failed here (the fixture's testcontainers) gets a row saying why."""
    page = render.render(results)
    assert "could not run: RuntimeError: cannot pull the reaper" in page


def test_note_and_quick_run_are_flagged(results) -> None:
    """The run's note is printed, and a BENCH_QUICK run is marked as such."""
    assert "**Note:** other work ran on the machine" in render.render(results)
    quick = copy.deepcopy(results)
    quick["quick"] = True
    assert "smoke run" in render.render(quick)
    assert "smoke run" not in render.render(results).split("## Reproducing")[0]


def test_check_mode_tells_current_from_stale(tmp_path: Path) -> None:
    """``render.py --check`` exits 0 on a page it would write, 1 on a stale one."""
    page = tmp_path / "performance.md"
    args = ["--results", str(FIXTURE), "--output", str(page)]
    assert render.main(args) == 0
    assert render.main([*args, "--check"]) == 0
    page.write_text(page.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    assert render.main([*args, "--check"]) == 1


def test_a_failed_section_is_reported_not_fatal(results) -> None:
    """A section that raised during the run shows its error; the rest of the page renders."""
    results["verify"] = {"error": "HardeningNotApplied: the container was removed mid-run"}
    page = render.render(results)
    assert "**Could not run:** HardeningNotApplied: the container was removed mid-run" in page
    assert "## 4. Concurrency" in page
    assert "verify, inspect only" not in page  # no goal row judged from missing figures


def _s(median: float) -> dict[str, float]:
    """A summary as ``common.summary`` gives it."""
    return {"median": median, "q1": median * 0.9, "q3": median * 1.1, "n": 5}


def _pair(ours: float, base: float) -> dict[str, Any]:
    return {"ours_s": _s(ours), "base_s": _s(base), "ratio": _s(ours / base)}


def _sessions(aio_ratio: float) -> dict[str, Any]:
    """A ``sessions`` section as ``benchmarks/sessions.py`` saves it."""
    files = {label: _pair(0.050, 0.040) for label in (
        "put 1 file (64 KiB)", "put 100 files (1 KiB each)", "get 1 file (64 KiB)",
        "get 100 files (1 KiB each), as a tree")}  # fmt: skip
    return {
        "date": "2026-01-03 04:05 UTC",
        "load_before": [0.5, 0.4, 0.3],
        "files": {"rounds": 30, "files": files,
                  "exec": {"box.exec": _pair(0.06, 0.05),
                           "box.exec, timeout=5": _pair(0.07, 0.05)}},
        "session": {"steps": 5, "rounds": 5, **_pair(1.0, 4.0)},
        "aio": {"workers": 8, "containers": 24, "rounds": 3, "run_many_per_s": 8.0,
                "aio_per_s": 8.0 * aio_ratio, "aio_own_client_per_s": 7.0,
                "aio_ratio": _s(aio_ratio), "aio_own_client_ratio": _s(0.875)},
        "epicbox": {"version": "1.1.0", "shim": "TypeError: no method_whitelist", "rounds": 10,
                    **_pair(0.6, 0.2), "no_files_s": _s(0.25)},
    }  # fmt: skip


def test_files_and_sessions_section_renders_every_part(results) -> None:
    """The sessions section shows files, exec, the session, aio and epicbox, and judges aio."""
    results["sessions"] = _sessions(aio_ratio=1.01)
    page = render.render(results)
    section = page.split("## 8. Files and sessions")[1].split("## Reproducing")[0]
    for fact in ("Measured 2026-01-03 04:05 UTC", "| put 100 files (1 KiB each) |",
                 "| get 100 files (1 KiB each), as a tree |", "`box.exec([\"true\"], timeout=5)`",
                 "container rootfs is marked read-only", "| one session | 1000.0 ms |",
                 "| `sra.run`, shared client | 8.1/s | 1.010", "epicbox 1.1.0",
                 "TypeError: no method_whitelist", "| `sr.run`, no files | 250.0 ms |",
                 "takes 3.00x epicbox's time"):  # fmt: skip
        assert fact in section, fact
    assert "**met**" in _goal(page, "8 concurrent `sra.run`")
    results["sessions"] = _sessions(aio_ratio=0.90)
    assert "**missed**" in _goal(render.render(results), "8 concurrent `sra.run`")


def test_a_failed_sessions_part_is_reported_and_the_rest_renders(results) -> None:
    """A part that raised shows its error, epicbox's error says why there is no row."""
    section = _sessions(aio_ratio=1.0)
    section["aio"] = {"error": "LaunchError: the engine went away"}
    section["epicbox"] = {"error": "epicbox does not import here (ModuleNotFoundError)"}
    results["sessions"] = section
    page = render.render(results)
    assert "### asyncio: `sra.run` throughput\n\n**Could not run:** LaunchError" in page
    assert "No epicbox row: epicbox does not import here (ModuleNotFoundError)." in page
    assert "| one session |" in page
    assert not [line for line in page.splitlines() if line.startswith("| 8 concurrent")]

"""benchmarks/startup.py's verdict, from given figures: no process is timed here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def startup() -> ModuleType:
    """benchmarks/startup.py as a module (with its neighbours ``common`` and ``import_time``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        spec = importlib.util.spec_from_file_location("bench_startup", BENCH / "startup.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        patch.setitem(sys.modules, "bench_startup", module)
        yield module


BASELINE = {"python -c pass": 40.0, "import secure_run": 50.0, "secure-run --help": 60.0,
            "secure-run presets": 100.0, "docker --help": 10.0}  # fmt: skip


def test_within_20_percent_is_no_regression(startup) -> None:
    """Figures just under 20% above the baseline pass."""
    figures = {**{name: ms * 1.19 for name, ms in BASELINE.items()}, "python -c pass": 40.0}
    assert startup.regressions(figures, BASELINE) == []


def test_a_machine_slower_throughout_is_no_regression(startup) -> None:
    """Every figure 50% slower, the interpreter's start too, is the machine, not secure_run."""
    figures = {name: ms * 1.5 for name, ms in BASELINE.items()}
    assert startup.regressions(figures, BASELINE) == []


def test_more_than_20_percent_is_a_regression_naming_the_figure(startup) -> None:
    """A secure_run figure 21% above its baseline (same interpreter start) is reported."""
    figures = {**BASELINE, "secure-run presets": 121.0}
    found = startup.regressions(figures, BASELINE)
    assert len(found) == 1
    assert found[0].startswith("secure-run presets: 121.0 ms, +21%")
    assert "100.0 ms" in found[0]


def test_the_docker_cli_is_a_reference_not_held(startup) -> None:
    """``docker --help`` twice as slow is not secure_run's regression."""
    assert startup.regressions({**BASELINE, "docker --help": 20.0}, BASELINE) == []


def test_a_regression_exits_1_with_a_loud_message(startup, capsys, monkeypatch) -> None:
    """fail_loudly returns 1 and names the figure on stderr (0 with nothing regressed)."""
    monkeypatch.setattr(startup.common, "QUICK", False)
    assert startup.fail_loudly({"regressions": []}) == 0
    assert startup.fail_loudly({"regressions": ["secure-run --help: 90.0 ms, +50%"]}) == 1
    err = capsys.readouterr().err
    assert "START-UP REGRESSION" in err
    assert "secure-run --help: 90.0 ms" in err
    assert "--update-baseline" in err

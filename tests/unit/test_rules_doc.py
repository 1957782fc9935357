"""docs/rules.md is generated from the validation code: every rule and every opt-in."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

import secure_run as sr

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rules.md"
IMAGE = "secure-run-test/busybox:latest"


def _generator() -> ModuleType:
    return load_script("gen_rules_doc")


def test_rules_doc_is_generated_from_the_code():
    """docs/rules.md is exactly what scripts/gen_rules_doc.py writes from the code."""
    committed = DOC.read_text(encoding="utf-8")
    assert committed == _generator().generate(), (
        "docs/rules.md is out of date; run: python3 scripts/gen_rules_doc.py"
    )


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch):
    """--check exits 1 on a stale file and 0 on a fresh one, writing nothing."""
    gen = _generator()
    stale = tmp_path / "rules.md"
    stale.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(gen, "OUTPUT", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "# stale\n"
    stale.write_text(gen.generate(), encoding="utf-8")
    assert gen.main(["--check"]) == 0


@pytest.mark.parametrize("opt_in", list(sr.OptIn), ids=str)
def test_every_opt_in_has_a_section_with_its_rules_and_cost(opt_in):
    """Each OptIn member has its own section: a rule that needs it, its cost, how to grant it."""
    gen = _generator()
    text = gen.generate()
    section = text.split(f"### `{opt_in.value}`\n", 1)[1].split("\n### ", 1)[0]
    waived = [r for r in gen.validation_rules() if r.opt_in is opt_in]
    assert waived, f"no rule in _validation.py needs {opt_in.value!r}"
    for rule in waived:
        assert f"- `{rule.field}`: " in section
    assert "Costs: " in section, f"OptIn.{opt_in.name} has no docstring saying what it costs"
    assert f'`.opt_in("{opt_in.value}")`' in section
    assert f"`--opt-in {opt_in.value}`" in section


# Configs with known problems; the page must quote the messages ConfigError really gives.
_BROKEN = {
    "root and no pids limit": lambda b: b.user(0).pids_limit(None),
    "capabilities": lambda b: b.cap_add("SYS_ADMIN").cap_add("CHOWN"),
    "memory": lambda b: b.memory("4m", reservation="5m"),
    "network and ports": lambda b: b.publish(8080, host_ip="0.0.0.0"),  # noqa: S104
    "filesystem": lambda b: b.read_only(False).mount("/etc", "/host-etc", read_only=False),
    "restart": lambda b: b.restart("always"),
    "sysctl": lambda b: b.sysctl("kernel.panic", "1"),
}


@pytest.mark.parametrize("change", list(_BROKEN.values()), ids=list(_BROKEN))
def test_page_quotes_the_real_error_messages(change):
    """Every problem a real ConfigError reports is on the page, with its field and fix."""
    gen = _generator()
    text = gen.generate()
    with pytest.raises(sr.ConfigError) as caught:
        change(sr.builder(IMAGE)).build()
    assert caught.value.problems
    rows = [_pattern(line) for line in text.splitlines() if line.startswith("| `")]
    for problem in caught.value.problems:
        message, _, needs = problem.message.partition(" (needs the opt-in ")
        name = needs[1:-2]
        opt_in = f"[`{name}`](#{name})" if needs else "none: a mistake"
        cells = (f"`{problem.field}`", message, problem.fix)
        row = "| " + " | ".join(gen._escape(c) for c in cells) + f" | {opt_in} |"
        assert any(pattern.fullmatch(row) for pattern in rows), f"{problem} is not on the page"


def _pattern(line: str) -> re.Pattern[str]:
    """A page row as a pattern: a ``<name>`` placeholder stands for any run-time value."""
    parts = re.split(r"&lt;[^|]*?&gt;", line)
    return re.compile(".+?".join(re.escape(p) for p in parts))

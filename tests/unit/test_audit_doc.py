"""docs/audit.md is generated from the audit's check table: every check id, in the code's words."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "audit.md"

pytest.importorskip(
    "secure_run._audit.audit",
    reason="secure_run._audit.audit (the audit) is not in this checkout yet; docs/audit.md is "
    "generated from its CHECKS",
)


def _generator() -> ModuleType:
    return load_script("gen_audit_doc")


def test_audit_doc_is_generated_from_the_code():
    """docs/audit.md is exactly what scripts/gen_audit_doc.py writes from CHECKS."""
    committed = DOC.read_text(encoding="utf-8")
    assert committed == _generator().generate(), (
        "docs/audit.md is out of date; run: python3 scripts/gen_audit_doc.py"
    )


def test_audit_doc_maps_every_check_id():
    """Every check in the code has its row, with its rationale and remedy."""
    text = _generator().generate()  # puts this checkout first on sys.path

    from secure_run._audit.audit import CHECKS

    assert CHECKS
    for check in CHECKS:
        assert f"| `{check.id}` |" in text
    assert text.count("\n| `") == len(CHECKS) + len(_statuses())


def test_audit_doc_covers_the_cis_section_5_ids():
    """The page maps 5.1 to 5.32, the CIS Docker Benchmark v1.6 section 5 numbering."""
    text = _generator().generate()
    for n in range(1, 33):
        assert f"| `5.{n}` |" in text


def test_audit_doc_links_the_speed_page():
    """The audit page points at the measured comparison with the reference."""
    assert "(audit-speed.md)" in _generator().generate()


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch):
    """--check exits 1 on a stale file and 0 on a fresh one, writing nothing."""
    gen = _generator()
    stale = tmp_path / "audit.md"
    stale.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(gen, "OUTPUT", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "# stale\n"
    stale.write_text(gen.generate(), encoding="utf-8")
    assert gen.main(["--check"]) == 0


def _statuses() -> tuple[str, ...]:
    from secure_run._audit.audit import STATUSES

    return tuple(STATUSES)

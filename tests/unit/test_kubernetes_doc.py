"""docs/kubernetes-presets.md is generated from the code: each preset's export, as printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_loader import load_script

import secure_run as sr

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "kubernetes-presets.md"


def test_the_page_is_generated_from_the_code():
    """The committed page is exactly what scripts/gen_kubernetes_doc.py writes."""
    assert PAGE.read_text(encoding="utf-8") == load_script("gen_kubernetes_doc").generate(), (
        "docs/kubernetes-presets.md is out of date; run: python3 scripts/gen_kubernetes_doc.py"
    )


@pytest.mark.parametrize("preset", sorted(sr.presets()))
def test_every_preset_is_shown_with_its_pod(preset):
    """Each preset has a section with the opt-ins per kind and its exported Pod."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"## `{preset}`\n", 1)[1].split("\n## ", 1)[0]
    for kind in ("Pod", "Job", "Deployment"):
        assert f"| {kind} | `kubernetes-node-limits`" in section
    assert f"$ secure-run config --format kubernetes --preset {preset} " in section
    assert "kind: Pod\n" in section
    assert f"io.secure-run.preset: {preset}\n" in section


def test_the_needed_opt_ins_are_the_fewest_that_export():
    """The generator's opt-ins are needed: the service Pod without unbounded-restart is refused."""
    gen = load_script("gen_kubernetes_doc")
    assert gen.needed_opt_ins("service", "Pod") == ("kubernetes-node-limits", "unbounded-restart")
    with pytest.raises(sr.UnsupportedFeature):
        sr.preset("service", gen.IMAGE).opt_in("kubernetes-node-limits").build().to_kubernetes()

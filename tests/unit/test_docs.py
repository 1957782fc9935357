"""The docs agree with the code: the preset reference is generated, the snippets compile."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _generator() -> ModuleType:
    return load_script("gen_presets_doc")


def _python_blocks(name: str) -> list[tuple[int, str]]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _PYTHON_BLOCK.finditer(text)]


def test_presets_doc_is_generated_from_the_code():
    """docs/presets.md is exactly what scripts/gen_presets_doc.py writes from PRESETS."""
    committed = (DOCS / "presets.md").read_text(encoding="utf-8")
    assert committed == _generator().generate(), (
        "docs/presets.md is out of date; run: python3 scripts/gen_presets_doc.py"
    )


def test_presets_doc_has_a_section_per_preset():
    """Every preset in the code has its own section in the generated reference."""
    text = _generator().generate()  # puts this checkout first on sys.path

    from secure_run._config.presets import PRESETS

    for name, preset in PRESETS.items():
        assert f"## `{name}`" in text
        assert preset.description in text


def test_index_has_python_blocks():
    """docs/index.md shows code; an empty match would make the compile test vacuous."""
    assert len(_python_blocks("index.md")) >= 5


@pytest.mark.parametrize(
    ("line", "source"),
    [pytest.param(line, source, id=f"line-{line}") for line, source in _python_blocks("index.md")],
)
def test_index_python_blocks_compile(line, source):
    """Each ```python block in docs/index.md is valid Python."""
    compile(source, f"docs/index.md:{line}", "exec")

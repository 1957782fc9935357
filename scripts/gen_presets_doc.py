"""Generate docs/presets.md from the preset tables in the code, so the two cannot drift.

Every row comes from :data:`secure_run._config.presets.PRESETS` (field, value, reason), the
values are rendered by :func:`secure_run._config.explain.render`, and the controls come from
:data:`secure_run._config.explain.SETTINGS`. ``tests/unit/test_docs.py`` fails when the
committed file differs from what this script writes.

Usage::

    python3 scripts/gen_presets_doc.py          # write docs/presets.md
    python3 scripts/gen_presets_doc.py --check  # exit 1 if docs/presets.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "presets.md"
COMMAND = "python3 scripts/gen_presets_doc.py"

# Generate from this checkout's code, not from whatever copy happens to be installed.
for _path in (ROOT, ROOT / "scripts"):  # this checkout's package, and docgen beside this file
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import attrs  # noqa: E402

from secure_run._config.explain import SETTINGS, render  # noqa: E402
from secure_run._config.presets import PRESETS, Preset  # noqa: E402
from secure_run._config.run_config import RunConfig  # noqa: E402

_SETTINGS = {s.field: s for s in SETTINGS}
_CONVERTERS = {a.name: a.converter for a in attrs.fields(RunConfig)}


def _cell(text: str) -> str:
    """Make text safe for one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _value(field: str, value: Any) -> str:
    """Render a preset's value the way explain() renders the same field of a RunConfig."""
    converter = _CONVERTERS[field]
    if callable(converter):
        value = converter(value)
    if field == "env":
        # A preset's environment is a published constant, not a user's secret:
        # show the values that render() hides.
        return ", ".join(f"{k}={v}" for k, v in value) or "none"
    return render(field, value)


def _controls(field: str) -> str:
    return ", ".join(_SETTINGS[field].controls) if field in _SETTINGS else ""


def _row(setting: str, value: str, why: str, controls: str) -> str:
    return f"| {' | '.join(_cell(c) for c in (setting, value, why, controls))} |"


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    return [
        "| setting | value | why | controls |",
        "|---|---|---|---|",
        *(_row(f"`{field}`", value, why, controls) for field, value, why, controls in rows),
    ]


def _section(preset: Preset) -> list[str]:
    rows = [
        (line.field, _value(line.field, line.value), line.reason, _controls(line.field))
        for line in preset.lines
    ]
    return [
        f"## `{preset.name}`",
        "",
        preset.description,
        "",
        f'`sr.preset("{preset.name}", image)`'
        + (" or `sr.builder(image)`" if preset.name == "restricted" else ""),
        "",
        *_table(rows),
        "",
    ]


def _untouched() -> list[str]:
    """The settings with controls that no preset sets, at RunConfig's defaults."""
    touched = {line.field for p in PRESETS.values() for line in p.lines}
    defaults = {a.name: a.default for a in attrs.fields(RunConfig)}
    rows = [
        (s.field, render(s.field, defaults[s.field]), s.why, ", ".join(s.controls))
        for s in SETTINGS
        if s.controls and s.field not in touched and defaults[s.field] is not attrs.NOTHING
    ]
    return [
        "## Settings every preset leaves at the default",
        "",
        'No preset sets these, so every preset gets `RunConfig`\'s default. "unset"',
        "leaves the setting to Docker, whose default is the safe one here: private",
        "namespaces, the default seccomp profile, the engine's AppArmor profile where",
        "the host has AppArmor. Changing most of them to a weaker value needs an opt-in",
        "(see [opt-ins](rules.md#opt-ins)).",
        "",
        *_table(rows),
        "",
    ]


def generate() -> str:
    """The full text of docs/presets.md, from the preset tables in the code."""
    lines = [
        "# Presets",
        "",
        f"*Generated from `secure_run/_presets.py` and `secure_run/_explain.py` by "
        f"`{COMMAND}`; do not edit by hand.*",
        "",
        "A preset is a named starting point: a table of settings, each with its reason.",
        "Start from one with `sr.preset(name, image)` (`sr.builder(image)` is",
        "`restricted`) and change what your workload needs; every change is validated",
        "again by `.build()`. `sr.presets()` lists the names and descriptions.",
        "",
        "The controls are CIS Docker Benchmark v1.6 section 5 ids (CIS) and Kubernetes",
        "Pod Security Standards levels (PSS); see [concepts](concepts/index.md).",
        "",
        "| preset | description |",
        "|---|---|",
        *(f"| [`{name}`](#{name}) | {_cell(p.description)} |" for name, p in PRESETS.items()),
        "",
    ]
    for preset in PRESETS.values():
        lines.extend(_section(preset))
    lines.extend(_untouched())
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/presets.md, or with ``--check`` report whether it is up to date."""
    from docgen import write_or_check

    return write_or_check(
        argv,
        description=__doc__.splitlines()[0],
        output=OUTPUT,
        root=ROOT,
        command=COMMAND,
        generate=generate,
    )


if __name__ == "__main__":
    sys.exit(main())

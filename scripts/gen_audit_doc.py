"""Generate docs/audit.md from the audit's check table in the code, so the two cannot drift.

Every check row comes from :data:`secure_run._audit.audit.CHECKS` (id, title, rationale,
remedy, scored, source); the statuses from :data:`secure_run._audit.audit.STATUSES`; the
calls' one-line summaries from the docstrings of ``audit``, ``audit_all`` and
``audit_config``; and the points where the audit is stricter than
docker-bench-security from the module's docstring. ``tests/unit/test_audit_doc.py``
fails when the committed file differs from what this script writes.

Usage::

    python3 scripts/gen_audit_doc.py          # write docs/audit.md
    python3 scripts/gen_audit_doc.py --check  # exit 1 if docs/audit.md is stale
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "audit.md"
COMMAND = "python3 scripts/gen_audit_doc.py"

# Generate from this checkout's code, not from whatever copy happens to be installed.
for _path in (ROOT, ROOT / "scripts"):  # this checkout's package, and docgen beside this file
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import secure_run._audit.audit as _audit  # noqa: E402

#: What each status means to a reader of a report; every status in the code needs one.
_STATUS_MEANING = {
    "pass": "the container meets the check",
    "warn": "weaker than the check asks; any warn makes `report.ok` false and "
    "`secure-run audit` exit 1",
    "info": "for a person to review: host devices (5.18), no ulimit set (5.19), an image "
    "by tag rather than digest (5.28), the default bridge (5.30)",
    "note": "a manual check no tool can make from the engine (how `docker exec` is used, "
    "5.23 and 5.24), or the waivers a secure_run container carries (`SR-waivers`)",
    "not_applicable": "the check cannot apply; `evidence` gives the reason: AppArmor on a "
    "host without it, 5.7 without `exec_checks=True`, what only an engine can tell in "
    "`audit_config`",
}

#: Headings for the values of CheckSpec.source; an unknown source gets its raw value.
_SOURCE_NAMES = {
    "CIS 5.x": "CIS Docker Benchmark v1.6, section 5",
    "PSS": "Kubernetes Pod Security Standards",
    "secure_run": "secure_run",
}

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _cell(text: str) -> str:
    """Make text safe for one Markdown table cell."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return text.replace("<", "&lt;")  # "label=level:<level>" is not an HTML tag


def _markdown(text: str) -> str:
    """Docstring reST to Markdown: ``x`` and :func:`x` become `x`."""
    return _ROLE.sub(r"`\1`", text).replace("``", "`")


def _summary(fn: Callable[..., Any]) -> str:
    """`sr.name(params)`: and the first line of the function's docstring."""
    params = []
    star = False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            params.append("*")
            star = True
        params.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    first = _markdown((inspect.getdoc(fn) or "").splitlines()[0])
    return f"`sr.{fn.__name__}({', '.join(params)})`: {first}"


def _stricter() -> list[str]:
    """The module docstring's paragraphs on where the audit is stricter than the reference.

    From the first paragraph that says "stricter" to the last one that does, with the
    bullet lists between them.
    """
    paragraphs = [p.strip() for p in (_audit.__doc__ or "").split("\n\n") if p.strip()]
    marked = [i for i, p in enumerate(paragraphs) if "stricter" in p]
    if not marked:
        raise SystemExit("secure_run._audit.audit's docstring no longer says where it is stricter")
    return [_markdown(p) + "\n" for p in paragraphs[marked[0] : marked[-1] + 1]]


def _table(checks: list[Any]) -> list[str]:
    return [
        "| id | check | scored | why | remedy |",
        "|---|---|---|---|---|",
        *(
            f"| `{c.id}` | {_cell(c.title)} | {'yes' if c.scored else 'no'} "
            f"| {_cell(c.rationale)} | {_cell(c.remedy)} |"
            for c in checks
        ),
    ]


def _sections() -> list[str]:
    by_source: dict[str, list[Any]] = {}
    for check in _audit.CHECKS:
        by_source.setdefault(check.source, []).append(check)
    lines = []
    for source, checks in by_source.items():
        lines += [
            f"### {_SOURCE_NAMES.get(source, source)}",
            "",
            f"`source: {source}`, {len(checks)} check{'s' if len(checks) != 1 else ''}.",
            "",
            *_table(checks),
            "",
        ]
    return lines


def _statuses() -> list[str]:
    unknown = [s for s in _audit.STATUSES if s not in _STATUS_MEANING]
    if unknown:
        raise SystemExit(f"no description for the status(es) {unknown}; add it to {COMMAND}")
    return [
        "| status | meaning |",
        "|---|---|",
        *(f"| `{s}` | {_cell(_STATUS_MEANING[s])} |" for s in _audit.STATUSES),
    ]


def generate() -> str:
    """The full text of docs/audit.md, from the check table in the code."""
    checks = _audit.CHECKS
    sources = {c.source for c in checks}
    lines = [
        "# Audit",
        "",
        f"*Generated from the checks in `secure_run/_audit/` by `{COMMAND}`; do not edit by hand.*",
        "",
        "The audit judges containers against every check of the CIS Docker Benchmark",
        "v1.6 section 5 (5.1 to 5.32, as docker-bench-security numbers them), the",
        "Kubernetes Pod Security Standards controls that apply to a Docker container,",
        "and secure_run's own opt-in labels, so a waiver is reported as one.",
        f"There are {len(checks)} checks from {len(sources)} sources, listed [below](#checks).",
        "",
        "```python",
        "import secure_run as sr",
        "",
        'report = sr.audit("web-1")        # one container: id, name, Container or launched',
        "report = sr.audit_all()           # every running container",
        "report = sr.audit_config(cfg)     # a RunConfig, before launch",
        "",
        "report.ok                          # no finding warns",
        "for f in report.warnings:",
        "    print(f.container, f.id, f.title, f.evidence, f.remedy)",
        "print(report)                      # a table",
        "report.to_json()                   # ok, a count per status, every finding",
        "```",
        "",
        *(f"- {_summary(fn)}" for fn in (_audit.audit, _audit.audit_all, _audit.audit_config)),
        "",
        "`audit` and `audit_all` read the engine once per audit: one `info`, one",
        "network listing, and one `inspect` per container, made concurrently. The only",
        "check that runs a command in the container, 5.7 (sshd, `ps -el`), is opt-in:",
        "pass `exec_checks=True` (`--exec-checks` on the [command line](reference/cli.md)).",
        "How this compares with the reference's one CLI call per check per container:",
        "[audit speed](audit-speed.md).",
        "",
        "## Reading a report",
        "",
        "A report holds one finding per check and container (5.1, swarm mode, is about",
        "the engine and appears once). Each finding has:",
        "",
        "- `id`: the check's id, as in the tables below (`5.4`,",
        "  `PSS-restricted-runAsNonRoot`, `SR-waivers`);",
        "- `title`: what the check asks for;",
        "- `status`: one of the statuses below;",
        "- `evidence`: what was read and how it was judged, e.g.",
        "  `HostConfig.CapAdd=['CAP_SYS_ADMIN']`;",
        "- `remedy`: how to meet the check;",
        "- `container`: the container's name, empty for the engine and for `audit_config`.",
        "",
        *_statuses(),
        "",
        "A check marked *scored: no* in the tables never warns: it reports `info` or",
        "`note` where there is something to see. `report.ok` is false when any finding",
        "warns; `report.warnings` lists those findings.",
        "",
        "## Stricter than the reference",
        "",
        *_stricter(),
        "A finding judged more strictly says so in its evidence: *stricter than",
        "docker-bench-security, which ...*, followed by what the reference misses.",
        "",
        "## Checks",
        "",
        "Scored: whether the check can warn. Source: where the check comes from.",
        "",
        *_sections(),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/audit.md, or with ``--check`` report whether it is up to date."""
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

"""The command line shared by the docs generators: write the page, or check it is current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable


def write_or_check(
    argv: list[str] | None,
    *,
    description: str,
    output: Path,
    root: Path,
    command: str,
    generate: Callable[[], str],
) -> int:
    """Write ``output`` from ``generate()``, or with ``--check`` exit 1 if it is stale."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"write nothing; exit 1 if {output.relative_to(root)} differs from the generated text",
    )
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else None
        if current != text:
            print(f"{output.relative_to(root)} is out of date; run: {command}", file=sys.stderr)
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output.relative_to(root)}")
    return 0

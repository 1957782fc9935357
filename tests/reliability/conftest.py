"""Shared by the reliability battery: recording its figures for the docs.

When ``SECURE_RUN_RELIABILITY_RECORD=<path>`` is set, a test hands its figures to
the ``reliability_record`` fixture, which stores them under one key of the JSON
object in that file (``"fault_run"``, ``"daemon_restart"``); keys already in the
file are kept, so several tests, or batteries, can share one record file. See the
module docstrings of ``test_faults.py`` and ``test_daemon_restart.py`` for the
figures each one records.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

import secure_run as sr

RECORD_ENV = "SECURE_RUN_RELIABILITY_RECORD"

Record = Callable[[str, dict[str, Any]], "Path | None"]


def write_record(key: str, figures: dict[str, Any]) -> Path | None:
    """Store ``figures`` under ``key`` in the record file, if one is named; return its path."""
    named = os.environ.get(RECORD_ENV)
    if not named:
        return None
    path = Path(named)
    record: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = None
        if isinstance(loaded, dict):
            record = loaded
    record[key] = {
        **figures,
        "python": platform.python_version(),
        "secure_run": sr.__version__,
        "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to it and rename, so a reader never sees half a file.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=path.name, suffix=".tmp", delete=False
    ) as out:
        json.dump(record, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(out.name, path)
    return path


@pytest.fixture
def reliability_record() -> Record:
    """A function that records a test's figures (a no-op unless the environment names a file)."""
    return write_record

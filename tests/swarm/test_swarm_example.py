"""examples/swarm_fanout.py, run as a user runs it, against the test swarm."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "swarm_fanout.py"
MANAGER_ENV = "SECURE_RUN_SWARM_MANAGER"


def run_example(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=180
    )


def test_fanout_runs_each_job_once_and_collects_its_output(swarm_manager):
    """The example fans 6 jobs out as services: 5 complete with their output, 1 fails, exit 0."""
    done = run_example(dict(os.environ))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    out = done.stdout
    assert "fanned out 6 services" in out
    for i in range(5):
        assert f"fanout-job-{i}: complete (exit 0) on node " in out
        assert f": job {i}: {i * i}\n" in out
    assert "fanout-job-fails: failed (exit 3) on node " in out
    assert "giving up" in out
    assert "6 jobs done and removed" in out
    assert "every job as expected: True" in out
    assert not swarm_manager.api.services(filters={"label": "secure-run.example=1"})


def test_fanout_without_a_swarm_skips_and_exits_0(swarm_manager):
    """With SECURE_RUN_SWARM_MANAGER unset the example says it skipped and exits 0."""
    env = {k: v for k, v in os.environ.items() if k != MANAGER_ENV}
    done = run_example(env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"skipped: {MANAGER_ENV} is not set")
    assert not swarm_manager.api.services(filters={"label": "secure-run.example=1"})

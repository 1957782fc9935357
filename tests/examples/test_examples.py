"""Every script in ``examples/`` runs, as a user would run it, and does what it says.

Each test runs one example in a subprocess (``python examples/NAME.py``, the pytest
harness through ``python -m pytest``) against the real engine and the local test
image, and checks its exit status and the part of its output that shows the point of
the example. The conftest's leak check fails a test whose example leaves a container.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import docker
import pytest

import secure_run as sr
from secure_run.testing import TEST_LABELS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RunExample = Callable[..., "subprocess.CompletedProcess[str]"]

#: Every example, each run by a test below; ``test_every_example_is_run`` keeps it whole.
RUN_BY_A_TEST = (
    "agent_session.py",
    "async_handler.py",
    "audit_running.py",
    "errors.py",
    "export.py",
    "grader.py",
    "migrating.py",
    "orchestrator.py",
    "pytest_harness.py",
    "quickstart.py",
    "untrusted_code.py",
    "web_service.py",
)
#: Examples that need more than the default engine, run by a test of their own suite.
RUN_ELSEWHERE = {"swarm_fanout.py": "tests/swarm/test_swarm_example.py (a three-node swarm)"}


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


def test_every_example_is_run() -> None:
    """The examples the tests run, here or in another suite, are exactly those in examples/."""
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted([*RUN_BY_A_TEST, *RUN_ELSEWHERE])
    for where in RUN_ELSEWHERE.values():
        assert (EXAMPLES.parent / where.split()[0]).is_file(), where


# -- no daemon needed ------------------------------------------------------------------


def test_errors_lists_every_problem_then_builds(run_example: RunExample) -> None:
    """errors.py prints one ConfigError with all six problems, then the fixed config."""
    out = _ok(run_example("errors.py"))
    assert "invalid run configuration (6 problems):" in out
    assert "publish='0.0.0.0'" in out
    assert "built; waivers recorded on the container: " in out
    assert "'root-user'" in out.rsplit("built;", 1)[1]


def test_export_keeps_env_values_out(run_example: RunExample) -> None:
    """export.py writes the argv and compose service for the image given as argv[1], no secret."""
    out = _ok(run_example("export.py", "registry.example/app:1.0"))
    assert "docker run --pull never" in out
    assert "registry.example/app:1.0" in out
    assert '"pull_policy": "never"' in out
    assert "--env API_TOKEN" in out
    assert "demo-token" not in out


# -- on the engine ----------------------------------------------------------------------


@pytest.mark.docker
def test_quickstart_runs_id_as_nobody(run_example: RunExample, test_image: str) -> None:
    """quickstart.py explains the config and runs id in it, as nobody."""
    out = _ok(run_example("quickstart.py", image=test_image))
    assert "cap_drop" in out
    assert "id inside the container: uid=65534(nobody) gid=65534(nogroup)" in out


@pytest.mark.docker
def test_untrusted_code_is_contained(run_example: RunExample, test_image: str) -> None:
    """untrusted_code.py: a timeout kill, an OOM kill, the pids limit and the output cap."""
    out = _ok(run_example("untrusted_code.py", image=test_image))
    assert "primes: finished (exit 0" in out
    assert "primes below 60: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59" in out
    assert "busy loop: timed out (exit 137" in out
    assert "memory hog: OOM-killed (exit 137" in out
    assert "fork loop: failed" in out
    assert "can't fork" in out
    assert "output flood: truncated" in out
    assert "65536 bytes kept, truncated" in out
    assert "the sandbox held for 5 of 5 programs" in out


@pytest.mark.docker
def test_web_service_answers_on_loopback(run_example: RunExample, test_image: str) -> None:
    """web_service.py gets healthy, is published on 127.0.0.1 only, and serves its page."""
    out = _ok(run_example("web_service.py", test_image))
    assert "verified: True" in out
    assert "healthy after" in out
    assert "published on 127.0.0.1:" in out
    assert "-> 200: <h1>hello from a hardened container</h1>" in out


@pytest.mark.docker
def test_orchestrator_collects_the_batch_in_order(run_example: RunExample, test_image: str) -> None:
    """orchestrator.py gets 14 outcomes in input order: 12 results, a timeout, an error."""
    out = _ok(run_example("orchestrator.py", image=test_image))
    assert " 0: killed at the 3 s timeout" in out
    assert " 1: error ImageNotFound: image 'secure-run-example/missing:latest'" in out
    lines = [line.split(": ", 1)[1] for line in out.splitlines()[2:14]]
    assert lines == [f"exit 0: job {i}: {i * i}" for i in range(12)]
    assert "14 outcomes for 14 configs" in out
    assert "results in input order: True; timeout killed: True; missing image reported: True" in out


@pytest.mark.docker
def test_pytest_harness_passes(run_example: RunExample, test_image: str) -> None:
    """pytest_harness.py passes under pytest, with the fixture from the installed plugin."""
    done = run_example(
        None, "examples/pytest_harness.py", "-q", "-p", "no:cacheprovider",
        image=test_image, module="pytest",
    )  # fmt: skip
    out = _ok(done)
    assert "3 passed" in out


@pytest.mark.docker
def test_migrating_after_snippets_run(run_example: RunExample, test_image: str) -> None:
    """migrating.py runs every "after" snippet of the migration recipe, each as expected."""
    out = _ok(run_example("migrating.py", image=test_image))
    for name in ("docker-py", "docker-py (keep the SDK)", "testcontainers", "epicbox",
                 "llm-sandbox"):  # fmt: skip
        assert f"ok     {name}: " in out
    assert "FAILED" not in out


@pytest.mark.docker
def test_grader_grades_hostile_submissions_safely(run_example: RunExample, test_image: str) -> None:
    """grader.py scores each submission; a link, a loop and a flood fail safely, named."""
    out = _ok(run_example("grader.py", image=test_image))
    for score in ("careful: 3/3", "hasty: 2/3", "silent: 0/3", "linker: 0/3", "spinner: 0/3",
                  "flooder: 0/3"):  # fmt: skip
        assert f"{score}\n" in out
    assert "test 3: wrong answer b'A MUCH LONGER LINE', expected" in out
    assert "no output.txt written (exit 0)" in out
    assert "refused output.txt: a symbolic link to '/etc/passwd'" in out
    assert "root:" not in out  # the link's target was never read
    assert "killed at the 2 s timeout" in out
    assert "answer of more than 65536 bytes, not read" in out
    assert "graded 6 submissions; 6 got the score they should" in out


@pytest.mark.docker
def test_agent_session_streams_and_survives_a_timeout(
    run_example: RunExample, test_image: str
) -> None:
    """agent_session.py: files pass between steps, output streams, a hung step is killed."""
    out = _ok(run_example("agent_session.py", image=test_image))
    assert "one container for 10 steps" in out
    assert "    -> wrote 50 bytes to data/sales.csv" in out
    assert "    -> east 55\n    -> north 150\n    -> south 80\n" in out  # read back by get()
    for i in (1, 2, 3):
        assert f"stdout| checking {i}/3\n" in out  # printed by the streaming callback
    assert "    -> timed out after 2 s: the command and all it started were killed" in out
    after = out.split("step 7: run(command='ps -o pid,args'", 1)[1].split("step 8:", 1)[0]
    assert "sleep 3600" in after
    assert "sleep 600" not in after
    assert "    -> downloaded results/report.txt, results/rows.txt" in out
    for check in ("the report came back through the workspace",
                  "a step timed out and the session went on",
                  "nothing of the timed-out step is left"):  # fmt: skip
        assert f"ok: {check}" in out


@pytest.mark.docker
def test_async_handler_serves_at_once_and_cancels(run_example: RunExample, test_image: str) -> None:
    """async_handler.py answers 5 concurrent requests, then a hang-up cancels and leaves nothing."""
    out = _ok(run_example("async_handler.py", image=test_image))
    assert "serving on 127.0.0.1:" in out
    assert "5 requests at once, answered in" in out
    assert '"out.txt": "42\\n"}' in out
    assert '"stdout": "wrote out.txt\\n", "out.txt": "nobody\\n"}' in out
    assert '"out.txt": "25\\n"}' in out
    assert '{"status": 422, "error": "UnsafeArchive"}' in out  # the symlink's answer
    assert '"exit_code": 137, "timed_out": true' in out
    assert "run cancelled: True" in out
    assert "left behind by this server's runs: 0 containers, 0 volumes" in out
    assert out.endswith("server shut down\n")


# -- the audit example: a scene of one hardened and one plain container ----------------


@pytest.fixture
def audit_scene(docker_client: docker.DockerClient, test_image: str) -> Iterator[dict[str, str]]:
    """A hardened container and a plain ``docker run`` one, both running, found by label.

    Both carry ``secure-run.audit-scene=<run>``; only the hardened one also carries
    ``secure-run.audit-ok=<run>``.
    """
    run = uuid.uuid4().hex[:12]
    scene = {"secure-run.audit-scene": run}
    hardened_cfg = (
        sr.builder(test_image)
        .command(["sleep", "120"])
        .healthcheck(["true"], interval=1)
        .name(f"sr-audit-hardened-{run}")
        .labels({**TEST_LABELS, **scene, "secure-run.audit-ok": run})
        .build()
    )
    with sr.launch(hardened_cfg, client=docker_client):
        plain = docker_client.containers.run(
            test_image, ["sleep", "120"], name=f"sr-audit-plain-{run}", detach=True,
            network_mode="none", labels={**TEST_LABELS, **scene},
        )  # fmt: skip
        try:
            yield {"run": run, "hardened": hardened_cfg.name or "", "plain": plain.name or ""}
        finally:
            plain.remove(force=True)


@pytest.mark.docker
def test_audit_fails_on_a_plain_container(
    run_example: RunExample, audit_scene: dict[str, str]
) -> None:
    """audit_running.py lists both containers, names the plain one's warnings, and exits 1."""
    scene = f"secure-run.audit-scene={audit_scene['run']}"
    done = run_example("audit_running.py", "--label", scene)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "audited 2 running container(s): 1 with warnings" in done.stdout
    assert f"ok    {audit_scene['hardened']}\n" in done.stdout
    plain_line = next(line for line in done.stdout.splitlines() if audit_scene["plain"] in line)
    assert plain_line.startswith("  WARN")
    for check in ("5.11", "5.13", "5.29", "PSS-restricted-runAsNonRoot"):
        assert check in plain_line.split()
    assert "    fix:  set a memory limit" in done.stdout


@pytest.mark.docker
def test_audit_passes_a_hardened_container(
    run_example: RunExample, audit_scene: dict[str, str]
) -> None:
    """audit_running.py exits 0 when every container it audits passes."""
    only_hardened = f"secure-run.audit-ok={audit_scene['run']}"
    done = run_example("audit_running.py", "--label", only_hardened)
    out = _ok(done)
    assert "audited 1 running container(s): 0 with warnings" in out
    assert audit_scene["hardened"] in out
    assert audit_scene["plain"] not in out

"""The ``secure-run`` command line, run as a subprocess: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from secure_run._engine.cleanup import REAPED_KINDS
from secure_run.testing import TEST_LABELS

LABEL = "=".join(next(iter(TEST_LABELS.items())))


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m secure_run ARGS``, with its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "secure_run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_run_streams_output_and_exits_with_the_containers_code(test_image: str) -> None:
    """run prints the container's stdout and stderr and exits with its exit code."""
    done = cli(
        "run", "--label", LABEL, test_image, "--", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_run_timeout_kills(test_image: str) -> None:
    """run --timeout kills an endless loop, says so, and exits 137."""
    done = cli(
        "run",
        "--label",
        LABEL,
        "--timeout",
        "1",
        test_image,
        "--",
        "sh",
        "-c",
        "while :; do :; done",
    )
    assert done.returncode == 137
    assert "timeout" in done.stderr


#: Prints the kernel's view of the process: /proc/self/status lines, then the memory limit.
_KERNEL_STATE = (
    "grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || "
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
    # gVisor has no cgroup files inside; its MemTotal is the memory limit
    "echo $(( $(sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo) * 1024 ))"
)


def test_run_verify(test_image: str, gvisor_default: bool) -> None:
    """run --verify passes its kernel checks (exit 0, not 1) and the command then runs in that
    state: uid 65534, no effective capability, no-new-privileges, a seccomp filter, 64 MiB.

    gVisor's /proc/self/status has no NoNewPrivs line (verify checks it on the record)."""
    done = cli("run", "--verify", "--memory", "64m", "--label", LABEL, test_image,
               "--", "sh", "-c", _KERNEL_STATE)  # fmt: skip
    assert done.returncode == 0, done.stderr
    *status_lines, memory = done.stdout.splitlines()
    status = {k: v.split() for k, v in (line.split(":", 1) for line in status_lines)}
    assert status["Uid"] == ["65534"] * 4
    assert int(status["CapEff"][0], 16) == 0
    assert status.get("NoNewPrivs") == (None if gvisor_default else ["1"])
    assert status["Seccomp"] == ["2"]  # 2: a filter is loaded
    assert int(memory) == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["config", "--memory", "12x", "img"], "memory='12x'"),
        (["config", "--cap-add", "net_admin", "img"], "--opt-in dangerous-capability"),
        (["config", "--cap-add", "chown", "img"], "--opt-in extra-capability"),
        (["config", "--user", "0", "img"], "root"),
        (["config", "--preset", "nope", "img"], "unknown preset"),
        (["config", "--publish", "1:2:3:4", "img"], "publish"),
        (["bogus"], "invalid choice"),
        (["run", "--timeout", "soon", "img"], "invalid float"),
        (["audit"], "--all"),
    ],
)
def test_a_users_mistake_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    """A bad input prints exactly one line naming the problem, exits 2, no traceback."""
    done = cli(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_image_is_one_line(docker_client) -> None:
    """A missing image (pull never) is one line naming the image, exit 2."""
    done = cli("run", "--label", LABEL, "secure-run-test/absent:1", "--", "true")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "secure-run-test/absent:1" in done.stderr


@pytest.mark.parametrize("fmt", ["kwargs", "compose", "json"])
def test_config_formats_are_json(fmt: str) -> None:
    """config --format kwargs/compose/json prints JSON that parses, with the settings."""
    done = cli("config", "--format", fmt, "--memory", "128m", "busybox", "--", "id")
    assert done.returncode == 0, done.stderr
    assert "134217728" in json.dumps(json.loads(done.stdout))


def test_config_cli_format() -> None:
    """config --format cli prints a docker run line with the hardening flags."""
    done = cli("config", "--format", "cli", "--pids-limit", "7", "busybox", "--", "id")
    assert done.returncode == 0
    assert done.stdout.startswith("docker run ")
    assert "--cap-drop ALL" in done.stdout
    assert "--pids-limit 7" in done.stdout


def test_config_explain() -> None:
    """config (explain) lists each setting with its CIS control."""
    done = cli("config", "busybox")
    assert done.returncode == 0
    assert "CIS 5.29" in done.stdout


def test_presets_list_and_one() -> None:
    """presets lists every preset; presets NAME shows its table of reasons."""
    listing = cli("presets")
    one = cli("presets", "sandbox")
    assert listing.returncode == one.returncode == 0
    assert all(name in listing.stdout for name in ("restricted", "sandbox", "service", "baseline"))
    assert "untrusted code never runs as root" in one.stdout


def test_probe_vs_default(test_image: str, internal_network: str) -> None:
    """probe --vs-default shows the hardened container next to a plain one."""
    done = cli("probe", "--label", LABEL, test_image, "--vs-default",
               "--default-network", internal_network)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = {line.split("|")[0].strip(): line for line in done.stdout.splitlines()}
    assert "uid=65534" in lines["user"]
    assert "uid=0" in lines["user"]
    assert "read-only" in lines["root filesystem"]
    assert "writable" in lines["root filesystem"]


def test_cleanup_reports(docker_client) -> None:
    """cleanup exits 0 and says how many containers, volumes and services it removed."""
    done = cli("cleanup")
    assert done.returncode == 0
    kinds = ", ".join(rf"\d+ {kind}\(s\)" for kind in REAPED_KINDS)
    assert re.search(rf"^removed {kinds}$", done.stdout, re.MULTILINE), done.stdout


def test_help_has_examples() -> None:
    """--help carries examples."""
    done = cli("--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout


def test_audit_container_json(test_image: str, docker_client) -> None:
    """audit ID --format json prints the report as JSON; the exit code follows its verdict."""
    import secure_run as sr

    cfg = sr.builder(test_image).labels(TEST_LABELS).command(["sleep", "60"]).build()
    with sr.launch(cfg, client=docker_client) as c:
        done = cli("audit", c.id, "--format", "json")
    report = json.loads(done.stdout)
    assert done.returncode == (0 if report["ok"] else 1)
    assert {f["id"] for f in report["findings"]} >= {"5.4", "5.13", "5.29"}


def test_audit_names_or_all_not_both() -> None:
    """audit with both IDs and --all is a one-line mistake, exit 2."""
    done = cli("audit", "abc", "--all")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1


def test_doctor_json_and_exit_code(docker_client) -> None:
    """doctor --format json parses; it exits 1 exactly when a check warns."""
    done = cli("doctor", "--format", "json")
    report = json.loads(done.stdout)
    warned = any(f["status"] == "warn" for f in report["findings"])
    assert done.returncode == (1 if warned else 0)
    assert "engine-version" in {f["id"] for f in report["findings"]}

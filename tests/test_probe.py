"""secure_run._proof.probe: the in-container probe script and its parser.

The v1 fixtures are raw outputs of the script on Docker 20.10 (cgroup v1, cgroupfs
driver): ``default_root_v1.txt`` with docker's defaults as root, ``restricted_v1.txt``
with the settings of ``RESTRICTED`` below. ``restricted_v2.txt`` is hand-written for
cgroup v2 (private cgroupns, ``--user 1000:1000 --group-add 65534 --cap-drop ALL
--cap-add NET_BIND_SERVICE``, memory.swap.max 0, cpu.weight 59, pids.max max).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import docker
import docker.types
import pytest

from secure_run._config.capabilities import DOCKER_DEFAULT_CAPABILITIES
from secure_run._errors import SecureRunError
from secure_run._proof.probe import (
    PROBE_SCRIPT,
    FrozenMap,
    Limit,
    Probe,
    ProbeError,
    parse_probe,
    probe_command,
)
from secure_run.testing import TEST_LABELS

DATA = Path(__file__).parent / "data" / "probe"
MiB = 1 << 20

#: The restricted run of the v1 fixture and of the real-engine test.
RESTRICTED: dict[str, Any] = {
    "user": "65534:65534",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "read_only": True,
    "tmpfs": {"/tmp": "size=16m,mode=1777,noexec,nosuid,nodev"},
    "mem_limit": "256m",
    "mem_reservation": "128m",
    "memswap_limit": "256m",
    "nano_cpus": 500_000_000,
    "cpu_shares": 512,
    "pids_limit": 64,
    "ulimits": [
        docker.types.Ulimit(name="nofile", soft=1024, hard=2048),
        docker.types.Ulimit(name="core", soft=0, hard=0),
    ],
    "init": True,
}


def fixture_text(name: str) -> str:
    return (DATA / name).read_text()


@pytest.fixture(scope="module")
def default_v1() -> Probe:
    return parse_probe(fixture_text("default_root_v1.txt"))


@pytest.fixture(scope="module")
def restricted_v1() -> Probe:
    return parse_probe(fixture_text("restricted_v1.txt"))


@pytest.fixture(scope="module")
def restricted_v2() -> Probe:
    return parse_probe(fixture_text("restricted_v2.txt"))


# --- the script -------------------------------------------------------------------


def test_probe_command_runs_the_script_with_sh() -> None:
    """The container command is /bin/sh -c with the probe script."""
    assert probe_command() == ["/bin/sh", "-c", PROBE_SCRIPT]


@pytest.mark.parametrize(
    "shell", [["busybox", "sh"], ["dash"], ["bash", "--posix"]], ids=lambda s: s[0]
)
def test_script_is_valid_posix_sh(shell: list[str]) -> None:
    """The script parses (sh -n) under busybox ash, dash and bash --posix."""
    if shutil.which(shell[0]) is None:
        pytest.skip(f"{shell[0]} is not installed")
    result = subprocess.run(
        [*shell, "-n", "-c", PROBE_SCRIPT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_script_avoids_fragile_constructs() -> None:
    """The script never aborts on errors and reads /proc/self with the shell itself."""
    assert "set -e" not in PROBE_SCRIPT
    assert "cat " not in PROBE_SCRIPT
    assert "/.secure-run-probe-$$" in PROBE_SCRIPT


# --- v1, docker defaults as root --------------------------------------------------


def test_default_v1_credentials_and_capabilities(default_v1: Probe) -> None:
    """Docker's defaults as root: uid 0 with the 14 default capabilities, no NNP, seccomp on."""
    p = default_v1
    assert (p.uid, p.gid, p.uids, p.gids, p.groups) == (0, 0, (0, 0, 0, 0), (0, 0, 0, 0), (0,))
    assert p.cap_prm == p.cap_eff == p.cap_bnd == DOCKER_DEFAULT_CAPABILITIES
    assert p.cap_inh == p.cap_amb == frozenset()
    assert p.no_new_privs is False
    assert (p.seccomp_mode, p.seccomp_filters) == (2, 1)


def test_default_v1_cgroups_are_unlimited(default_v1: Probe) -> None:
    """v1 'no limit' values (9223372036854771712, -1, max) parse as None."""
    p = default_v1
    assert p.cgroup_version == 1
    assert p.cgroup_files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] == "9223372036854771712"
    assert p.memory_limit is None
    assert p.memory_reservation is None
    assert p.memory_swap_limit is None
    assert (p.cpu_quota_us, p.cpu_period_us, p.cpu_shares, p.cpu_weight) == (
        None,
        100000,
        1024,
        None,
    )
    assert p.cpus is None
    assert p.cpuset == "0-1"
    assert p.pids_limit is None


def test_default_v1_filesystem_and_namespaces(default_v1: Probe) -> None:
    """Defaults: writable root, /dev and /dev/shm tmpfs (64 MiB), lo only, shell is PID 1."""
    p = default_v1
    assert p.root_writable is True
    assert p.mount("/") is not None
    assert p.mount("/").fstype == "overlay"  # type: ignore[union-attr]
    assert dict(p.tmpfs_writable) == {
        "/dev": True,
        "/sys/fs/cgroup": True,
        "/dev/shm": True,
        "/proc/acpi": False,
        "/sys/firmware": False,
    }
    shm = p.mount("/dev/shm")
    assert shm is not None
    assert (shm.source, shm.size_bytes, shm.mode, shm.uid, shm.gid) == (
        "shm",
        64 * MiB,
        0o1777,
        0,
        0,
    )
    assert (shm.noexec, shm.nosuid, shm.nodev, shm.read_only) == (True, True, True, False)
    dev = p.mount("/dev/")
    assert dev is not None
    assert (dev.mode, dev.noexec) == (0o755, False)
    assert p.interfaces == ("lo",)
    assert (p.route_count, p.has_default_route) == (0, False)
    assert (p.pid, p.visible_pids) == (1, (1,))
    assert p.hostname == "11a2e40e4e6a"


def test_default_v1_limits(default_v1: Probe) -> None:
    """/proc/self/limits rows map to Docker's ulimit names; 'unlimited' is None."""
    limits = default_v1.limits
    assert limits["nofile"] == Limit(20000, 20000)
    assert limits["nproc"] == Limit(96365, 96365)
    assert limits["core"] == Limit(0, None)
    assert limits["stack"] == Limit(8388608, None)
    assert limits["memlock"] == Limit(8388608, 8388608)
    assert limits["as"] == Limit(None, None)
    assert set(limits) == {
        "cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock",
        "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
    }  # fmt: skip


def test_default_v1_summary(default_v1: Probe) -> None:
    """The summary of Docker's defaults names the default capability set and 'unlimited'."""
    assert default_v1.summary() == {
        "user": "uid=0 gid=0",
        "capabilities": "CapEff: Docker default 14; CapBnd: Docker default 14",
        "no_new_privs": "no",
        "seccomp": "filter (1 filter)",
        "memory": "unlimited",
        "cpu": "unlimited (shares 1024)",
        "pids": "unlimited",
        "ulimits": "nofile 20000/20000, nproc 96365/96365, core 0/unlimited",
        "root": "writable",
        "tmpfs": "/dev (64 MiB), /dev/shm (64 MiB)",
        "network": "lo only, no route",
        "processes": "1 visible",
        "hostname": "11a2e40e4e6a",
    }


# --- v1, restricted ---------------------------------------------------------------


def test_restricted_v1_credentials_and_capabilities(restricted_v1: Probe) -> None:
    """--user 65534 --cap-drop ALL --security-opt no-new-privileges: no caps at all, NNP set."""
    p = restricted_v1
    assert (p.uid, p.gid, p.uids, p.groups) == (65534, 65534, (65534,) * 4, (65534,))
    for caps in (p.cap_inh, p.cap_prm, p.cap_eff, p.cap_bnd, p.cap_amb):
        assert caps == frozenset()
    assert p.no_new_privs is True
    assert (p.seccomp_mode, p.seccomp_filters) == (2, 1)


def test_restricted_v1_cgroups(restricted_v1: Probe) -> None:
    """v1 files give back --memory 256m, reservation 128m, memory-swap 256m, 0.5 CPU, 512, 64."""
    p = restricted_v1
    assert p.cgroup_version == 1
    assert p.memory_limit == 256 * MiB
    assert p.memory_reservation == 128 * MiB
    assert p.memory_swap_limit == 256 * MiB
    assert (p.cpu_quota_us, p.cpu_period_us) == (50000, 100000)
    assert p.cpus == 0.5
    assert (p.cpu_shares, p.cpu_weight) == (512, None)
    assert p.pids_limit == 64
    assert p.limits["nofile"] == Limit(1024, 2048)
    assert p.limits["core"] == Limit(0, 0)


def test_restricted_v1_filesystem_and_processes(restricted_v1: Probe) -> None:
    """Read-only root, /tmp tmpfs 16 MiB 1777 noexec,nosuid,nodev writable, init is PID 1."""
    p = restricted_v1
    assert p.root_writable is False
    root = p.mount("/")
    assert root is not None
    assert root.read_only is True
    tmp = p.mount("/tmp")
    assert tmp is not None
    assert (tmp.fstype, tmp.size_bytes, tmp.mode, tmp.uid, tmp.gid) == (
        "tmpfs",
        16 * MiB,
        0o1777,
        0,
        0,
    )
    assert {"noexec", "nosuid", "nodev", "size=16384k"} <= tmp.options
    assert dict(p.tmpfs_writable) == {
        "/dev": False,
        "/sys/fs/cgroup": False,
        "/dev/shm": True,
        "/tmp": True,
        "/proc/acpi": False,
        "/sys/firmware": False,
    }
    init = p.mount("/sbin/docker-init")
    assert init is not None
    assert init.root == "/usr/bin/tini-static"
    assert (p.pid, p.visible_pids) == (7, (1, 7))
    assert p.interfaces == ("lo",)
    assert p.has_default_route is False


def test_restricted_v1_summary(restricted_v1: Probe) -> None:
    """The restricted summary reads as the side-by-side table shows it."""
    assert restricted_v1.summary() == {
        "user": "uid=65534 gid=65534",
        "capabilities": "CapEff: none; CapBnd: none",
        "no_new_privs": "yes",
        "seccomp": "filter (1 filter)",
        "memory": "256 MiB (reservation 128 MiB, swap none)",
        "cpu": "0.50 CPU (50000/100000 us; shares 512)",
        "pids": "64",
        "ulimits": "nofile 1024/2048, nproc 96365/96365, core 0/0",
        "root": "read-only",
        "tmpfs": "/dev/shm (64 MiB), /tmp (16 MiB)",
        "network": "lo only, no route",
        "processes": "2 visible",
        "hostname": "d6540b04db05",
    }


# --- v2 ---------------------------------------------------------------------------


def test_restricted_v2_cgroups(restricted_v2: Probe) -> None:
    """v2 files: memory.max, memory.low, swap.max 0 (= no swap), cpu.max, cpu.weight, pids max."""
    p = restricted_v2
    assert p.cgroup_version == 2
    assert p.memory_limit == 256 * MiB
    assert p.memory_reservation == 128 * MiB
    assert p.memory_swap_limit == 256 * MiB
    assert (p.cpu_quota_us, p.cpu_period_us) == (50000, 100000)
    assert (p.cpu_shares, p.cpu_weight) == (None, 59)
    assert p.cpuset == "0-3"
    assert p.pids_limit is None
    assert p.cgroup_files["/sys/fs/cgroup/cpuset.cpus"] == ""
    assert p.cgroup_files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] is None


def test_restricted_v2_credentials_and_mounts(restricted_v2: Probe) -> None:
    """Non-root with NET_BIND_SERVICE only in the bounding set; tmpfs uid/gid/mode parsed."""
    p = restricted_v2
    assert (p.uid, p.gid, p.groups) == (1000, 1000, (1000, 65534))
    assert p.cap_eff == p.cap_prm == frozenset()
    assert p.cap_bnd == frozenset({"NET_BIND_SERVICE"})
    run = p.mount("/run")
    assert run is not None
    assert (run.size_bytes, run.mode, run.uid, run.gid) == (8 * MiB, 0o700, 1000, 1000)
    cgroup = p.mount("/sys/fs/cgroup")
    assert cgroup is not None
    assert (cgroup.fstype, cgroup.read_only) == ("cgroup2", True)
    assert p.tmpfs_writable["/run"] is True
    assert p.tmpfs_writable["/proc/scsi"] is False
    assert "/proc/kcore" not in p.tmpfs_writable  # a file bind, not a directory
    assert p.hostname == "sr-v2-probe"


def test_restricted_v2_summary(restricted_v2: Probe) -> None:
    """The v2 summary shows the weight instead of shares and 'unlimited' pids."""
    summary = restricted_v2.summary()
    assert summary["capabilities"] == "CapEff: none; CapBnd: NET_BIND_SERVICE"
    assert summary["memory"] == "256 MiB (reservation 128 MiB, swap none)"
    assert summary["cpu"] == "0.50 CPU (50000/100000 us; weight 59)"
    assert summary["pids"] == "unlimited"
    assert summary["tmpfs"] == "/dev/shm (64 MiB), /run (8 MiB), /tmp (16 MiB)"
    assert summary["processes"] == "1 visible"


def _replace_file(text: str, path: str, value: str) -> str:
    """Replace the content printed for one cgroup file."""
    pattern = re.compile(rf"(--> /sys/fs/cgroup/{re.escape(path)}\n)(?:(?!-->|==>).*\n)*")
    new, count = pattern.subn(lambda m: m.group(1) + value + "\n", text)
    assert count == 1, path
    return new


def test_v2_max_values_are_unlimited() -> None:
    """v2 'max' in memory.max, memory.swap.max and cpu.max parses as None; memory.low 0 is unset."""
    text = fixture_text("restricted_v2.txt")
    text = _replace_file(text, "memory.max", "max")
    text = _replace_file(text, "memory.low", "0")
    text = _replace_file(text, "memory.swap.max", "max")
    text = _replace_file(text, "cpu.max", "max 100000")
    text = _replace_file(text, "pids.max", "64")
    p = parse_probe(text)
    assert (p.memory_limit, p.memory_reservation, p.memory_swap_limit) == (None, None, None)
    assert (p.cpu_quota_us, p.cpu_period_us, p.pids_limit) == (None, 100000, 64)
    assert p.summary()["memory"] == "unlimited"
    assert p.summary()["cpu"] == "unlimited (weight 59)"


def test_v2_swap_is_added_to_memory() -> None:
    """memory.swap.max is swap alone; memory_swap_limit is memory + swap like --memory-swap."""
    text = _replace_file(fixture_text("restricted_v2.txt"), "memory.swap.max", str(256 * MiB))
    p = parse_probe(text)
    assert p.memory_swap_limit == 512 * MiB
    assert p.summary()["memory"] == "256 MiB (reservation 128 MiB, swap 256 MiB)"


# --- parser details ---------------------------------------------------------------


def test_mount_returns_topmost_and_none_for_unknown(restricted_v1: Probe) -> None:
    """mount() finds exact mount points (the last when stacked) and None otherwise."""
    assert restricted_v1.mount("/nonexistent") is None
    assert restricted_v1.mount("/tm") is None
    stacked = fixture_text("restricted_v1.txt").replace(
        "==> cgroup\n",
        "99 90 0:99 / /tmp rw,relatime - tmpfs tmpfs rw,size=1024k,mode=700\n==> cgroup\n",
    )
    tmp = parse_probe(stacked).mount("/tmp")
    assert tmp is not None
    assert (tmp.size_bytes, tmp.mode) == (1024 * 1024, 0o700)


def test_mount_point_escapes_are_decoded(restricted_v1: Probe) -> None:
    r"""Octal escapes in mountinfo (\040 for a space) are decoded in mount points."""
    text = fixture_text("restricted_v1.txt").replace(
        "==> cgroup\n",
        "99 72 0:99 / /data\\040dir rw,relatime - tmpfs tmpfs rw\n==> cgroup\n",
    )
    assert parse_probe(text).mount("/data dir") is not None


def test_bytes_and_crlf_parse_the_same(restricted_v1: Probe) -> None:
    """bytes input and a TTY's CRLF line ends give the same record."""
    text = fixture_text("restricted_v1.txt")
    assert parse_probe(text.encode()) == restricted_v1
    assert parse_probe(text.replace("\n", "\r\n")) == restricted_v1


def test_raw_is_kept_but_not_compared_or_shown(restricted_v1: Probe) -> None:
    """raw holds the output, is excluded from == and repr, and the record is hashable."""
    text = fixture_text("restricted_v1.txt")
    assert restricted_v1.raw == text
    other = parse_probe("noise before\n" + text)
    assert other == restricted_v1
    assert other.raw != restricted_v1.raw
    assert "raw=" not in repr(restricted_v1)
    assert hash(other) == hash(restricted_v1)


def test_frozen_map_is_an_immutable_mapping() -> None:
    """FrozenMap reads like a dict, compares with dicts, hashes, and cannot be assigned."""
    m = FrozenMap({"a": 1})
    assert m == {"a": 1}
    assert hash(m) == hash(FrozenMap([("a", 1)]))
    with pytest.raises(TypeError):
        m["b"] = 2  # type: ignore[index]


def test_default_route_is_detected() -> None:
    """A route with destination 00000000 is the default route; interfaces come sorted."""
    dev = "  eth0:     100       1    0    0    0     0          0         0        0       0\n"
    routes = (
        "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    )
    text = fixture_text("default_root_v1.txt")
    text = text.replace("==> net-route\n", dev + "==> net-route\n")
    text = text.replace("==> hostname\n", routes + "==> hostname\n")
    p = parse_probe(text)
    assert p.interfaces == ("eth0", "lo")
    assert (p.route_count, p.has_default_route) == (2, True)
    assert p.summary()["network"] == "eth0, lo; default route"


def test_routes_without_default_are_counted() -> None:
    """A subnet route alone is counted but is not a default route."""
    route = "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    text = fixture_text("default_root_v1.txt").replace("==> hostname\n", route + "==> hostname\n")
    p = parse_probe(text)
    assert (p.route_count, p.has_default_route) == (1, False)
    assert p.summary()["network"] == "lo only, 1 route, no default"


# --- errors -----------------------------------------------------------------------


def test_probe_error_is_a_secure_run_error() -> None:
    """ProbeError is part of the library's exception tree."""
    assert issubclass(ProbeError, SecureRunError)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: "exec /bin/sh: no such file or directory\n", "probe output not found"),
        (lambda t: "", "probe output not found"),
        (lambda t: t.replace("==> limits\n", ""), "missing section(s): limits"),
        (
            lambda t: t.replace("==> cgroup\n", "").replace("==> hostname\n", ""),
            "missing section(s): cgroup, hostname",
        ),
        (lambda t: t.replace("==> end\n", ""), "cut short"),
        (lambda t: t.replace("CapEff:", "CapXxx:"), "no CapEff line"),
        (lambda t: t.replace("CapBnd:\t0000000000000000", "CapBnd:\tzz"), "not a hex mask"),
        (lambda t: t.replace("no /\n", ""), "writability test of / is missing"),
    ],
    ids=[
        "foreign",
        "empty",
        "one-section",
        "two-sections",
        "truncated",
        "no-cap",
        "bad-mask",
        "no-root-test",
    ],
)
def test_bad_output_raises_probe_error(mangle: Any, message: str) -> None:
    """Output that is not the complete probe output raises ProbeError naming what is wrong."""
    with pytest.raises(ProbeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_probe(mangle(fixture_text("restricted_v1.txt")))


# --- real engine ------------------------------------------------------------------


@pytest.mark.docker
def test_probe_in_real_container_reports_restricted_settings(
    docker_client: docker.DockerClient, test_image: str
) -> None:
    """A real container started with the restricted settings reports exactly those settings."""
    container = docker_client.containers.create(
        test_image,
        entrypoint=[],
        command=probe_command(),
        network_mode="none",
        labels=TEST_LABELS,
        **RESTRICTED,
    )
    try:
        container.start()
        status = container.wait(timeout=60)
        output = container.logs(stdout=True, stderr=False).decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, output
    p = parse_probe(output)

    assert (p.uid, p.gid) == (65534, 65534)
    for caps in (p.cap_prm, p.cap_eff, p.cap_bnd, p.cap_amb):
        assert caps == frozenset()
    assert p.no_new_privs is True
    assert p.seccomp_mode == 2
    assert p.root_writable is False
    assert p.tmpfs_writable["/tmp"] is True
    tmp = p.mount("/tmp")
    assert tmp is not None
    assert (tmp.fstype, tmp.size_bytes, tmp.mode) == ("tmpfs", 16 * MiB, 0o1777)
    assert tmp.noexec
    assert tmp.nosuid
    assert tmp.nodev
    assert p.memory_limit == 256 * MiB
    assert p.memory_reservation == 128 * MiB
    swap_file = (
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"
        if p.cgroup_version == 1
        else "/sys/fs/cgroup/memory.swap.max"
    )
    if p.cgroup_files.get(swap_file) is not None:  # absent without swap accounting
        assert p.memory_swap_limit == 256 * MiB
    assert (p.cpu_quota_us, p.cpu_period_us) == (50000, 100000)
    if p.cgroup_version == 1:
        assert p.cpu_shares == 512
    else:
        assert p.cpu_weight in (20, 59)  # runc <= 1.3.1 / >= 1.3.2 conversions
    assert p.pids_limit == 64
    assert p.limits["nofile"] == Limit(1024, 2048)
    assert p.limits["core"] == Limit(0, 0)
    assert p.interfaces == ("lo",)
    assert p.has_default_route is False
    assert p.pid != 1  # docker-init is PID 1
    assert 1 in p.visible_pids
    assert len(p.visible_pids) == 2
    assert p.summary()["capabilities"] == "CapEff: none; CapBnd: none"

"""secure_run._proof.kernel and .host: the one kernel-state reader of the probe and verify.

The recorded container under ``tests/data/verify/restricted_v1`` holds both sides of
one container: its init process's files as the host saw them, and the exec probe's
output from inside. Each test here pins one rule that the probe and verify once kept
apart (and sometimes disagreed on).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from secure_run._proof.host import cgroup_file_paths, read_host_process
from secure_run._proof.kernel import (
    CGROUP_ROOT,
    LIMIT_FILES,
    V1_UNLIMITED,
    KernelFileError,
    KernelState,
    cgroup_keys,
    cgroup_limits,
    cgroup_version,
    keyed_cgroup_files,
    parse_id_map,
    parse_mountinfo,
)
from secure_run._proof.probe import PROBE_SCRIPT, ProbeError, parse_probe, read_probe

DATA = Path(__file__).parent.parent / "data"
RECORDED = DATA / "verify" / "restricted_v1"
PROBE_V1 = DATA / "probe" / "restricted_v1.txt"
CID = json.loads((RECORDED / "inspect.json").read_text())["Id"]
PID = json.loads((RECORDED / "inspect.json").read_text())["State"]["Pid"]
UNLIMITED_TEXT = "9223372036854771712"


def _host_state(root: Path = RECORDED) -> KernelState:
    proc = root / "proc" / str(PID)
    return read_host_process(
        str(proc), (proc / "cgroup").read_text(), cgroup_root=str(root / "cgroup")
    )


def test_probe_and_host_read_the_same_state_of_one_container():
    """The exec probe and the host read of one container give equal limits, ids and caps."""
    host = _host_state()
    _, inside = read_probe((RECORDED / "exec_probe.txt").read_bytes())
    assert inside.cgroup == host.cgroup
    assert inside.cgroup.memory_limit == 512 << 20
    assert inside.limits == host.limits
    for field in ("Uid", "Gid", "CapBnd", "CapEff", "NoNewPrivs", "Seccomp"):
        assert inside.status[field] == host.status[field], field
    assert {m.mount_point for m in inside.mounts} >= {m.mount_point for m in host.mounts}


def test_the_probe_script_reads_every_cgroup_file_of_the_one_table():
    """Every file of LIMIT_FILES, v1 and v2, is in the probe script: one list for both readers."""
    for key in cgroup_keys():
        controller, _, name = key.rpartition("/")
        assert f"{CGROUP_ROOT}/{controller + '/' if controller else ''}{name}" in PROBE_SCRIPT
    assert {key for pair in LIMIT_FILES.values() for key in pair} <= set(cgroup_keys())


def test_v1_cpu_files_of_a_comounted_cpu_cpuacct_directory_are_read_on_the_host(tmp_path):
    """The host reader finds cpu files under cpu,cpuacct when the controllers share a mount."""
    root = tmp_path / "host"
    shutil.copytree(RECORDED, root)
    cgroup = root / "cgroup"
    (cgroup / "cpu").rename(cgroup / "cpu,cpuacct")
    proc_cgroup = root / "proc" / str(PID) / "cgroup"
    text = proc_cgroup.read_text().replace("1:cpu:", "1:cpu,cpuacct:")
    proc_cgroup.write_text(text.replace(f"2:cpuacct:/docker/{CID}\n", ""))
    state = _host_state(root)
    assert (state.cgroup.cpu_quota_us, state.cgroup.cpu_shares) == (100_000, 1024)


def test_v1_cpu_files_of_a_comounted_directory_count_in_the_probe():
    """The probe's cpu,cpuacct/cpu.shares is the cpu.shares key unless cpu/ had it."""
    files = {
        f"{CGROUP_ROOT}/cpu/cpu.shares": None,
        f"{CGROUP_ROOT}/cpu,cpuacct/cpu.shares": "512",
        f"{CGROUP_ROOT}/memory.max": "max",
    }
    keyed = keyed_cgroup_files(files)
    assert keyed == {"cpu/cpu.shares": "512", "memory.max": "max"}
    assert cgroup_limits(1, keyed).cpu_shares == 512


def test_host_paths_cover_the_keys_of_the_version():
    """On v1 each key has a path per directory its controller may be in; on v2 one path."""
    v1 = (RECORDED / "proc" / str(PID) / "cgroup").read_text()
    version, paths = cgroup_file_paths(v1, "/cg")
    assert version == 1
    assert paths["cpu/cpu.shares"] == [f"/cg/cpu/docker/{CID}/cpu.shares"]
    assert set(paths) == {key for key in cgroup_keys() if "/" in key}
    version, paths = cgroup_file_paths("0::/system.slice/x.scope\n", "/cg")
    assert version == 2
    assert paths["memory.max"] == ["/cg/system.slice/x.scope/memory.max"]


@pytest.mark.parametrize(
    ("proc_cgroup", "version"),
    [
        ("4:memory:/docker/x\n0::/docker/x\n", 1),
        ("2:cpu,cpuacct:/docker/x\n", 1),
        ("1:name=systemd:/docker/x\n0::/docker/x\n", 2),
        ("0::/\n", 2),
    ],
    ids=["v1-with-unified", "v1-comounted", "hybrid-named-only", "v2"],
)
def test_the_version_is_where_the_limit_controllers_are(proc_cgroup, version):
    """A named v1 hierarchy (name=systemd) holds no limit: only v1 limit controllers mean v1."""
    assert cgroup_version(proc_cgroup) == version


def test_without_cgroup_lines_the_files_decide_the_version():
    """No /proc/<pid>/cgroup lines: cgroup.controllers or memory.max mean v2, else v1."""
    assert cgroup_version("", {"cgroup.controllers": "cpu memory"}) == 2
    assert cgroup_version("", {"memory/memory.limit_in_bytes": "1"}) == 1


def test_v1_page_counter_max_is_unlimited():
    """Any v1 byte count from 2**62 up (PAGE_COUNTER_MAX * PAGE_SIZE) reads as unlimited."""
    files = {
        "memory/memory.limit_in_bytes": UNLIMITED_TEXT,
        "memory/memory.soft_limit_in_bytes": UNLIMITED_TEXT,
        "memory/memory.memsw.limit_in_bytes": str(V1_UNLIMITED),
    }
    limits = cgroup_limits(1, files)
    assert (limits.memory_limit, limits.memory_reservation, limits.memory_swap_limit) == (
        None,
        None,
        None,
    )


def test_v1_memsw_is_read_on_its_own():
    """The v1 memsw file is memory plus swap whatever memory.limit_in_bytes says."""
    limits = cgroup_limits(
        1,
        {
            "memory/memory.limit_in_bytes": UNLIMITED_TEXT,
            "memory/memory.memsw.limit_in_bytes": str(512 << 20),
        },
    )
    assert (limits.memory_limit, limits.memory_swap_limit, limits.swap_limit) == (
        None,
        512 << 20,
        None,
    )


def test_swap_is_alone_on_v2_and_with_memory_on_v1():
    """memory_swap_limit counts like --memory-swap and swap_limit is swap alone, on both."""
    v1 = cgroup_limits(
        1,
        {
            "memory/memory.limit_in_bytes": str(256 << 20),
            "memory/memory.memsw.limit_in_bytes": str(512 << 20),
        },
    )
    v2 = cgroup_limits(2, {"memory.max": str(256 << 20), "memory.swap.max": str(256 << 20)})
    assert (v1.memory_swap_limit, v1.swap_limit) == (512 << 20, 256 << 20)
    assert (v2.memory_swap_limit, v2.swap_limit) == (512 << 20, 256 << 20)


def test_cpuset_keeps_configured_and_effective_apart():
    """cpuset is what was configured, cpus_usable what the kernel grants (effective first)."""
    v2 = cgroup_limits(2, {"cpuset.cpus": "", "cpuset.cpus.effective": "0-3"})
    assert (v2.cpuset, v2.cpuset_effective, v2.cpus_usable) == (None, "0-3", "0-3")
    v1 = cgroup_limits(1, {"cpuset/cpuset.cpus": "0-1"})
    assert (v1.cpuset, v1.cpus_usable) == ("0-1", "0-1")


def test_the_probe_reports_the_effective_cpuset():
    """Probe.cpuset is the set the container may run on: the effective one when read."""
    text = PROBE_V1.read_text().replace(
        "==> net-dev", f"--> {CGROUP_ROOT}/cpuset/cpuset.effective_cpus\n0\n==> net-dev", 1
    )
    assert parse_probe(PROBE_V1.read_text()).cpuset == "0-1"
    assert parse_probe(text).cpuset == "0"


def test_v2_max_and_cpu_max_parse():
    """v2 'max' is unlimited; cpu.max is quota and period; memory.low 0 is unset."""
    limits = cgroup_limits(
        2, {"memory.max": "max", "cpu.max": "max 100000", "memory.low": "0", "pids.max": "64"}
    )
    assert (limits.memory_limit, limits.cpu_quota_us, limits.cpu_period_us) == (None, None, 100000)
    assert (limits.memory_reservation, limits.pids_limit) == (None, 64)
    assert cgroup_limits(1, {"cpu/cpu.cfs_quota_us": "-1"}).cpu_quota_us is None


def test_a_cgroup_value_that_is_not_a_number_is_an_error():
    """A limit file the kernel would never write raises; the probe says so as a ProbeError."""
    with pytest.raises(KernelFileError, match="not a number"):
        cgroup_limits(2, {"pids.max": "lots"})
    text = PROBE_V1.read_text().replace(
        "--> /sys/fs/cgroup/pids/pids.max\n64", "--> /sys/fs/cgroup/pids/pids.max\nlots"
    )
    with pytest.raises(ProbeError, match="not a number"):
        parse_probe(text)


def test_mountinfo_can_be_limited_to_the_mount_points_asked_for():
    """Only the mounts at the given points are parsed, escaped points included."""
    lines = [
        "1 0 8:1 / / ro,relatime - overlay overlay rw",
        r"2 1 0:5 / /my\040dir rw,nosuid - tmpfs tmpfs rw,size=1024k",
        "3 1 0:6 / /proc rw - proc proc rw",
    ]
    mounts = list(parse_mountinfo(lines, frozenset({"/", "/my dir"})))
    assert [m.mount_point for m in mounts] == ["/", "/my dir"]
    assert mounts[1].size_bytes == 1 << 20


def test_id_maps_parse_rows_and_skip_the_rest():
    """uid_map rows are (inside, outside, count); a missing file is no mapping."""
    assert parse_id_map("         0     100000      65536\n") == ((0, 100000, 65536),)
    assert parse_id_map(None) == ()

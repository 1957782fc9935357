"""Resource attacks: a fork bomb, a memory bomb, a CPU hog and a disk fill, each bounded.

Each runs in a container from the preset and is stopped by one of its limits: the pids
limit, the memory limit with no swap, the CFS quota, the tmpfs size and the read-only
root. The figures come from the container's cgroup, read on the host or from inside.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import subprocess
import time
import uuid
from typing import Any

import docker
import docker.errors
import pytest

import secure_run as sr
from secure_run.testing import ATTACK_TOOL_PATH

from .support import (
    Battery,
    HostCgroup,
    container_pid,
    parse_attack,
    parse_values,
    preset_builder,
    preset_config,
    under_gvisor,
)

#: A label that finds one test's container while ``sr.run`` owns it.
RUN_LABEL = "secure-run.test.battery-run"

#: How long the fork bomb runs before ``sr.run`` kills its container.
FORK_BOMB_S = 4.0

#: How often the watcher reads the bomb's pids cgroup (seconds).
WATCH_S = 0.05

#: Under gVisor the sandbox ends within milliseconds of the limit and its cgroup goes with
#: it, so a read can come too late (one CI run's last read saw 92 of 128, nothing refused):
#: the watcher reads ten times as often there, and the bomb runs again, up to this many
#: times in all, while no read has seen its end. Each run must still hold the bound.
GVISOR_BOMB_RUNS = 3

#: The CPU hog's busy processes, and the wall-clock window its CPU time is measured over.
HOG_PROCESSES = 4
HOG_WARMUP_S = 0.5
HOG_WINDOW_S = 3.0
HOG_MAX_WINDOWS = 3

#: The CPU time allowed above quota x window (CFS hands out quota per 100 ms period).
CPU_TOLERANCE = 0.10

MEMORY_BOMB = r"""
if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    cd /sys/fs/cgroup/memory
    echo "limit=$(cat memory.limit_in_bytes) memsw_limit=$(cat memory.memsw.limit_in_bytes)"
    tail /dev/zero
    echo "tail=$?"
    echo "peak=$(cat memory.max_usage_in_bytes) memsw_peak=$(cat memory.memsw.max_usage_in_bytes)"
    echo "swap_used=$(sed -n 's/^swap //p' memory.stat)"
    echo "oom_kill=$(sed -n 's/^oom_kill //p' memory.oom_control)"
else
    cd /sys/fs/cgroup
    echo "limit=$(cat memory.max) swap_limit=$(cat memory.swap.max)"
    tail /dev/zero
    echo "tail=$?"
    echo "peak=$(cat memory.peak) swap_used=$(cat memory.swap.current)"
    echo "oom_kill=$(sed -n 's/^oom_kill //p' memory.events)"
fi
"""

#: Under gVisor: no cgroup files inside; its MemTotal is the memory limit.
MEMORY_BOMB_GVISOR = r"""
echo "memtotal_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
tail /dev/zero
echo "tail=$?"
"""

DISK_FILL = rf"""
dd if=/dev/zero of=/tmp/fill bs=65536 2>&1
echo "dd_exit=$?"
echo "size=$(stat -c %s /tmp/fill)"
{ATTACK_TOOL_PATH} create /sr-root-write
{ATTACK_TOOL_PATH} create /etc/sr-root-write
"""


def _watch_fork_bomb(
    client: docker.DockerClient,
    tag: str,
    run: concurrent.futures.Future[sr.RunResult],
    interval: float,
) -> dict[str, Any]:
    """Sample the bomb's pids cgroup from the host until ``sr.run`` returns.

    Once the bomb holds every pid it may have, check that the host can still start a
    process and that the engine still answers.
    """
    seen: dict[str, Any] = {
        "pids_max": None,
        "pids_current_max": 0,
        "pids_peak": 0,
        "forks_refused": 0,
        "host_forked": False,
        "engine_answered": False,
    }
    cgroup: HostCgroup | None = None
    while not run.done():
        time.sleep(interval)
        try:
            if cgroup is None:
                found = client.api.containers(filters={"label": f"{RUN_LABEL}={tag}"})
                pid = container_pid(client, found[0]["Id"]) if found else 0
                if pid == 0:
                    continue
                cgroup = HostCgroup(pid)
            limit = int(cgroup.read("pids", "pids.max"))
            current = int(cgroup.read("pids", "pids.current"))
            seen["pids_max"] = limit
            seen["pids_current_max"] = max(seen["pids_current_max"], current)
            seen["pids_peak"] = max(seen["pids_peak"], current)
            seen["forks_refused"] = cgroup.stat("pids", "pids.events").get("max", 0)
            with contextlib.suppress(FileNotFoundError):  # pids.peak is new in Linux 6.1
                seen["pids_peak"] = max(seen["pids_peak"], int(cgroup.read("pids", "pids.peak")))
        except (OSError, docker.errors.NotFound):
            continue  # the container is starting, or is gone
        if (current >= limit or seen["forks_refused"]) and not seen["host_forked"]:
            subprocess.run(["true"], check=True, timeout=30)
            seen["host_forked"] = True
            seen["engine_answered"] = client.ping()
    return seen


def _run_fork_bomb(
    client: docker.DockerClient, attack_image: str, preset: str, interval: float
) -> tuple[dict[str, Any], sr.RunResult]:
    """Run the bomb under ``sr.run`` and watch its cgroup until the run returns."""
    tag = uuid.uuid4().hex
    # Under gVisor, a second's pause lets the watcher find the sandbox's cgroup first.
    bomb = ["sh", "-c", f"sleep 1; exec {ATTACK_TOOL_PATH} fork-bomb"]
    cfg = (
        preset_builder(preset, attack_image)
        .command(bomb if under_gvisor() else [ATTACK_TOOL_PATH, "fork-bomb"])
        .labels({RUN_LABEL: tag})
        .build()
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(sr.run, cfg, client=client, timeout=FORK_BOMB_S, max_output=65536)
        seen = _watch_fork_bomb(client, tag, run, interval)
        return seen, run.result()


def test_fork_bomb_is_bounded_by_the_pids_limit(
    docker_client: docker.DockerClient, attack_image: str, preset: str, battery: Battery
) -> None:
    """A fork bomb holds at most pids.max processes, the host still forks, the kill ends it.

    Why it fails: the pids cgroup limit (``pids_limit``) refuses every fork past
    pids.max with EAGAIN, inside the container only; the bomb's processes never exit
    on their own, and ``sr.run``'s timeout kills the container with them all.
    Under gVisor the sandbox's own host threads count against pids.max: when the
    sentry cannot make one more, the whole sandbox ends (exit code 2), within the limit.
    """
    limits = preset_config(preset)
    assert limits.pids_limit is not None, f"the {preset} preset sets no pids limit"
    gvisor = under_gvisor()
    # Under gVisor the last read can miss the final charges: up to one in flight per CPU.
    near = limits.pids_limit - (os.cpu_count() or 1)
    runs = 0
    while True:
        runs += 1
        seen, result = _run_fork_bomb(
            docker_client, attack_image, preset, WATCH_S / 10 if gvisor else WATCH_S
        )
        bounded = seen["pids_max"] == limits.pids_limit >= seen["pids_peak"]
        end_seen = seen["pids_peak"] >= near or seen["forks_refused"] > 0
        again = gvisor and bounded and result.exit_code != 0 and not end_seen
        if not again or runs == GVISOR_BOMB_RUNS:
            break

    battery.record(
        "fork-bomb",
        preset,
        control="pids limit (pids.max)",
        pids_limit=limits.pids_limit,
        **seen,
        runs=runs,
        refusal=result.stdout.decode(errors="replace").strip(),
        timed_out=result.timed_out,
        exit_code=result.exit_code,
    )
    assert seen["pids_max"] == limits.pids_limit, "the bomb's cgroup was never seen, or wrong"
    if gvisor:
        assert seen["pids_peak"] <= limits.pids_limit, seen
        assert result.exit_code != 0, "the bomb's sandbox ended well"
        assert end_seen, f"no read saw the sandbox reach its limit in {runs} runs: {seen}"
        assert docker_client.ping()
        return
    # The kernel charges a fork first and takes the charge back when it is over the
    # limit (pids_try_charge), so a read can catch pids.current one above pids.max for
    # each fork in flight: at most one per CPU.
    reached = seen["pids_current_max"]
    assert limits.pids_limit <= reached <= limits.pids_limit + (os.cpu_count() or 1), (
        "the bomb never reached the limit, or went past it"
    )
    assert seen["pids_peak"] <= limits.pids_limit
    assert seen["forks_refused"] > 0
    assert parse_attack(result.stdout.decode()) == ("fork-bomb", "EAGAIN")
    assert seen["host_forked"]
    assert seen["engine_answered"]
    assert result.timed_out, "the bomb's container ended before the timeout"
    assert result.exit_code == 137


def test_memory_bomb_is_oom_killed_within_the_limit(
    docker_client: docker.DockerClient, attack_image: str, preset: str, battery: Battery
) -> None:
    """A memory bomb is OOM-killed at the memory limit, reported as oom_killed, with no swap.

    Why it fails: the memory cgroup's hard limit (``memory``) makes the kernel's OOM
    killer end the process inside the container, and the swap limit equal to it
    (``memory_swap``) leaves no swap to spill into. Under gVisor the sandbox has no
    cgroup files inside (its MemTotal is the limit), and the OOM kill ends the whole
    sandbox, the shell that would print what happened with it.
    """
    limits = preset_config(preset)
    bomb = MEMORY_BOMB_GVISOR if under_gvisor() else MEMORY_BOMB
    cfg = preset_builder(preset, attack_image).command(["sh", "-c", bomb]).build()
    result = sr.run(cfg, client=docker_client, timeout=120)
    values = parse_values(result.stdout.decode())

    battery.record(
        "memory-bomb",
        preset,
        control="memory limit, no swap (memory = memory_swap)",
        memory_limit=limits.memory,
        **{key: int(value) if value.isdigit() else value for key, value in values.items()},
        oom_killed=result.oom_killed,
    )
    assert result.oom_killed, result.stderr.decode(errors="replace")
    if under_gvisor():
        assert int(values["memtotal_kib"]) * 1024 == limits.memory
        assert "tail" not in values, "the bomb's shell outlived the OOM kill"
        assert result.exit_code == 137
        return
    assert values["tail"] == "137", "the bomb was not killed"
    assert int(values["limit"]) == limits.memory
    if "memsw_limit" in values:  # cgroup v1: memory+swap limited to the memory limit
        assert int(values["memsw_limit"]) == limits.memory
        assert int(values["memsw_peak"]) <= limits.memory
    else:  # cgroup v2: the swap limit itself
        assert values["swap_limit"] == "0"
    assert int(values["swap_used"]) == 0
    assert 0.9 * limits.memory <= int(values["peak"]) <= limits.memory
    assert int(values["oom_kill"]) >= 1


def _cpu_window(cgroup: HostCgroup) -> tuple[float, float, int]:
    """CPU seconds used, wall-clock seconds passed and periods throttled over one window."""
    used_before, stat_before = cgroup.cpu_usage_s(), cgroup.stat("cpu", "cpu.stat")
    started = time.monotonic()
    time.sleep(HOG_WINDOW_S)
    used_after, stat_after = cgroup.cpu_usage_s(), cgroup.stat("cpu", "cpu.stat")
    window = time.monotonic() - started
    return (
        used_after - used_before,
        window,
        stat_after["nr_throttled"] - stat_before["nr_throttled"],
    )


def test_cpu_hog_is_held_to_the_quota(
    docker_client: docker.DockerClient, attack_image: str, preset: str, battery: Battery
) -> None:
    """Busy loops in several processes use at most quota x window + 10% of CPU time.

    Why it fails: the CFS quota (``cpus``) lets the container's processes run for
    quota x period in each 100 ms period and throttles them for the rest, however many
    processes or host CPUs there are. The bound is checked on every window; windows
    are measured until one ran into the quota (at most ``HOG_MAX_WINDOWS``), since on a
    busy host the hog may get less than its quota from the scheduler anyway.
    """
    limits = preset_config(preset)
    loops = " ".join(str(i) for i in range(HOG_PROCESSES))
    hog = f"for i in {loops}; do while :; do :; done & done; wait"
    cfg = preset_builder(preset, attack_image).command(["sh", "-c", hog]).build()
    windows: list[tuple[float, float, int]] = []
    with sr.launch(cfg, client=docker_client) as container:
        cgroup = HostCgroup(container_pid(docker_client, container.id))
        quota = cgroup.cpu_quota()
        time.sleep(HOG_WARMUP_S)
        try:
            while len(windows) < HOG_MAX_WINDOWS and not any(w[2] for w in windows):
                windows.append(_cpu_window(cgroup))
        except FileNotFoundError as exc:
            pytest.fail(f"the hog's container ended or was removed mid-measurement: {exc}")
    worst_used, worst_window, _ = max(windows, key=lambda w: w[0] / w[1])
    throttled = sum(w[2] for w in windows)

    battery.record(
        "cpu-hog",
        preset,
        control="CFS quota (cpus)",
        processes=HOG_PROCESSES,
        quota_cpus=quota,
        windows=len(windows),
        window_s=round(worst_window, 3),
        cpu_used_s=round(worst_used, 3),
        cpu_allowed_s=round(quota * worst_window * (1 + CPU_TOLERANCE), 3),
        used_per_quota=round(worst_used / (quota * worst_window), 3),
        periods_throttled=throttled,
        quota_reached=throttled > 0,
    )
    assert quota == pytest.approx(limits.cpus), "the CFS quota is not the preset's"
    for used, window, _ in windows:
        allowed = quota * window * (1 + CPU_TOLERANCE)
        assert used <= allowed, f"{used:.2f} s of CPU in {window:.2f} s at a quota of {quota} CPUs"


def test_disk_fill_stops_at_the_tmpfs_size_and_the_root_is_read_only(
    docker_client: docker.DockerClient, attack_image: str, preset: str, battery: Battery
) -> None:
    """Filling /tmp stops at the tmpfs size with ENOSPC, and creating a file on / fails EROFS.

    Why it fails: the scratch space is a tmpfs with a size limit (``tmpfs``), and the
    root filesystem is mounted read-only (``read_only``); nothing reaches the host's disk.
    gVisor refuses the write to its read-only root with EACCES instead.
    """
    limits = preset_config(preset)
    (tmpfs,) = limits.tmpfs
    cfg = preset_builder(preset, attack_image).command(["sh", "-c", DISK_FILL]).build()
    result = sr.run(cfg, client=docker_client, timeout=120)
    out = result.stdout.decode()
    values = parse_values(out)
    root_writes = [parse_attack(line) for line in out.splitlines() if line.startswith("create:")]

    battery.record(
        "disk-fill",
        preset,
        control="tmpfs size limit; read-only root",
        tmpfs_size=tmpfs.size,
        written=int(values.get("size", "-1")),
        root_writes=[errno for _, errno in root_writes],
    )
    assert "No space left on device" in out
    assert values["dd_exit"] != "0"
    assert tmpfs.size - (1 << 20) <= int(values["size"]) <= tmpfs.size
    refusal = "EACCES" if under_gvisor() else "EROFS"
    assert root_writes == [("create", refusal), ("create", refusal)]

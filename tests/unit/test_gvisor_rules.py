"""gVisor: which runtimes are gVisor, the pids limit refused, and what verify() notes."""

from __future__ import annotations

from typing import Any

import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, unsupported
from secure_run._engine.runtimes import GVISOR_MIN_PIDS, gvisor_runtimes, is_gvisor_name
from secure_run._proof.kernel import KernelState, cgroup_limits, parse_mountinfo
from secure_run._proof.kernel_checks import kernel_checks

RUNTIMES = {
    "runc": {"path": "runc"},
    "runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]},
    "sandboxed": {"path": "/opt/gvisor/runsc-wrapper"},
}


def _facts(default: str = "runc") -> EngineFacts:
    info: dict[str, Any] = {
        "Runtimes": RUNTIMES,
        "DefaultRuntime": default,
        "PidsLimit": True,
        "MemoryLimit": True,
        "CpuCfsQuota": True,
        "CpuCfsPeriod": True,
        "SecurityOptions": ["name=seccomp,profile=default"],
        "OSType": "linux",
        "NCPU": 2,
    }
    return EngineFacts.parse(info, {"ApiVersion": "1.41"}, api_version="1.41", local=True)


def test_gvisor_runtimes_are_found_by_name_and_by_path() -> None:
    """runsc by its name and a wrapper by its path are gVisor; runc is not."""
    assert gvisor_runtimes(RUNTIMES) == ("runsc", "sandboxed")
    assert _facts().gvisor_runtimes == ("runsc", "sandboxed")
    assert not is_gvisor_name("runc")


@pytest.mark.parametrize("runtime", ["runsc", "sandboxed"])
def test_a_pids_limit_below_the_gvisor_minimum_is_refused(runtime: str) -> None:
    """pids_limit 64 under a gVisor runtime is a problem naming pids_limit and the fix."""
    cfg = sr.preset("sandbox", "img").runtime(runtime).build()
    (problem,) = [p for p in unsupported(cfg, _facts()) if p.field == "pids_limit"]
    assert f"pids_limit({GVISOR_MIN_PIDS})" in problem.fix


def test_the_engine_default_runtime_counts_too() -> None:
    """With runsc as the engine's default, a config naming no runtime is judged under it."""
    cfg = sr.preset("sandbox", "img").build()
    assert [p.field for p in unsupported(cfg, _facts("runsc"))] == ["pids_limit"]
    assert unsupported(cfg, _facts("runc")) == []


def test_the_gvisor_preset_passes_on_a_gvisor_engine() -> None:
    """The gvisor preset raises no problem on an engine that registers runsc."""
    assert unsupported(sr.preset("gvisor", "img").build(), _facts()) == []


def _inside_gvisor() -> KernelState:
    status = {
        "Uid": "65534\t65534\t65534\t65534",
        "Gid": "65534\t65534\t65534\t65534",
        "CapPrm": "0000000000000000",
        "CapEff": "0000000000000000",
        "CapBnd": "0000000000000000",
        "Seccomp": "0",
    }
    lines = [
        "8 8 0:8 / / ro  - 9p none ro,trans=fd",
        "11 8 0:10 / /tmp rw,noexec  - tmpfs none rw,size=16777216,mode=1777",
    ]
    return KernelState(
        status=status, limits={}, mounts=tuple(parse_mountinfo(lines)), cgroup=cgroup_limits(1, {})
    )


def test_what_gvisor_hides_is_a_note_never_a_check() -> None:
    """NoNewPrivs, Seccomp, rlimits, nosuid/nodev and cgroups become notes; the rest passes."""
    cfg = sr.preset("gvisor", "img").build()
    notes: list[str] = []
    checks = list(kernel_checks(cfg, _inside_gvisor(), "exec probe", notes, gvisor=True))
    assert all(c.ok for c in checks), [str(c) for c in checks if not c.ok]
    names = {c.property for c in checks}
    assert {"Uid", "CapEff", "mount /", "mount /tmp"} <= names
    assert not names & {"NoNewPrivs", "Seccomp", "rlimit nofile", "cgroup memory.limit_in_bytes"}
    hidden = " ".join(notes)
    for what in ("NoNewPrivs", "Seccomp", "rlimits", "nosuid and nodev", "cgroup limits"):
        assert what in hidden


def test_a_capability_seen_inside_gvisor_still_fails() -> None:
    """A capability left in the workload's bounding set fails CapBnd under gVisor too."""
    state = _inside_gvisor()
    status = {**state.status, "CapBnd": "00000000a80405fb"}
    state = KernelState(status=status, limits={}, mounts=state.mounts, cgroup=state.cgroup)
    checks = kernel_checks(sr.preset("gvisor", "img").build(), state, "exec probe", [], gvisor=True)
    assert not next(c for c in checks if c.property == "CapBnd").ok


def test_runtimes_run_without_a_network_are_read_from_their_arguments() -> None:
    """runsc with --network=none in its runtimeArgs is networkless; the others are not."""
    assert _facts().networkless_runtimes == ("runsc",)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.host_namespace("pid").opt_in("host-namespace"), "pid_mode"),
        (lambda b: b.host_namespace("ipc").opt_in("host-namespace"), "ipc_mode"),
        (lambda b: b.host_namespace("uts").opt_in("host-namespace"), "uts_mode"),
        (lambda b: b.host_namespace("network").opt_in("host-namespace"), "network"),
        (lambda b: b.device("/dev/null", "/dev/hostnull", "r").opt_in("devices"), "device"),
        (lambda b: b.sysctl("net.ipv4.ip_unprivileged_port_start", 80), "sysctl"),
    ],
)
def test_what_runsc_would_drop_is_refused(change: Any, field: str) -> None:
    """A host namespace, a device or a sysctl under gVisor is refused, naming gVisor."""
    cfg = change(sr.preset("gvisor", "img")).build()
    (problem,) = [p for p in unsupported(cfg, _facts()) if p.field == field]
    assert "gVisor" in problem.message
    assert "'runsc'" in problem.message
    assert "runtime('runc')" in problem.fix
    under_runc = change(sr.preset("gvisor", "img").runtime("runc")).build()
    assert unsupported(under_runc, _facts()) == []


def test_a_network_under_a_networkless_runsc_is_refused() -> None:
    """A network and a published port under runsc --network=none are refused; not elsewhere."""
    builder = sr.preset("gvisor", "img").network("bridge").publish(8080)
    fields = {p.field for p in unsupported(builder.build(), _facts())}
    assert {"network", "ports"} <= fields
    wrapper = {p.field for p in unsupported(builder.runtime("sandboxed").build(), _facts())}
    assert not {"network", "ports"} & wrapper


def test_seccomp_is_read_from_pid_1_when_the_exec_has_none() -> None:
    """An exec into runsc shows Seccomp 0; pid 1's 2 passes the check, with a note."""
    state = _inside_gvisor()
    state = KernelState(
        status=state.status, limits={}, mounts=state.mounts, cgroup=state.cgroup,
        init_seccomp="2",
    )  # fmt: skip
    notes: list[str] = []
    cfg = sr.preset("gvisor", "img").build()
    checks = list(kernel_checks(cfg, state, "exec probe", notes, gvisor=True))
    seccomp = next(c for c in checks if c.property == "Seccomp")
    assert seccomp.ok
    assert "pid 1" in seccomp.source
    assert any("docker exec" in n for n in notes)

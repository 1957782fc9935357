"""The rootless rules: limits refused on an engine without cgroups unless waived, and noted."""

from __future__ import annotations

import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, unsupported
from secure_run._engine.rootless import (
    CGROUP_LIMITS,
    rootless_problems,
    rootless_waivers,
    unenforced_limits,
    with_waivers,
)
from secure_run._proof.kernel import CgroupLimits, KernelState
from secure_run._proof.kernel_checks import kernel_checks

_INFO = {
    "OSType": "linux",
    "CgroupDriver": "none",
    "CgroupVersion": "1",
    "SecurityOptions": ["name=seccomp,profile=default", "name=rootless"],
    "NCPU": 2,
}


def _facts(**info: object) -> EngineFacts:
    return EngineFacts.parse({**_INFO, **info}, {"ApiVersion": "1.41"}, api_version="1.41",
                             local=True)  # fmt: skip


def _cfg(*opt_ins: str) -> sr.RunConfig:
    return sr.preset("restricted", "img").opt_in(*opt_ins).build() if opt_ins else (
        sr.preset("restricted", "img").build()
    )


def test_rootless_engine_without_cgroups_is_recognised():
    """name=rootless with Cgroup Driver none is an engine without cgroups; systemd is not."""
    assert _facts().without_cgroups
    assert not _facts(CgroupDriver="systemd", CgroupVersion="2").without_cgroups
    assert not _facts(SecurityOptions=["name=seccomp"]).without_cgroups


def test_each_limit_is_refused_naming_the_engine_and_the_fix():
    """Every limit the preset sets is one problem naming rootless, the fix and the opt-in."""
    cfg = _cfg()
    problems = unsupported(cfg, _facts())
    assert [p.field for p in problems] == list(unenforced_limits(cfg))
    assert {"memory", "pids_limit", "cpus"} <= {p.field for p in problems}
    for p in problems:
        assert "rootless without cgroups" in p.message
        assert "cgroup v2 host with systemd" in p.fix
        assert "unenforced-limits" in p.fix


def test_the_opt_in_waives_the_limits_and_is_recorded():
    """With 'unenforced-limits' nothing is refused, and the label records the waiver."""
    cfg = _cfg("unenforced-limits")
    assert unsupported(cfg, _facts()) == []
    assert rootless_problems(cfg) == []
    assert rootless_waivers(cfg) == (sr.OptIn.UNENFORCED_LIMITS,)
    labels = with_waivers({"io.secure-run.opt-ins": "root-user"}, rootless_waivers(cfg))
    assert labels["io.secure-run.opt-ins"] == "root-user,unenforced-limits"


def test_a_config_without_limits_needs_no_opt_in():
    """A config with no limit at all is not refused and waives nothing."""
    cfg = sr.preset("restricted", "img").memory(None).cpus(None).pids_limit(None).opt_in(
        "unlimited-memory", "unlimited-cpu", "unlimited-pids").build()  # fmt: skip
    assert unenforced_limits(cfg) == ()
    assert unsupported(cfg, _facts()) == []
    assert rootless_waivers(cfg) == ()


@pytest.mark.parametrize("field", CGROUP_LIMITS)
def test_every_dropped_limit_is_a_field_of_the_config(field):
    """Each name in CGROUP_LIMITS is a RunConfig field (a renamed field would go unnoticed)."""
    assert field in {a.name for a in sr.RunConfig.__attrs_attrs__}


def test_waived_limits_are_notes_not_failures():
    """verify's kernel checks note waived limits with what the files read, and fail none."""
    cfg = _cfg("unenforced-limits")
    cgroup = CgroupLimits(version=1, files={"memory/memory.limit_in_bytes": "9223372036854771712"})
    state = KernelState(status={"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534",
                                "NoNewPrivs": "1", "Seccomp": "2"}, limits={}, mounts=(),
                        cgroup=cgroup)  # fmt: skip
    notes: list[str] = []
    checks = list(kernel_checks(cfg, state, "exec probe", notes, unenforced=True))
    assert not [c for c in checks if c.property.startswith("cgroup ")]
    assert any("not enforced by the engine" in n and "9223372036854771712" in n for n in notes)
    failed = list(kernel_checks(cfg, state, "exec probe", [], unenforced=False))
    assert any(c.property == "cgroup memory.limit_in_bytes" and not c.ok for c in failed)


@pytest.mark.parametrize(
    ("change", "field", "said"),
    [
        (lambda b: b.host_namespace("pid"), "pid_mode", "mount proc:/proc"),
        (lambda b: b.host_namespace("ipc"), "ipc_mode", "mount mqueue:/dev/mqueue"),
        (lambda b: b.device("/dev/null", "/dev/mynull"), "device", "error creating device nodes"),
    ],
    ids=["host-pid", "host-ipc", "renamed-device"],
)
def test_what_runc_cannot_start_rootless_is_refused(change, field, said):
    """The host PID and IPC namespaces and a renamed device are refused on a rootless engine
    (with cgroups or not), each naming the engine, runc's error and a fix."""
    builder = sr.preset("restricted", "img").opt_in("unenforced-limits", "host-namespace",
                                                    "devices")  # fmt: skip
    cfg = change(builder).build()
    for facts in (_facts(), _facts(CgroupDriver="systemd", CgroupVersion="2")):
        problems = [p for p in unsupported(cfg, facts) if p.field == field]
        assert len(problems) == 1, problems
        assert "runs rootless" in problems[0].message
        assert said in problems[0].message
        assert "rootful engine" in problems[0].fix
    rootful = _facts(SecurityOptions=["name=seccomp"], CgroupDriver="cgroupfs")
    assert not [p for p in unsupported(cfg, rootful) if p.field == field]


def test_a_device_at_its_host_path_is_not_refused():
    """A device given at its own path starts on a rootless engine (runc bind-mounts it)."""
    cfg = sr.preset("restricted", "img").opt_in("unenforced-limits", "devices").device(
        "/dev/null").build()  # fmt: skip
    assert unsupported(cfg, _facts()) == []

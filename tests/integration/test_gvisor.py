"""The gvisor preset and verify() on an engine that runs gVisor (scripts/engines/gvisor.sh).

Skipped unless the engine the environment names has a gVisor runtime.
"""

from __future__ import annotations

from typing import Any

import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import engine_facts
from secure_run.testing import TEST_LABELS

pytestmark = pytest.mark.docker


@pytest.fixture
def gvisor(docker_client: docker.DockerClient) -> docker.DockerClient:
    """The client, if its engine has a gVisor runtime."""
    if not engine_facts(docker_client).gvisor_runtimes:
        pytest.skip("the engine has no gVisor runtime (scripts/engines.sh up gvisor)")
    return docker_client


def _builder(name: str, image: str) -> sr.RunBuilder:
    return sr.preset(name, image).labels(TEST_LABELS)


@pytest.mark.parametrize("how", ["preset", "sandbox+runtime"])
def test_launch_under_gvisor_verifies_with_no_false_failure(
    gvisor: docker.DockerClient, test_image: str, how: str
) -> None:
    """sr.launch of the gvisor preset (or sandbox under runsc) verifies, read from inside."""
    if how == "preset":
        b = _builder("gvisor", test_image)
    else:
        b = _builder("sandbox", test_image).runtime("runsc").pids_limit(128)
    with sr.launch(b.command(["sleep", "60"]).build(), client=gvisor) as box:
        report = sr.verify(box)
    assert report.ok, str(report)
    assert "exec probe" in report.sources()
    assert any("not visible under gVisor" in note for note in report.notes)
    seccomp = next(c for c in report.checks if c.property == "Seccomp")  # the workload's
    assert (seccomp.actual, seccomp.source) == ("2 (filter)", "exec probe, pid 1")
    assert any("`docker exec` into runsc gets no seccomp filter" in n for n in report.notes)


@pytest.mark.parametrize("name", ["restricted", "sandbox", "service", "baseline"])
def test_every_preset_under_runsc_verifies_with_no_false_failure(
    gvisor: docker.DockerClient, test_image: str, name: str
) -> None:
    """sr.launch of each preset under runsc (pids at least 128) verifies, with a workspace."""
    b = _builder(name, test_image).runtime("runsc").workspace("/workspace", size="16m")
    if (b.build().pids_limit or 0) < 128:
        b = b.pids_limit(128)
    with sr.launch(b.command(["sleep", "60"]).build(), client=gvisor) as box:
        report = sr.verify(box)
    assert report.ok, str(report)
    assert any(c.property == "mount /workspace" and c.ok for c in report.checks)


def test_verify_catches_a_memory_limit_raised_behind_the_librarys_back(
    gvisor: docker.DockerClient, test_image: str
) -> None:
    """A container made through raw docker-py with 512m fails the gvisor preset's 256m."""
    cfg = _builder("gvisor", test_image).command(["sleep", "60"]).build()
    kwargs = cfg.to_docker_kwargs()
    kwargs.update(mem_limit="512m", memswap_limit="512m")
    raw = gvisor.containers.run(detach=True, **kwargs)
    try:
        report = sr.verify(raw, cfg, client=gvisor, strict=False)
    finally:
        raw.remove(force=True)
    failed = {c.property for c in report.failures}
    assert "HostConfig.Memory" in failed
    assert any("memory" in p and p != "HostConfig.Memory" for p in failed), failed


def test_a_pids_limit_runsc_cannot_start_with_is_refused_before_create(
    gvisor: docker.DockerClient, test_image: str
) -> None:
    """sandbox (pids_limit 64) under runsc is refused with UnsupportedFeature before create."""
    cfg = _builder("sandbox", test_image).runtime("runsc").command(["true"]).build()
    with pytest.raises(sr.UnsupportedFeature, match="pids_limit"):
        sr.launch(cfg, client=gvisor)


def test_verify_catches_a_capability_kept_behind_the_librarys_back(
    gvisor: docker.DockerClient, test_image: str
) -> None:
    """A container made through raw docker-py without cap_drop fails CapDrop and CapBnd."""
    cfg = _builder("gvisor", test_image).command(["sleep", "60"]).build()
    kwargs = cfg.to_docker_kwargs()
    kwargs.pop("cap_drop")
    raw = gvisor.containers.run(detach=True, **kwargs)
    try:
        report = sr.verify(raw, cfg, client=gvisor, strict=False)
    finally:
        raw.remove(force=True)
    failed = {c.property for c in report.failures}
    assert {"HostConfig.CapDrop", "CapBnd"} <= failed


def test_a_timed_out_exec_ends_the_session_under_gvisor(
    gvisor: docker.DockerClient, test_image: str
) -> None:
    """Under gVisor a timed-out exec ends the session: container killed and removed, later
    calls say why (the host's pids are the sandbox's, so no process is killed one by one)."""
    cfg = _builder("gvisor", test_image).command(["sleep", "600"]).build()
    with sr.launch(cfg, client=gvisor) as box:
        result = box.exec(["sh", "-c", "(setsid sleep 1000 &) ; sleep 1000"], timeout=1)
        assert (result.timed_out, result.exit_code) == (True, 137)
        assert box.closed
        assert box.id not in {c["Id"] for c in gvisor.api.containers(all=True)}
        with pytest.raises(sr.LaunchError, match="the container runs under runsc, not runc"):
            box.exec(["true"])


def test_a_timed_out_exec_stream_in_a_workspace_session_ends_it_under_gvisor(
    gvisor: docker.DockerClient, test_image: str
) -> None:
    """Under gVisor a stream past its deadline ends the session too; what was put stays
    readable until then, and container, keeper and workspace volume are gone at the end."""
    cfg = _builder("gvisor", test_image).workspace("/workspace", "16m")
    with sr.launch(cfg.command(["sleep", "600"]).build(), client=gvisor) as box:
        assert box.workspace is not None
        keeper, volume = box.workspace.keeper_id, box.workspace.volume
        box.put("in.txt", b"kept")
        assert box.get("in.txt") == b"kept"
        with box.exec_stream(["sh", "-c", "cat in.txt; sleep 1000"], timeout=1) as stream:
            assert list(stream) == [("stdout", b"kept")]
        assert stream.result is not None
        assert stream.result.timed_out
        assert box.closed
        assert box.id not in {c["Id"] for c in gvisor.api.containers(all=True)}
    assert keeper not in {c["Id"] for c in gvisor.api.containers(all=True)}
    assert volume not in {v["Name"] for v in gvisor.api.volumes().get("Volumes") or ()}


def test_a_memory_hog_is_killed_at_64m(gvisor: docker.DockerClient, test_image: str) -> None:
    """Under gVisor a 64m limit kills a hog that allocates far more (exit 137)."""
    hog = "x=a; while true; do x=$x$x$x$x; done"
    cfg = _builder("gvisor", test_image).memory("64m").command(["sh", "-c", hog]).build()
    result = sr.run(cfg, client=gvisor, timeout=120)
    assert result.exit_code == 137


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.host_namespace("pid").opt_in("host-namespace"), "pid_mode"),
        (lambda b: b.host_namespace("uts").opt_in("host-namespace"), "uts_mode"),
        (lambda b: b.device("/dev/null", "/dev/hostnull", "r").opt_in("devices"), "device"),
        (lambda b: b.sysctl("net.ipv4.ip_unprivileged_port_start", 80), "sysctl"),
    ],
    ids=["host-pid", "host-uts", "device", "sysctl"],
)
def test_what_runsc_would_drop_is_refused_before_create(
    gvisor: docker.DockerClient, test_image: str, change: Any, field: str
) -> None:
    """runsc starts these with the setting silently dropped: refused, nothing created."""
    cfg = change(_builder("gvisor", test_image).command(["true"])).build()
    before = len(gvisor.api.containers(all=True))
    with pytest.raises(sr.UnsupportedFeature) as caught:
        sr.launch(cfg, client=gvisor)
    assert [p.field for p in caught.value.problems] == [field]
    assert "gVisor (runtime 'runsc')" in caught.value.problems[0].message
    assert len(gvisor.api.containers(all=True)) == before


def test_a_network_under_runsc_without_one_is_refused(
    gvisor: docker.DockerClient, test_image: str
) -> None:
    """With --network=none in runsc's runtimeArgs, a network and a port are refused."""
    if "runsc" not in engine_facts(gvisor).networkless_runtimes:
        pytest.skip("this engine runs runsc with a network (no --network=none)")
    cfg = _builder("gvisor", test_image).network("bridge").publish(8080).build()
    with pytest.raises(sr.UnsupportedFeature) as caught:
        sr.launch(cfg, client=gvisor)
    assert {p.field for p in caught.value.problems} == {"network", "ports"}

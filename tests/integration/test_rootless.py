"""The library on a rootless engine without cgroups (``scripts/engines.sh up rootless``).

On this cgroup v1 host rootless Docker accepts memory, CPU and pids limits and applies
none of them. These tests show, from inside real containers, that the limits are absent
(so refusing them is truthful), that the refusal comes before create without the opt-in
'unenforced-limits', and that with it everything else still holds and is verified. On
any other engine they skip, saying so.
"""

from __future__ import annotations

import attrs
import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts
from secure_run._errors import UnsupportedFeature
from secure_run.testing import TEST_LABELS

SLEEP = ["sleep", "60"]
WAIVER = sr.OptIn.UNENFORCED_LIMITS


@pytest.fixture(autouse=True)
def _rootless(engine: EngineFacts) -> None:
    if not engine.without_cgroups:
        pytest.skip("needs a rootless engine without cgroups (scripts/engines.sh up rootless)")


def _config(image: str, *, waived: bool = True) -> sr.RunConfig:
    cfg = (sr.preset("restricted", image).pids_limit(16).opt_in(WAIVER).command(SLEEP)
           .labels(TEST_LABELS).build())  # fmt: skip
    return cfg if waived else attrs.evolve(cfg, opt_ins=[o for o in cfg.opt_ins if o != WAIVER])


def _ids(client: docker.DockerClient) -> set[str]:
    return {c["Id"] for c in client.api.containers(all=True)}


def test_limits_are_refused_before_create_without_the_opt_in(docker_client, test_image):
    """Without 'unenforced-limits' each limit is refused, naming the engine, and nothing is made."""
    cfg = _config(test_image, waived=False)
    before = _ids(docker_client)
    with pytest.raises(UnsupportedFeature) as caught:
        sr.launch(cfg, client=docker_client)
    fields = {p.field for p in caught.value.problems}
    assert {"memory", "cpus", "pids_limit"} <= fields
    assert all("rootless without cgroups" in p.message for p in caught.value.problems)
    assert "cgroup v2 host with systemd" in str(caught.value)
    assert _ids(docker_client) == before


def test_the_limits_are_absent_inside(docker_client, test_image):
    """Inside, memory is unlimited, pids.max is absent and 24 processes outgrow pids_limit 16."""
    with sr.launch(_config(test_image), client=docker_client) as box:
        memory = box.exec(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]).stdout
        pids = box.exec(["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max || echo absent"]).stdout
        spawned = box.exec(["sh", "-c", "for i in $(seq 24); do sleep 30 & done; "
                            "sleep 1; ls -d /proc/[0-9]* | wc -l"]).stdout  # fmt: skip
    assert int(memory) >= 2**62  # PAGE_COUNTER_MAX: no limit
    assert pids.split()[-1] == b"absent"
    assert int(spawned) > 16


def test_a_memory_hog_and_a_process_swarm_outgrow_their_limits(docker_client, test_image):
    """Under memory 64 MiB and pids_limit 32 a shell holds 100 MB and 43 processes run."""
    cfg = (sr.preset("restricted", test_image).memory("64m", reservation=None).pids_limit(32)
           .opt_in(WAIVER).command(SLEEP).labels(TEST_LABELS).build())  # fmt: skip
    with sr.launch(cfg, client=docker_client) as box:
        inspect = box.inspect()["HostConfig"]
        hog = box.exec(["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); "
                        "echo ${#x}; grep VmHWM /proc/$$/status; true"]).stdout.split()  # fmt: skip
        swarm = box.exec(["sh", "-c", "for i in $(seq 43); do sleep 30 & done; sleep 1; "
                          "ls -d /proc/[0-9]* | wc -l"]).stdout  # fmt: skip
    assert (inspect["Memory"], inspect["PidsLimit"]) == (64 << 20, 32)  # kept in inspect
    assert hog[0] == b"100000000"
    assert int(hog[2]) * 1024 > 100_000_000 > 64 << 20  # the shell's peak resident set (kB)
    assert int(swarm) > 32


def test_with_the_opt_in_everything_else_holds_and_verifies(docker_client, test_image):
    """uid, caps, NoNewPrivs, seccomp and the read-only root hold; the limits are notes."""
    with sr.launch(_config(test_image), client=docker_client) as box:
        report = box.verify()
        status = box.exec(["cat", "/proc/self/status"]).stdout.decode()
        write = box.exec(["sh", "-c", "touch /x"])
        labels = box.inspect()["Config"]["Labels"]
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == ["65534"] * 4
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"
    assert write.exit_code != 0
    assert b"Read-only file system" in write.stderr
    assert report.ok, str(report)
    assert any("not enforced by the engine" in note for note in report.notes)
    assert "unenforced-limits" in labels["io.secure-run.opt-ins"].split(",")


def test_verify_catches_a_weakened_container(docker_client, test_image):
    """A container made behind the library's back as root, with capabilities, fails verify."""
    cfg = _config(test_image)
    kwargs = cfg.to_docker_kwargs()
    kwargs.update(user="0", cap_drop=None)
    container = docker_client.containers.run(**kwargs, detach=True)
    try:
        report = sr.verify(container.id, cfg, client=docker_client, strict=False)
    finally:
        container.remove(force=True)
    failed = {c.property for c in report.failures}
    assert {"Uid", "CapEff"} <= failed


def test_verify_catches_a_container_made_without_cap_drop(docker_client, test_image):
    """Made through raw docker-py without cap_drop: the record and the kernel's bounding set
    fail (read by the exec probe: the host's /proc cannot tell the process apart here)."""
    cfg = _config(test_image)
    kwargs = cfg.to_docker_kwargs()
    kwargs.pop("cap_drop")
    container = docker_client.containers.run(**kwargs, detach=True)
    try:
        report = sr.verify(container.id, cfg, client=docker_client, strict=False)
    finally:
        container.remove(force=True)
    failed = {c.property: c.source for c in report.failures}
    assert failed["HostConfig.CapDrop"] == "inspect"
    assert failed["CapBnd"] == "exec probe"
    assert "Uid" not in failed


def test_doctor_reports_the_rootless_posture(docker_client):
    """doctor: rootless and CIS 2.9 pass (the daemon is in a user namespace); cgroup warns."""
    report = sr.doctor(docker_client)
    status = {f.id: f.status for f in report.findings}
    assert status["rootless"] == "pass"
    assert status["2.9-userns-remap"] == "pass"
    assert status["cgroup"] == "warn"

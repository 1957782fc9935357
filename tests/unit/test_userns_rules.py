"""userns-remap without an engine: the facts, the settings refused, the owner of a tmpfs."""

from __future__ import annotations

from typing import Any

import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, unsupported
from secure_run._engine.userns import LEAVE_REMAP, remap_root, userns_problems
from secure_run._proof.kernel import KernelState, cgroup_limits, parse_mountinfo
from secure_run._proof.kernel_checks import kernel_checks

INFO = {
    "SecurityOptions": ["name=seccomp,profile=default", "name=userns"],
    "DockerRootDir": "/tmp/secure-run-engines/userns/data/100000.100000",
    "OSType": "linux",
}
MAP = ((0, 100000, 65536),)


def _facts(info: dict[str, Any]) -> EngineFacts:
    return EngineFacts.parse(info, {"ApiVersion": "1.41"}, api_version="1.41", local=True)


def test_root_of_the_remap_is_read_from_the_data_root() -> None:
    """DockerRootDir <root>/100000.100000 gives root's host ids; 65534 inside is 165534."""
    facts = _facts(INFO)
    assert (facts.userns, facts.userns_root) == (True, (100000, 100000))
    assert facts.host_ids(65534, 1000) == (165534, 101000)


@pytest.mark.parametrize(
    "info",
    [
        {**INFO, "SecurityOptions": ["name=seccomp,profile=default"]},
        {**INFO, "DockerRootDir": "/var/lib/docker"},
    ],
    ids=["no-remap", "root-dir-without-ids"],
)
def test_without_a_known_remap_ids_are_the_hosts(info: dict[str, Any]) -> None:
    """No name=userns, or no <uid>.<gid> root: the ids are given unchanged."""
    assert _facts(info).host_ids(65534, 65534) == (65534, 65534)


def test_remap_root_needs_both_ids() -> None:
    """Only a trailing <uid>.<gid> counts."""
    assert remap_root({"DockerRootDir": "/srv/docker/231072.231072/"}) == (231072, 231072)
    assert remap_root({"DockerRootDir": "/srv/docker.1/x"}) is None
    assert remap_root({}) is None


CASES = {
    "privileged": lambda b: b.privileged().opt_in("privileged"),
    "network": lambda b: b.network("host").opt_in("host-namespace"),
    "pid_mode": lambda b: b.host_namespace("pid").opt_in("host-namespace"),
    "ipc_mode": lambda b: b.host_namespace("ipc").opt_in("host-namespace"),
    "device": lambda b: b.device("/dev/null", "/dev/hostnull", "r").opt_in("devices"),
}


@pytest.mark.parametrize("field", sorted(CASES))
def test_each_setting_the_remap_refuses_is_one_problem_with_the_fix(field: str) -> None:
    """Under userns-remap, each is refused with the fix that leaves the remap."""
    cfg = CASES[field](sr.builder("img")).build()
    problems = [p for p in unsupported(cfg, _facts(INFO)) if "userns-remap" in p.message]
    assert [p.field for p in problems] == [field]
    assert LEAVE_REMAP in problems[0].fix


@pytest.mark.parametrize("field", sorted(CASES))
def test_leaving_the_remap_or_no_remap_refuses_nothing(field: str) -> None:
    """With userns_mode='host', or on an engine that does not remap, none is refused."""
    builder = CASES[field](sr.builder("img"))
    left = builder.host_namespace("userns").opt_in("host-namespace").build()
    assert userns_problems(left) == []
    plain = _facts({**INFO, "SecurityOptions": ["name=seccomp,profile=default"]})
    assert not [p for p in unsupported(builder.build(), plain) if "userns" in p.message]


def test_a_device_at_its_host_path_is_not_refused() -> None:
    """runc binds the device from its container path: the same path works in the remap."""
    cfg = sr.builder("img").device("/dev/null", "/dev/null", "r").opt_in("devices").build()
    assert userns_problems(cfg) == []


def _workspace_check(owner: str, uid_map: tuple[tuple[int, int, int], ...]) -> sr.Check:
    cfg = sr.preset("sandbox", "img").workspace("/workspace", "16m").build()
    line = (
        "190 170 0:70 / /workspace rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs "
        f"rw,size=16384k,mode=700{owner}"
    )
    state = KernelState(
        status={},
        limits={},
        mounts=tuple(parse_mountinfo([line])),
        cgroup=cgroup_limits(1, {}),
        uid_map=uid_map,
        gid_map=uid_map,
    )
    checks = kernel_checks(cfg, state, "host /proc/1", [])
    return next(c for c in checks if c.property == "mount /workspace")


def test_a_tmpfs_owner_is_read_through_the_map() -> None:
    """uid=165534 on the host is 65534 inside: the workspace's owner passes."""
    check = _workspace_check(",uid=165534,gid=165534", MAP)
    assert check.ok, check
    assert "uid=65534 gid=65534" in check.actual


@pytest.mark.parametrize(
    ("owner", "shown"),
    [(",uid=65534,gid=65534", "uid=unmapped(65534)"), ("", "uid=unmapped(0)")],
    ids=["host-ids-given-as-is", "host-root"],
)
def test_a_tmpfs_owned_by_an_unmapped_host_id_fails(owner: str, shown: str) -> None:
    """A host id outside the map is no owner inside, even one equal to the wanted id."""
    check = _workspace_check(owner, MAP)
    assert not check.ok
    assert shown in check.actual


def test_without_a_map_the_owner_is_compared_as_read() -> None:
    """No user namespace: uid=65534 is the owner, as before."""
    assert _workspace_check(",uid=65534,gid=65534", ()).ok

"""sr.service() on a real 3-node swarm: each task verified from inside on its node."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import docker
import docker.errors
import docker.types
import pytest

import secure_run as sr
from secure_run.testing import TEST_IMAGE

OPT_INS = ("swarm-daemon-nnp", "swarm-default-swap")
SPREAD = [("spread", "node.labels.sr-node")]


def job(**steps: object) -> sr.RunConfig:
    """The sandbox preset running a long sleep, on the test image."""
    b = sr.preset("sandbox", TEST_IMAGE).command(["sleep", "600"])
    for name, args in steps.items():
        b = getattr(b, name)(*args)  # type: ignore[operator]
    return b.build()


def in_task(node: docker.DockerClient, container_id: str, script: str) -> str:
    exec_id = node.api.exec_create(container_id, ["sh", "-c", script])["Id"]
    return node.api.exec_start(exec_id).decode()


def test_three_replicas_spread_and_each_verified_from_inside(swarm_manager, swarm_nodes):
    """3 replicas land on 3 nodes, and verify() passes each from an exec probe inside it."""
    with sr.service(job(), replicas=3, client=swarm_manager, opt_ins=OPT_INS,
                    preferences=SPREAD) as svc:  # fmt: skip
        tasks = svc.wait_running(60)
        assert len({t["NodeID"] for t in tasks}) == 3
        report = sr.verify(svc, swarm_nodes, kernel="exec")
        assert report.ok, str(report)
        assert len(report.tasks) == 3
        addresses = os.environ["SECURE_RUN_SWARM_NODES"].split(",")  # in swarm_nodes' order
        urls = {n.info()["Swarm"]["NodeID"]: url for n, url in zip(swarm_nodes, addresses)}
        assert {t.task_id: t.node_id for t in report.tasks} == {t["ID"]: t["NodeID"] for t in tasks}
        for t in report.tasks:  # one report per task, each read on the node that runs it
            assert t.node == urls[t.node_id]
            assert t.task_id[:12] in str(report)
            props = {c.property: c for c in t.report.checks}
            assert props["NoNewPrivs"].actual == "1"
            assert props["NoNewPrivs"].source == "exec probe"
            nnp = props["no-new-privileges (node daemon, swarm-daemon-nnp)"]
            assert (nnp.ok, nnp.actual, nnp.source) == (True, "1", "exec probe")
            assert props["Uid"].ok
            assert props["cgroup memory.limit_in_bytes"].ok
            assert props["cgroup pids.max"].ok
            assert "CapEff" in props


def test_labels_owner_and_logs(swarm_manager):
    """The service and its task containers carry the managed and owner labels; logs are read."""
    cfg = job(command=(["sh", "-c", "echo hello-from-task; sleep 600"],))
    with sr.service(cfg, client=swarm_manager, opt_ins=OPT_INS) as svc:
        svc.wait_running(60)
        labels = svc.inspect()["Spec"]["Labels"]
        assert labels["io.secure-run.managed"] == "1"
        assert labels["io.secure-run.owner"]
        spec = svc.inspect()["Spec"]["TaskTemplate"]["ContainerSpec"]["Labels"]
        assert spec["io.secure-run.owner"] == labels["io.secure-run.owner"]
        assert "swarm-daemon-nnp" in spec["io.secure-run.opt-ins"]
        for _ in range(50):
            if "hello-from-task" in svc.logs():
                break
        assert "hello-from-task" in svc.logs()


def _raw_update(manager: docker.DockerClient, svc: sr.SecureService, **extra: object) -> None:
    """Behind the library's back: drop the read-only root and the pids limit from the spec."""
    raw = manager.services.get(svc.id)
    spec = svc.inspect()["Spec"]["TaskTemplate"]
    spec["ContainerSpec"]["ReadOnly"] = False
    del spec["Resources"]["Limits"]["Pids"]
    manager.api.update_service(
        svc.id, version=raw.version, task_template=spec, name=svc.name,
        labels=raw.attrs["Spec"]["Labels"], mode=raw.attrs["Spec"]["Mode"],
        endpoint_spec=raw.attrs["Spec"].get("EndpointSpec"),
        networks=spec.get("Networks"), **extra,
    )  # fmt: skip


def test_weakening_behind_the_librarys_back_is_caught(swarm_manager, swarm_nodes):
    """A raw update dropping the pids limit and read-only root fails verify() once rolled out."""
    with sr.service(job(), replicas=1, client=swarm_manager, opt_ins=OPT_INS) as svc:
        svc.wait_running(60)
        _raw_update(swarm_manager, svc)
        svc.wait_running(60)  # waits for the update to finish, not just for a running task
        report = sr.verify(svc, swarm_nodes, strict=False)
        failed = {c.property.rpartition(": ")[2] for c in report.failures}
        # seen by both sources: the daemon's record and the kernel's state
        weakened = {"HostConfig.ReadonlyRootfs", "HostConfig.PidsLimit"}
        weakened |= {"mount /", "cgroup pids.max"}
        assert failed == weakened, str(report)
        with pytest.raises(sr.HardeningNotApplied):
            sr.verify(svc, swarm_nodes)


def test_verify_mid_update_says_the_service_is_being_updated(swarm_manager, swarm_nodes):
    """verify() while the manager replaces the tasks fails on the update state, with a note."""
    with sr.service(job(), replicas=2, client=swarm_manager, opt_ins=OPT_INS) as svc:
        svc.wait_running(60)
        # one task at a time, a minute apart: the update stays under way for a minute
        slow = docker.types.UpdateConfig(parallelism=1, delay=60 * 10**9)
        _raw_update(swarm_manager, svc, update_config=slow)
        for _ in range(100):
            if (svc.inspect().get("UpdateStatus") or {}).get("State") == "updating":
                break
            time.sleep(0.1)
        report = sr.verify(svc, swarm_nodes, strict=False)
        update = next(c for c in report.checks if c.property == "service update")
        assert not update.ok
        assert update.actual.startswith("updating")
        assert any("being updated" in n for n in report.notes), report.notes
        assert "being updated" in str(report)
        with pytest.raises(sr.RunTimeout, match="update updating"):
            svc.wait_running(2)


def test_network_none_has_no_route_out(swarm_manager, swarm_nodes):
    """network none: each task is on an internal overlay alone, with no default route."""
    with sr.service(job(), replicas=2, client=swarm_manager, opt_ins=OPT_INS,
                    preferences=SPREAD) as svc:  # fmt: skip
        tasks = svc.wait_running(60)
        report = sr.verify(svc, swarm_nodes)
        assert report.ok, str(report)
        by_id = {n.info()["Swarm"]["NodeID"]: n for n in swarm_nodes}
        for task in tasks:
            node = by_id[task["NodeID"]]
            cid = task["Status"]["ContainerStatus"]["ContainerID"]
            routes = in_task(node, cid, "cat /proc/net/route").splitlines()[1:]
            assert routes, "the overlay's link route"
            assert all(r.split()[1] != "00000000" for r in routes), routes
            out = in_task(node, cid, "ping -c1 -W1 10.213.0.1 2>&1; echo rc=$?")
            assert "rc=0" not in out


def test_restart_policy_is_always_sent(swarm_manager):
    """With no restart in the config the service still carries condition none."""
    with sr.service(job(), client=swarm_manager, opt_ins=OPT_INS) as svc:
        policy = svc.inspect()["Spec"]["TaskTemplate"]["RestartPolicy"]
        assert policy["Condition"] == "none"


def test_memory_reservation_is_the_schedulers(swarm_manager, swarm_nodes):
    """The reservation is the service's scheduler reservation; the task has no soft limit."""
    cfg = job()
    with sr.service(cfg, client=swarm_manager, opt_ins=OPT_INS) as svc:
        (task,) = svc.wait_running(60)
        res = svc.inspect()["Spec"]["TaskTemplate"]["Resources"]["Reservations"]
        assert res["MemoryBytes"] == cfg.memory_reservation
        node = {n.info()["Swarm"]["NodeID"]: n for n in swarm_nodes}[task["NodeID"]]
        info = node.api.inspect_container(task["Status"]["ContainerStatus"]["ContainerID"])
        assert info["HostConfig"]["MemoryReservation"] == 0


def test_nnp_at_141_is_refused_without_the_opt_in(swarm_manager):
    """At the manager's API 1.41, no-new-privileges without swarm-daemon-nnp is refused."""
    if str(swarm_manager.api.api_version) >= "1.44":
        pytest.skip("the manager carries Privileges.NoNewPrivileges")
    with pytest.raises(sr.UnsupportedFeature) as caught:
        sr.service(job(), client=swarm_manager, opt_ins=["swarm-default-swap"])
    (problem,) = caught.value.problems
    assert problem.field == "no_new_privileges"
    assert f"Engine API {swarm_manager.api.api_version} " in problem.message
    assert "Privileges.NoNewPrivileges needs API 1.44" in problem.message
    assert "--no-new-privileges" in problem.fix
    assert "swarm-daemon-nnp" in problem.fix
    assert not swarm_manager.api.services(filters={"label": "io.secure-run.managed"})


def test_seccomp_default_applies_on_each_task(swarm_manager, swarm_nodes):
    """The default seccomp profile, sent as no field at API 1.41, is Seccomp 2 in each task."""
    with sr.service(job(), replicas=3, client=swarm_manager, opt_ins=OPT_INS,
                    preferences=SPREAD) as svc:  # fmt: skip
        svc.wait_running(60)
        report = sr.verify(svc, swarm_nodes, kernel="exec")
        for t in report.tasks:
            seccomp = next(c for c in t.report.checks if c.property == "Seccomp")
            assert seccomp.ok, seccomp
            assert seccomp.actual.startswith("2")


def test_scale_changes_the_running_count(swarm_manager):
    """scale(2) then scale(1): tasks() follows the desired count; all tasks keep the old one."""
    with sr.service(job(), replicas=1, client=swarm_manager, opt_ins=OPT_INS) as svc:
        svc.wait_running(60)
        assert len(svc.tasks()) == 1
        svc.scale(2)
        assert len(svc.wait_running(60, replicas=2)) == 2
        assert len(svc.wait_running(60)) == 2
        assert len(svc.tasks()) == 2
        svc.scale(1)
        deadline = time.monotonic() + 60
        while len(svc.running_tasks()) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(svc.tasks()) == 1  # desired state running
        assert len(svc.tasks(desired_state=None)) >= 2  # and the one shut down


def on_its_node(nodes: list[docker.DockerClient], task: dict) -> tuple[docker.DockerClient, str]:
    """The client of the node that runs ``task``, and the task's container id."""
    node = {n.info()["Swarm"]["NodeID"]: n for n in nodes}[task["NodeID"]]
    return node, task["Status"]["ContainerStatus"]["ContainerID"]


def test_task_containers_carry_the_services_labels(swarm_manager, swarm_nodes):
    """Each task container, read on its node, has the service's managed, owner and opt-in labels."""
    cfg = job()
    with sr.service(cfg, replicas=3, client=swarm_manager, opt_ins=OPT_INS,
                    preferences=SPREAD) as svc:  # fmt: skip
        service_labels = svc.inspect()["Spec"]["Labels"]
        for task in svc.wait_running(60):
            node, cid = on_its_node(swarm_nodes, task)
            labels = node.api.inspect_container(cid)["Config"]["Labels"]
            for key in ("io.secure-run.managed", "io.secure-run.owner", "io.secure-run.opt-ins",
                        "io.secure-run.config-digest", "io.secure-run.preset"):  # fmt: skip
                assert labels[key] == service_labels[key], key
            assert labels["io.secure-run.config-digest"] == cfg.digest()
            assert labels["io.secure-run.opt-ins"] == "swarm-daemon-nnp,swarm-default-swap"
            assert labels["com.docker.swarm.service.id"] == svc.id


def test_raw_pids_and_ulimits_land_in_the_task(swarm_manager, swarm_nodes):
    """Resources.Limits.Pids and ContainerSpec.Ulimits, written raw, are in the task's kernel."""
    cfg = job()
    with sr.service(cfg, client=swarm_manager, opt_ins=OPT_INS) as svc:
        template = svc.inspect()["Spec"]["TaskTemplate"]
        assert template["Resources"]["Limits"]["Pids"] == cfg.pids_limit == 64
        assert {u["Name"] for u in template["ContainerSpec"]["Ulimits"]} == {"core", "nofile"}
        (task,) = svc.wait_running(60)
        node, cid = on_its_node(swarm_nodes, task)
        assert node.api.inspect_container(cid)["HostConfig"]["PidsLimit"] == 64
        limits = in_task(node, cid, "cat /proc/self/limits")
        assert re.search(r"Max open files\s+256\s+256", limits), limits
        assert re.search(r"Max core file size\s+0\s+0", limits), limits
        # one process more than the limit allows cannot start: 64 sleeps already fill it
        forked = in_task(node, cid, "for i in $(seq 70); do sleep 30 & done 2>&1; echo done")
        assert "can't fork" in forked or "Resource temporarily unavailable" in forked, forked


def test_a_spec_naming_no_network_gets_the_nodes_default(swarm_manager, swarm_nodes):
    """network bridge sends no Networks: the task is in the node daemon's default network mode.

    On these nodes (dockerd --bridge=none) that is no interface but lo; on a stock dockerd it
    is the docker0 bridge, a route out, which is why network none never relies on it.
    """
    cfg = job(network=("bridge",))
    with sr.service(cfg, client=swarm_manager, opt_ins=OPT_INS) as svc:
        assert "Networks" not in svc.inspect()["Spec"]["TaskTemplate"]
        assert svc.network is None
        (task,) = svc.wait_running(60)
        node, cid = on_its_node(swarm_nodes, task)
        info = node.api.inspect_container(cid)
        assert info["HostConfig"]["NetworkMode"] == "default"
        assert list(info["NetworkSettings"]["Networks"]) == ["bridge"]
        assert in_task(node, cid, "ls /sys/class/net").split() == ["lo"]
        assert in_task(node, cid, "cat /proc/net/route").splitlines()[1:] == []
        assert sr.verify(svc, swarm_nodes).ok


def test_remove_takes_the_service_and_its_network(swarm_manager):
    """remove() (and the with block's end) deletes the service and its overlay; twice is fine."""
    with sr.service(job(), client=swarm_manager, opt_ins=OPT_INS) as svc:
        assert swarm_manager.api.inspect_network(svc.network)["Internal"] is True
    with pytest.raises(docker.errors.NotFound):
        swarm_manager.api.inspect_service(svc.id)
    with pytest.raises(docker.errors.NotFound):
        swarm_manager.api.inspect_network(svc.network)
    svc.remove()  # idempotent


ORPHAN = """
import os, sys, docker, secure_run as sr
from secure_run.testing import TEST_IMAGE
cfg = sr.preset("sandbox", TEST_IMAGE).command(["sleep", "600"]).build()
client = docker.DockerClient(base_url=sys.argv[1])
svc = sr.service(cfg, client=client, name="sr-orphan", opt_ins=sys.argv[2:])
print(svc.id, svc.network, flush=True)
os.kill(os.getpid(), 9)  # no with-block exit, no atexit: the service is orphaned
"""


def test_cleanup_reaps_the_service_of_a_killed_owner(swarm_manager, swarm_nodes):
    """A process killed with its service alive: cleanup() reaps the service, then its network."""
    url = os.environ["SECURE_RUN_SWARM_MANAGER"]
    done = subprocess.run([sys.executable, "-c", ORPHAN, url, *OPT_INS],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    service_id, network = done.stdout.split()
    assert swarm_manager.api.inspect_service(service_id)["Spec"]["Name"] == "sr-orphan"
    for worker in swarm_nodes[1:]:  # a node leaves task containers to their service's reaping
        assert [r for r in sr.cleanup(worker) if r.kind == "container"] == []
    reaped = sr.cleanup(swarm_manager)
    assert [r for r in reaped if r.kind == "container"] == []
    assert [(r.kind, r.container_id) for r in reaped if r.kind == "service"] == [
        ("service", service_id)
    ]
    assert "owner process" in reaped[0].reason
    names = {r.name for r in reaped if r.kind == "network"}
    deadline = time.monotonic() + 60  # the overlay goes once the task has left it
    while network not in names and time.monotonic() < deadline:
        time.sleep(1.0)
        names |= {r.name for r in sr.cleanup(swarm_manager) if r.kind == "network"}
    assert network in names

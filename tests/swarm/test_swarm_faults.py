"""A worker's dockerd killed under a 3-replica service: rescheduled, verified, nothing left."""

from __future__ import annotations

import subprocess
import time

import secure_run as sr
from secure_run.testing import TEST_IMAGE

OPT_INS = ("swarm-daemon-nnp", "swarm-default-swap")


def test_killed_worker_tasks_are_rescheduled_and_verified(swarm_manager, swarm_nodes):
    """kill -9 of node 3's dockerd: 3/3 run again elsewhere, verify passes, remove leaves none."""
    cfg = sr.preset("sandbox", TEST_IMAGE).command(["sleep", "600"]).restart("on-failure", 3)
    with sr.service(cfg.build(), replicas=3, client=swarm_manager, opt_ins=OPT_INS,
                    preferences=[("spread", "node.labels.sr-node")]) as svc:  # fmt: skip
        tasks = svc.wait_running(60)
        victim = swarm_nodes[2].info()["Swarm"]["NodeID"]
        assert victim in {t["NodeID"] for t in tasks}
        subprocess.run(["scripts/swarm.sh", "kill-node", "3"], check=True)
        started = time.monotonic()
        try:
            while True:
                running = [t for t in svc.running_tasks() if t["NodeID"] != victim]
                if len(running) >= 3:
                    break
                assert time.monotonic() - started < 120, "not rescheduled in 120 s"
                time.sleep(0.2)
            print(f"rescheduled 3/3 in {time.monotonic() - started:.1f} s")
            live = [n for n in swarm_nodes[:2]]
            report = sr.verify(svc, live)
            assert report.ok, str(report)
            assert len(report.tasks) == 3
        finally:
            subprocess.run(["scripts/swarm.sh", "start-node", "3"], check=True)
        svc.remove()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = [c for n in swarm_nodes for c in n.api.containers(
            all=True, filters={"label": f"com.docker.swarm.service.id={svc.id}"})]  # fmt: skip
        if not left:
            break
        time.sleep(0.5)
    assert not left

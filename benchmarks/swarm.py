"""Swarm: ``sr.service`` create-to-running and verify-all-tasks, against docker-py and the CLI.

Run on the test swarm (``make swarm-up``; root, so the nodes' /proc is readable)::

    eval "$(scripts/swarm.sh env)"
    python3 benchmarks/swarm.py               # 5 rounds
    python3 benchmarks/swarm.py --rounds 9 --out swarm.json

The same service (the ``sandbox`` preset on the test image, ``sleep 600``, 3 replicas
spread over the nodes, on an internal overlay of its own for ``network("none")``) is
made three ways per round, in rotating order, on the same swarm:

- ``sr.service``: ``sr.service(cfg, replicas=3, ...)`` then ``wait_running()``;
- ``docker-py``: ``client.services.create(**kw)`` with ``kw = cfg.to_swarm(...)``, the
  same spec but for the container ulimits, which docker-py 7 has no keyword for;
- ``cli``: ``docker -H <manager> service create --detach`` with the same settings as
  flags (the CLI carries every one of them here, ulimits and pids limit included).

Create-to-running is from the first call (the overlay's creation included, for all
three) until 3 tasks run, polled every 0.2 s. Then, on the ``sr.service`` one,
``sr.verify(svc, nodes)`` is timed with the kernel's view read from the host (the
default) and from an exec probe inside each task, against the floor of one
``inspect_container`` per task. Each figure is the median of the rounds. It is a
script, not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import common  # puts this checkout's secure_run on sys.path
import docker

import secure_run as sr
from secure_run._export.swarm import SPEC_EXTRA, isolated_network, to_swarm
from secure_run.testing import TEST_IMAGE

REPLICAS = 3
OPT_INS = ("swarm-daemon-nnp", "swarm-default-swap")
SPREAD = ("spread", "node.labels.sr-node")
POLL = 0.2


def config() -> sr.RunConfig:
    return (
        sr.preset("sandbox", TEST_IMAGE)
        .command(["sleep", "600"])
        .labels(common.BENCH_LABELS)
        .build()
    )


def running(client: docker.DockerClient, service_id: str) -> int:
    tasks = client.api.tasks(filters={"service": service_id, "desired-state": "running"})
    return sum(1 for t in tasks if t["Status"]["State"] == "running")


def wait_running(client: docker.DockerClient, service_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while running(client, service_id) < REPLICAS:
        if time.monotonic() > deadline:
            raise RuntimeError(f"service {service_id}: not {REPLICAS} running in {timeout} s")
        time.sleep(POLL)


def overlay(client: docker.DockerClient, name: str) -> None:
    client.api.create_network(name, driver="overlay", internal=True, labels=common.BENCH_LABELS)


def remove(client: docker.DockerClient, service_id: str, network: str) -> None:
    """The service, then its overlay once its tasks have left it."""
    client.api.remove_service(service_id)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.api.remove_network(network)
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


Made = tuple[float, Callable[[], None], "sr.SecureService | None"]


def by_sr(client: docker.DockerClient, cfg: sr.RunConfig, name: str) -> Made:
    start = time.perf_counter()
    svc = sr.service(cfg, replicas=REPLICAS, client=client, name=name, opt_ins=OPT_INS,
                     preferences=[SPREAD])  # fmt: skip
    svc.wait_running(120)
    return time.perf_counter() - start, svc.remove, svc


def by_docker_py(client: docker.DockerClient, cfg: sr.RunConfig, name: str) -> Made:
    kw = to_swarm(cfg, api_version=str(client.api.api_version), name=name, replicas=REPLICAS,
                  opt_ins=OPT_INS, preferences=[SPREAD])  # fmt: skip
    kw.pop(SPEC_EXTRA, None)  # the ulimits: docker-py 7 has no keyword for them
    network = isolated_network(cfg, name)
    start = time.perf_counter()
    overlay(client, network)
    created = client.services.create(**kw)
    wait_running(client, created.id)
    return time.perf_counter() - start, lambda: remove(client, created.id, network), None


def cli_argv(cfg: sr.RunConfig, name: str, network: str) -> list[str]:
    """``docker service create`` flags for the sandbox config (the fields it sets)."""
    assert cfg.memory is not None
    assert cfg.memory_reservation is not None
    argv = ["service", "create", "--detach", "--quiet", "--name", name,
            "--replicas", str(REPLICAS), "--placement-pref", "=".join(SPREAD),
            "--restart-condition", "none", "--restart-delay", "0s",
            "--endpoint-mode", "dnsrr", "--network", network,
            "--user", str(cfg.user), "--read-only", "--cap-drop", "ALL",
            "--limit-memory", str(cfg.memory), "--reserve-memory", str(cfg.memory_reservation),
            "--limit-cpu", str(cfg.cpus), "--limit-pids", str(cfg.pids_limit)]  # fmt: skip
    if cfg.init:
        argv.append("--init")
    for u in cfg.ulimits:
        argv += ["--ulimit", f"{u.name}={u.soft}:{u.hard}"]
    for t in cfg.tmpfs:
        argv += ["--mount", f"type=tmpfs,target={t.path},tmpfs-size={t.size},tmpfs-mode={t.mode:o}"]
    for k, v in cfg.env:
        argv += ["--env", f"{k}={v}"]
    if cfg.log_limits is not None:
        argv += ["--log-driver", "json-file",
                 "--log-opt", f"max-size={cfg.log_limits.max_size}",
                 "--log-opt", f"max-file={cfg.log_limits.max_files}"]  # fmt: skip
    for k, v in {**cfg.to_swarm(opt_ins=OPT_INS)["labels"]}.items():
        argv += ["--label", f"{k}={v}", "--container-label", f"{k}={v}"]
    return [*argv, cfg.image, *(cfg.command or ())]


def by_cli(client: docker.DockerClient, cfg: sr.RunConfig, name: str) -> Made:
    host = ["docker", "-H", os.environ["SECURE_RUN_SWARM_MANAGER"]]
    network = isolated_network(cfg, name)
    argv = cli_argv(cfg, name, network)
    start = time.perf_counter()
    subprocess.run([*host, "network", "create", "--driver", "overlay", "--internal",
                    "--label", "secure-run.bench=1", network],
                   check=True, capture_output=True)  # fmt: skip
    done = subprocess.run([*host, *argv], check=True, capture_output=True, text=True)
    service_id = done.stdout.strip()
    wait_running(client, service_id)
    return time.perf_counter() - start, lambda: remove(client, service_id, network), None


WAYS = {"sr.service": by_sr, "docker-py": by_docker_py, "cli": by_cli}


def verify_times(svc: sr.SecureService, nodes: list[docker.DockerClient]) -> dict[str, float]:
    """Seconds for each way of checking every running task of ``svc``."""
    by_node = {n.info()["Swarm"]["NodeID"]: n for n in nodes}

    def inspect_only() -> None:
        for t in svc.running_tasks():
            by_node[t["NodeID"]].api.inspect_container(
                t["Status"]["ContainerStatus"]["ContainerID"]
            )

    out = {}
    for label, fn in (
        ("inspect each task (floor)", inspect_only),
        ("sr.verify (kernel from the host)", lambda: sr.verify(svc, nodes)),
        ("sr.verify (kernel=exec)", lambda: sr.verify(svc, nodes, kernel="exec")),
    ):
        start = time.perf_counter()
        fn()
        out[label] = time.perf_counter() - start
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    manager_url = os.environ.get("SECURE_RUN_SWARM_MANAGER", "")
    node_urls = [u for u in os.environ.get("SECURE_RUN_SWARM_NODES", "").split(",") if u]
    if not manager_url or not node_urls:
        print('skipped: no swarm (make swarm-up; eval "$(scripts/swarm.sh env)")')
        return 0
    nodes = [docker.DockerClient(base_url=u, version="auto", timeout=120) for u in node_urls]
    manager, cfg = nodes[0], config()
    create: dict[str, list[float]] = {w: [] for w in WAYS}
    verify: dict[str, list[float]] = {}
    for r in range(args.rounds):
        order = list(WAYS)[r % len(WAYS) :] + list(WAYS)[: r % len(WAYS)]
        for way in order:
            name = f"sr-bench-{way.replace('.', '-')}-{r}"
            seconds, cleanup, svc = WAYS[way](manager, cfg, name)
            try:
                create[way].append(seconds)
                if svc is not None:
                    for k, v in verify_times(svc, nodes).items():
                        verify.setdefault(k, []).append(v)
            finally:
                cleanup()
        print(f"round {r + 1}: " + ", ".join(f"{w} {create[w][-1]:.2f} s" for w in WAYS))
    figures: dict[str, Any] = {
        "rounds": args.rounds,
        "replicas": REPLICAS,
        "engine": manager.version()["Version"],
        "api": str(manager.api.api_version),
        "create_to_running_s": {w: round(statistics.median(v), 3) for w, v in create.items()},
        "verify_all_tasks_s": {k: round(statistics.median(v), 3) for k, v in verify.items()},
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    for n in nodes:
        n.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

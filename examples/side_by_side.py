"""The main job: what a container really gets, hardened versus Docker's defaults.

Launches the same image twice, once from secure_run's ``restricted`` preset and
once with plain ``docker run`` defaults, runs the same probe inside each (it
reads /proc/self/status, the cgroup files, the mounts, /proc/net), and prints
what each container really got, side by side.

Run it with ``make demo``, which first makes sure an engine answers and the
local test image can be built (no pulls, ever).
"""

from __future__ import annotations

import sys

import docker

import secure_run as sr
from secure_run._probe import Probe, parse_probe, probe_command
from secure_run.testing import build_test_image

ROWS = (
    ("user", "user"),
    ("capabilities", "capabilities"),
    ("no_new_privs", "no-new-privileges"),
    ("seccomp", "seccomp"),
    ("memory", "memory"),
    ("cpu", "cpu"),
    ("pids", "pids limit"),
    ("ulimits", "ulimits"),
    ("root", "root filesystem"),
    ("tmpfs", "writable tmpfs"),
    ("network", "network"),
    ("processes", "processes seen"),
    ("hostname", "hostname"),
)
LABELS = {"secure-run.example": "side-by-side"}


def probe(client: docker.DockerClient, **kwargs: object) -> Probe:
    """Run the probe in a container made from ``kwargs`` and parse what it printed."""
    container = client.containers.create(**kwargs)
    try:
        container.start()
        status = container.wait(timeout=60)
        output = container.logs(stdout=True, stderr=False)
        if status.get("StatusCode") != 0:
            raise SystemExit(f"probe failed in {container.short_id}: {output.decode()[-500:]}")
        return parse_probe(output)
    finally:
        container.remove(force=True)


def main() -> int:
    client = docker.from_env()
    image = build_test_image(client)
    cfg = sr.builder(image).command(probe_command()).labels(LABELS).build()
    hardened = probe(client, **cfg.to_docker_kwargs())
    default = probe(client, image=image, command=probe_command(), labels=LABELS)

    left, right = hardened.summary(), default.summary()
    width = max(len(title) for _, title in ROWS)
    column = max(len(left[key]) for key, _ in ROWS)
    print(f"image: {image}   engine: Docker {client.version().get('Version', '?')}\n")
    print(f"{'':{width}}  {'secure_run restricted':{column}}  plain docker run")
    print(f"{'':{width}}  {'-' * 21:{column}}  {'-' * 16}")
    for key, title in ROWS:
        print(f"{title:{width}}  {left[key]:{column}}  {right[key]}")
    print(f"\nconfig digest {cfg.digest()}; waivers: {list(cfg.waivers()) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

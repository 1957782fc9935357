"""The "after" half of docs/recipes/migrating.md: each peer's call, in secure_run.

Usage: python3 examples/migrating.py [IMAGE]

Each section replaces a call made with raw docker-py, testcontainers, epicbox or
llm-sandbox (their "before" code is on the recipe page; those libraries are not
needed here). The docs page includes the sections between the ``--8<--`` markers,
and ``main()`` runs every one of them against the engine, so the page shows code
that ran. The busybox test image has no Python, so the programs are shell; with
a Python image, ``["python3", "-"]`` reads a program from standard input the same
way ``["sh", "-s"]`` does.

The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import docker

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


# --8<-- [start:docker-py]
def docker_py_after(image: str) -> sr.RunResult:
    """containers.run(..., mem_limit=, network_mode="none", remove=True), hardened."""
    cfg = (
        sr.builder(image)  # restricted: nobody, cap-drop ALL, read-only root, no network
        .command(["sh", "-c", "echo hello from $(id -un)"])
        .memory("256m")  # the reservation defaults to half, swap to none
        .labels(EXAMPLE_LABELS)
        .build()  # every problem at once, as a ConfigError, before the daemon
    )
    return sr.run(cfg, timeout=10)  # killed at 10 s; removed on every path


# --8<-- [end:docker-py]


# --8<-- [start:docker-py-sdk]
def docker_py_keep_sdk(image: str) -> bytes:
    """The same settings handed to docker-py, for code that keeps its own client calls."""
    cfg = sr.builder(image).command(["id", "-u"]).labels(EXAMPLE_LABELS).build()
    client = docker.from_env()
    try:
        output: bytes = client.containers.run(**cfg.to_docker_kwargs(), remove=True)
    finally:
        client.close()
    return output


# --8<-- [end:docker-py-sdk]


# --8<-- [start:testcontainers]
HTTPD = "mkdir /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"


def testcontainers_after(image: str) -> str:
    """DockerContainer(...).with_exposed_ports(8080) in a with block, hardened."""
    cfg = (
        sr.preset("service", image)  # a bridge network, nobody, NET_BIND_SERVICE only
        .command(["sh", "-c", HTTPD])
        .publish(8080)  # on 127.0.0.1, at a free host port
        .labels(EXAMPLE_LABELS)
        .build()
    )
    with sr.launch(cfg) as container:  # started, verified, removed at the end
        (binding,) = container.inspect()["NetworkSettings"]["Ports"]["8080/tcp"]
        url = f"http://{binding['HostIp']}:{binding['HostPort']}/"
        for _ in range(50):  # httpd needs a moment to listen
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return str(response.read().decode().strip())
            except OSError:
                time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


# --8<-- [end:testcontainers]


# --8<-- [start:epicbox]
def epicbox_after(image: str, files: dict[str, bytes], stdin: bytes) -> sr.RunResult:
    """epicbox.run(profile, command, files=, stdin=, limits=), hardened."""
    workdir = Path(tempfile.mkdtemp(prefix="sandbox-"))
    try:
        for name, content in files.items():
            (workdir / name).write_bytes(content)
            (workdir / name).chmod(0o644)
        workdir.chmod(0o755)  # mkdtemp makes it 0700: nobody could not enter it
        cfg = (
            sr.preset("sandbox", image)  # nobody, no network, read-only root
            .memory("64m")  # limits["memory"]: 64
            .pids_limit(32)  # limits["processes"]: 32
            .mount(str(workdir), "/sandbox")  # files=: a read-only bind mount
            .workdir("/sandbox")
            .command(["sh", "main.sh"])
            .labels(EXAMPLE_LABELS)
            .build()
        )
        # limits["realtime"]: 5 -- a wall-clock kill. The CPU quota (0.5 CPU) covers
        # the whole container, where limits["cputime"] was per process.
        return sr.run(cfg, stdin=stdin, timeout=5)
    finally:
        shutil.rmtree(workdir)


# --8<-- [end:epicbox]


# --8<-- [start:llm-sandbox]
def llm_sandbox_after(image: str, code: str) -> sr.RunResult:
    """SandboxSession(lang=..., runtime_configs=...).run(code), hardened."""
    cfg = (
        sr.preset("sandbox", image)  # nobody (llm-sandbox defaults to root), no network
        .memory("256m")  # runtime_configs={"mem_limit": "256m", ...}
        .cpus(1)  # runtime_configs={"cpu_count": 1, ...}
        .command(["sh", "-s"])  # ["python3", "-"] for a Python image
        .labels(EXAMPLE_LABELS)
        .build()
    )
    # The code goes in on standard input: no copy into the container, which a
    # read-only root would refuse. One fresh container per run, killed at 30 s.
    return sr.run(cfg, stdin=code.encode(), timeout=30, max_output=1_000_000)


# --8<-- [end:llm-sandbox]


def main() -> int:
    image = image_name()
    failures = 0

    def report(name: str, ok: bool, detail: object) -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok' if ok else 'FAILED':<6} {name}: {detail}")

    result = docker_py_after(image)
    report("docker-py", result.exit_code == 0, result.stdout.decode().strip())
    output = docker_py_keep_sdk(image)
    report("docker-py (keep the SDK)", output == b"65534\n", f"uid {output.decode().strip()}")
    body = testcontainers_after(image)
    report("testcontainers", body == "ok", f"page {body!r}")
    result = epicbox_after(image, {"main.sh": b"read name; echo hello, $name"}, b"world\n")
    report("epicbox", result.stdout == b"hello, world\n", result.stdout.decode().strip())
    result = llm_sandbox_after(image, "echo $((6 * 7))")
    report("llm-sandbox", result.stdout == b"42\n", result.stdout.decode().strip())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""A web service on localhost: the ``service`` preset, a healthcheck, a port on 127.0.0.1.

Usage: python3 examples/web_service.py [IMAGE]

Starts busybox ``httpd`` as nobody, with a read-only root, no capability it does
not need and a memory, CPU and process limit; publishes its port 8080 on
127.0.0.1 at a free host port; waits until the engine's healthcheck reports it
healthy; fetches the page from the host; and removes the container when the
``with`` block ends, however it ends.

The ``service`` preset attaches the container to Docker's ``bridge`` network,
which is what a published port needs: Docker does not publish ports of a
container on an ``internal`` network. httpd only answers; it sends nothing out.

The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
PORT = 8080
PAGE = "<h1>hello from a hardened container</h1>"

# The read-only root has one writable place, the noexec tmpfs at /tmp: enough for a
# page. `exec` makes httpd the shell's successor, so it gets the stop signal.
SERVE = (
    'mkdir -p /tmp/www && printf "%s\\n" "$PAGE" > /tmp/www/index.html'
    f" && exec httpd -f -p {PORT} -h /tmp/www"
)


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def service_config(image: str) -> sr.RunConfig:
    return (
        sr.preset("service", image)  # bridge network, nobody, NET_BIND_SERVICE only
        .command(["sh", "-c", SERVE])
        .env(PAGE=PAGE)
        .publish(PORT)  # host_ip="127.0.0.1" and a free host port, unless told otherwise
        .healthcheck(  # an argv, run inside the container: no host shell involved
            ["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{PORT}/"],
            interval=1,
            timeout=2,
            retries=3,
        )
        .memory("64m")
        .cpus(0.5)
        .pids_limit(32)
        .labels(EXAMPLE_LABELS)
        .build()
    )


def wait_healthy(service: sr.SecureContainer, timeout: float) -> None:
    """Wait until the engine's healthcheck says ``healthy``; raise if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        state = service.inspect()["State"]
        health = state.get("Health", {}).get("Status")
        if health == "healthy":
            return
        if not state["Running"] or time.monotonic() > deadline:
            raise RuntimeError(f"service not healthy: running={state['Running']}, {health=}")
        time.sleep(0.2)


def host_address(service: sr.SecureContainer, port: int) -> tuple[str, int]:
    """Where the engine published the container's ``port`` on the host."""
    (binding,) = service.inspect()["NetworkSettings"]["Ports"][f"{port}/tcp"]
    return binding["HostIp"], int(binding["HostPort"])


def main() -> int:
    cfg = service_config(image_name())
    started = time.monotonic()
    with sr.launch(cfg) as service:  # started, verified against cfg, removed at the end
        print(f"container {service.id[:12]} verified: {service.report and service.report.ok}")
        wait_healthy(service, timeout=30)
        print(f"healthy after {time.monotonic() - started:.1f} s")
        host, port = host_address(service, PORT)
        print(f"published on {host}:{port}")
        url = f"http://{host}:{port}/"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
        print(f"GET {url} -> {response.status}: {body.strip()}")
        service.stop(timeout=5)
    return 0 if body.strip() == PAGE else 1


if __name__ == "__main__":
    sys.exit(main())

"""Quick start: build a restricted config, see why each setting is so, run ``id`` in it.

Usage: python3 examples/quickstart.py [IMAGE]

The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else the
project's local test image ``secure-run-test/busybox:latest`` (build it with
``secure_run.testing.build_test_image``). Nothing is ever pulled.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid

import docker
import docker.errors

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def main() -> int:
    name = f"secure-run-quickstart-{uuid.uuid4().hex[:12]}"
    cfg = (
        sr.builder(image_name())  # the "restricted" preset
        .command(["id"])
        .network("none")  # already the preset's value; stated here to be plain about it
        .memory("64m")  # reservation defaults to half, swap to none
        .name(name)
        .labels(EXAMPLE_LABELS)  # any key outside the reserved "io.secure-run." namespace
        .build()
    )

    print(f"config {cfg.digest()}, waivers: {[str(w) for w in cfg.waivers()] or 'none'}")
    for item in cfg.explain():
        controls = f"  [{', '.join(item.controls)}]" if item.controls else ""
        print(f"  {item.setting:<20} {item.value:<34} {item.why}{controls}")

    client = docker.from_env()
    try:
        # Plain docker-py, given the config's settings; sr.run(cfg) would do the same
        # with a timeout that kills and a guaranteed removal.
        output = client.containers.run(**cfg.to_docker_kwargs(), remove=True)
        print(f"\nid inside the container: {output.decode().strip()}")
    finally:
        # remove=True does not cover a container whose start failed; clean up by name.
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

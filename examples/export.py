"""The same config as a ``docker run`` argv and as a compose service, without a daemon.

Usage: python3 examples/export.py [IMAGE]

Pure: needs no Docker Engine. Environment values stay out of both by default,
so a secret never lands in a shell history, a process listing or a committed
compose file; pass ``reveal_env=True`` to write them in.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def main() -> int:
    cfg = (
        sr.preset("service", image_name())
        .command(["httpd", "-f", "-p", "8080"])
        .env(API_TOKEN=os.environ.get("API_TOKEN", "demo-token"))
        .publish(8080)  # on 127.0.0.1, any free host port
        .build()
    )
    print("# docker run (export API_TOKEN first; only its name is written):")
    print(shlex.join(cfg.to_cli()))
    print()
    print("# compose service (JSON is valid YAML):")
    print(json.dumps({"services": {"app": cfg.to_compose()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every problem of a config at once, before anything reaches the daemon.

Usage: python3 examples/errors.py [IMAGE]

Pure: needs no Docker Engine. A builder records each bad value instead of
raising; ``build()`` runs the cross-field rules too and raises one
``ConfigError`` (a ``ValueError``) that lists every problem with its fix.
"""

from __future__ import annotations

import os
import sys

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def main() -> int:
    risky = (
        sr.builder(image_name())
        .user(0)  # root
        .cap_add("SYS_ADMIN")  # a capability that breaks the boundary
        .memory("4m")  # below Docker's 6 MiB minimum
        .network("bridge")
        .publish(8080, host_ip="0.0.0.0")  # noqa: S104 - every host interface, refused below
        .pids_limit(None)  # no fork-bomb guard
    )
    try:
        risky.build()
    except sr.ConfigError as exc:
        print(exc)
        print()
        print("The same, as data:")
        for problem in exc.problems:
            print(f"  {problem.field:<20} {problem.value:<12} {problem.message}")

    # Fix what is a mistake; accept the risks that are meant, each by name.
    cfg = (
        risky.memory("64m")
        .pids_limit(64)
        .opt_in(sr.OptIn.ROOT_USER, "dangerous-capability", "public-port")
        .build()
    )
    print()
    print(f"built; waivers recorded on the container: {[str(w) for w in cfg.waivers()]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

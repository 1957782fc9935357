"""Audit every running container, print one line each, and fail if any check warns.

Usage: python3 examples/audit_running.py [--label KEY=VALUE]

``sr.audit_all()`` reads the engine once (``info``, the networks, one
``inspect`` per running container, all concurrently) and judges each container
by the CIS Docker Benchmark v1.6 section 5 and the Kubernetes Pod Security
Standards. This prints a line per container with the ids of the checks that
warn, then each warning with its evidence and remedy, and exits 1 if there was
any warning (0 otherwise), so it can gate a deployment or a CI job.

``--label KEY=VALUE`` keeps only the containers that carry that label (the
engine-level finding is always kept). It launches nothing itself.
"""

from __future__ import annotations

import argparse
import sys

import docker

import secure_run as sr


def labelled(client: docker.DockerClient, label: str) -> set[str]:
    """The names of the running containers that carry ``label`` (``KEY=VALUE``)."""
    listed = client.api.containers(filters={"label": label})
    return {name.lstrip("/") for c in listed for name in c["Names"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", help="audit only containers with this KEY=VALUE label")
    args = parser.parse_args(argv)

    client = docker.from_env()
    try:
        report = sr.audit_all(client)
        keep = None if args.label is None else labelled(client, args.label)
    finally:
        client.close()

    findings = [
        f for f in report.findings if keep is None or not f.container or f.container in keep
    ]
    names = sorted({f.container for f in findings if f.container})
    warnings = [f for f in findings if f.status == "warn"]
    flagged = {f.container for f in warnings}
    print(f"audited {len(names)} running container(s): {len(flagged - {''})} with warnings")
    for name in names:
        ids = [f.id for f in warnings if f.container == name]
        print(f"  {'WARN' if ids else 'ok':<5} {name}{': ' + ' '.join(ids) if ids else ''}")
    for f in warnings:
        print(f"\n{f.container or 'engine'} {f.id} {f.title}\n    seen: {f.evidence}")
        print(f"    fix:  {f.remedy}")
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())

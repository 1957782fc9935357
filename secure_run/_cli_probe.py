"""``secure-run probe``: what a container really gets, optionally next to a plain ``docker run``.

The hardened side is an ordinary :func:`~secure_run.run` of the settings given,
verified. The plain side (``--vs-default``) must have Docker's defaults and nothing
else, which no :class:`~secure_run.RunConfig` can describe: a config always drops
every capability, and that is not waivable. So it is created from the image and the
probe's command alone, but through the library's own container lifecycle: it
carries the labels of a managed container (so :func:`~secure_run.cleanup` finds it
if this process is killed), its create holds SIGINT and SIGTERM, it is tracked
while it lives (a SIGTERM, Ctrl-C or interpreter exit removes it), errors go
through the one translation point, and it is removed by the same release as every
other container.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, TextIO

from ._cli_commands import builder_from, table
from ._errors import SecureRunError

if TYPE_CHECKING:
    import docker

__all__ = ["PROBE_ROWS", "cmd_probe", "plain_run_output"]

#: The probe's findings shown, each with its row title.
PROBE_ROWS = (
    ("user", "user"), ("capabilities", "capabilities"), ("no_new_privs", "no-new-privileges"),
    ("seccomp", "seccomp"), ("memory", "memory"), ("cpu", "cpu"), ("pids", "pids limit"),
    ("ulimits", "ulimits"), ("root", "root filesystem"), ("tmpfs", "writable tmpfs"),
    ("network", "network"), ("processes", "processes seen"), ("hostname", "hostname"),
)  # fmt: skip

#: Seconds either probe may take before it is killed.
_PROBE_TIMEOUT = 60.0


def cmd_probe(args: argparse.Namespace, out: TextIO) -> int:
    """Run the probe hardened (and, with ``--vs-default``, plain) and print the table."""
    from ._engine.client import session
    from ._engine.launch import run
    from ._proof.probe import parse_probe, probe_command

    args.command = []
    cfg = builder_from(args).entrypoint([]).command(probe_command()).build()
    with session() as client:
        result = run(cfg, client=client, timeout=_PROBE_TIMEOUT, verify=True)
        if result.exit_code != 0:
            raise SecureRunError(f"the probe failed in the container: {result.stderr[-300:]!r}")
        hardened = parse_probe(result.stdout).summary()
        title = f"secure_run {args.preset}"
        if not args.vs_default:
            table([(label, hardened[key]) for key, label in PROBE_ROWS], ("", title), out)
            return 0
        labels = {**dict(cfg.labels), "secure-run.probe": "default"}
        output = plain_run_output(client, cfg.image, probe_command(), labels=labels,
                                  network=args.default_network)  # fmt: skip
    default = parse_probe(output).summary()
    rows = [(label, hardened[key], default[key]) for key, label in PROBE_ROWS]
    table(rows, ("", title, "plain docker run"), out)
    return 0


def plain_run_output(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    *,
    labels: dict[str, str],
    network: str | None = None,
    timeout: float = _PROBE_TIMEOUT,
) -> bytes:
    """The standard output of ``command`` in a plain ``docker run`` of ``image``.

    Docker's defaults, nothing else: no config, so no hardening. The container is
    still secure_run's: labelled as managed (plus ``labels``), tracked from its
    create until it is removed, on every path.

    Raises:
        SecureRunError: The engine refused it (translated), or it ran past ``timeout``.
    """
    from ._engine.container import kill, wait_for_exit
    from ._engine.errors import translated
    from ._engine.labels import managed_labels
    from ._engine.live import LIVE, release
    from ._engine.signals import held_during_create

    api = client.api
    with translated("run the default probe", image=image, client=client):
        host_config = api.create_host_config(network_mode=network) if network else None
    with held_during_create():  # a signal now would lose the id of what the daemon makes
        with translated("run the default probe", image=image, client=client):
            created = api.create_container(image, command, entrypoint=[], host_config=host_config,
                                           labels={**labels, **managed_labels()})  # fmt: skip
        container_id = str(created["Id"])
        LIVE.add(container_id, client)
    try:
        with translated("run the default probe", client=client):
            api.start(container_id)
            if wait_for_exit(client, container_id, time.monotonic() + timeout) is None:
                kill(client, container_id)
                raise SecureRunError(f"the plain probe ran past {timeout:g} s and was killed")
            return bytes(api.logs(container_id, stdout=True, stderr=False))
    finally:
        release(client, container_id)

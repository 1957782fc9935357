"""CIS 5.x checks of what runs and how, and secure_run's own waiver report.

Swarm mode (5.1, the engine's), sshd (5.7), the root filesystem (5.13), docker exec
(5.23, 5.24), health (5.27), the image reference (5.28), and SR-waivers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._config.values import OptIn
from .registry import (
    CONFIG_AUDIT,
    INFO,
    NOT_APPLICABLE,
    NOTE,
    PASS,
    WARN,
    Registry,
    Verdict,
    verdict,
)
from .view import OPT_INS_LABEL, View, as_list, as_map

__all__ = ["REGISTERED"]

_check = Registry()
_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")


@_check(
    "5.1",
    "Ensure swarm mode is not enabled, if not needed",
    "Swarm mode opens management ports and keeps cluster secrets on the host.",
    "docker swarm leave (on an engine that need not be a swarm node)",
)
def _swarm(v: View) -> Verdict:
    if v.ctx.info is None:
        return Verdict(NOT_APPLICABLE, CONFIG_AUDIT)
    state = as_map(v.ctx.info.get("Swarm")).get("LocalNodeState")
    return verdict(state == "inactive", f"docker info Swarm.LocalNodeState={state!r}")


@_check(
    "5.7",
    "Ensure sshd is not run within containers",
    "An SSH daemon in a container is one more service to secure; use docker exec instead.",
    "remove the SSH server from the image; use docker exec to get a shell",
)
def _sshd(v: View) -> Verdict:
    if not v.ctx.engine:
        return Verdict(NOT_APPLICABLE, f"{CONFIG_AUDIT}: no processes to list")
    if v.processes is None:
        return Verdict(
            NOT_APPLICABLE, "exec checks off: audit(..., exec_checks=True) runs ps in the container"
        )
    if v.processes.output is None:
        return Verdict(INFO, f"could not list the processes: {v.processes.reason}")
    if not v.processes.output.strip():  # not even ps's header: nothing was listed
        return Verdict(INFO, "could not list the processes: ps -el exited 0 and printed nothing")
    lines = [line.strip() for line in v.processes.output.splitlines() if "sshd" in line]
    if lines:
        return Verdict(WARN, f"ps -el in the container: {len(lines)} sshd line(s): {lines[0]!r}")
    count = max(len(v.processes.output.splitlines()) - 1, 0)
    return Verdict(PASS, f"ps -el in the container: {count} process line(s), none sshd")


@_check(
    "5.13",
    "Ensure that the container's root filesystem is mounted as read only",
    "A read-only root stops an intruder from changing the container's programs.",
    "run with a read-only root (.read_only(True)) and tmpfs for scratch paths",
)
def _read_only(v: View) -> Verdict:
    read_only = bool(v.host.get("ReadonlyRootfs"))
    return verdict(read_only, f"HostConfig.ReadonlyRootfs={read_only}", [OptIn.WRITABLE_ROOT])


@_check(
    "5.23",
    "Ensure that docker exec commands are not used with the privileged option",
    "docker exec --privileged gives a process every capability in a running container.",
    "never run docker exec --privileged; audit the engine's logs for it",
    scored=False,
)
def _exec_privileged(v: View) -> Verdict:
    return Verdict(NOTE, "manual: docker exec options are not recorded on the container")


@_check(
    "5.24",
    "Ensure that docker exec commands are not used with the user=root option",
    "docker exec --user root undoes a container's non-root user.",
    "never run docker exec --user root; audit the engine's logs for it",
    scored=False,
)
def _exec_root(v: View) -> Verdict:
    return Verdict(NOTE, "manual: docker exec options are not recorded on the container")


@_check(
    "5.27",
    "Ensure that container health is checked at runtime",
    "A healthcheck lets the engine and operators see a container that stopped working.",
    "give a healthcheck (.healthcheck([...])) or a HEALTHCHECK in the image",
)
def _health(v: View) -> Verdict:
    health = as_map(v.inspect.get("State")).get("Health")
    test = as_list(as_map(v.config.get("Healthcheck")).get("Test"))
    configured = bool(test) and test[0] != "NONE"
    if isinstance(health, Mapping):
        return Verdict(PASS, f"State.Health.Status={health.get('Status')!r}")
    if configured:
        return Verdict(PASS, f"Config.Healthcheck.Test={test} (not started yet)")
    if not v.ctx.engine:
        return Verdict(
            INFO,
            "the config sets no healthcheck; the image's HEALTHCHECK, if any, is known only "
            "once the container is created",
        )
    return Verdict(WARN, f"State.Health: none; Config.Healthcheck.Test={test or None}")


@_check(
    "5.28",
    "Ensure that Docker commands always make use of the latest version of their image",
    "A tag can move; a digest names exactly the image that was reviewed.",
    "refer to the image by digest (name@sha256:...) and update it deliberately",
    scored=False,
)
def _image_pinning(v: View) -> Verdict:
    image = str(v.config.get("Image") or "")
    if "@sha256:" in image or _IMAGE_ID.fullmatch(image):
        return Verdict(PASS, f"Config.Image={image!r}: pinned by digest")
    return Verdict(INFO, f"Config.Image={image!r}: a tag, which can move; pin it by digest")


@_check(
    "SR-waivers",
    "secure_run waivers (opt-ins) are reported",
    "Each opt-in waives one secure default; the audit lists them so they are seen.",
    "remove the opt-ins the workload does not need",
    scored=False,
)
def _waivers(v: View) -> Verdict:
    labels = as_map(v.config.get("Labels"))
    if OPT_INS_LABEL not in labels:
        return Verdict(NOT_APPLICABLE, f"not launched by secure_run: no {OPT_INS_LABEL} label")
    if not v.waivers:
        return Verdict(PASS, f"{OPT_INS_LABEL}='': no waivers")
    return Verdict(NOTE, f"{OPT_INS_LABEL}={labels[OPT_INS_LABEL]!r}: waivers "
                    + ", ".join(v.waivers))  # fmt: skip


#: This module's checks, in the order defined.
REGISTERED = _check.checks

"""CIS 5.x checks of what a container mounts.

Sensitive host folders (5.6), devices (5.18), shared propagation (5.20) and the
engine's socket (5.32).
"""

from __future__ import annotations

from .._config.hostpaths import SENSITIVE_PATHS, host_path, sensitive_root
from .._config.values import OptIn
from .daemon import mount_exposes_socket
from .registry import INFO, PASS, Registry, Verdict, stricter, verdict
from .view import View, as_list, as_map

__all__ = ["REGISTERED"]

_check = Registry()


@_check(
    "5.6",
    "Ensure sensitive host system directories are not mounted on containers",
    "A writable mount of /, /boot, /dev, /etc, /lib, /proc, /sys or /usr lets the container "
    "change the host.",
    "remove the mount, or mount it read-only (.mount(src, dst, read_only=True))",
)
def _sensitive_mounts(v: View) -> Verdict:
    bad = []
    deeper = False
    for m in v.mounts:
        if not m.get("RW"):
            continue
        source = str(m.get("Source") or "")
        destination = str(m.get("Destination") or "")
        under = sensitive_root(host_path(source)) if m.get("Type") == "bind" and source else None
        if under is not None:
            bad.append(f"{source} -> {destination} (RW)")
            deeper = deeper or host_path(source) != under
        elif destination in SENSITIVE_PATHS:  # docker-bench matches the destination too
            bad.append(f"{source} -> {destination} (RW, a system directory)")
    if not bad:
        return Verdict(PASS, f"Mounts: no writable mount of {', '.join(SENSITIVE_PATHS)}")
    evidence = f"Mounts: {'; '.join(bad)}"
    if deeper:
        evidence = stricter(evidence, "matches only the exact directories")
    return verdict(False, evidence, [OptIn.SENSITIVE_MOUNT])


@_check(
    "5.18",
    "Ensure that host devices are not directly exposed to containers",
    "A host device gives direct access to hardware or kernel interfaces.",
    "remove the devices, or review that each is needed",
    scored=False,
)
def _devices(v: View) -> Verdict:
    devices = [as_map(d) for d in as_list(v.host.get("Devices"))]
    if v.host.get("Privileged"):
        return Verdict(INFO, "HostConfig.Privileged=True: every host device",
                        (OptIn.PRIVILEGED.value,))  # fmt: skip
    if devices:
        shown = ", ".join(
            f"{d.get('PathOnHost')}:{d.get('PathInContainer')}:{d.get('CgroupPermissions')}"
            for d in devices
        )
        return Verdict(INFO, f"HostConfig.Devices: {shown}", (OptIn.DEVICES.value,))
    return Verdict(PASS, "HostConfig.Devices: none")


@_check(
    "5.20",
    "Ensure mount propagation mode is not set to shared",
    "Shared propagation lets mounts made in the container appear on the host.",
    "use the default propagation (rprivate)",
)
def _propagation(v: View) -> Verdict:
    shared = [
        f"{m.get('Destination')}={m.get('Propagation')}"
        for m in v.mounts
        if "shared" in str(m.get("Propagation") or "")
    ]
    if shared:
        return verdict(False, f"Mounts Propagation: {', '.join(shared)}",
                        [OptIn.SHARED_PROPAGATION])  # fmt: skip
    return Verdict(PASS, f"Mounts Propagation: {len(v.mounts)} mount(s), none shared")


@_check(
    "5.32",
    "Ensure that the Docker socket is not mounted inside any containers",
    "The engine's socket is root on the host, read-only or not.",
    "remove the mount of the engine socket (or of the folder holding it)",
)
def _socket(v: View) -> Verdict:
    found = [f"{m.get('Source')} -> {m.get('Destination')}" for m in v.mounts
             if mount_exposes_socket(m, v.ctx.socket_paths)]  # fmt: skip
    if not found:
        return Verdict(PASS, f"Mounts: {len(v.mounts)} mount(s), no engine socket")
    evidence = f"Mounts: {', '.join(found)}"
    if not any("docker.sock" in f for f in found):
        evidence = stricter(evidence, "looks only for 'docker.sock'")
    return verdict(False, evidence, [OptIn.DOCKER_SOCKET])


#: This module's checks, in the order defined.
REGISTERED = _check.checks

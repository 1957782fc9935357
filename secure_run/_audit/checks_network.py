"""CIS 5.x checks of a container's network.

Privileged ports (5.8), published ports (5.9), the interfaces they are bound to
(5.14) and the default bridge (5.30).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .._config.values import OptIn
from .registry import INFO, PASS, WARN, Registry, Verdict, stricter, verdict
from .view import View, as_map

__all__ = ["REGISTERED", "every_interface", "privileged_port", "shown_bindings"]

_check = Registry()
_DOCKER0_OPTION = "com.docker.network.bridge.name"
#: Marks the engine's default bridge network whatever its interface (``dockerd -b``).
_DEFAULT_BRIDGE_OPTION = "com.docker.network.bridge.default_bridge"
_PRIVILEGED_PORTS = 1024


def privileged_port(host_port: str) -> bool:
    """Whether a published host port is below 1024 (port 0, "any", is not)."""
    return host_port.isdigit() and 0 < int(host_port) < _PRIVILEGED_PORTS


def every_interface(ip: str) -> bool:
    """Whether a binding's ``HostIp`` means every interface: empty, ``0.0.0.0`` or ``::``."""
    text = ip.strip("[]")
    if not text:
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    # ::ffff:0.0.0.0 is the IPv4 any-address to the engine (Go), which binds it on 0.0.0.0
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_unspecified or (mapped is not None and mapped.is_unspecified)


def shown_bindings(bindings: Iterable[tuple[str, str, str]]) -> str:
    """Published ports for evidence: ``80/tcp -> *:8080`` (``*`` every address, ``any`` port)."""
    return ", ".join(f"{p} -> {ip or '*'}:{h or 'any'}" for p, ip, h in bindings)


@_check(
    "5.8",
    "Ensure privileged ports are not mapped within containers",
    "Host ports below 1024 are reserved for privileged services.",
    "publish on a host port of 1024 or more",
)
def _privileged_ports(v: View) -> Verdict:
    bindings, source = v.bindings()
    low = [f"{port} -> {ip or '*'}:{host}" for port, ip, host in bindings if privileged_port(host)]
    if low:
        return verdict(False, f"{source}: host ports below 1024: {', '.join(low)}",
                        [OptIn.PRIVILEGED_PORT])  # fmt: skip
    return Verdict(PASS, f"{source}: {len(bindings)} binding(s), none below host port 1024")


@_check(
    "5.9",
    "Ensure that only needed ports are open on the container",
    "Every published port is a way in; a tool cannot tell which are needed, so each is shown.",
    "publish only the ports the service needs (a manual review); docker-bench-security "
    "warns on any",
)
def _open_ports(v: View) -> Verdict:
    bindings, source = v.bindings()
    if not bindings:
        return Verdict(PASS, f"{source}: no published port")
    return Verdict(WARN, f"{source}: {shown_bindings(bindings)} (confirm each is needed)")


@_check(
    "5.14",
    "Ensure that incoming container traffic is bound to a specific host interface",
    "A port bound to every interface is reachable from every network the host is on.",
    'publish on one address, e.g. .publish(8080, host_ip="127.0.0.1")',
)
def _bound_interface(v: View) -> Verdict:
    bindings, source = v.bindings()
    wide = [(p, ip, h) for p, ip, h in bindings if every_interface(ip)]
    if not wide:
        return Verdict(PASS, f"{source}: {len(bindings)} binding(s), each on one address")
    shown = ", ".join(f"{p} -> {ip or repr('')}:{h or 'any'}" for p, ip, h in wide)
    evidence = f"{source}: bound to every interface: {shown}"
    if all(ip.strip("[]") != "0.0.0.0" for _, ip, _ in wide):  # noqa: S104
        evidence = stricter(evidence, "catches only 0.0.0.0, not :: or an empty HostIp")
    return verdict(False, evidence, [OptIn.PUBLIC_PORT])


@_check(
    "5.30",
    "Ensure that Docker's default bridge 'docker0' is not used",
    "On the default bridge every container can reach every other (no network isolation).",
    'use network "none" or a user-defined network',
    scored=False,
)
def _docker0(v: View) -> Verdict:
    networks = as_map(as_map(v.inspect.get("NetworkSettings")).get("Networks"))
    mode = str(v.host.get("NetworkMode") or "")
    if not v.ctx.engine:
        if mode in ("bridge", "default"):
            return Verdict(INFO, f"HostConfig.NetworkMode={mode!r}: the default bridge (docker0)")
        return Verdict(PASS, f"HostConfig.NetworkMode={mode!r}")
    bridges = [as_map(n) for n in v.ctx.networks]
    ids = {
        str(n.get("Id"))
        for n in bridges
        if as_map(n.get("Options")).get(_DOCKER0_OPTION) == "docker0"
        or as_map(n.get("Options")).get(_DEFAULT_BRIDGE_OPTION) == "true"
    }
    names = {str(n.get("Name")) for n in bridges if str(n.get("Id")) in ids}
    attached = [
        name
        for name, settings in sorted(networks.items())
        if str(as_map(settings).get("NetworkID") or "") in ids
        or (not as_map(settings).get("NetworkID") and name in names)
    ]
    if attached:
        return Verdict(INFO, f"NetworkSettings.Networks: {attached} is docker0")
    return Verdict(PASS, f"NetworkSettings.Networks: {sorted(networks)}, none is docker0")


#: This module's checks, in the order defined.
REGISTERED = _check.checks

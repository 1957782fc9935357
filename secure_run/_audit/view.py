"""What a check reads: one container's inspect record (:class:`View`) in its engine's context.

The checks are pure functions of a :class:`View`; the engine is read once, before
(:mod:`.engine_view`), or not at all for a config audit (:mod:`.config_record`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._config.capabilities import effective_capabilities
from .._config.values import LABEL_PREFIX

__all__ = [
    "OPT_INS_LABEL",
    "Context",
    "Processes",
    "View",
    "as_list",
    "as_map",
    "effective_capabilities_of",
    "security_pairs",
]

#: The label secure_run writes its waivers (opt-ins) to.
OPT_INS_LABEL = LABEL_PREFIX + "opt-ins"


def _mappings(value: Iterable[Any]) -> tuple[Mapping[str, Any], ...]:
    return tuple(v for v in value if isinstance(v, Mapping))


@attrs.frozen
class Context:
    """The engine a container runs on, as far as the judge needs it.

    Attributes:
        info: ``docker info`` (``client.api.info()``); ``None`` for a config audit,
            which has no engine.
        networks: The network listing (``client.api.networks()``).
        no_new_privileges: Whether the daemon sets no-new-privileges for every
            container (``dockerd --no-new-privileges`` or daemon.json); unknown is off.
        no_new_privileges_source: Where that was read, for the evidence.
        socket_paths: The sockets the daemon listens on, as read on its host (the
            client's socket and the daemon's ``-H unix://`` hosts), beside the engines'
            default ones that :func:`secure_run._config.hostpaths.exposes_socket` knows.
    """

    info: Mapping[str, Any] | None = None
    networks: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_mappings)
    no_new_privileges: bool = False
    no_new_privileges_source: str = "not read"
    socket_paths: tuple[str, ...] = ()

    @property
    def engine(self) -> bool:
        """Whether there is an engine (not a config audit)."""
        return self.info is not None

    def security_options(self) -> tuple[str, ...]:
        """``docker info`` ``SecurityOptions``."""
        return tuple(str(o) for o in as_list((self.info or {}).get("SecurityOptions")))

    def has(self, name: str) -> bool:
        """Whether ``SecurityOptions`` lists ``name=<name>`` (seccomp, apparmor, selinux)."""
        for option in self.security_options():
            for part in option.split(","):
                if part == f"name={name}":
                    return True
        return False


@attrs.frozen
class Processes:
    """What ``ps`` in the container printed, or why it could not be read."""

    output: str | None = None
    reason: str = ""


def as_map(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (inspect records may hold null)."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """``value`` as a list if it is a list or tuple, else an empty list."""
    return list(value) if isinstance(value, (list, tuple)) else []


def security_pairs(options: Iterable[str]) -> list[tuple[str, str]]:
    """``SecurityOpt`` as ``(key, value)`` pairs, parsed as the daemon parses it.

    Bare ``no-new-privileges`` is true, bare ``disable`` is ``label=disable``, else
    ``key=value`` or the old ``key:value``.
    """
    pairs = []
    for option in options:
        if option == "no-new-privileges":
            pairs.append(("no-new-privileges", "true"))
        elif option == "disable":
            pairs.append(("label", "disable"))
        elif "=" in option:
            key, _, value = option.partition("=")
            pairs.append((key, value))
        elif ":" in option:
            key, _, value = option.partition(":")
            pairs.append((key, value))
        else:
            pairs.append((option, ""))
    return pairs


def effective_capabilities_of(host: Mapping[str, Any]) -> tuple[frozenset[str], str]:
    """The capabilities an inspect record grants (see :func:`effective_capabilities`)."""
    return effective_capabilities(
        as_list(host.get("CapAdd")),
        as_list(host.get("CapDrop")),
        privileged=bool(host.get("Privileged")),
    )


@attrs.frozen
class View:
    """One container's inspect record, with the parts the checks share read once."""

    inspect: Mapping[str, Any]
    ctx: Context
    processes: Processes | None

    @property
    def host(self) -> Mapping[str, Any]:
        return as_map(self.inspect.get("HostConfig"))

    @property
    def config(self) -> Mapping[str, Any]:
        return as_map(self.inspect.get("Config"))

    @property
    def name(self) -> str:
        return str(self.inspect.get("Name") or "").lstrip("/")

    @property
    def running(self) -> bool:
        return bool(as_map(self.inspect.get("State")).get("Running"))

    @property
    def security_opt(self) -> list[str]:
        return [str(o) for o in as_list(self.host.get("SecurityOpt"))]

    def option(self, key: str) -> list[str]:
        """The values of one kind of security option, in order."""
        return [v for k, v in security_pairs(self.security_opt) if k == key]

    @property
    def mounts(self) -> list[Mapping[str, Any]]:
        return [as_map(m) for m in as_list(self.inspect.get("Mounts"))]

    @property
    def waivers(self) -> tuple[str, ...]:
        labels = as_map(self.config.get("Labels"))
        raw = str(labels.get(OPT_INS_LABEL) or "")
        return tuple(w.strip() for w in raw.split(",") if w.strip())

    def bindings(self) -> tuple[list[tuple[str, str, str]], str]:
        """The published ports ``(container port, host ip, host port)`` and their source.

        A running container's are the engine's (``NetworkSettings.Ports``, as
        ``docker port`` shows them); another's are those it asks for
        (``HostConfig.PortBindings``, plus every exposed port when
        ``PublishAllPorts``), which the engine binds at start.
        """
        found: list[tuple[str, str, str]] = []
        if self.running:
            ports = as_map(as_map(self.inspect.get("NetworkSettings")).get("Ports"))
            source = "NetworkSettings.Ports"
        else:
            ports = as_map(self.host.get("PortBindings"))
            source = "HostConfig.PortBindings (not running: bound at start)"
            if self.host.get("PublishAllPorts"):
                exposed = as_map(self.config.get("ExposedPorts"))
                ports = {**{p: [{"HostIp": "", "HostPort": ""}] for p in exposed}, **ports}
        for port, entries in sorted(ports.items()):
            for entry in as_list(entries):
                entry = as_map(entry)
                found.append(
                    (str(port), str(entry.get("HostIp") or ""), str(entry.get("HostPort") or ""))
                )
        return found, source

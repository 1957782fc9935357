"""Audit containers against the CIS Docker Benchmark v1.6 section 5 and Pod Security.

:func:`audit` judges one container, :func:`audit_all` every running one, and
:func:`audit_config` a :class:`RunConfig` before it is launched. Each returns an
:class:`AuditReport` of :class:`Finding` records, one per check and container, each
with an id (``"5.4"``, ``"PSS-restricted-runAsNonRoot"``, ``"SR-waivers"``), a status,
the evidence read and the remedy. :data:`CHECKS` lists every check, in order.

How it reads the engine: one ``info``, one network listing and one ``inspect`` per
container, all at once on a thread pool; then one pure function judges each
container's inspect record in that engine context. The exec check (5.7, sshd) runs
``ps`` in the container and only when asked (``exec_checks=True``).

The verdicts are docker-bench-security's wherever its logic is sound. Where it has a
known hole, the check here is stricter and its evidence says so:

* 5.3 passes any ``SecurityOpt``; here an SELinux ``label`` option is required (and
  the check is not applicable on an engine without SELinux);
* 5.4 reads only ``CapAdd``; here the effective set is computed (privileged is every
  capability; ``CapDrop ALL`` removes the defaults) and anything beyond Docker's 14
  defaults warns, the dangerous ones named;
* 5.14 catches only ``0.0.0.0``; here ``::`` and an empty ``HostIp`` (every interface)
  warn too;
* 5.15 reads only the retry count; here ``always`` and ``unless-stopped`` warn, and
  ``on-failure`` needs 1 to 5 retries (0 means unlimited);
* 5.26 accepts ``no-new-privileges=false``; here the value is parsed as the daemon does.

Also stricter, in smaller ways: 5.6 catches paths below a sensitive directory,
5.22 counts privileged containers and allow-all custom profiles as unconfined,
5.32 catches any engine socket and a mount of a folder above one. Two verdicts are
milder, where docker-bench-security is wrong: 5.12 accepts a CFS quota
(``CpuQuota``) as a CPU limit, and 5.8 counts host ports below 1024 as privileged
(port 1024 is not). 5.9 warns on any published port, as docker-bench-security
does: only a person can tell which are needed.

Ports are read as ``docker port`` shows them for a running container
(``NetworkSettings.Ports``) and from ``HostConfig.PortBindings`` for one that is
only created, so a container can be judged before it is started.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Protocol, Union

import attrs
import docker
import docker.constants
import docker.errors
from docker.models.containers import Container

from .._config.capabilities import (
    DANGEROUS_CAPABILITIES,
    DOCKER_DEFAULT_CAPABILITIES,
    UNWAIVED_CAPABILITIES,
    capability_name,
    effective_capabilities,
)
from .._config.hostpaths import SENSITIVE_PATHS, exposes_socket, host_path, sensitive_root
from .._config.run_config import RunConfig
from .._config.seccomp import is_allow_all
from .._config.validation import SAFE_SYSCTLS
from .._config.values import LABEL_PREFIX, OptIn
from .._engine.client import connect, is_local
from .._engine.errors import translated
from .._errors import ConfigError, LaunchError
from .._export.translate import create_args, sdk_kwargs
from .._proof.procfs import start_time
from .._report import STATUSES, JsonReport, Status, cut, table, to_status

__all__ = ["CHECKS", "AuditReport", "CheckSpec", "Finding", "audit", "audit_all", "audit_config"]


PASS = Status.PASS
WARN = Status.WARN
INFO = Status.INFO
NOTE = Status.NOTE
NOT_APPLICABLE = Status.NOT_APPLICABLE

OPT_INS_LABEL = LABEL_PREFIX + "opt-ins"
_DOCKER0_OPTION = "com.docker.network.bridge.name"
_MAX_RETRIES = 5
_PRIVILEGED_PORTS = 1024
_MAX_WORKERS = 8
_CONFIG_AUDIT = "config audit: no engine"
#: What docker-bench-security counts as "no value" in a Go template's output.
_EMPTY_PROFILES = ("", "[]", "<no value>")
#: SELinux types Pod Security baseline allows (container_engine_t from Kubernetes 1.31).
_SELINUX_TYPES = frozenset(
    {"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
#: The capabilities Pod Security baseline lets a container add.
_PSS_BASELINE_CAPS = DOCKER_DEFAULT_CAPABILITIES - {"NET_RAW"}
_PSS_RESTRICTED_CAPS = UNWAIVED_CAPABILITIES
#: docker-bench-security's community checks C.5.3.1 to C.5.3.4.
_COMMUNITY_CAPS = frozenset({"DAC_READ_SEARCH", "SYS_MODULE", "SYS_ADMIN", "SYS_PTRACE"})
_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


# -- the public records ----------------------------------------------------------------


@attrs.frozen
class Finding:
    """The verdict of one check on one container (or on the engine).

    Attributes:
        id: The check's id: ``"5.4"`` (CIS Docker Benchmark v1.6),
            ``"PSS-baseline-<control>"`` or ``"PSS-restricted-<control>"`` (Pod
            Security Standards), ``"SR-waivers"`` (secure_run's opt-in label).
        title: What the check asks for.
        status: ``"pass"``, ``"warn"`` (weaker than the check asks), ``"info"``
            (for a person to review), ``"note"`` (a manual check no tool can make) or
            ``"not_applicable"`` (with the reason in ``evidence``).
        evidence: What was read and how it was judged, e.g.
            ``"HostConfig.CapAdd=['CAP_SYS_ADMIN']"``.
        remedy: How to meet the check.
        container: The container's name (without ``/``); ``""`` for a finding about
            the engine or for a config audit.

    .. versionadded:: 0.1
    """

    id: str
    title: str
    status: Status = attrs.field(converter=to_status)
    evidence: str
    remedy: str
    container: str = ""


@attrs.frozen
class CheckSpec:
    """One check of the audit, for reference documentation generated from the code.

    Attributes:
        id: The check's id, as in :attr:`Finding.id`.
        title: What the check asks for.
        rationale: Why it matters.
        remedy: How to meet it.
        scored: Whether it can warn (``False``: it only reports info or notes).
        source: ``"CIS 5.x"`` (CIS Docker Benchmark v1.6 section 5), ``"PSS"``
            (Kubernetes Pod Security Standards) or ``"secure_run"``.

    .. versionadded:: 0.1
    """

    id: str
    title: str
    rationale: str
    remedy: str
    scored: bool
    source: str


def _findings(value: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(value)


@attrs.frozen
class AuditReport(JsonReport):
    """The findings of an audit, engine-level first, then container by container.

    .. versionadded:: 0.1
    """

    findings: tuple[Finding, ...] = attrs.field(converter=_findings)

    @property
    def ok(self) -> bool:
        """Whether no finding warns."""
        return not self.warnings

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The findings with status ``"warn"``, as every report names them."""
        return tuple(f for f in self.findings if f.status == WARN)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The same as :attr:`failures`: the findings with status ``"warn"``."""
        return self.failures

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data: ``ok``, a count per status, and every finding."""
        counts = {status: 0 for status in STATUSES}
        for finding in self.findings:
            counts[finding.status] += 1
        return {
            "ok": self.ok,
            "counts": counts,
            "findings": [attrs.asdict(f) for f in self.findings],
        }

    def __str__(self) -> str:
        rows = [
            (cut(f.container or "-", 24), f.id, f.status, cut(f.title, 44), cut(f.evidence, 72))
            for f in self.findings
        ]
        lines = table(("container", "id", "status", "title", "evidence"), rows)
        counts = self.to_dict()["counts"]
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        verdict = "ok" if self.ok else f"{len(self.warnings)} warning(s)"
        lines.append(f"{len(self.findings)} findings ({summary or 'none'}): {verdict}")
        return "\n".join(lines)


# -- the context a container is judged in ----------------------------------------------


def _mappings(value: Iterable[Any]) -> tuple[Mapping[str, Any], ...]:
    return tuple(v for v in value if isinstance(v, Mapping))


@attrs.frozen
class _Context:
    """The engine a container runs on, as far as the judge needs it.

    Attributes:
        info: ``docker info`` (``client.api.info()``); ``None`` for a config audit,
            which has no engine.
        networks: The network listing (``client.api.networks()``).
        no_new_privileges: Whether the daemon sets no-new-privileges for every
            container (``dockerd --no-new-privileges`` or daemon.json); unknown is off.
        no_new_privileges_source: Where that was read, for the evidence.
    """

    info: Mapping[str, Any] | None = None
    networks: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_mappings)
    no_new_privileges: bool = False
    no_new_privileges_source: str = "not read"

    @property
    def engine(self) -> bool:
        """Whether there is an engine (not a config audit)."""
        return self.info is not None

    def security_options(self) -> tuple[str, ...]:
        """``docker info`` ``SecurityOptions``."""
        return tuple(str(o) for o in _list((self.info or {}).get("SecurityOptions")))

    def has(self, name: str) -> bool:
        """Whether ``SecurityOptions`` lists ``name=<name>`` (seccomp, apparmor, selinux)."""
        for option in self.security_options():
            for part in option.split(","):
                if part == f"name={name}":
                    return True
        return False


@attrs.frozen
class _Processes:
    """What ``ps`` in the container printed, or why it could not be read."""

    output: str | None = None
    reason: str = ""


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _parse_bool(value: str) -> bool | None:
    """Go's ``strconv.ParseBool``, which the daemon uses for security options."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def _security_pairs(options: Iterable[str]) -> list[tuple[str, str]]:
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


def _effective_capabilities(host: Mapping[str, Any]) -> tuple[frozenset[str], str]:
    """The capabilities an inspect record grants (see :func:`effective_capabilities`)."""
    return effective_capabilities(
        _list(host.get("CapAdd")),
        _list(host.get("CapDrop")),
        privileged=bool(host.get("Privileged")),
    )


@attrs.frozen
class _View:
    """One container's inspect record, with the parts the checks share read once."""

    inspect: Mapping[str, Any]
    ctx: _Context
    processes: _Processes | None

    @property
    def host(self) -> Mapping[str, Any]:
        return _map(self.inspect.get("HostConfig"))

    @property
    def config(self) -> Mapping[str, Any]:
        return _map(self.inspect.get("Config"))

    @property
    def name(self) -> str:
        return str(self.inspect.get("Name") or "").lstrip("/")

    @property
    def running(self) -> bool:
        return bool(_map(self.inspect.get("State")).get("Running"))

    @property
    def security_opt(self) -> list[str]:
        return [str(o) for o in _list(self.host.get("SecurityOpt"))]

    def option(self, key: str) -> list[str]:
        """The values of one kind of security option, in order."""
        return [v for k, v in _security_pairs(self.security_opt) if k == key]

    @property
    def mounts(self) -> list[Mapping[str, Any]]:
        return [_map(m) for m in _list(self.inspect.get("Mounts"))]

    @property
    def waivers(self) -> tuple[str, ...]:
        labels = _map(self.config.get("Labels"))
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
            ports = _map(_map(self.inspect.get("NetworkSettings")).get("Ports"))
            source = "NetworkSettings.Ports"
        else:
            ports = _map(self.host.get("PortBindings"))
            source = "HostConfig.PortBindings (not running: bound at start)"
            if self.host.get("PublishAllPorts"):
                exposed = _map(self.config.get("ExposedPorts"))
                ports = {**{p: [{"HostIp": "", "HostPort": ""}] for p in exposed}, **ports}
        for port, entries in sorted(ports.items()):
            for entry in _list(entries):
                entry = _map(entry)
                found.append(
                    (str(port), str(entry.get("HostIp") or ""), str(entry.get("HostPort") or ""))
                )
        return found, source


@attrs.frozen
class _Verdict:
    """A check's result before it becomes a finding; ``causes`` are opt-ins that explain it."""

    status: str
    evidence: str
    causes: tuple[str, ...] = ()


_Judge = Callable[[_View], _Verdict]
_REGISTRY: list[tuple[CheckSpec, _Judge]] = []


def _check(
    check_id: str, title: str, rationale: str, remedy: str, *, scored: bool = True
) -> Callable[[_Judge], _Judge]:
    """Register a judge under a check spec; the order of registration is the report's."""
    source = "PSS" if check_id.startswith("PSS-") else "secure_run"
    if check_id[0].isdigit():
        source = "CIS 5.x"

    def register(judge: _Judge) -> _Judge:
        _REGISTRY.append((CheckSpec(check_id, title, rationale, remedy, scored, source), judge))
        return judge

    return register


def _verdict(ok: bool, evidence: str, causes: Sequence[str | OptIn] = ()) -> _Verdict:
    return _Verdict(PASS if ok else WARN, evidence, tuple(str(c) for c in causes) if not ok else ())


def _cap_causes(added: Iterable[str]) -> list[OptIn]:
    """The opt-ins that permit adding these capabilities (as validation requires them)."""
    caps = set(added)
    causes = []
    if caps & DANGEROUS_CAPABILITIES:
        causes.append(OptIn.DANGEROUS_CAPABILITY)
    if caps - DANGEROUS_CAPABILITIES - UNWAIVED_CAPABILITIES:
        causes.append(OptIn.EXTRA_CAPABILITY)
    return causes


def _stricter(evidence: str, reference: str) -> str:
    return f"{evidence}; stricter than docker-bench-security, which {reference}"


# -- CIS Docker Benchmark v1.6, section 5 ----------------------------------------------


@_check(
    "5.1",
    "Ensure swarm mode is not enabled, if not needed",
    "Swarm mode opens management ports and keeps cluster secrets on the host.",
    "docker swarm leave (on an engine that need not be a swarm node)",
)
def _swarm(v: _View) -> _Verdict:
    if v.ctx.info is None:
        return _Verdict(NOT_APPLICABLE, _CONFIG_AUDIT)
    state = _map(v.ctx.info.get("Swarm")).get("LocalNodeState")
    return _verdict(state == "inactive", f"docker info Swarm.LocalNodeState={state!r}")


@_check(
    "5.2",
    "Ensure that, if applicable, an AppArmor profile is enabled",
    "AppArmor confines what a container's processes may touch on the host.",
    "keep the engine's docker-default profile or give one with .apparmor(name); "
    "never apparmor=unconfined",
)
def _apparmor(v: _View) -> _Verdict:
    unconfined = "unconfined" in v.option("apparmor")
    privileged = bool(v.host.get("Privileged"))
    opts = f"HostConfig.SecurityOpt={v.security_opt}"
    if not v.ctx.engine:
        if unconfined or privileged:
            return _Verdict(
                WARN,
                f"{opts} Privileged={privileged}: unconfined on any engine with AppArmor",
                (OptIn.APPARMOR_UNCONFINED.value,) if unconfined else (OptIn.PRIVILEGED.value,),
            )
        if v.option("apparmor"):
            return _Verdict(PASS, f"{opts}: profile {v.option('apparmor')[-1]!r}")
        return _Verdict(
            NOT_APPLICABLE,
            f"{_CONFIG_AUDIT}; whether it has AppArmor is unknown (an engine with AppArmor "
            f"applies docker-default); {opts}",
        )
    if not v.ctx.has("apparmor"):
        return _Verdict(
            NOT_APPLICABLE,
            f"the engine host has no AppArmor (docker info SecurityOptions="
            f"{list(v.ctx.security_options())})",
        )
    profile = str(v.inspect.get("AppArmorProfile") or "")
    ok = profile not in (*_EMPTY_PROFILES, "unconfined")
    return _verdict(
        ok,
        f"AppArmorProfile={profile!r}",
        [OptIn.APPARMOR_UNCONFINED, OptIn.PRIVILEGED]
        if privileged
        else [OptIn.APPARMOR_UNCONFINED],
    )


def _selinux_problem(v: _View) -> str | None:
    """Why the container's SELinux options are weak, or ``None`` if they are sound."""
    labels = v.option("label")
    if v.host.get("Privileged"):
        return "Privileged=true disables SELinux labelling"
    if "disable" in labels:
        return "label=disable turns SELinux labelling off"
    for label in labels:
        kind, _, value = label.partition(":")
        if kind == "type" and value not in _SELINUX_TYPES:
            return f"label type {value!r} is not a container type ({sorted(_SELINUX_TYPES)})"
    return None


def _selinux_causes(v: _View) -> tuple[str, ...]:
    return (OptIn.PRIVILEGED.value,) if v.host.get("Privileged") else ()


@_check(
    "5.3",
    "Ensure that, if applicable, SELinux security options are set",
    "An SELinux label confines the container's processes and files on an SELinux host.",
    "on an SELinux engine, give --security-opt label=level:<level> (or type:container_t); "
    "never label=disable",
)
def _selinux(v: _View) -> _Verdict:
    opts = f"HostConfig.SecurityOpt={v.security_opt}"
    problem = _selinux_problem(v)
    if not v.ctx.engine:
        if problem is not None:
            return _Verdict(WARN, f"{opts}: {problem}", _selinux_causes(v))
        return _Verdict(
            NOT_APPLICABLE, f"{_CONFIG_AUDIT}; whether it has SELinux is unknown; {opts}"
        )
    reference = "pass" if v.security_opt else "warn"
    if not v.ctx.has("selinux"):
        return _Verdict(
            NOT_APPLICABLE,
            f"the engine has no SELinux (docker info SecurityOptions="
            f"{list(v.ctx.security_options())}); {opts} (docker-bench-security would "
            f"{reference}: it passes any SecurityOpt)",
        )
    labels = [label for label in v.option("label") if label != "disable"]
    if problem is None and labels:
        return _Verdict(PASS, f"{opts}; ProcessLabel={v.inspect.get('ProcessLabel')!r}")
    why = problem or "no SELinux label option (label=...)"
    evidence = f"{opts}: {why}"
    if reference == "pass":
        evidence = _stricter(evidence, "passes any SecurityOpt")
    return _Verdict(WARN, evidence, _selinux_causes(v))


@_check(
    "5.4",
    "Ensure that Linux kernel capabilities are restricted within containers",
    "Each capability beyond Docker's defaults is a piece of root's power on the host kernel.",
    "drop ALL and add back only what is needed (secure_run's default: cap_drop ALL)",
)
def _capabilities(v: _View) -> _Verdict:
    host = v.host
    caps, how = _effective_capabilities(host)
    extra = sorted(caps - DOCKER_DEFAULT_CAPABILITIES)
    dangerous = sorted(caps & DANGEROUS_CAPABILITIES)
    community = sorted(caps & _COMMUNITY_CAPS)
    evidence = (
        f"HostConfig.CapAdd={host.get('CapAdd')} CapDrop={host.get('CapDrop')} "
        f"Privileged={bool(host.get('Privileged'))}; effective ({how}): "
        f"{len(caps)} capabilities"
    )
    if not extra:
        return _Verdict(PASS, evidence + ", none beyond Docker's 14 defaults")
    shown = ", ".join(extra) if len(extra) <= 8 else f"{', '.join(extra[:8])}, ..."
    evidence += f"; beyond Docker's 14 defaults: {shown}"
    if dangerous:
        evidence += f"; dangerous: {', '.join(dangerous)}"
    if community:
        evidence += f" (community checks C.5.3: {', '.join(community)})"
    reference_adds = {capability_name(c) for c in _list(host.get("CapAdd"))}
    if not reference_adds - DOCKER_DEFAULT_CAPABILITIES:
        evidence = _stricter(evidence, "reads only CapAdd and ignores Privileged and CapDrop")
    causes = [OptIn.PRIVILEGED] if host.get("Privileged") else _cap_causes(extra)
    return _verdict(False, evidence, causes)


@_check(
    "5.5",
    "Ensure that privileged containers are not used",
    "A privileged container has every capability and device and no confinement: it is root "
    "on the host.",
    "remove --privileged; add only the capabilities and devices needed",
)
def _privileged(v: _View) -> _Verdict:
    privileged = bool(v.host.get("Privileged"))
    return _verdict(not privileged, f"HostConfig.Privileged={privileged}", [OptIn.PRIVILEGED])


@_check(
    "5.6",
    "Ensure sensitive host system directories are not mounted on containers",
    "A writable mount of /, /boot, /dev, /etc, /lib, /proc, /sys or /usr lets the container "
    "change the host.",
    "remove the mount, or mount it read-only (.mount(src, dst, read_only=True))",
)
def _sensitive_mounts(v: _View) -> _Verdict:
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
        return _Verdict(PASS, f"Mounts: no writable mount of {', '.join(SENSITIVE_PATHS)}")
    evidence = f"Mounts: {'; '.join(bad)}"
    if deeper:
        evidence = _stricter(evidence, "matches only the exact directories")
    return _verdict(False, evidence, [OptIn.SENSITIVE_MOUNT])


@_check(
    "5.7",
    "Ensure sshd is not run within containers",
    "An SSH daemon in a container is one more service to secure; use docker exec instead.",
    "remove the SSH server from the image; use docker exec to get a shell",
)
def _sshd(v: _View) -> _Verdict:
    if not v.ctx.engine:
        return _Verdict(NOT_APPLICABLE, f"{_CONFIG_AUDIT}: no processes to list")
    if v.processes is None:
        return _Verdict(
            NOT_APPLICABLE, "exec checks off: audit(..., exec_checks=True) runs ps in the container"
        )
    if v.processes.output is None:
        return _Verdict(INFO, f"could not list the processes: {v.processes.reason}")
    lines = [line.strip() for line in v.processes.output.splitlines() if "sshd" in line]
    if lines:
        return _Verdict(WARN, f"ps -el in the container: {len(lines)} sshd line(s): {lines[0]!r}")
    count = max(len(v.processes.output.splitlines()) - 1, 0)
    return _Verdict(PASS, f"ps -el in the container: {count} process line(s), none sshd")


@_check(
    "5.8",
    "Ensure privileged ports are not mapped within containers",
    "Host ports below 1024 are reserved for privileged services.",
    "publish on a host port of 1024 or more",
)
def _privileged_ports(v: _View) -> _Verdict:
    bindings, source = v.bindings()
    low = [
        f"{port} -> {ip or '*'}:{host}"
        for port, ip, host in bindings
        if host.isdigit() and 0 < int(host) < _PRIVILEGED_PORTS
    ]
    if low:
        return _verdict(False, f"{source}: host ports below 1024: {', '.join(low)}",
                        [OptIn.PRIVILEGED_PORT])  # fmt: skip
    return _Verdict(PASS, f"{source}: {len(bindings)} binding(s), none below host port 1024")


@_check(
    "5.9",
    "Ensure that only needed ports are open on the container",
    "Every published port is a way in; a tool cannot tell which are needed, so each is shown.",
    "publish only the ports the service needs (a manual review); docker-bench-security "
    "warns on any",
)
def _open_ports(v: _View) -> _Verdict:
    bindings, source = v.bindings()
    if not bindings:
        return _Verdict(PASS, f"{source}: no published port")
    shown = ", ".join(f"{p} -> {ip or '*'}:{h or 'any'}" for p, ip, h in bindings)
    return _Verdict(WARN, f"{source}: {shown} (confirm each is needed)")


def _mode_check(field: str, what: str) -> _Judge:
    def judge(v: _View) -> _Verdict:
        mode = v.host.get(field)
        return _verdict(mode != "host", f"HostConfig.{field}={mode!r}", [OptIn.HOST_NAMESPACE])

    judge.__doc__ = f"Whether the container shares the host's {what} namespace."
    return judge


_check(
    "5.10",
    "Ensure that the host's network namespace is not shared",
    "The host's network namespace gives the container every host interface and port.",
    'use network "none" or a user-defined network, never "host"',
)(_mode_check("NetworkMode", "network"))


@_check(
    "5.11",
    "Ensure that the memory usage for containers is limited",
    "Without a limit, one container can take the host's memory.",
    'set a memory limit (.memory("256m"))',
)
def _memory(v: _View) -> _Verdict:
    memory = v.host.get("Memory") or 0
    return _verdict(memory != 0, f"HostConfig.Memory={memory}", [OptIn.UNLIMITED_MEMORY])


@_check(
    "5.12",
    "Ensure that CPU priority is set appropriately on containers",
    "Without a CPU share or quota, one container can starve the others.",
    "set a CPU limit (.cpus(1.0)) or shares (.cpu_shares(512))",
)
def _cpu(v: _View) -> _Verdict:
    shares = v.host.get("CpuShares") or 0
    nano = v.host.get("NanoCpus") or 0
    quota = v.host.get("CpuQuota") or 0
    evidence = f"HostConfig.CpuShares={shares} NanoCpus={nano} CpuQuota={quota}"
    if shares == 0 and nano == 0 and quota > 0:
        return _Verdict(PASS, evidence + " (docker-bench-security ignores CpuQuota and warns)")
    return _verdict(shares != 0 or nano != 0, evidence, [OptIn.UNLIMITED_CPU])


@_check(
    "5.13",
    "Ensure that the container's root filesystem is mounted as read only",
    "A read-only root stops an intruder from changing the container's programs.",
    "run with a read-only root (.read_only(True)) and tmpfs for scratch paths",
)
def _read_only(v: _View) -> _Verdict:
    read_only = bool(v.host.get("ReadonlyRootfs"))
    return _verdict(read_only, f"HostConfig.ReadonlyRootfs={read_only}", [OptIn.WRITABLE_ROOT])


def _every_interface(ip: str) -> bool:
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


@_check(
    "5.14",
    "Ensure that incoming container traffic is bound to a specific host interface",
    "A port bound to every interface is reachable from every network the host is on.",
    'publish on one address, e.g. .publish(8080, host_ip="127.0.0.1")',
)
def _bound_interface(v: _View) -> _Verdict:
    bindings, source = v.bindings()
    wide = [(p, ip, h) for p, ip, h in bindings if _every_interface(ip)]
    if not wide:
        return _Verdict(PASS, f"{source}: {len(bindings)} binding(s), each on one address")
    shown = ", ".join(f"{p} -> {ip or repr('')}:{h or 'any'}" for p, ip, h in wide)
    evidence = f"{source}: bound to every interface: {shown}"
    if all(ip.strip("[]") != "0.0.0.0" for _, ip, _ in wide):  # noqa: S104
        evidence = _stricter(evidence, "catches only 0.0.0.0, not :: or an empty HostIp")
    return _verdict(False, evidence, [OptIn.PUBLIC_PORT])


@_check(
    "5.15",
    "Ensure that the 'on-failure' container restart policy is set to '5'",
    "Endless restarts hide failures and can be used to exhaust the host.",
    'use no restart or .restart("on-failure", max_retries=5) at most',
)
def _restart(v: _View) -> _Verdict:
    policy = _map(v.host.get("RestartPolicy"))
    name = str(policy.get("Name") or "")
    retries = int(policy.get("MaximumRetryCount") or 0)
    evidence = f"HostConfig.RestartPolicy Name={name!r} MaximumRetryCount={retries}"
    if name in ("", "no"):
        return _Verdict(PASS, evidence + ": never restarted")
    if name == "on-failure" and 0 < retries <= _MAX_RETRIES:
        return _Verdict(PASS, evidence)
    if name == "on-failure":
        why = "unlimited retries (0)" if retries == 0 else f"more than {_MAX_RETRIES} retries"
    else:
        why = f"{name!r} restarts without limit"
    evidence = f"{evidence}: {why}"
    if retries <= _MAX_RETRIES:
        evidence = _stricter(evidence, "reads only MaximumRetryCount (> 5 warns)")
    return _verdict(False, evidence, [OptIn.UNBOUNDED_RESTART])


_check(
    "5.16",
    "Ensure that the host's process namespace is not shared",
    "The host's PID namespace lets the container see and signal every host process.",
    "leave the PID namespace private (no --pid host)",
)(_mode_check("PidMode", "process"))
_check(
    "5.17",
    "Ensure that the host's IPC namespace is not shared",
    "The host's IPC namespace exposes its shared memory and semaphores.",
    "leave the IPC namespace private (no --ipc host)",
)(_mode_check("IpcMode", "IPC"))


@_check(
    "5.18",
    "Ensure that host devices are not directly exposed to containers",
    "A host device gives direct access to hardware or kernel interfaces.",
    "remove the devices, or review that each is needed",
    scored=False,
)
def _devices(v: _View) -> _Verdict:
    devices = [_map(d) for d in _list(v.host.get("Devices"))]
    if v.host.get("Privileged"):
        return _Verdict(INFO, "HostConfig.Privileged=True: every host device",
                        (OptIn.PRIVILEGED.value,))  # fmt: skip
    if devices:
        shown = ", ".join(
            f"{d.get('PathOnHost')}:{d.get('PathInContainer')}:{d.get('CgroupPermissions')}"
            for d in devices
        )
        return _Verdict(INFO, f"HostConfig.Devices: {shown}", (OptIn.DEVICES.value,))
    return _Verdict(PASS, "HostConfig.Devices: none")


@_check(
    "5.19",
    "Ensure that the default ulimit is overwritten at runtime if needed",
    "Explicit ulimits (open files, processes, core dumps) bound what one container can hold.",
    'set the limits the workload needs (.ulimit("nofile", 1024))',
    scored=False,
)
def _ulimits(v: _View) -> _Verdict:
    ulimits = [_map(u) for u in _list(v.host.get("Ulimits"))]
    if not ulimits:
        return _Verdict(INFO, "HostConfig.Ulimits: none (the daemon's defaults apply)")
    shown = ", ".join(f"{u.get('Name')}={u.get('Soft')}:{u.get('Hard')}" for u in ulimits)
    return _Verdict(PASS, f"HostConfig.Ulimits: {shown}")


@_check(
    "5.20",
    "Ensure mount propagation mode is not set to shared",
    "Shared propagation lets mounts made in the container appear on the host.",
    "use the default propagation (rprivate)",
)
def _propagation(v: _View) -> _Verdict:
    shared = [
        f"{m.get('Destination')}={m.get('Propagation')}"
        for m in v.mounts
        if "shared" in str(m.get("Propagation") or "")
    ]
    if shared:
        return _verdict(False, f"Mounts Propagation: {', '.join(shared)}",
                        [OptIn.SHARED_PROPAGATION])  # fmt: skip
    return _Verdict(PASS, f"Mounts Propagation: {len(v.mounts)} mount(s), none shared")


_check(
    "5.21",
    "Ensure that the host's UTS namespace is not shared",
    "The host's UTS namespace lets the container change the host's name.",
    "leave the UTS namespace private (no --uts host)",
)(_mode_check("UTSMode", "UTS"))


def _seccomp_problem(v: _View, *, engine_support: bool = True) -> tuple[str | None, bool]:
    """Why the container has no syscall filter, and whether docker-bench sees it too."""
    for value in v.option("seccomp"):
        if value == "unconfined":
            return "seccomp=unconfined", True
        try:
            profile = json.loads(value)
        except ValueError:
            continue
        if isinstance(profile, Mapping) and is_allow_all(profile):
            return "a custom profile that allows every syscall", False
    if v.host.get("Privileged"):
        return "Privileged=true runs without seccomp", False
    if engine_support and v.ctx.engine and not v.ctx.has("seccomp"):
        return "the engine has no seccomp support (docker info SecurityOptions)", False
    return None, False


def _seccomp_causes(v: _View) -> list[OptIn]:
    return [OptIn.PRIVILEGED] if v.host.get("Privileged") else [OptIn.SECCOMP_UNCONFINED]


@_check(
    "5.22",
    "Ensure that the default seccomp profile is not disabled",
    "The seccomp filter blocks the syscalls a container has no business making.",
    'keep the default profile (.seccomp("default")) or a custom one that denies',
)
def _seccomp(v: _View) -> _Verdict:
    opts = [o if len(o) <= 40 else o[:37] + "..." for o in v.security_opt]
    problem, seen = _seccomp_problem(v)
    evidence = f"HostConfig.SecurityOpt={opts}"
    if problem is None:
        return _Verdict(PASS, evidence + ": a syscall filter applies")
    evidence = f"{evidence}: {problem}"
    if not seen:
        evidence = _stricter(evidence, "looks only for seccomp=unconfined")
    return _verdict(False, evidence, _seccomp_causes(v))


@_check(
    "5.23",
    "Ensure that docker exec commands are not used with the privileged option",
    "docker exec --privileged gives a process every capability in a running container.",
    "never run docker exec --privileged; audit the engine's logs for it",
    scored=False,
)
def _exec_privileged(v: _View) -> _Verdict:
    return _Verdict(NOTE, "manual: docker exec options are not recorded on the container")


@_check(
    "5.24",
    "Ensure that docker exec commands are not used with the user=root option",
    "docker exec --user root undoes a container's non-root user.",
    "never run docker exec --user root; audit the engine's logs for it",
    scored=False,
)
def _exec_root(v: _View) -> _Verdict:
    return _Verdict(NOTE, "manual: docker exec options are not recorded on the container")


@_check(
    "5.25",
    "Ensure that cgroup usage is confirmed",
    "A custom cgroup parent can take the container out of the limits the engine enforces.",
    "leave --cgroup-parent unset so the engine's cgroup applies",
)
def _cgroup_parent(v: _View) -> _Verdict:
    parent = str(v.host.get("CgroupParent") or "")
    return _verdict(not parent, f"HostConfig.CgroupParent={parent!r}")


def _no_new_privileges(v: _View) -> tuple[bool, str]:
    """Whether no-new-privileges applies, and the evidence.

    The container's last explicit option wins over the daemon-wide default, as in
    the daemon.
    """
    values = v.option("no-new-privileges")
    opts = f"HostConfig.SecurityOpt={[o for o in v.security_opt if 'no-new-priv' in o]}"
    if values:
        parsed = _parse_bool(values[-1])
        if parsed is None:
            return False, f"{opts}: {values[-1]!r} is not a boolean"
        return parsed, f"{opts}: {'true' if parsed else 'false'}"
    if v.ctx.no_new_privileges:
        return True, f"{opts}: none; daemon-wide default on ({v.ctx.no_new_privileges_source})"
    if not v.ctx.engine:
        return False, f"{opts}: none (config audit: the daemon's default is unknown)"
    return False, f"{opts}: none; daemon-wide default off ({v.ctx.no_new_privileges_source})"


@_check(
    "5.26",
    "Ensure that the container is restricted from acquiring additional privileges",
    "no-new-privileges stops setuid programs and file capabilities from raising privileges.",
    "run with --security-opt no-new-privileges=true (.no_new_privileges(True))",
)
def _new_privileges(v: _View) -> _Verdict:
    ok, evidence = _no_new_privileges(v)
    if not ok and any("no-new-privileges" in o for o in v.security_opt):
        evidence = _stricter(evidence, "passes any option naming no-new-privileges")
    elif not ok and v.ctx.no_new_privileges:
        evidence = _stricter(evidence, "passes every container when the daemon default is on")
    return _verdict(ok, evidence, [OptIn.NEW_PRIVILEGES])


@_check(
    "5.27",
    "Ensure that container health is checked at runtime",
    "A healthcheck lets the engine and operators see a container that stopped working.",
    "give a healthcheck (.healthcheck([...])) or a HEALTHCHECK in the image",
)
def _health(v: _View) -> _Verdict:
    health = _map(v.inspect.get("State")).get("Health")
    test = _list(_map(v.config.get("Healthcheck")).get("Test"))
    configured = bool(test) and test[0] != "NONE"
    if isinstance(health, Mapping):
        return _Verdict(PASS, f"State.Health.Status={health.get('Status')!r}")
    if configured:
        return _Verdict(PASS, f"Config.Healthcheck.Test={test} (not started yet)")
    if not v.ctx.engine:
        return _Verdict(
            INFO,
            "the config sets no healthcheck; the image's HEALTHCHECK, if any, is known only "
            "once the container is created",
        )
    return _Verdict(WARN, f"State.Health: none; Config.Healthcheck.Test={test or None}")


@_check(
    "5.28",
    "Ensure that Docker commands always make use of the latest version of their image",
    "A tag can move; a digest names exactly the image that was reviewed.",
    "refer to the image by digest (name@sha256:...) and update it deliberately",
    scored=False,
)
def _image_pinning(v: _View) -> _Verdict:
    image = str(v.config.get("Image") or "")
    if "@sha256:" in image or _IMAGE_ID.fullmatch(image):
        return _Verdict(PASS, f"Config.Image={image!r}: pinned by digest")
    return _Verdict(INFO, f"Config.Image={image!r}: a tag, which can move; pin it by digest")


@_check(
    "5.29",
    "Ensure that the PIDs cgroup limit is used",
    "A pids limit stops a fork bomb from exhausting the host's process table.",
    "set a pids limit (.pids_limit(128))",
)
def _pids(v: _View) -> _Verdict:
    limit = v.host.get("PidsLimit")
    ok = isinstance(limit, int) and limit > 0
    return _verdict(ok, f"HostConfig.PidsLimit={limit}", [OptIn.UNLIMITED_PIDS])


@_check(
    "5.30",
    "Ensure that Docker's default bridge 'docker0' is not used",
    "On the default bridge every container can reach every other (no network isolation).",
    'use network "none" or a user-defined network',
    scored=False,
)
def _docker0(v: _View) -> _Verdict:
    networks = _map(_map(v.inspect.get("NetworkSettings")).get("Networks"))
    mode = str(v.host.get("NetworkMode") or "")
    if not v.ctx.engine:
        if mode in ("bridge", "default"):
            return _Verdict(INFO, f"HostConfig.NetworkMode={mode!r}: the default bridge (docker0)")
        return _Verdict(PASS, f"HostConfig.NetworkMode={mode!r}")
    bridges = [_map(n) for n in v.ctx.networks]
    ids = {
        str(n.get("Id"))
        for n in bridges
        if _map(n.get("Options")).get(_DOCKER0_OPTION) == "docker0"
    }
    names = {str(n.get("Name")) for n in bridges if str(n.get("Id")) in ids}
    attached = [
        name
        for name, settings in sorted(networks.items())
        if str(_map(settings).get("NetworkID") or "") in ids
        or (not _map(settings).get("NetworkID") and name in names)
    ]
    if attached:
        return _Verdict(INFO, f"NetworkSettings.Networks: {attached} is docker0")
    return _Verdict(PASS, f"NetworkSettings.Networks: {sorted(networks)}, none is docker0")


@_check(
    "5.31",
    "Ensure that the host's user namespaces are not shared",
    "With userns remapping on, --userns host gives the container the host's root.",
    "leave --userns unset",
)
def _userns(v: _View) -> _Verdict:
    mode = str(v.host.get("UsernsMode") or "")
    return _verdict("host" not in mode.lower(), f"HostConfig.UsernsMode={mode!r}",
                    [OptIn.HOST_NAMESPACE])  # fmt: skip


def _socket_mount(m: Mapping[str, Any]) -> bool:
    source = str(m.get("Source") or "")
    destination = str(m.get("Destination") or "")
    return exposes_socket(source, destination, bind=m.get("Type") == "bind")


@_check(
    "5.32",
    "Ensure that the Docker socket is not mounted inside any containers",
    "The engine's socket is root on the host, read-only or not.",
    "remove the mount of the engine socket (or of the folder holding it)",
)
def _socket(v: _View) -> _Verdict:
    found = [f"{m.get('Source')} -> {m.get('Destination')}" for m in v.mounts if _socket_mount(m)]
    if not found:
        return _Verdict(PASS, f"Mounts: {len(v.mounts)} mount(s), no engine socket")
    evidence = f"Mounts: {', '.join(found)}"
    if not any("docker.sock" in f for f in found):
        evidence = _stricter(evidence, "looks only for 'docker.sock'")
    return _verdict(False, evidence, [OptIn.DOCKER_SOCKET])


# -- Pod Security Standards, mapped to Docker ------------------------------------------


@_check(
    "PSS-baseline-hostNamespaces",
    "Host namespaces (network, PID, IPC) are not shared",
    "hostNetwork, hostPID and hostIPC break the isolation between container and host.",
    "leave network, PID and IPC namespaces private",
)
def _pss_namespaces(v: _View) -> _Verdict:
    modes = {f: v.host.get(f) for f in ("NetworkMode", "PidMode", "IpcMode")}
    shared = [f for f, mode in modes.items() if mode == "host"]
    evidence = "HostConfig " + " ".join(f"{f}={mode!r}" for f, mode in modes.items())
    return _verdict(not shared, evidence, [OptIn.HOST_NAMESPACE])


@_check(
    "PSS-baseline-privileged",
    "The container is not privileged",
    "A privileged container disables most of the mechanisms that isolate it.",
    "remove --privileged",
)
def _pss_privileged(v: _View) -> _Verdict:
    return _privileged(v)


@_check(
    "PSS-baseline-capabilities",
    "Capabilities added are only from the baseline list",
    "Baseline allows adding only Docker's default capabilities minus NET_RAW.",
    f"add only from {sorted(_PSS_BASELINE_CAPS)}",
)
def _pss_baseline_caps(v: _View) -> _Verdict:
    adds = sorted({capability_name(c) for c in _list(v.host.get("CapAdd"))})
    beyond = [c for c in adds if c not in _PSS_BASELINE_CAPS]
    evidence = f"HostConfig.CapAdd={v.host.get('CapAdd')}"
    if beyond:
        evidence += f": not in the baseline list: {', '.join(beyond)}"
    return _verdict(not beyond, evidence, _cap_causes(beyond))


@_check(
    "PSS-baseline-hostPathVolumes",
    "No host path is mounted (hostPath volumes; restricted's volume types too)",
    "A bind mount of a host path shares host files with the container.",
    "use named volumes or tmpfs instead of bind mounts",
)
def _psshost_path(v: _View) -> _Verdict:
    binds = [m for m in v.mounts if m.get("Type") == "bind"]
    if binds:
        causes = []
        if any(sensitive_root(host_path(str(m.get("Source") or ""))) for m in binds):
            causes.append(OptIn.SENSITIVE_MOUNT)
        if any(_socket_mount(m) for m in binds):
            causes.append(OptIn.DOCKER_SOCKET)
        shown = ", ".join(f"{m.get('Source')} -> {m.get('Destination')}" for m in binds)
        return _verdict(False, f"Mounts: bind mounts: {shown}", causes)
    return _Verdict(PASS, f"Mounts: {len(v.mounts)} mount(s), no bind mount")


@_check(
    "PSS-baseline-hostPorts",
    "No host port is published (hostPort)",
    "A host port exposes the container on the host's interfaces.",
    "publish no ports, or accept this control as waived for a service",
)
def _pss_host_ports(v: _View) -> _Verdict:
    bindings, source = v.bindings()
    if bindings:
        shown = ", ".join(f"{p} -> {ip or '*'}:{h or 'any'}" for p, ip, h in bindings)
        causes = []
        if any(_every_interface(ip) for _, ip, _ in bindings):
            causes.append(OptIn.PUBLIC_PORT)
        if any(h.isdigit() and 0 < int(h) < _PRIVILEGED_PORTS for _, _, h in bindings):
            causes.append(OptIn.PRIVILEGED_PORT)
        return _verdict(False, f"{source}: {shown}", causes)
    return _Verdict(PASS, f"{source}: no published port")


@_check(
    "PSS-baseline-appArmorProfile",
    "AppArmor is not set to unconfined",
    "An unconfined AppArmor profile removes the mandatory access control.",
    "leave the engine's default profile or name one; never apparmor=unconfined",
)
def _pss_apparmor(v: _View) -> _Verdict:
    profile = str(v.inspect.get("AppArmorProfile") or "")
    options = v.option("apparmor")
    unconfined = "unconfined" in options or profile == "unconfined"
    return _verdict(
        not unconfined,
        f"AppArmorProfile={profile!r} HostConfig.SecurityOpt apparmor={options}",
        [OptIn.APPARMOR_UNCONFINED] if "unconfined" in options else [OptIn.PRIVILEGED],
    )


@_check(
    "PSS-baseline-seLinuxOptions",
    "SELinux labelling is not disabled and uses a container type",
    "Disabling SELinux labels or choosing a custom user, role or type escapes the policy.",
    "leave label options unset, or use type:container_t; never label=disable",
)
def _pss_selinux(v: _View) -> _Verdict:
    labels = v.option("label")
    problems = []
    for label in labels:
        kind, _, value = label.partition(":")
        if label == "disable":
            problems.append("label=disable")
        elif kind in ("user", "role"):
            problems.append(f"label {kind} {value!r} is set")
        elif kind == "type" and value not in _SELINUX_TYPES:
            problems.append(f"label type {value!r} is not a container type")
    evidence = f"HostConfig.SecurityOpt label={labels}"
    if problems:
        evidence += ": " + "; ".join(problems)
    return _verdict(not problems, evidence)


@_check(
    "PSS-baseline-procMount",
    "/proc keeps its masked paths (procMount Default)",
    "Unmasked /proc exposes kernel interfaces such as /proc/kcore and /proc/keys.",
    "remove --privileged and --security-opt systempaths=unconfined",
)
def _pss_proc_mount(v: _View) -> _Verdict:
    masked = v.host.get("MaskedPaths")
    if v.host.get("Privileged"):
        return _verdict(False, f"HostConfig.Privileged=True: /proc unmasked (MaskedPaths={masked})",
                        [OptIn.PRIVILEGED])  # fmt: skip
    if isinstance(masked, list) and not masked:
        return _verdict(False, "HostConfig.MaskedPaths=[]: /proc unmasked")
    shown = "the engine's defaults" if masked is None else f"{len(masked)} masked path(s)"
    return _Verdict(PASS, f"HostConfig.MaskedPaths: {shown}")


@_check(
    "PSS-baseline-seccompProfile",
    "Seccomp is not unconfined",
    "An unconfined container can make every syscall.",
    "keep the default seccomp profile or a custom one that denies",
)
def _pss_seccomp_baseline(v: _View) -> _Verdict:
    problem, _ = _seccomp_problem(v, engine_support=False)
    return _verdict(
        problem is None,
        f"HostConfig.SecurityOpt seccomp={[s[:37] for s in v.option('seccomp')]}"
        + (f": {problem}" if problem else ""),
        _seccomp_causes(v),
    )


@_check(
    "PSS-baseline-sysctls",
    "Only safe, namespaced sysctls are set",
    "Other sysctls can affect the host or every container on it.",
    f"set only sysctls from {sorted(SAFE_SYSCTLS)}",
)
def _pss_sysctls(v: _View) -> _Verdict:
    names = sorted(_map(v.host.get("Sysctls")))
    unsafe = [n for n in names if n not in SAFE_SYSCTLS]
    evidence = f"HostConfig.Sysctls={names}"
    if unsafe:
        evidence += f": not on the safe list: {', '.join(unsafe)}"
    return _verdict(not unsafe, evidence)


@_check(
    "PSS-restricted-allowPrivilegeEscalation",
    "Privilege escalation is not allowed (no-new-privileges)",
    "allowPrivilegeEscalation: false is Docker's no-new-privileges.",
    "run with --security-opt no-new-privileges=true",
)
def _pss_escalation(v: _View) -> _Verdict:
    ok, evidence = _no_new_privileges(v)
    return _verdict(ok, evidence, [OptIn.NEW_PRIVILEGES])


@_check(
    "PSS-restricted-runAsNonRoot",
    "The container runs as a non-root numeric user",
    "Docker has no run-time non-root check; only a numeric non-zero uid can be verified.",
    "run as a numeric non-root uid (.user(65534, 65534))",
)
def _pss_non_root(v: _View) -> _Verdict:
    user = str(v.config.get("User") or "")
    uid = user.split(":", 1)[0]
    evidence = f"Config.User={user!r}"
    if not uid:
        return _verdict(False, evidence + ": the image's user (often root)", [OptIn.ROOT_USER])
    if uid in ("0", "root"):
        return _verdict(False, evidence + ": root", [OptIn.ROOT_USER])
    if not uid.isdigit():
        return _verdict(False, evidence + ": a name, which cannot be verified non-root")
    return _Verdict(PASS, evidence)


@_check(
    "PSS-restricted-seccompProfile",
    "A seccomp profile applies (RuntimeDefault or Localhost)",
    "Restricted requires a seccomp profile: Docker's default or a custom one.",
    "keep the default seccomp profile, on an engine with seccomp",
)
def _pss_seccomp_restricted(v: _View) -> _Verdict:
    problem, _ = _seccomp_problem(v)
    return _verdict(
        problem is None,
        f"HostConfig.SecurityOpt seccomp={[s[:37] for s in v.option('seccomp')]}"
        + (f": {problem}" if problem else ": the default or a custom profile"),
        _seccomp_causes(v),
    )


@_check(
    "PSS-restricted-capabilities",
    "Capabilities drop ALL and add at most NET_BIND_SERVICE",
    "Restricted allows a container no capability but NET_BIND_SERVICE.",
    "drop ALL (secure_run's default) and add at most NET_BIND_SERVICE",
)
def _pss_restricted_caps(v: _View) -> _Verdict:
    drops = {capability_name(c) for c in _list(v.host.get("CapDrop"))}
    adds = sorted({capability_name(c) for c in _list(v.host.get("CapAdd"))})
    beyond = [c for c in adds if c not in _PSS_RESTRICTED_CAPS]
    problems = [] if "ALL" in drops else ["CapDrop lacks ALL"]
    if beyond:
        problems.append(f"adds {', '.join(beyond)}")
    evidence = f"HostConfig.CapDrop={v.host.get('CapDrop')} CapAdd={v.host.get('CapAdd')}"
    if problems:
        evidence += ": " + "; ".join(problems)
    return _verdict(not problems, evidence, _cap_causes(beyond))


# -- secure_run ------------------------------------------------------------------------


@_check(
    "SR-waivers",
    "secure_run waivers (opt-ins) are reported",
    "Each opt-in waives one secure default; the audit lists them so they are seen.",
    "remove the opt-ins the workload does not need",
    scored=False,
)
def _waivers(v: _View) -> _Verdict:
    labels = _map(v.config.get("Labels"))
    if OPT_INS_LABEL not in labels:
        return _Verdict(NOT_APPLICABLE, f"not launched by secure_run: no {OPT_INS_LABEL} label")
    if not v.waivers:
        return _Verdict(PASS, f"{OPT_INS_LABEL}='': no waivers")
    return _Verdict(NOTE, f"{OPT_INS_LABEL}={labels[OPT_INS_LABEL]!r}: waivers "
                    + ", ".join(v.waivers))  # fmt: skip


#: Every check, in report order: CIS 5.1 to 5.32, then Pod Security, then secure_run.
CHECKS: tuple[CheckSpec, ...] = tuple(spec for spec, _ in _REGISTRY)
_ENGINE_CHECKS = frozenset({"5.1"})


# -- judging ---------------------------------------------------------------------------


def _finding(spec: CheckSpec, verdict: _Verdict, container: str, waivers: Sequence[str]) -> Finding:
    evidence = verdict.evidence
    if verdict.status != PASS:
        waived = [c for c in verdict.causes if c in waivers]
        if waived:
            evidence += "; waived by opt-in " + ", ".join(repr(w) for w in waived)
    return Finding(spec.id, spec.title, verdict.status, evidence, spec.remedy, container)


def _judge(
    inspect: Mapping[str, Any], ctx: _Context, processes: _Processes | None = None
) -> list[Finding]:
    """Judge one container's inspect record in an engine context: every container check.

    Args:
        inspect: ``client.api.inspect_container(id)``, or the record
            :func:`audit_config` builds.
        ctx: The engine the container runs on.
        processes: What ``ps`` printed in the container; ``None`` when exec checks are off.

    Returns:
        One finding per check in :data:`CHECKS` but the engine-level ones.
    """
    view = _View(inspect, ctx, processes)
    waivers = view.waivers
    return [
        _finding(spec, judge(view), view.name, waivers)
        for spec, judge in _REGISTRY
        if spec.id not in _ENGINE_CHECKS
    ]


def _judge_engine(ctx: _Context) -> list[Finding]:
    """The engine-level findings (5.1), once per audit."""
    view = _View({}, ctx, None)
    return [_finding(spec, judge(view), "", ()) for spec, judge in _REGISTRY
            if spec.id in _ENGINE_CHECKS]  # fmt: skip


# -- reading the engine ----------------------------------------------------------------


def _find_dockerd(proc_root: str) -> tuple[str, list[str]] | None:
    """The newest process named ``dockerd`` (as ``pgrep -n dockerd``) and its argv."""
    newest: tuple[int, str] | None = None
    try:
        pids = [p for p in os.listdir(proc_root) if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(os.path.join(proc_root, pid, "comm"), encoding="utf-8") as comm:
                if comm.read().strip() != "dockerd":
                    continue
        except OSError:
            continue
        started = start_time(pid, proc_root)
        started = -1 if started is None else started
        if newest is None or started > newest[0]:
            newest = (started, pid)
    if newest is None:
        return None
    pid = newest[1]
    try:
        with open(os.path.join(proc_root, pid, "cmdline"), "rb") as cmdline:
            raw = cmdline.read()
    except OSError:
        return None
    return pid, [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _daemon_no_new_privileges(
    proc_root: str = "/proc", config_file: str = "/etc/docker/daemon.json"
) -> tuple[bool, str]:
    """Whether the local dockerd sets no-new-privileges for every container, and where read.

    The dockerd command line (``--no-new-privileges[=bool]``, ``--config-file``) is
    read from ``/proc/<pid>/cmdline`` of the newest ``dockerd``, then its daemon.json
    (``"no-new-privileges": true``). What cannot be read counts as off.
    """
    found = _find_dockerd(proc_root)
    notes = []
    if found is None:
        notes.append("no readable dockerd process")
    else:
        pid, argv = found
        flag: bool | None = None
        for index, arg in enumerate(argv[1:], start=1):
            if arg == "--no-new-privileges":
                flag = True
            elif arg.startswith("--no-new-privileges="):
                flag = _parse_bool(arg.partition("=")[2])
            elif arg == "--config-file" and index + 1 < len(argv):
                config_file = argv[index + 1]
            elif arg.startswith("--config-file="):
                config_file = arg.partition("=")[2]
        if flag:
            return True, f"dockerd --no-new-privileges, pid {pid}"
        notes.append(
            f"dockerd pid {pid} --no-new-privileges=false"
            if flag is False
            else f"dockerd pid {pid} has no --no-new-privileges"
        )
    try:
        with open(config_file, encoding="utf-8") as f:
            settings = json.load(f)
    except FileNotFoundError:
        notes.append(f"{config_file} absent")
    except (OSError, ValueError) as exc:
        notes.append(f"{config_file} unreadable ({type(exc).__name__})")
    else:
        if isinstance(settings, Mapping) and settings.get("no-new-privileges") is True:
            return True, f'{config_file} "no-new-privileges": true'
        notes.append(f"{config_file} does not set no-new-privileges")
    return False, "; ".join(notes)


def _call(client: docker.DockerClient, action: str, call: Callable[[], Any]) -> Any:
    with translated(action, client=client):
        return call()


def _context_reader(
    client: docker.DockerClient, pool: concurrent.futures.Executor
) -> Callable[[], _Context]:
    """Start reading the engine's info and networks on ``pool``; call the result to wait."""
    info = pool.submit(_call, client, "read the engine's info", client.api.info)
    networks = pool.submit(_call, client, "list the engine's networks", client.api.networks)
    daemon = pool.submit(_daemon_no_new_privileges) if is_local(client) else None

    def wait() -> _Context:
        nnp, source = (
            daemon.result() if daemon is not None else (False, "the engine is not local: unknown")
        )
        return _Context(info.result(), _list(networks.result()), nnp, source)

    return wait


def _processes(client: docker.DockerClient, inspect: Mapping[str, Any]) -> _Processes:
    """Run ``ps -el`` in the container, as docker-bench-security does for 5.7."""
    if not _map(inspect.get("State")).get("Running"):
        return _Processes(None, "the container is not running")
    container_id = str(inspect.get("Id"))
    api: Any = client.api
    try:
        with translated(f"run ps in container {container_id[:12]}", client=client):
            exec_id = api.exec_create(container_id, ["ps", "-el"])["Id"]
            output = api.exec_start(exec_id)
            code = api.exec_inspect(exec_id).get("ExitCode")
    except LaunchError as exc:
        return _Processes(None, str(exc))
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    if code != 0:
        return _Processes(None, f"ps -el exited {code}: {cut(text, 120)}")
    return _Processes(text)


def _gather(
    client: docker.DockerClient, container_id: str, exec_checks: bool, *, missing_ok: bool
) -> tuple[dict[str, Any], _Processes | None] | None:
    """One container's inspect record and ``ps`` output; ``None`` if gone and ``missing_ok``."""
    with translated(f"inspect container {container_id[:64]}", client=client):
        try:
            inspect: dict[str, Any] = client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            if missing_ok:
                return None
            raise
    return inspect, _processes(client, inspect) if exec_checks else None


class _Launched(Protocol):
    """What :func:`audit` needs of a container launched by secure_run (``SecureContainer``)."""

    id: str
    client: docker.DockerClient


_Target = Union[str, Container, _Launched]


def _resolve(target: _Target) -> tuple[str, docker.DockerClient | None]:
    if isinstance(target, str):
        container_id, own = target, None
    else:
        container_id, own = str(getattr(target, "id", "") or ""), getattr(target, "client", None)
    if not container_id:
        raise ConfigError.single(
            "target", target, "no container id", "pass a container id, name or Container"
        )
    client: docker.DockerClient | None = own  # a DockerClient, or a stand-in with .api
    return container_id, client


def _report(
    ctx: _Context, gathered: Iterable[tuple[dict[str, Any], _Processes | None]]
) -> AuditReport:
    findings = _judge_engine(ctx)
    ordered = sorted(gathered, key=lambda g: (str(g[0].get("Name") or ""), str(g[0].get("Id"))))
    for inspect, processes in ordered:
        findings.extend(_judge(inspect, ctx, processes))
    return AuditReport(tuple(findings))


# -- the public functions --------------------------------------------------------------


def audit(
    target: _Target, *, client: docker.DockerClient | None = None, exec_checks: bool = False
) -> AuditReport:
    """Audit one container against CIS Docker Benchmark section 5 and Pod Security.

    The container may be running or only created (docker-bench-security looks only
    at running ones; here a created one is judged on the ports and settings it asks
    for). The engine is read once: ``info``, the network listing and the container's
    ``inspect``, at the same time.

    Args:
        target: A container id or name, a docker-py ``Container``, or a container
            launched by secure_run (anything with ``id`` and ``client``).
        client: The client to use; defaults to ``target.client``, then
            ``docker.from_env()``.
        exec_checks: Also run ``ps -el`` in the container for 5.7 (sshd); otherwise
            5.7 is ``not_applicable``.

    Returns:
        The report: 5.1 for the engine, then every container check.

    Raises:
        LaunchError: The engine refused a call (no such container).
        DaemonUnavailable: No engine answered.
        RunTimeout: The engine did not answer in time.

    .. versionadded:: 0.1
    """
    container_id, own = _resolve(target)
    made = client is None and own is None
    api_client = connect(client if client is not None else own)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            context = _context_reader(api_client, pool)
            gathered = _gather(api_client, container_id, exec_checks, missing_ok=False)
            ctx = context()
    finally:
        if made:
            api_client.close()
    assert gathered is not None  # noqa: S101 - missing_ok=False raises instead
    return _report(ctx, [gathered])


def audit_all(
    client: docker.DockerClient | None = None, *, exec_checks: bool = False
) -> AuditReport:
    """Audit every running container, as docker-bench-security's section 5 does.

    One container listing, one ``info``, one network listing, and one ``inspect``
    per container, done concurrently. A container removed during the audit is left
    out. With no container running, the report holds the engine-level finding only.

    Args:
        client: The client to use; ``docker.from_env()`` when omitted.
        exec_checks: Also run ``ps -el`` in each container for 5.7 (sshd).

    Returns:
        The report: 5.1 for the engine, then every check for each container, by name.

    Raises:
        DaemonUnavailable: No engine answered.
        RunTimeout: The engine did not answer in time.
        LaunchError: The engine refused a call.

    .. versionadded:: 0.1
    """
    made = client is None
    api_client = connect(client)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=_MAX_WORKERS) as pool:
            context = _context_reader(api_client, pool)
            with translated("list the running containers", client=api_client):
                listed = api_client.api.containers()
            futures = [
                pool.submit(_gather, api_client, str(c["Id"]), exec_checks, missing_ok=True)
                for c in listed
            ]
            gathered = [g for g in (f.result() for f in futures) if g is not None]
            ctx = context()
    finally:
        if made:
            api_client.close()
    return _report(ctx, gathered)


def _daemon_caps(names: object) -> list[str]:
    """Capability names as the daemon stores them: ``CAP_X``, and ``ALL``."""
    out = []
    for name in _list(names):
        cap = capability_name(name)
        out.append(cap if cap == "ALL" else f"CAP_{cap}")
    return out


def _config_inspect(cfg: RunConfig) -> dict[str, Any]:
    """The inspect record the engine would keep for ``cfg``, built without an engine."""
    kwargs = sdk_kwargs(cfg)
    kwargs.pop("use_config_proxy", None)
    kwargs.pop("environment", None)  # values stay out of the record
    kwargs["version"] = docker.constants.DEFAULT_DOCKER_API_VERSION
    create = create_args(kwargs)
    host: dict[str, Any] = dict(create["host_config"])
    host["CapAdd"] = _daemon_caps(host.get("CapAdd")) or None
    host["CapDrop"] = _daemon_caps(host.get("CapDrop")) or None
    mounts = []
    for m in _list(host.get("Mounts")):
        m = _map(m)
        bind = m.get("Type") == "bind"
        propagation = _map(m.get("BindOptions")).get("Propagation")
        mounts.append(
            {
                "Type": m.get("Type"),
                "Source": m.get("Source"),
                "Destination": m.get("Target"),
                "Mode": "",
                "RW": not m.get("ReadOnly", False),
                "Propagation": propagation or ("rprivate" if bind else ""),
            }
        )
    config: dict[str, Any] = {
        "Image": cfg.image,
        "User": create.get("user") or "",
        "Labels": dict(create.get("labels") or {}),
        "ExposedPorts": {port: {} for port in _map(host.get("PortBindings"))},
        "Healthcheck": None if cfg.healthcheck is None else {"Test": list(cfg.healthcheck.test)},
    }
    return {
        "Id": "",
        "Name": "",
        "Config": config,
        "HostConfig": host,
        "Mounts": mounts,
        "State": {},
        "AppArmorProfile": "",
        "NetworkSettings": {"Networks": {cfg.network: {"NetworkID": ""}}, "Ports": {}},
    }


def audit_config(cfg: RunConfig) -> AuditReport:
    """Audit a configuration before launch, on the HostConfig the engine would record.

    The record is built as docker-py and the engine would (capabilities as
    ``CAP_X``, the secure_run labels included) and judged by the same checks as a
    running container. What only an engine can tell is ``not_applicable``: swarm
    mode (5.1), AppArmor and SELinux (5.2 and 5.3, unless the config itself turns
    them off), sshd (5.7). A config without a healthcheck gets ``info`` for 5.27,
    since the image may have one.

    Args:
        cfg: The configuration.

    Returns:
        The report, with ``container`` empty in every finding.

    Raises:
        ConfigError: ``cfg`` is not a RunConfig.

    .. versionadded:: 0.1
    """
    if not isinstance(cfg, RunConfig):
        raise ConfigError.single(
            "cfg", type(cfg).__name__, "not a RunConfig", "build one with secure_run.builder()"
        )
    ctx = _Context(None, (), False, "config audit: unknown")
    return AuditReport((*_judge_engine(ctx), *_judge(_config_inspect(cfg), ctx)))

"""CIS 5.x checks of what confines a container.

AppArmor (5.2), SELinux (5.3), capabilities (5.4), privileged mode (5.5), seccomp
(5.22) and no-new-privileges (5.26).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .._config.capabilities import (
    DANGEROUS_CAPABILITIES,
    DOCKER_DEFAULT_CAPABILITIES,
    capability_name,
)
from .._config.seccomp import is_allow_all
from .._config.values import OptIn
from .daemon import parse_bool
from .registry import (
    CONFIG_AUDIT,
    NOT_APPLICABLE,
    PASS,
    WARN,
    Registry,
    Verdict,
    cap_causes,
    stricter,
    verdict,
)
from .view import View, as_list, effective_capabilities_of

__all__ = [
    "REGISTERED",
    "SELINUX_TYPES",
    "no_new_privileges",
    "privileged_mode",
    "seccomp_causes",
    "seccomp_problem",
]

_check = Registry()
#: What docker-bench-security counts as "no value" in a Go template's output.
_EMPTY_PROFILES = ("", "[]", "<no value>")
#: SELinux types Pod Security baseline allows (container_engine_t from Kubernetes 1.31).
SELINUX_TYPES = frozenset(
    {"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
#: docker-bench-security's community checks C.5.3.1 to C.5.3.4.
_COMMUNITY_CAPS = frozenset({"DAC_READ_SEARCH", "SYS_MODULE", "SYS_ADMIN", "SYS_PTRACE"})


@_check(
    "5.2",
    "Ensure that, if applicable, an AppArmor profile is enabled",
    "AppArmor confines what a container's processes may touch on the host.",
    "keep the engine's docker-default profile or give one with .apparmor(name); "
    "never apparmor=unconfined",
)
def _apparmor(v: View) -> Verdict:
    unconfined = "unconfined" in v.option("apparmor")
    privileged = bool(v.host.get("Privileged"))
    opts = f"HostConfig.SecurityOpt={v.security_opt}"
    if not v.ctx.engine:
        if unconfined or privileged:
            return Verdict(
                WARN,
                f"{opts} Privileged={privileged}: unconfined on any engine with AppArmor",
                (OptIn.APPARMOR_UNCONFINED.value,) if unconfined else (OptIn.PRIVILEGED.value,),
            )
        if v.option("apparmor"):
            return Verdict(PASS, f"{opts}: profile {v.option('apparmor')[-1]!r}")
        return Verdict(
            NOT_APPLICABLE,
            f"{CONFIG_AUDIT}; whether it has AppArmor is unknown (an engine with AppArmor "
            f"applies docker-default); {opts}",
        )
    if not v.ctx.has("apparmor"):
        return Verdict(
            NOT_APPLICABLE,
            f"the engine host has no AppArmor (docker info SecurityOptions="
            f"{list(v.ctx.security_options())})",
        )
    profile = str(v.inspect.get("AppArmorProfile") or "")
    ok = profile not in (*_EMPTY_PROFILES, "unconfined")
    return verdict(
        ok,
        f"AppArmorProfile={profile!r}",
        [OptIn.APPARMOR_UNCONFINED, OptIn.PRIVILEGED]
        if privileged
        else [OptIn.APPARMOR_UNCONFINED],
    )


def _selinux_problem(v: View) -> str | None:
    """Why the container's SELinux options are weak, or ``None`` if they are sound."""
    labels = v.option("label")
    if v.host.get("Privileged"):
        return "Privileged=true disables SELinux labelling"
    if "disable" in labels:
        return "label=disable turns SELinux labelling off"
    for label in labels:
        kind, _, value = label.partition(":")
        if kind == "type" and value not in SELINUX_TYPES:
            return f"label type {value!r} is not a container type ({sorted(SELINUX_TYPES)})"
    return None


def _selinux_causes(v: View) -> tuple[str, ...]:
    return (OptIn.PRIVILEGED.value,) if v.host.get("Privileged") else ()


@_check(
    "5.3",
    "Ensure that, if applicable, SELinux security options are set",
    "An SELinux label confines the container's processes and files on an SELinux host.",
    "on an SELinux engine, give --security-opt label=level:<level> (or type:container_t); "
    "never label=disable",
)
def _selinux(v: View) -> Verdict:
    opts = f"HostConfig.SecurityOpt={v.security_opt}"
    problem = _selinux_problem(v)
    if not v.ctx.engine:
        if problem is not None:
            return Verdict(WARN, f"{opts}: {problem}", _selinux_causes(v))
        return Verdict(NOT_APPLICABLE, f"{CONFIG_AUDIT}; whether it has SELinux is unknown; {opts}")
    reference = "pass" if v.security_opt else "warn"
    if not v.ctx.has("selinux"):
        return Verdict(
            NOT_APPLICABLE,
            f"the engine has no SELinux (docker info SecurityOptions="
            f"{list(v.ctx.security_options())}); {opts} (docker-bench-security would "
            f"{reference}: it passes any SecurityOpt)",
        )
    labels = [label for label in v.option("label") if label != "disable"]
    if problem is None and labels:
        return Verdict(PASS, f"{opts}; ProcessLabel={v.inspect.get('ProcessLabel')!r}")
    why = problem or "no SELinux label option (label=...)"
    evidence = f"{opts}: {why}"
    if reference == "pass":
        evidence = stricter(evidence, "passes any SecurityOpt")
    return Verdict(WARN, evidence, _selinux_causes(v))


@_check(
    "5.4",
    "Ensure that Linux kernel capabilities are restricted within containers",
    "Each capability beyond Docker's defaults is a piece of root's power on the host kernel.",
    "drop ALL and add back only what is needed (secure_run's default: cap_drop ALL)",
)
def _capabilities(v: View) -> Verdict:
    host = v.host
    caps, how = effective_capabilities_of(host)
    extra = sorted(caps - DOCKER_DEFAULT_CAPABILITIES)
    dangerous = sorted(caps & DANGEROUS_CAPABILITIES)
    community = sorted(caps & _COMMUNITY_CAPS)
    evidence = (
        f"HostConfig.CapAdd={host.get('CapAdd')} CapDrop={host.get('CapDrop')} "
        f"Privileged={bool(host.get('Privileged'))}; effective ({how}): "
        f"{len(caps)} capabilities"
    )
    if not extra:
        return Verdict(PASS, evidence + ", none beyond Docker's 14 defaults")
    shown = ", ".join(extra) if len(extra) <= 8 else f"{', '.join(extra[:8])}, ..."
    evidence += f"; beyond Docker's 14 defaults: {shown}"
    if dangerous:
        evidence += f"; dangerous: {', '.join(dangerous)}"
    if community:
        evidence += f" (community checks C.5.3: {', '.join(community)})"
    reference_adds = {capability_name(c) for c in as_list(host.get("CapAdd"))}
    if not reference_adds - DOCKER_DEFAULT_CAPABILITIES:
        evidence = stricter(evidence, "reads only CapAdd and ignores Privileged and CapDrop")
    causes = [OptIn.PRIVILEGED] if host.get("Privileged") else cap_causes(extra)
    return verdict(False, evidence, causes)


@_check(
    "5.5",
    "Ensure that privileged containers are not used",
    "A privileged container has every capability and device and no confinement: it is root "
    "on the host.",
    "remove --privileged; add only the capabilities and devices needed",
)
def privileged_mode(v: View) -> Verdict:
    privileged = bool(v.host.get("Privileged"))
    return verdict(not privileged, f"HostConfig.Privileged={privileged}", [OptIn.PRIVILEGED])


def seccomp_problem(v: View, *, engine_support: bool = True) -> tuple[str | None, bool]:
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


def seccomp_causes(v: View) -> list[OptIn]:
    return [OptIn.PRIVILEGED] if v.host.get("Privileged") else [OptIn.SECCOMP_UNCONFINED]


@_check(
    "5.22",
    "Ensure that the default seccomp profile is not disabled",
    "The seccomp filter blocks the syscalls a container has no business making.",
    'keep the default profile (.seccomp("default")) or a custom one that denies',
)
def _seccomp(v: View) -> Verdict:
    opts = [o if len(o) <= 40 else o[:37] + "..." for o in v.security_opt]
    problem, seen = seccomp_problem(v)
    evidence = f"HostConfig.SecurityOpt={opts}"
    if problem is None:
        return Verdict(PASS, evidence + ": a syscall filter applies")
    evidence = f"{evidence}: {problem}"
    if not seen:
        evidence = stricter(evidence, "looks only for seccomp=unconfined")
    return verdict(False, evidence, seccomp_causes(v))


def no_new_privileges(v: View) -> tuple[bool, str]:
    """Whether no-new-privileges applies, and the evidence.

    The container's last explicit option wins over the daemon-wide default, as in
    the daemon.
    """
    values = v.option("no-new-privileges")
    opts = f"HostConfig.SecurityOpt={[o for o in v.security_opt if 'no-new-priv' in o]}"
    if values:
        parsed = parse_bool(values[-1])
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
def _new_privileges(v: View) -> Verdict:
    ok, evidence = no_new_privileges(v)
    if not ok and any("no-new-privileges" in o for o in v.security_opt):
        evidence = stricter(evidence, "passes any option naming no-new-privileges")
    elif not ok and v.ctx.no_new_privileges:
        evidence = stricter(evidence, "passes every container when the daemon default is on")
    return verdict(ok, evidence, [OptIn.NEW_PRIVILEGES])


#: This module's checks, in the order defined.
REGISTERED = _check.checks

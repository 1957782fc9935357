"""The Kubernetes Pod Security Standards (baseline and restricted), mapped to Docker.

Where a control is the same as a CIS 5.x check, the judge is that check's (privileged
mode, seccomp, no-new-privileges, ports, socket mounts); the rest read the same
inspect record.
"""

from __future__ import annotations

from .._config.capabilities import (
    DOCKER_DEFAULT_CAPABILITIES,
    UNWAIVED_CAPABILITIES,
    capability_name,
)
from .._config.hostpaths import host_path, sensitive_root
from .._config.validation import SAFE_SYSCTLS
from .._config.values import OptIn
from .checks_confinement import (
    SELINUX_TYPES,
    no_new_privileges,
    privileged_mode,
    seccomp_causes,
    seccomp_problem,
)
from .checks_namespaces import shares_host
from .checks_network import every_interface, privileged_port, shown_bindings
from .daemon import mount_exposes_socket
from .registry import PASS, Registry, Verdict, cap_causes, verdict
from .view import View, as_list, as_map

__all__ = ["REGISTERED"]

_check = Registry()
#: The capabilities Pod Security baseline lets a container add.
_PSS_BASELINE_CAPS = DOCKER_DEFAULT_CAPABILITIES - {"NET_RAW"}
_PSS_RESTRICTED_CAPS = UNWAIVED_CAPABILITIES


@_check(
    "PSS-baseline-hostNamespaces",
    "Host namespaces (network, PID, IPC) are not shared",
    "hostNetwork, hostPID and hostIPC break the isolation between container and host.",
    "leave network, PID and IPC namespaces private",
)
def _pss_namespaces(v: View) -> Verdict:
    fields = ("NetworkMode", "PidMode", "IpcMode")
    shared = [f for f in fields if shares_host(v, f)]
    evidence = "HostConfig " + " ".join(f"{f}={v.host.get(f)!r}" for f in fields)
    return verdict(not shared, evidence, [OptIn.HOST_NAMESPACE])


@_check(
    "PSS-baseline-privileged",
    "The container is not privileged",
    "A privileged container disables most of the mechanisms that isolate it.",
    "remove --privileged",
)
def _pss_privileged(v: View) -> Verdict:
    return privileged_mode(v)


@_check(
    "PSS-baseline-capabilities",
    "Capabilities added are only from the baseline list",
    "Baseline allows adding only Docker's default capabilities minus NET_RAW.",
    f"add only from {sorted(_PSS_BASELINE_CAPS)}",
)
def _pss_baseline_caps(v: View) -> Verdict:
    adds = sorted({capability_name(c) for c in as_list(v.host.get("CapAdd"))})
    beyond = [c for c in adds if c not in _PSS_BASELINE_CAPS]
    evidence = f"HostConfig.CapAdd={v.host.get('CapAdd')}"
    if beyond:
        evidence += f": not in the baseline list: {', '.join(beyond)}"
    return verdict(not beyond, evidence, cap_causes(beyond))


@_check(
    "PSS-baseline-hostPathVolumes",
    "No host path is mounted (hostPath volumes; restricted's volume types too)",
    "A bind mount of a host path shares host files with the container.",
    "use named volumes or tmpfs instead of bind mounts",
)
def _pss_host_path(v: View) -> Verdict:
    binds = [m for m in v.mounts if m.get("Type") == "bind"]
    if binds:
        causes = []
        if any(sensitive_root(host_path(str(m.get("Source") or ""))) for m in binds):
            causes.append(OptIn.SENSITIVE_MOUNT)
        if any(mount_exposes_socket(m, v.ctx.socket_paths) for m in binds):
            causes.append(OptIn.DOCKER_SOCKET)
        shown = ", ".join(f"{m.get('Source')} -> {m.get('Destination')}" for m in binds)
        return verdict(False, f"Mounts: bind mounts: {shown}", causes)
    return Verdict(PASS, f"Mounts: {len(v.mounts)} mount(s), no bind mount")


@_check(
    "PSS-baseline-hostPorts",
    "No host port is published (hostPort)",
    "A host port exposes the container on the host's interfaces.",
    "publish no ports, or accept this control as waived for a service",
)
def _pss_host_ports(v: View) -> Verdict:
    bindings, source = v.bindings()
    if bindings:
        causes = []
        if any(every_interface(ip) for _, ip, _ in bindings):
            causes.append(OptIn.PUBLIC_PORT)
        if any(privileged_port(h) for _, _, h in bindings):
            causes.append(OptIn.PRIVILEGED_PORT)
        return verdict(False, f"{source}: {shown_bindings(bindings)}", causes)
    return Verdict(PASS, f"{source}: no published port")


@_check(
    "PSS-baseline-appArmorProfile",
    "AppArmor is not set to unconfined",
    "An unconfined AppArmor profile removes the mandatory access control.",
    "leave the engine's default profile or name one; never apparmor=unconfined",
)
def _pss_apparmor(v: View) -> Verdict:
    profile = str(v.inspect.get("AppArmorProfile") or "")
    options = v.option("apparmor")
    unconfined = "unconfined" in options or profile == "unconfined"
    return verdict(
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
def _pss_selinux(v: View) -> Verdict:
    labels = v.option("label")
    problems = []
    for label in labels:
        kind, _, value = label.partition(":")
        if label == "disable":
            problems.append("label=disable")
        elif kind in ("user", "role"):
            problems.append(f"label {kind} {value!r} is set")
        elif kind == "type" and value not in SELINUX_TYPES:
            problems.append(f"label type {value!r} is not a container type")
    evidence = f"HostConfig.SecurityOpt label={labels}"
    if problems:
        evidence += ": " + "; ".join(problems)
    return verdict(not problems, evidence)


@_check(
    "PSS-baseline-procMount",
    "/proc keeps its masked paths (procMount Default)",
    "Unmasked /proc exposes kernel interfaces such as /proc/kcore and /proc/keys.",
    "remove --privileged and --security-opt systempaths=unconfined",
)
def _pss_proc_mount(v: View) -> Verdict:
    masked = v.host.get("MaskedPaths")
    if v.host.get("Privileged"):
        return verdict(False, f"HostConfig.Privileged=True: /proc unmasked (MaskedPaths={masked})",
                        [OptIn.PRIVILEGED])  # fmt: skip
    if isinstance(masked, list) and not masked:
        return verdict(False, "HostConfig.MaskedPaths=[]: /proc unmasked")
    shown = "the engine's defaults" if masked is None else f"{len(masked)} masked path(s)"
    return Verdict(PASS, f"HostConfig.MaskedPaths: {shown}")


@_check(
    "PSS-baseline-seccompProfile",
    "Seccomp is not unconfined",
    "An unconfined container can make every syscall.",
    "keep the default seccomp profile or a custom one that denies",
)
def _pss_seccomp_baseline(v: View) -> Verdict:
    problem, _ = seccomp_problem(v, engine_support=False)
    return verdict(
        problem is None,
        f"HostConfig.SecurityOpt seccomp={[s[:37] for s in v.option('seccomp')]}"
        + (f": {problem}" if problem else ""),
        seccomp_causes(v),
    )


@_check(
    "PSS-baseline-sysctls",
    "Only safe, namespaced sysctls are set",
    "Other sysctls can affect the host or every container on it.",
    f"set only sysctls from {sorted(SAFE_SYSCTLS)}",
)
def _pss_sysctls(v: View) -> Verdict:
    names = sorted(as_map(v.host.get("Sysctls")))
    unsafe = [n for n in names if n not in SAFE_SYSCTLS]
    evidence = f"HostConfig.Sysctls={names}"
    if unsafe:
        evidence += f": not on the safe list: {', '.join(unsafe)}"
    return verdict(not unsafe, evidence)


@_check(
    "PSS-restricted-allowPrivilegeEscalation",
    "Privilege escalation is not allowed (no-new-privileges)",
    "allowPrivilegeEscalation: false is Docker's no-new-privileges.",
    "run with --security-opt no-new-privileges=true",
)
def _pss_escalation(v: View) -> Verdict:
    ok, evidence = no_new_privileges(v)
    return verdict(ok, evidence, [OptIn.NEW_PRIVILEGES])


@_check(
    "PSS-restricted-runAsNonRoot",
    "The container runs as a non-root numeric user",
    "Docker has no run-time non-root check; only a numeric non-zero uid can be verified.",
    "run as a numeric non-root uid (.user(65534, 65534))",
)
def _pss_non_root(v: View) -> Verdict:
    user = str(v.config.get("User") or "")
    uid = user.split(":", 1)[0]
    evidence = f"Config.User={user!r}"
    if not uid:
        return verdict(False, evidence + ": the image's user (often root)", [OptIn.ROOT_USER])
    if uid in ("0", "root"):
        return verdict(False, evidence + ": root", [OptIn.ROOT_USER])
    if not uid.isdigit():
        return verdict(False, evidence + ": a name, which cannot be verified non-root")
    return Verdict(PASS, evidence)


@_check(
    "PSS-restricted-seccompProfile",
    "A seccomp profile applies (RuntimeDefault or Localhost)",
    "Restricted requires a seccomp profile: Docker's default or a custom one.",
    "keep the default seccomp profile, on an engine with seccomp",
)
def _pss_seccomp_restricted(v: View) -> Verdict:
    problem, _ = seccomp_problem(v)
    return verdict(
        problem is None,
        f"HostConfig.SecurityOpt seccomp={[s[:37] for s in v.option('seccomp')]}"
        + (f": {problem}" if problem else ": the default or a custom profile"),
        seccomp_causes(v),
    )


@_check(
    "PSS-restricted-capabilities",
    "Capabilities drop ALL and add at most NET_BIND_SERVICE",
    "Restricted allows a container no capability but NET_BIND_SERVICE.",
    "drop ALL (secure_run's default) and add at most NET_BIND_SERVICE",
)
def _pss_restricted_caps(v: View) -> Verdict:
    drops = {capability_name(c) for c in as_list(v.host.get("CapDrop"))}
    adds = sorted({capability_name(c) for c in as_list(v.host.get("CapAdd"))})
    beyond = [c for c in adds if c not in _PSS_RESTRICTED_CAPS]
    problems = [] if "ALL" in drops else ["CapDrop lacks ALL"]
    if beyond:
        problems.append(f"adds {', '.join(beyond)}")
    evidence = f"HostConfig.CapDrop={v.host.get('CapDrop')} CapAdd={v.host.get('CapAdd')}"
    if problems:
        evidence += ": " + "; ".join(problems)
    return verdict(not problems, evidence, cap_causes(beyond))


#: This module's checks, in the order defined.
REGISTERED = _check.checks

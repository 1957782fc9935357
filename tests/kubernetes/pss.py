"""A Pod Security Standards checker for manifests, a test tool written for this project.

Written from ``../shared/reference/hardening.md`` §3 and from the admission
controller's own rules (``k8s.io/pod-security-admission``, ``policy/check_*.go``):
each function below is one of its checks, named by its check ID, and reads the same
fields (pod level, and every init, regular and ephemeral container). It judges the
pod of a Pod, and the pod template of any workload (Job, Deployment, ...), as the
admission controller's warnings do; other objects have no pod and pass.

``violations(obj, "restricted")`` runs the baseline checks and the restricted ones,
as the restricted level does. Each violation is ``"<check id>: <detail>"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Pod = dict[str, Any]
Check = Callable[[dict[str, Any], Pod, tuple[int, int]], list[str]]

LEVELS = ("baseline", "restricted")
#: The newest version these rules follow (the ``ulimits`` check starts at 1.37); checks
#: added later are not known here, but for ``cgroupOptions``, applied at every version.
LATEST = (1, 37)

BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})  # fmt: skip
#: The safe sysctls, by the version that added them.
SYSCTLS = {
    (1, 0): ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
             "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
             "net.ipv4.ip_unprivileged_port_start"),
    (1, 27): ("net.ipv4.ip_local_reserved_ports",),
    (1, 29): ("net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
              "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"),
    (1, 32): ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"),
}  # fmt: skip
SELINUX_TYPES = {(1, 0): ("", "container_t", "container_init_t", "container_kvm_t"),
                 (1, 31): ("container_engine_t",)}  # fmt: skip
RESTRICTED_VOLUMES_ALLOWED = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret", "image",
})  # fmt: skip
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def pod_of(obj: dict[str, Any]) -> tuple[dict[str, Any], Pod] | None:
    """The pod metadata and spec of a Pod, or of a workload's pod template."""
    if obj.get("kind") == "Pod":
        return obj.get("metadata") or {}, obj.get("spec") or {}
    spec = obj.get("spec") or {}
    template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get(
        "template"
    )
    if not template:
        return None
    return template.get("metadata") or {}, template.get("spec") or {}


def containers(pod: Pod) -> Iterator[dict[str, Any]]:
    """Every init, regular and ephemeral container, as the controller visits them."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(key) or []


def _ctx(c: dict[str, Any]) -> dict[str, Any]:
    return c.get("securityContext") or {}


def _allowed(table: dict[tuple[int, int], tuple[str, ...]], version: tuple[int, int]) -> set[str]:
    return {v for since, values in table.items() if version >= since for v in values}


def _user_namespace(pod: Pod) -> bool:
    return pod.get("hostUsers") is False


# -- baseline ------------------------------------------------------------------------------


def host_namespaces(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k) is True]


def privileged(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"container {c.get('name')} privileged" for c in containers(pod)
            if _ctx(c).get("privileged") is True]  # fmt: skip


def capabilities_baseline(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"container {c.get('name')} adds {cap}" for c in containers(pod)
            for cap in (_ctx(c).get("capabilities") or {}).get("add") or []
            if cap not in BASELINE_CAPABILITIES]  # fmt: skip


def baseline_volumes(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    if version < (1, 31):
        return []
    return [f"volume {v.get('name')} is a gitRepo" for v in pod.get("volumes") or []
            if "gitRepo" in v]  # fmt: skip


def ulimits(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    if version < (1, 37):
        return []
    return [f"container {c.get('name')} sets ulimits" for c in containers(pod)
            if _ctx(c).get("ulimits") is not None]  # fmt: skip


def host_path_volumes(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"volume {v.get('name')} is a hostPath" for v in pod.get("volumes") or []
            if "hostPath" in v]  # fmt: skip


def host_ports(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"container {c.get('name')} hostPort {p['hostPort']}" for c in containers(pod)
            for p in c.get("ports") or [] if p.get("hostPort")]  # fmt: skip


def _apparmor_ok(profile: dict[str, Any] | None) -> bool:
    return profile is None or profile.get("type") in ("RuntimeDefault", "Localhost")


def app_armor_profile(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    bad = [f"{k}={v}" for k, v in (meta.get("annotations") or {}).items()
           if k.startswith(APPARMOR_ANNOTATION)
           and not (v in ("", "runtime/default") or v.startswith("localhost/"))]  # fmt: skip
    if not _apparmor_ok((pod.get("securityContext") or {}).get("appArmorProfile")):
        bad.append("pod appArmorProfile")
    bad += [f"container {c.get('name')} appArmorProfile" for c in containers(pod)
            if not _apparmor_ok(_ctx(c).get("appArmorProfile"))]  # fmt: skip
    return bad


def se_linux_options(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    types = _allowed(SELINUX_TYPES, version)

    def bad(opts: dict[str, Any] | None) -> bool:
        if opts is None:
            return False
        return opts.get("type", "") not in types or bool(opts.get("user")) or bool(
            opts.get("role"))  # fmt: skip

    found = ["pod"] if bad((pod.get("securityContext") or {}).get("seLinuxOptions")) else []
    return found + [f"container {c.get('name')}" for c in containers(pod)
                    if bad(_ctx(c).get("seLinuxOptions"))]  # fmt: skip


def proc_mount(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    if version >= (1, 35) and _user_namespace(pod):
        return []
    return [f"container {c.get('name')} procMount {_ctx(c)['procMount']}"
            for c in containers(pod)
            if _ctx(c).get("procMount") not in (None, "Default")]  # fmt: skip


def seccomp_profile_baseline(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    def bad(ctx: dict[str, Any]) -> bool:
        return (ctx.get("seccompProfile") or {}).get("type") == "Unconfined"

    found = ["pod"] if bad(pod.get("securityContext") or {}) else []
    return found + [f"container {c.get('name')}" for c in containers(pod) if bad(_ctx(c))]


def sysctls(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    allowed = _allowed(SYSCTLS, version)
    return [s.get("name", "") for s in (pod.get("securityContext") or {}).get("sysctls") or []
            if s.get("name") not in allowed]  # fmt: skip


def windows_host_process(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    def bad(ctx: dict[str, Any]) -> bool:
        return (ctx.get("windowsOptions") or {}).get("hostProcess") is True

    found = ["pod"] if bad(pod.get("securityContext") or {}) else []
    return found + [f"container {c.get('name')}" for c in containers(pod) if bad(_ctx(c))]


def host_probes_and_host_lifecycle(meta: dict[str, Any], pod: Pod,
                                   version: tuple[int, int]) -> list[str]:  # fmt: skip
    if version < (1, 34):
        return []
    found = []
    for c in containers(pod):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [(c.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")]
        for handler in filter(None, handlers):
            for way in ("httpGet", "tcpSocket"):
                if (handler.get(way) or {}).get("host"):
                    found.append(f"container {c.get('name')} {way}.host")
    return found


# -- restricted ----------------------------------------------------------------------------


def restricted_volumes(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"volume {v.get('name')}" for v in pod.get("volumes") or []
            if not any(k in RESTRICTED_VOLUMES_ALLOWED for k in v if k != "name")]  # fmt: skip


def allow_privilege_escalation(meta: dict[str, Any], pod: Pod,
                               version: tuple[int, int]) -> list[str]:  # fmt: skip
    return [f"container {c.get('name')}" for c in containers(pod)
            if _ctx(c).get("allowPrivilegeEscalation") is not False]  # fmt: skip


def run_as_non_root(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    pod_value = (pod.get("securityContext") or {}).get("runAsNonRoot")
    found = ["pod sets false"] if pod_value is False else []
    for c in containers(pod):
        value = _ctx(c).get("runAsNonRoot")
        if value is False or (value is None and pod_value is not True):
            found.append(f"container {c.get('name')}")
    return found


def run_as_user(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    found = ["pod"] if (pod.get("securityContext") or {}).get("runAsUser") == 0 else []
    return found + [f"container {c.get('name')}" for c in containers(pod)
                    if _ctx(c).get("runAsUser") == 0]  # fmt: skip


def seccomp_profile_restricted(meta: dict[str, Any], pod: Pod,
                               version: tuple[int, int]) -> list[str]:  # fmt: skip
    def kind(ctx: dict[str, Any]) -> Any:
        return (ctx.get("seccompProfile") or {}).get("type")

    pod_kind = kind(pod.get("securityContext") or {})
    pod_ok = pod_kind in ("RuntimeDefault", "Localhost")
    found = ["pod"] if pod_kind is not None and not pod_ok else []
    for c in containers(pod):
        own = kind(_ctx(c))
        if (own is not None and own not in ("RuntimeDefault", "Localhost")) or (
                own is None and not pod_ok):  # fmt: skip
            found.append(f"container {c.get('name')}")
    return found


def capabilities_restricted(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    found = []
    for c in containers(pod):
        caps = _ctx(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"container {c.get('name')} does not drop ALL")
        found += [f"container {c.get('name')} adds {a}" for a in caps.get("add") or []
                  if a != "NET_BIND_SERVICE"]  # fmt: skip
    return found


def cgroup_options(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    # Only unset or ReadOnly: the controller's check has been written for the value
    # ReadWrite (from 1.0) and for Writable (from 1.38); a new field, so no version gate.
    return [f"container {c.get('name')} cgroupOptions.mountMode {mode}" for c in containers(pod)
            for mode in [(_ctx(c).get("cgroupOptions") or {}).get("mountMode")]
            if mode not in (None, "ReadOnly")]  # fmt: skip


def proc_mount_restricted(meta: dict[str, Any], pod: Pod, version: tuple[int, int]) -> list[str]:
    return [f"container {c.get('name')}" for c in containers(pod)
            if _ctx(c).get("procMount") not in (None, "Default")]  # fmt: skip


BASELINE: dict[str, Check] = {
    "hostNamespaces": host_namespaces,
    "privileged": privileged,
    "capabilities_baseline": capabilities_baseline,
    "hostPathVolumes": host_path_volumes,
    "hostPorts": host_ports,
    "appArmorProfile": app_armor_profile,
    "seLinuxOptions": se_linux_options,
    "procMount": proc_mount,
    "seccompProfile_baseline": seccomp_profile_baseline,
    "sysctls": sysctls,
    "windowsHostProcess": windows_host_process,
    "hostProbesAndHostLifecycle": host_probes_and_host_lifecycle,
    "baselineVolumes": baseline_volumes,
    "ulimits": ulimits,
}
RESTRICTED: dict[str, Check] = {
    "restrictedVolumes": restricted_volumes,
    "allowPrivilegeEscalation": allow_privilege_escalation,
    "runAsNonRoot": run_as_non_root,
    "runAsUser": run_as_user,
    "seccompProfile_restricted": seccomp_profile_restricted,
    "capabilities_restricted": capabilities_restricted,
    "procMount_restricted": proc_mount_restricted,
    "cgroupOptions": cgroup_options,
}


def violations(obj: dict[str, Any], level: str, version: tuple[int, int] = LATEST) -> list[str]:
    """Each check of ``level`` the object's pod fails, as ``"<check id>: <detail>"``."""
    if level not in LEVELS:
        raise ValueError(f"level is one of {LEVELS}, not {level!r}")
    found = pod_of(obj)
    if found is None:
        return []
    meta, pod = found
    checks = dict(BASELINE)
    if level == "restricted":
        checks.update(RESTRICTED)
    return [f"{check_id}: {detail}" for check_id, check in checks.items()
            for detail in check(meta, pod, version)]  # fmt: skip

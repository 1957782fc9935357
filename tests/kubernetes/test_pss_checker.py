"""The Pod Security Standards checker's own cases: each rule passes and fails where it should.

Each case starts from a pod that meets "restricted" and changes one thing; the
changes were written from the admission controller's check_*.go and cross-checked
by reading its pass and fail fixtures (test/testdata/{baseline,restricted}/).

The cross-check, read through the search tool (kubernetes/kubernetes,
staging/src/k8s.io/pod-security-admission), none copied here: the v1.34 restricted
fixtures (fail: runasuser2, seccompprofile_restricted4, hostprobesandhostlifecycle1,
ulimits1; pass: apparmorprofile0, runasuser0, seccompprofile_restricted2, sysctls1),
baseline/v1.31/fail/baselinevolumes0 and restricted/v1.1/fail/cgroupoptions0. The
checker agreed on each but three, which it lacked: a gitRepo volume (baselineVolumes,
baseline from 1.31), container ulimits (baseline from 1.37) and a writable cgroup
mount (cgroupOptions, restricted), now checked. One fixture disagrees and the checker
is right: pass/hostprobesandhostlifecycle2 (a probe host of ::1) comes from the
check's first version, which allowed 127.0.0.1 and ::1; the current check and its
fixture generator refuse every host, as the case "a probe host of 127.0.0.1" does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pss import violations


def good_pod() -> dict[str, Any]:
    """A pod that meets restricted: pod-level identity and seccomp, each container locked."""
    locked = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "good"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{"name": "init", "image": "x", "securityContext": dict(locked)}],
            "containers": [{"name": "app", "image": "x", "securityContext": copy.deepcopy(locked)}],
        },
    }


Change = Callable[[dict[str, Any]], None]


def app(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["spec"]["containers"][0]


def app_ctx(pod: dict[str, Any]) -> dict[str, Any]:
    return app(pod)["securityContext"]


def init_ctx(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["spec"]["initContainers"][0]["securityContext"]


def pod_ctx(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["spec"]["securityContext"]


#: (check id, the lowest level that refuses it, the change).
FAILS: list[tuple[str, str, Change]] = [
    ("hostNamespaces", "baseline", lambda p: p["spec"].update(hostNetwork=True)),
    ("hostNamespaces", "baseline", lambda p: p["spec"].update(hostPID=True)),
    ("hostNamespaces", "baseline", lambda p: p["spec"].update(hostIPC=True)),
    ("privileged", "baseline", lambda p: init_ctx(p).update(privileged=True)),
    ("capabilities_baseline", "baseline",
     lambda p: app_ctx(p)["capabilities"].update(add=["NET_RAW"])),
    ("capabilities_baseline", "baseline",
     lambda p: app_ctx(p)["capabilities"].update(add=["SYS_ADMIN"])),
    ("hostPathVolumes", "baseline",
     lambda p: p["spec"].update(volumes=[{"name": "h", "hostPath": {"path": "/etc"}}])),
    ("hostPorts", "baseline",
     lambda p: app(p).update(ports=[{"containerPort": 80, "hostPort": 8080}])),
    ("appArmorProfile", "baseline", lambda p: p["metadata"].update(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined"})),
    ("appArmorProfile", "baseline",
     lambda p: app_ctx(p).update(appArmorProfile={"type": "Unconfined"})),
    ("seLinuxOptions", "baseline",
     lambda p: pod_ctx(p).update(seLinuxOptions={"type": "spc_t"})),
    ("seLinuxOptions", "baseline", lambda p: pod_ctx(p).update(seLinuxOptions={"role": "r"})),
    ("seLinuxOptions", "baseline", lambda p: app_ctx(p).update(seLinuxOptions={"user": "u"})),
    ("procMount", "baseline", lambda p: app_ctx(p).update(procMount="Unmasked")),
    ("seccompProfile_baseline", "baseline",
     lambda p: pod_ctx(p).update(seccompProfile={"type": "Unconfined"})),
    ("seccompProfile_baseline", "baseline",
     lambda p: init_ctx(p).update(seccompProfile={"type": "Unconfined"})),
    ("sysctls", "baseline",
     lambda p: pod_ctx(p).update(sysctls=[{"name": "kernel.msgmax", "value": "1"}])),
    ("windowsHostProcess", "baseline",
     lambda p: app_ctx(p).update(windowsOptions={"hostProcess": True})),
    ("hostProbesAndHostLifecycle", "baseline", lambda p: app(p).update(
        readinessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}})),
    ("hostProbesAndHostLifecycle", "baseline", lambda p: app(p).update(
        lifecycle={"preStop": {"tcpSocket": {"host": "node", "port": 22}}})),
    ("restrictedVolumes", "restricted",
     lambda p: p["spec"].update(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}])),
    ("allowPrivilegeEscalation", "restricted",
     lambda p: app_ctx(p).pop("allowPrivilegeEscalation")),
    ("allowPrivilegeEscalation", "restricted",
     lambda p: init_ctx(p).update(allowPrivilegeEscalation=True)),
    ("runAsNonRoot", "restricted", lambda p: pod_ctx(p).pop("runAsNonRoot")),
    ("runAsNonRoot", "restricted", lambda p: app_ctx(p).update(runAsNonRoot=False)),
    ("runAsUser", "restricted", lambda p: pod_ctx(p).update(runAsUser=0)),
    ("runAsUser", "restricted", lambda p: app_ctx(p).update(runAsUser=0)),
    ("seccompProfile_restricted", "restricted", lambda p: pod_ctx(p).pop("seccompProfile")),
    ("capabilities_restricted", "restricted", lambda p: app_ctx(p)["capabilities"].pop("drop")),
    ("capabilities_restricted", "restricted",
     lambda p: app_ctx(p)["capabilities"].update(add=["CHOWN"])),
    ("procMount_restricted", "restricted", lambda p: (  # baseline allows it in a user ns
        p["spec"].update(hostUsers=False), init_ctx(p).update(procMount="Unmasked"))),
    ("hostProbesAndHostLifecycle", "baseline", lambda p: app(p).update(  # even localhost
        livenessProbe={"httpGet": {"host": "127.0.0.1", "port": 8080}})),
    ("baselineVolumes", "baseline", lambda p: p["spec"].update(
        volumes=[{"name": "g", "gitRepo": {"repository": "example.invalid/repo"}}])),
    ("ulimits", "baseline", lambda p: init_ctx(p).update(
        ulimits=[{"name": "core", "soft": 0, "hard": 0}])),
    ("cgroupOptions", "restricted",
     lambda p: app_ctx(p).update(cgroupOptions={"mountMode": "Writable"})),
]  # fmt: skip

#: Changes every level allows: the edges of each rule, from the pass side.
PASSES: list[tuple[str, Change]] = [
    ("baseline capabilities at baseline",
     lambda p: app_ctx(p)["capabilities"].update(add=["CHOWN"])),
    ("NET_BIND_SERVICE", lambda p: app_ctx(p)["capabilities"].update(add=["NET_BIND_SERVICE"])),
    ("host namespaces set false",
     lambda p: p["spec"].update(hostNetwork=False, hostPID=False, hostIPC=False)),
    ("a zero hostPort", lambda p: app(p).update(ports=[{"containerPort": 80, "hostPort": 0}])),
    ("a Localhost seccomp profile on a container", lambda p: app_ctx(p).update(
        seccompProfile={"type": "Localhost", "localhostProfile": "x.json"})),
    ("container-level seccomp with none on the pod", lambda p: (
        pod_ctx(p).pop("seccompProfile"),
        app_ctx(p).update(seccompProfile={"type": "RuntimeDefault"}),
        init_ctx(p).update(seccompProfile={"type": "RuntimeDefault"}))),
    ("runAsNonRoot on each container instead of the pod", lambda p: (
        pod_ctx(p).pop("runAsNonRoot"), app_ctx(p).update(runAsNonRoot=True),
        init_ctx(p).update(runAsNonRoot=True))),
    ("a non-zero runAsUser", lambda p: pod_ctx(p).update(runAsUser=65534)),
    ("an allowed SELinux type", lambda p: pod_ctx(p).update(
        seLinuxOptions={"type": "container_init_t"})),
    ("container_engine_t (1.31)", lambda p: pod_ctx(p).update(
        seLinuxOptions={"type": "container_engine_t"})),
    ("a safe sysctl", lambda p: pod_ctx(p).update(
        sysctls=[{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}])),
    ("a sysctl added in 1.32", lambda p: pod_ctx(p).update(
        sysctls=[{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}])),
    ("procMount Default", lambda p: app_ctx(p).update(procMount="Default")),
    ("AppArmor runtime/default and localhost", lambda p: p["metadata"].update(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/init": "localhost/prof"})),
    ("the allowed volume types", lambda p: p["spec"].update(volumes=[
        {"name": "e", "emptyDir": {"medium": "Memory"}},
        {"name": "c", "persistentVolumeClaim": {"claimName": "c"}},
        {"name": "s", "secret": {"secretName": "s"}}])),
    ("a probe without a host", lambda p: app(p).update(
        readinessProbe={"exec": {"command": ["true"]}})),
    ("an httpGet probe on the pod's own address", lambda p: app(p).update(
        livenessProbe={"httpGet": {"port": 8080}})),
    ("a read-only cgroup mount", lambda p: app_ctx(p).update(
        cgroupOptions={"mountMode": "ReadOnly"})),
]  # fmt: skip


#: Baseline checks whose fields a restricted check reads too: restricted reports both.
OVERLAPS = {
    "capabilities_baseline": {"capabilities_restricted"},
    "hostPathVolumes": {"restrictedVolumes"},
    "procMount": {"procMount_restricted"},
    "seccompProfile_baseline": {"seccompProfile_restricted"},
    "baselineVolumes": {"restrictedVolumes"},
}


def changed(change: Change) -> dict[str, Any]:
    pod = good_pod()
    change(pod)
    return pod


def ids(found: list[str]) -> set[str]:
    return {v.split(":", 1)[0] for v in found}


def test_the_good_pod_meets_restricted():
    """The starting pod has no violation at either level."""
    assert violations(good_pod(), "restricted") == []
    assert violations(good_pod(), "baseline") == []


@pytest.mark.parametrize(("check_id", "level", "change"), FAILS,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(FAILS)])  # fmt: skip
def test_each_rule_fails_its_case(check_id, level, change):
    """The change breaks its check (and an overlapping one), at its level and at restricted."""
    pod = changed(change)
    assert ids(violations(pod, "restricted")) == {check_id} | OVERLAPS.get(check_id, set())
    expected_at_baseline = {check_id} if level == "baseline" else set()
    assert ids(violations(pod, "baseline")) == expected_at_baseline


@pytest.mark.parametrize(("what", "change"), PASSES, ids=[w for w, _ in PASSES])
def test_each_allowed_edge_passes(what, change):
    """A value on the allowed side of a rule's edge passes baseline (and restricted but one)."""
    pod = changed(change)
    assert violations(pod, "baseline") == []
    if what != "baseline capabilities at baseline":
        assert violations(pod, "restricted") == []


def test_versions_gate_the_newer_rules():
    """Each check from its version: a 1.32 sysctl fails at 1.31, probe hosts pass at 1.33..."""
    rmem_sysctl = [{"name": "net.ipv4.tcp_rmem", "value": "1"}]
    rmem = changed(lambda p: pod_ctx(p).update(sysctls=rmem_sysctl))
    assert ids(violations(rmem, "baseline", (1, 31))) == {"sysctls"}
    engine = changed(lambda p: pod_ctx(p).update(seLinuxOptions={"type": "container_engine_t"}))
    assert ids(violations(engine, "baseline", (1, 30))) == {"seLinuxOptions"}
    probe = changed(lambda p: app(p).update(readinessProbe={"tcpSocket": {"host": "h", "port": 1}}))
    assert violations(probe, "baseline", (1, 33)) == []
    git = changed(lambda p: p["spec"].update(volumes=[{"name": "g", "gitRepo": {}}]))
    assert violations(git, "baseline", (1, 30)) == []
    limits = changed(lambda p: app_ctx(p).update(ulimits=[]))
    assert violations(limits, "baseline", (1, 36)) == []
    assert ids(violations(limits, "baseline", (1, 37))) == {"ulimits"}


def test_a_workload_is_judged_by_its_pod_template():
    """A Deployment whose template shares the host network fails; a NetworkPolicy passes."""
    pod = changed(lambda p: p["spec"].update(hostNetwork=True))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"template": {"metadata": {}, "spec": pod["spec"]}}}  # fmt: skip
    assert ids(violations(deployment, "baseline")) == {"hostNamespaces"}
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": {}}
    assert violations(policy, "restricted") == []


def test_an_unknown_level_is_refused():
    """The checker knows two levels; a typo is an error, not a pass."""
    with pytest.raises(ValueError, match="level"):
        violations(good_pod(), "privileged")

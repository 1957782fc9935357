"""A RunConfig as Kubernetes objects: a Pod, Job or Deployment, and its NetworkPolicy.

Pure, like the other exporters: plain dicts and lists, no Kubernetes client. Every
field of the config is carried into the manifest, or refused with
:class:`~secure_run.UnsupportedFeature` (every refusal found at once, each with the
reason and the fix), or, where the caller grants an opt-in saying who enforces it
instead, left out and written into the ``io.secure-run.kubernetes-losses``
annotation. ``docs/cluster.md`` has the table, field by field.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import TYPE_CHECKING, Any

from .._config.values import LABEL_PREFIX, Healthcheck, Mount, OptIn, RestartPolicy
from .._errors import ConfigError, Problem, UnsupportedFeature, show
from .docker import config_labels, tmpfs_mounts, working_dir

if TYPE_CHECKING:
    from .._config.run_config import RunConfig

__all__ = ["KINDS", "LOSSES_ANNOTATION", "SECCOMP_DIR", "to_kubernetes"]

#: The workload kinds :func:`to_kubernetes` writes, with their apiVersion.
KINDS = {"Pod": "v1", "Job": "batch/v1", "Deployment": "apps/v1"}
#: The annotation listing what the manifest does not carry, under an opt-in.
LOSSES_ANNOTATION = LABEL_PREFIX + "kubernetes-losses"
#: Where a custom seccomp profile goes, under the kubelet's seccomp root on every node.
SECCOMP_DIR = "secure-run"
#: The label every object carries, which the Deployment and NetworkPolicy select on.
NAME_LABEL = "app.kubernetes.io/name"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_PROPAGATION = {"rprivate": "None", "rslave": "HostToContainer", "rshared": "Bidirectional"}
_KUBELET_CPU_PERIOD = 100_000  # µs: the kubelet's CFS period (cpuCFSQuotaPeriod)


class _Notes:
    """What an export refuses, and what it leaves to the nodes under an opt-in."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.refused: list[Problem] = []
        self.losses: list[str] = []
        self.relied: set[OptIn] = set()

    def refuse(self, field: str, value: object, why: str, fix: str) -> None:
        self.refused.append(Problem(field, show(value), why, fix))

    def needs(self, opt_in: OptIn, field: str, value: object, why: str, fix: str, *,
              loss: str) -> None:  # fmt: skip
        """Refuse, unless ``opt_in`` is granted: then record ``loss`` (read by gen_rules_doc)."""
        if opt_in in self.cfg.opt_ins:
            self.relied.add(opt_in)
            self.losses.append(f"{field}: {loss}")
        else:
            self.refuse(field, value, why, f"{fix}, or grant .opt_in({opt_in.value!r})")


def to_kubernetes(
    cfg: RunConfig,
    *,
    kind: str = "Pod",
    namespace: str | None = None,
    name: str | None = None,
    reveal_env: bool = False,
) -> list[dict[str, Any]]:
    """The config as Kubernetes objects: always a list, the workload first.

    Args:
        cfg: The config.
        kind: ``"Pod"``, ``"Job"`` or ``"Deployment"``.
        namespace: Written into each object's metadata; ``None`` leaves it to kubectl.
        name: The objects' name (a DNS-1123 label); the config's name, else ``secure-run``.
        reveal_env: Write environment values into the manifest. By default each variable
            is read from the key of its name in the Secret ``<name>-env``.

    Returns:
        The workload, then, with network ``none``, a deny-all ``NetworkPolicy``.

    Raises:
        ConfigError: An unknown kind, or a name or namespace Kubernetes refuses.
        UnsupportedFeature: Settings Kubernetes cannot carry per pod (every one).
    """
    name = _check_arguments(cfg, kind, namespace, name)
    notes = _Notes(cfg)
    spec = _pod_spec(cfg, notes, name, reveal_env)
    restart = _restart(cfg, kind, notes)
    if notes.refused:
        raise UnsupportedFeature(notes.refused)
    spec["restartPolicy"] = restart[0]
    labels, annotations = _metadata(cfg, notes, name)
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {}),
                            "labels": labels, "annotations": annotations}  # fmt: skip
    template = {"metadata": {"labels": dict(labels), "annotations": dict(annotations)},
                "spec": spec}  # fmt: skip
    workload: dict[str, Any] = {"apiVersion": KINDS[kind], "kind": kind, "metadata": meta}
    if kind == "Pod":
        workload["spec"] = spec
    elif kind == "Job":
        workload["spec"] = {"backoffLimit": restart[1], "template": template}
    else:
        workload["spec"] = {"replicas": 1, "selector": {"matchLabels": {NAME_LABEL: name}},
                            "template": template}  # fmt: skip
    objects = [workload]
    if cfg.network == "none":
        objects.append(_deny_all(meta, name))
    return objects


def _check_arguments(cfg: RunConfig, kind: str, namespace: str | None, name: str | None) -> str:
    if kind not in KINDS:
        raise ConfigError.single("kind", kind, "not a workload kind this exporter writes",
                                 f"use one of {sorted(KINDS)}")  # fmt: skip
    if namespace is not None and not _dns_label(namespace):
        raise ConfigError.single("namespace", namespace, "not a DNS-1123 label",
                                 "lower-case letters, digits and '-', at most 63")  # fmt: skip
    chosen = name if name is not None else cfg.name if cfg.name is not None else "secure-run"
    if not _dns_label(chosen):
        raise ConfigError.single(
            "name", chosen, "not a DNS-1123 label, as a Kubernetes object and container name",
            "pass name= with lower-case letters, digits and '-', at most 63 characters",
        )  # fmt: skip
    return chosen


def _dns_label(text: str) -> bool:
    return len(text) <= 63 and _DNS_LABEL.match(text) is not None


def _label_key(key: str) -> bool:
    prefix, _, rest = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(rest) <= 63 and _LABEL_NAME.match(rest) is not None


def _label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and _LABEL_NAME.match(value) is not None)


def _metadata(cfg: RunConfig, notes: _Notes, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The labels (the user's, the preset, the name) and annotations (digest, opt-ins, losses)."""
    ours = config_labels(cfg)
    labels = dict(cfg.labels)
    labels[LABEL_PREFIX + "preset"] = ours[LABEL_PREFIX + "preset"]
    labels[NAME_LABEL] = name
    opt_ins = sorted({*(o.value for o in cfg.waivers()), *(o.value for o in notes.relied)})
    annotations = {LABEL_PREFIX + "config-digest": ours[LABEL_PREFIX + "config-digest"],
                   LABEL_PREFIX + "opt-ins": ",".join(opt_ins)}  # fmt: skip
    if cfg.seccomp.kind == "custom":
        annotations[LABEL_PREFIX + "seccomp-profile"] = _seccomp_file(cfg)
    if notes.losses:
        annotations[LOSSES_ANNOTATION] = "; ".join(notes.losses)
    return labels, annotations


def _check_labels(cfg: RunConfig, notes: _Notes) -> None:
    for key, value in cfg.labels:
        if not (_label_key(key) and _label_value(value)):
            notes.refuse("labels", f"{key}={value}", "not a valid Kubernetes label",
                         "keys [prefix/]name, values at most 63 of [A-Za-z0-9-_.]")  # fmt: skip
    if cfg.preset is not None and not _label_value(cfg.preset):
        notes.refuse("preset", cfg.preset, "not a valid Kubernetes label value",
                     "name the preset with at most 63 of [A-Za-z0-9-_.]")  # fmt: skip


def _deny_all(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """A NetworkPolicy selecting the pod, with no rule: no traffic in or out."""
    policy_meta = {**meta, "name": f"{name}-deny-all"[:63].rstrip("-")}
    policy_meta["annotations"] = {k: v for k, v in meta["annotations"].items()
                                  if k != LOSSES_ANNOTATION}  # fmt: skip
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": policy_meta,
        "spec": {"podSelector": {"matchLabels": {NAME_LABEL: name}},
                 "policyTypes": ["Ingress", "Egress"]},
    }  # fmt: skip


# -- the pod -----------------------------------------------------------------------------


def _pod_spec(cfg: RunConfig, notes: _Notes, name: str, reveal_env: bool) -> dict[str, Any]:
    _check_labels(cfg, notes)
    volumes, mounts = _volumes(cfg, notes)
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": cfg.network == "host",
        "hostPID": _host_namespace(cfg, notes, "pid_mode"),
        "hostIPC": _host_namespace(cfg, notes, "ipc_mode"),
        "shareProcessNamespace": cfg.init,
        "securityContext": _pod_security(cfg, notes),
        "containers": [_container(cfg, notes, name, mounts, reveal_env)],
    }
    _network(cfg, notes)
    if volumes:
        spec["volumes"] = volumes
    if cfg.userns_mode is not None:
        spec["hostUsers"] = True  # "host", the one value a rule lets through
    if cfg.uts_mode is not None:
        notes.refuse("uts_mode", cfg.uts_mode, "a pod shares the node's UTS namespace only "
                     "with hostNetwork", "leave it unset, or use network('host')")  # fmt: skip
    if cfg.hostname is not None:
        if _dns_label(cfg.hostname):
            spec["hostname"] = cfg.hostname
        else:
            notes.refuse("hostname", cfg.hostname, "a pod's hostname is a DNS-1123 label",
                         "use lower-case letters, digits and '-'")  # fmt: skip
    if cfg.runtime is not None:
        spec["runtimeClassName"] = cfg.runtime  # a RuntimeClass of that name must exist
    if cfg.stop_timeout is not None:
        spec["terminationGracePeriodSeconds"] = cfg.stop_timeout
    _node_limits(cfg, notes)
    _refuse_devices(cfg, notes)
    return spec


def _host_namespace(cfg: RunConfig, notes: _Notes, field: str) -> bool:
    mode: str | None = getattr(cfg, field)
    if mode is None or mode == "host":
        return mode == "host"
    notes.refuse(field, mode, "a pod shares a namespace with the node or not at all",
                 "leave it unset; put containers that share it in one pod")  # fmt: skip
    return False


def _network(cfg: RunConfig, notes: _Notes) -> None:
    if cfg.network not in ("none", "bridge", "host"):
        notes.refuse("network", cfg.network, "a pod joins the cluster's pod network; Docker "
                     "networks have no counterpart", "use 'none' (a deny-all NetworkPolicy) "
                     "or 'bridge' (the pod network), and NetworkPolicies for the rest")  # fmt: skip


def _pod_security(cfg: RunConfig, notes: _Notes) -> dict[str, Any]:
    ctx: dict[str, Any] = {**_identity(cfg), "seccompProfile": _seccomp(cfg)}
    if cfg.group_add:
        ctx["supplementalGroups"] = list(cfg.group_add)
    if cfg.sysctls:  # the kubelet runs only the safe set unless --allowed-unsafe-sysctls
        ctx["sysctls"] = [{"name": k, "value": v} for k, v in cfg.sysctls]
    return ctx


def _identity(cfg: RunConfig) -> dict[str, Any]:
    if cfg.user is None:  # the image's user: nothing to say
        return {}
    return {"runAsUser": cfg.user.uid, "runAsGroup": cfg.user.gid,
            "runAsNonRoot": cfg.user.uid != 0}  # fmt: skip


def _seccomp(cfg: RunConfig) -> dict[str, str]:
    if cfg.seccomp.kind == "unconfined":
        return {"type": "Unconfined"}
    if cfg.seccomp.kind == "custom":
        return {"type": "Localhost", "localhostProfile": _seccomp_file(cfg)}
    return {"type": "RuntimeDefault"}


def _seccomp_file(cfg: RunConfig) -> str:
    """A custom profile's file under the kubelet's seccomp root, named by its content."""
    digest = hashlib.sha256((cfg.seccomp.profile_json or "").encode()).hexdigest()[:16]
    return f"{SECCOMP_DIR}/{digest}.json"


def _apparmor(cfg: RunConfig) -> dict[str, str] | None:
    if cfg.apparmor is None:
        return None
    if cfg.apparmor == "unconfined":
        return {"type": "Unconfined"}
    if cfg.apparmor == "docker-default":
        return {"type": "RuntimeDefault"}
    return {"type": "Localhost", "localhostProfile": cfg.apparmor}


def _container(cfg: RunConfig, notes: _Notes, name: str, mounts: list[dict[str, Any]],
               reveal_env: bool) -> dict[str, Any]:  # fmt: skip
    security: dict[str, Any] = {
        **_identity(cfg),
        "allowPrivilegeEscalation": not cfg.no_new_privileges,
        "privileged": cfg.privileged,
        "readOnlyRootFilesystem": cfg.read_only,
        "capabilities": {"drop": list(cfg.cap_drop), **({"add": list(cfg.cap_add)}
                                                         if cfg.cap_add else {})},
        "seccompProfile": _seccomp(cfg),
    }  # fmt: skip
    apparmor = _apparmor(cfg)
    if apparmor is not None:
        security["appArmorProfile"] = apparmor
    container: dict[str, Any] = {"name": name, "image": cfg.image,
                                 "imagePullPolicy": "Always", "securityContext": security}
    if cfg.entrypoint is not None:
        container["command"] = list(cfg.entrypoint)
    if cfg.command is not None:
        container["args"] = list(cfg.command)
    if cfg.env and reveal_env:
        container["env"] = [{"name": k, "value": v} for k, v in cfg.env]
    elif cfg.env:  # values stay out of the manifest: each is a key of the Secret <name>-env
        container["env"] = [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": f"{name}-env", "key": k}}}
            for k, _ in cfg.env
        ]
    workdir = working_dir(cfg)
    if workdir is not None:
        container["workingDir"] = workdir
    resources = _resources(cfg, notes)
    if resources:
        container["resources"] = resources
    if mounts:
        container["volumeMounts"] = mounts
    ports = _ports(cfg, notes)
    if ports:
        container["ports"] = ports
    if cfg.healthcheck is not None and cfg.healthcheck.test[0] != "NONE":
        container["readinessProbe"] = _probe(cfg.healthcheck, notes)
    return container


# -- resources, limits, restart ----------------------------------------------------------


def _quantity(size: int) -> str:
    for suffix, unit in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def _millicores(field: str, cores: float, notes: _Notes) -> str | None:
    milli = cores * 1000
    if milli < 1 or abs(milli - round(milli)) > 1e-6:
        notes.refuse(field, cores, "a Kubernetes CPU quantity is a whole number of millicores",
                     "give CPUs in steps of 0.001")  # fmt: skip
        return None
    whole = round(milli)
    return str(whole // 1000) if whole % 1000 == 0 else f"{whole}m"


def _cpu_limit(cfg: RunConfig, notes: _Notes) -> str | None:
    if cfg.cpus is not None:
        return _millicores("cpus", cfg.cpus, notes)
    if cfg.cpu_quota is None:
        return None
    period = cfg.cpu_period if cfg.cpu_period is not None else _KUBELET_CPU_PERIOD
    if period != _KUBELET_CPU_PERIOD:
        notes.refuse("cpu_period", period, "the kubelet sets every CFS period (100000 µs)",
                     "use cpus(), or cpu_quota() with the default period")  # fmt: skip
        return None
    return _millicores("cpu_quota", cfg.cpu_quota / period, notes)


def _resources(cfg: RunConfig, notes: _Notes) -> dict[str, Any]:
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if cfg.memory is not None:
        limits["memory"] = requests["memory"] = _quantity(cfg.memory)
    if cfg.memory_reservation is not None:  # a scheduler reservation, not a soft limit
        requests["memory"] = _quantity(cfg.memory_reservation)
    cpu = _cpu_limit(cfg, notes)
    if cpu is not None:
        limits["cpu"] = requests["cpu"] = cpu
    if cfg.cpu_shares is not None:  # the kubelet's cpu.shares is request millicores * 1.024
        requests["cpu"] = f"{max(1, round(cfg.cpu_shares * 1000 / 1024))}m"
        if cpu is not None and _milli(requests["cpu"]) > _milli(cpu):
            notes.refuse("cpu_shares", cfg.cpu_shares, "its request is above the CPU limit",
                         "lower cpu_shares to at most 1024 per CPU of the limit")  # fmt: skip
    if cfg.cpuset is not None:
        notes.refuse("cpuset", cfg.cpuset, "a pod cannot choose its CPUs",
                     "leave it unset; the kubelet's static CPU manager pins Guaranteed pods "
                     "with whole CPUs")  # fmt: skip
    return {k: v for k, v in (("limits", limits), ("requests", requests)) if v}


def _milli(cpu: str) -> int:
    return int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000


def _node_limits(cfg: RunConfig, notes: _Notes) -> None:
    """The settings with no per-pod field: refused, or left to the nodes under the opt-in."""
    if cfg.pids_limit is not None:
        notes.needs(OptIn.K8S_NODE_LIMITS, "pids_limit", cfg.pids_limit,
                    "Kubernetes has no per-pod pids limit", "leave it unset",
                    loss=f"{cfg.pids_limit}, left to the kubelet's podPidsLimit")  # fmt: skip
    if cfg.ulimits:
        text = ",".join(f"{u.name}={u.soft}:{u.hard}" for u in cfg.ulimits)
        notes.needs(OptIn.K8S_NODE_LIMITS, "ulimits", text, "Kubernetes has no per-pod "
                    "rlimits", "leave them unset",
                    loss=f"{text}, left to the container runtime's defaults")  # fmt: skip
    if cfg.log_limits is not None:
        text = f"{cfg.log_limits.max_size}x{cfg.log_limits.max_files}"
        notes.needs(OptIn.K8S_NODE_LIMITS, "log_limits", text, "the kubelet rotates every "
                    "container's logs", "leave them unset",
                    loss=f"{text}, left to containerLogMaxSize, containerLogMaxFiles")
    if cfg.memory_swap is not None and cfg.memory_swap == cfg.memory:
        notes.needs(OptIn.K8S_NODE_LIMITS, "memory_swap", cfg.memory_swap, "Kubernetes has "
                    "no per-pod swap field", "leave it unset",
                    loss="no swap, left to the kubelet's swapBehavior NoSwap")  # fmt: skip
    elif cfg.memory_swap is not None:
        notes.refuse("memory_swap", cfg.memory_swap, "Kubernetes has no per-pod swap amount",
                     "leave swap unset, or equal to memory (no swap)")  # fmt: skip
    for tmpfs in tmpfs_mounts(cfg):  # carried as an emptyDir: its options are the kubelet's
        notes.losses.append(f"tmpfs {tmpfs.path}: {tmpfs.options()}, an emptyDir is mounted "
                            "rw, exec, mode 0777")  # fmt: skip


def _refuse_devices(cfg: RunConfig, notes: _Notes) -> None:
    for device in cfg.devices:
        notes.refuse("devices", device.host_path, "a pod gets host devices only through a "
                     "device plugin", "leave it out; request the device plugin's resource "
                     "in the exported manifest")  # fmt: skip


def _restart(cfg: RunConfig, kind: str, notes: _Notes) -> tuple[str, int]:
    """The pod's restartPolicy, and a Job's backoffLimit."""
    policy = cfg.restart or RestartPolicy("no")
    if kind == "Job":
        if policy.name == "no":
            return "Never", 0
        if policy.name == "on-failure" and policy.max_retries > 0:
            return "OnFailure", policy.max_retries
        notes.refuse("restart", str(policy), "a Job's pods restart Never or OnFailure, at "
                     "most backoffLimit times", "use on-failure with a count, or kind="
                     "'Deployment'")  # fmt: skip
        return "Never", 0
    if policy.name in ("always", "unless-stopped"):
        return "Always", 0
    if kind == "Pod" and policy.name == "no":
        return "Never", 0
    what = "a Deployment's pods always restart" if kind == "Deployment" else (
        "a Pod's OnFailure restarts without a bound")  # fmt: skip
    notes.needs(OptIn.UNBOUNDED_RESTART, "restart", str(policy), what, "use kind='Job' (a "
                "bounded backoffLimit)", loss=f"{policy}, restarted without a bound")  # fmt: skip
    return ("Always" if kind == "Deployment" else "OnFailure"), 0


# -- volumes, ports, probe ---------------------------------------------------------------


def _volumes(cfg: RunConfig, notes: _Notes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for i, tmpfs in enumerate(tmpfs_mounts(cfg)):
        vol = "workspace" if cfg.workspace and tmpfs.path == cfg.workspace.path else f"tmp-{i}"
        volumes.append({"name": vol, "emptyDir": {"medium": "Memory",
                                                  "sizeLimit": _quantity(tmpfs.size)}})
        mounts.append({"name": vol, "mountPath": tmpfs.path})
    for i, mount in enumerate(cfg.mounts):
        vol = f"mount-{i}"
        source = _mount_source(mount, notes)
        volumes.append({"name": vol, **source})
        entry = {"name": vol, "mountPath": mount.target, "readOnly": mount.read_only}
        if mount.propagation is not None:
            if mount.propagation in _PROPAGATION:
                entry["mountPropagation"] = _PROPAGATION[mount.propagation]
            else:
                notes.refuse("mounts", f"{mount.target}:{mount.propagation}", "Kubernetes has "
                             "only recursive propagation", "use rprivate, rslave or rshared")
        mounts.append(entry)
    return volumes, mounts


def _mount_source(mount: Mount, notes: _Notes) -> dict[str, Any]:
    if mount.kind == "bind":
        return {"hostPath": {"path": mount.source}}
    if len(mount.source) > 253 or not _DNS_SUBDOMAIN.match(mount.source):
        notes.refuse("mounts", mount.source, "a named volume becomes a PersistentVolumeClaim "
                     "of that name, a DNS-1123 subdomain", "rename the volume")  # fmt: skip
    return {"persistentVolumeClaim": {"claimName": mount.source, "readOnly": mount.read_only}}


def _ports(cfg: RunConfig, notes: _Notes) -> list[dict[str, Any]]:
    ports = []
    for port in cfg.ports:
        if port.host_port is not None:
            notes.refuse("ports", f"{port.host_ip}:{port.host_port}", "a hostPort binds on "
                         "whichever node runs the pod, and Pod Security baseline refuses it",
                         "publish without a host port and reach it through a Service")
        ports.append({"containerPort": port.container_port,
                      "protocol": port.protocol.upper()})  # fmt: skip
    return ports


def _seconds(field: str, ns: int, notes: _Notes, minimum: int) -> int:
    seconds = ns / 1e9
    if seconds != math.floor(seconds) or seconds < minimum:
        notes.refuse(field, f"{seconds:g}s", "a probe counts whole seconds",
                     f"give a whole number of seconds, at least {minimum}")  # fmt: skip
    return max(minimum, math.ceil(seconds))


def _probe(check: Healthcheck, notes: _Notes) -> dict[str, Any]:
    """A readinessProbe: it reports, as Docker's healthcheck does; a liveness probe kills."""
    argv = list(check.test[1:]) if check.test[0] == "CMD" else ["/bin/sh", "-c", check.test[1]]
    return {
        "exec": {"command": argv},
        "periodSeconds": _seconds("healthcheck.interval", check.interval_ns, notes, 1),
        "timeoutSeconds": _seconds("healthcheck.timeout", check.timeout_ns, notes, 1),
        "failureThreshold": max(1, check.retries),
        "initialDelaySeconds": _seconds("healthcheck.start_period", check.start_period_ns,
                                        notes, 0),
    }  # fmt: skip

"""The audit's judge on recorded inspect records, audit_config on every preset, the report.

``tests/data/audit/`` holds records from Docker 20.10.24 (``record.py``): the
``inspect`` of a restricted-preset container and of a plain ``docker run`` with
Docker's defaults, the ``info`` fields the audit reads and the built-in networks.
Each case copies a record, changes the fields it is about, and judges it.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import docker.errors
import pytest
import requests

import secure_run as sr
from secure_run._audit.audit import (
    CHECKS,
    AuditReport,
    Finding,
    _audit,
    audit,
    audit_all,
    audit_config,
)
from secure_run._audit.catalog import judge_container, judge_engine
from secure_run._audit.config_record import config_inspect
from secure_run._audit.daemon import read_daemon_config
from secure_run._audit.engine_view import daemon_no_new_privileges
from secure_run._audit.view import Context, Processes, effective_capabilities_of, security_pairs
from secure_run._config.capabilities import ALL_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES
from secure_run._errors import ConfigError, LaunchError

DATA = Path(__file__).parent.parent / "data" / "audit"
RESTRICTED = json.loads((DATA / "restricted.json").read_text())
DEFAULT = json.loads((DATA / "default.json").read_text())
INFO = json.loads((DATA / "info.json").read_text())
NETWORKS = json.loads((DATA / "networks.json").read_text())
BRIDGE_ID = next(n["Id"] for n in NETWORKS if n["Name"] == "bridge")
SECCOMP = "name=seccomp,profile=default"
STRICTER = "stricter than docker-bench-security"
WILDCARD = "0.0.0.0"  # noqa: S104 - the address judged, not bound
ALLOW_ALL = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})
SCORED_CIS = {c.id for c in CHECKS if c.source == "CIS 5.x" and c.scored}


def record(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``Section__Field=value`` changes (``__`` nests)."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = out
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return out


def context(
    *options: str, swarm: str = "inactive", nnp: bool = False, networks: Any = NETWORKS
) -> Context:
    """An engine context; ``options`` are its SecurityOptions (seccomp only by default)."""
    info = {**INFO, "Swarm": {"LocalNodeState": swarm}}
    info["SecurityOptions"] = list(options) if options else [SECCOMP]
    return Context(info, networks, nnp, "daemon-wide on (test)" if nnp else "off (test)")


def judged(
    inspect: dict[str, Any], ctx: Context | None = None, processes: Processes | None = None
) -> dict[str, Finding]:
    """Every finding of one container (and the engine), by check id."""
    ctx = ctx or context()
    findings = [*judge_engine(ctx), *judge_container(inspect, ctx, processes)]
    return {f.id: f for f in findings}


def ports(host_ip: str, host_port: str = "8080", key: str = "80/tcp") -> dict[str, Any]:
    return {key: [{"HostIp": host_ip, "HostPort": host_port}]}


def mount(source: str, destination: str, rw: bool = True, kind: str = "bind", **extra: Any):
    return {
        "Type": kind,
        "Source": source,
        "Destination": destination,
        "Mode": "",
        "RW": rw,
        "Propagation": "rprivate",
        **extra,
    }


R, D = RESTRICTED, DEFAULT
HEALTHY = record(RESTRICTED, State__Health={"Status": "healthy"})
APPARMOR = (SECCOMP, "name=apparmor")
SELINUX = (SECCOMP, "name=selinux")

# (check id, inspect, context, processes, expected status, fragment of the evidence)
CASES = [
    # 5.1 swarm (engine level)
    ("5.1", R, context(swarm="active"), None, "warn", "LocalNodeState='active'"),
    ("5.1", R, context(swarm="inactive"), None, "pass", "LocalNodeState='inactive'"),
    # 5.2 AppArmor
    ("5.2", R, context(*APPARMOR), None, "warn", "AppArmorProfile=''"),
    ("5.2", record(R, AppArmorProfile="unconfined"), context(*APPARMOR), None, "warn",
     "AppArmorProfile='unconfined'"),
    ("5.2", record(R, AppArmorProfile="docker-default"), context(*APPARMOR), None, "pass",
     "AppArmorProfile='docker-default'"),
    ("5.2", R, context(), None, "not_applicable", "no AppArmor"),
    # 5.3 SELinux
    ("5.3", R, context(*SELINUX), None, "warn", "no SELinux label option"),
    ("5.3", record(R, HostConfig__SecurityOpt=["label=level:s0:c100,c200"]),
     context(*SELINUX), None, "pass", "label=level:s0:c100,c200"),
    ("5.3", record(R, HostConfig__SecurityOpt=["label=disable"]), context(*SELINUX), None,
     "warn", "label=disable"),
    ("5.3", record(R, HostConfig__SecurityOpt=["label=type:spc_t"]), context(*SELINUX), None,
     "warn", "'spc_t' is not a container type"),
    ("5.3", R, context(), None, "not_applicable", "would pass: it passes any SecurityOpt"),
    ("5.3", D, context(), None, "not_applicable", "would warn"),
    # 5.4 capabilities
    ("5.4", record(D, HostConfig__CapAdd=["CAP_SYS_ADMIN"]), None, None, "warn",
     "beyond Docker's 14 defaults: SYS_ADMIN; dangerous: SYS_ADMIN (community checks C.5.3"),
    ("5.4", record(D, HostConfig__CapAdd=["ALL"]), None, None, "warn", "CapAdd ALL"),
    ("5.4", record(D, HostConfig__CapAdd=["NET_ADMIN"], HostConfig__CapDrop=["NET_ADMIN"]),
     None, None, "warn", "NET_ADMIN"),
    ("5.4", record(R, HostConfig__CapAdd=["CAP_NET_BIND_SERVICE"]), None, None, "pass",
     "CapDrop ALL: only the adds): 1 capabilities"),
    ("5.4", D, None, None, "pass", "14 capabilities, none beyond"),
    # 5.5 privileged
    ("5.5", record(R, HostConfig__Privileged=True), None, None, "warn", "Privileged=True"),
    ("5.5", R, None, None, "pass", "Privileged=False"),
    # 5.6 sensitive host directories
    ("5.6", record(R, Mounts=[mount("/etc", "/host/etc")]), None, None, "warn",
     "/etc -> /host/etc (RW)"),
    ("5.6", record(R, Mounts=[mount("/", "/host")]), None, None, "warn", "/ -> /host (RW)"),
    ("5.6", record(R, Mounts=[mount("/var/lib/docker/volumes/v/_data", "/usr", kind="volume")]),
     None, None, "warn", "/usr (RW, a system directory)"),
    ("5.6", record(R, Mounts=[mount("/etc", "/host/etc", rw=False)]), None, None, "pass",
     "no writable mount"),
    ("5.6", record(R, Mounts=[mount("/srv/data", "/data")]), None, None, "pass",
     "no writable mount"),
    # 5.7 sshd (exec)
    ("5.7", R, None, Processes("PID USER COMMAND\n 1 root {sshd} /bin/sh /bin/sshd\n"),
     "warn", "1 sshd line(s)"),
    ("5.7", R, None, Processes("PID USER COMMAND\n 1 root sleep 60\n 7 root ps -el\n"),
     "pass", "2 process line(s), none sshd"),
    ("5.7", R, None, Processes(None, "ps -el exited 127"), "info", "ps -el exited 127"),
    ("5.7", R, None, Processes(""), "info", "exited 0 and printed nothing"),
    ("5.7", R, None, None, "not_applicable", "exec checks off"),
    # 5.8 privileged host ports
    ("5.8", record(R, NetworkSettings__Ports=ports("127.0.0.1", "80")), None, None, "warn",
     "80/tcp -> 127.0.0.1:80"),
    ("5.8", record(R, NetworkSettings__Ports=ports("127.0.0.1", "1024")), None, None, "pass",
     "none below host port 1024"),
    ("5.8", record(R, State__Running=False, HostConfig__PortBindings=ports("", "443")),
     None, None, "warn", "HostConfig.PortBindings (not running"),
    # 5.9 open ports
    ("5.9", record(R, NetworkSettings__Ports=ports("127.0.0.1")), None, None, "warn",
     "80/tcp -> 127.0.0.1:8080 (confirm each is needed)"),
    ("5.9", R, None, None, "pass", "no published port"),
    # 5.10 to 5.13
    ("5.10", record(R, HostConfig__NetworkMode="host"), None, None, "warn", "NetworkMode='host'"),
    ("5.10", R, None, None, "pass", "NetworkMode='none'"),
    ("5.11", D, None, None, "warn", "HostConfig.Memory=0"),
    ("5.11", R, None, None, "pass", "HostConfig.Memory=536870912"),
    ("5.12", D, None, None, "warn", "CpuShares=0 NanoCpus=0 CpuQuota=0"),
    ("5.12", record(D, HostConfig__CpuShares=512), None, None, "pass", "CpuShares=512"),
    ("5.12", record(D, HostConfig__CpuQuota=50000), None, None, "pass", "ignores CpuQuota"),
    ("5.12", R, None, None, "pass", "NanoCpus=1000000000"),
    ("5.13", D, None, None, "warn", "ReadonlyRootfs=False"),
    ("5.13", R, None, None, "pass", "ReadonlyRootfs=True"),
    # 5.14 every interface
    ("5.14", record(R, NetworkSettings__Ports=ports(WILDCARD)), None, None, "warn",
     "80/tcp -> 0.0.0.0:8080"),
    ("5.14", record(R, NetworkSettings__Ports=ports("127.0.0.1")), None, None, "pass",
     "each on one address"),
    ("5.14", record(R, State__Running=False, HostConfig__PublishAllPorts=True,
                    Config__ExposedPorts={"8080/tcp": {}}),
     None, None, "warn", "8080/tcp -> '':any"),
    # 5.15 restart policy
    ("5.15", record(R, HostConfig__RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 10}),
     None, None, "warn", "more than 5 retries"),
    ("5.15", record(R, HostConfig__RestartPolicy={"Name": "unless-stopped",
                                                  "MaximumRetryCount": 0}),
     None, None, "warn", "'unless-stopped' restarts without limit"),
    ("5.15", record(R, HostConfig__RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 5}),
     None, None, "pass", "MaximumRetryCount=5"),
    ("5.15", R, None, None, "pass", "never restarted"),
    # 5.16, 5.17, 5.21, 5.31 host namespaces
    ("5.16", record(R, HostConfig__PidMode="host"), None, None, "warn", "PidMode='host'"),
    ("5.16", R, None, None, "pass", "PidMode=''"),
    ("5.17", record(R, HostConfig__IpcMode="host"), None, None, "warn", "IpcMode='host'"),
    ("5.17", R, None, None, "pass", "IpcMode='private'"),
    ("5.21", record(R, HostConfig__UTSMode="host"), None, None, "warn", "UTSMode='host'"),
    ("5.21", R, None, None, "pass", "UTSMode=''"),
    ("5.31", record(R, HostConfig__UsernsMode="host"), None, None, "warn", "UsernsMode='host'"),
    ("5.31", R, None, None, "pass", "UsernsMode=''"),
    # 5.18 devices, 5.19 ulimits (unscored)
    ("5.18", record(R, HostConfig__Devices=[{"PathOnHost": "/dev/fuse",
                                             "PathInContainer": "/dev/fuse",
                                             "CgroupPermissions": "rwm"}]),
     None, None, "info", "/dev/fuse:/dev/fuse:rwm"),
    ("5.18", record(R, HostConfig__Privileged=True), None, None, "info", "every host device"),
    ("5.18", R, None, None, "pass", "Devices: none"),
    ("5.19", D, None, None, "info", "Ulimits: none"),
    ("5.19", R, None, None, "pass", "core=0:0, nofile=1024:1024"),
    # 5.20 propagation
    ("5.20", record(R, Mounts=[mount("/srv", "/srv", Propagation="rshared")]), None, None,
     "warn", "/srv=rshared"),
    ("5.20", record(R, Mounts=[mount("/srv", "/srv")]), None, None, "pass", "none shared"),
    # 5.22 seccomp
    ("5.22", record(R, HostConfig__SecurityOpt=["seccomp=unconfined"]), None, None, "warn",
     "seccomp=unconfined"),
    ("5.22", record(R, HostConfig__SecurityOpt=["seccomp:unconfined"]), None, None, "warn",
     "seccomp=unconfined"),
    ("5.22", record(R, HostConfig__SecurityOpt=[f"seccomp={ALLOW_ALL}"]), None, None, "warn",
     "allows every syscall"),
    ("5.22", R, context("name=apparmor"), None, "warn", "no seccomp support"),
    ("5.22", R, None, None, "pass", "a syscall filter applies"),
    # 5.23, 5.24 manual
    ("5.23", R, None, None, "note", "manual"),
    ("5.24", D, None, None, "note", "manual"),
    # 5.25 cgroup parent
    ("5.25", record(R, HostConfig__CgroupParent="/custom"), None, None, "warn",
     "CgroupParent='/custom'"),
    ("5.25", R, None, None, "pass", "CgroupParent=''"),
    # 5.26 no-new-privileges
    ("5.26", record(R, HostConfig__SecurityOpt=["no-new-privileges"]), None, None, "pass",
     "true"),
    ("5.26", record(R, HostConfig__SecurityOpt=["no-new-privileges=1"]), None, None, "pass",
     "true"),
    ("5.26", D, context(nnp=True), None, "pass", "daemon-wide default on"),
    ("5.26", D, None, None, "warn", "daemon-wide default off"),
    ("5.26", record(R, HostConfig__SecurityOpt=["no-new-privileges=maybe"]), None, None, "warn",
     "'maybe' is not a boolean"),
    # 5.27 health
    ("5.27", record(R, State__Health={"Status": "healthy"}), None, None, "pass",
     "State.Health.Status='healthy'"),
    ("5.27", record(R, State__Running=False, Config__Healthcheck={"Test": ["CMD", "true"]}),
     None, None, "pass", "not started yet"),
    ("5.27", record(R, Config__Healthcheck={"Test": ["NONE"]}), None, None, "warn",
     "Test=['NONE']"),
    ("5.27", R, None, None, "warn", "State.Health: none"),
    # 5.28 image pinning (unscored)
    ("5.28", record(R, Config__Image="busybox@sha256:" + "a" * 64), None, None, "pass",
     "pinned by digest"),
    ("5.28", record(R, Config__Image="sha256:" + "b" * 64), None, None, "pass",
     "pinned by digest"),
    ("5.28", R, None, None, "info", "a tag, which can move"),
    # 5.29 pids
    ("5.29", D, None, None, "warn", "PidsLimit=None"),
    ("5.29", record(R, HostConfig__PidsLimit=-1), None, None, "warn", "PidsLimit=-1"),
    ("5.29", record(R, HostConfig__PidsLimit=0), None, None, "warn", "PidsLimit=0"),
    ("5.29", R, None, None, "pass", "PidsLimit=128"),
    # 5.30 docker0 (unscored)
    ("5.30", record(R, NetworkSettings__Networks={"bridge": {"NetworkID": BRIDGE_ID}}),
     None, None, "info", "['bridge'] is docker0"),
    ("5.30", record(R, NetworkSettings__Networks={"bridge": {"NetworkID": ""}}), None, None,
     "info", "['bridge'] is docker0"),
    ("5.30", record(R, NetworkSettings__Networks={"bridge": {"NetworkID": BRIDGE_ID}}),
     context(networks=()), None, "pass", "none is docker0"),
    ("5.30", R, None, None, "pass", "['none'], none is docker0"),
    ("5.30", record(R, NetworkSettings__Networks={"bridge": {"NetworkID": "b0"}}),
     context(networks=[{"Id": "b0", "Name": "bridge", "Options": {  # dockerd -b sr-userns0
         "com.docker.network.bridge.name": "sr-userns0",
         "com.docker.network.bridge.default_bridge": "true"}}]),
     None, "info", "['bridge'] is docker0"),
    # 5.32 engine socket
    ("5.32", record(R, Mounts=[mount("/var/run/docker.sock", "/var/run/docker.sock", rw=False)]),
     None, None, "warn", "/var/run/docker.sock -> /var/run/docker.sock"),
    ("5.32", record(R, Mounts=[mount("/srv", "/srv")]), None, None, "pass", "no engine socket"),
    # Pod Security baseline
    ("PSS-baseline-hostNamespaces", record(R, HostConfig__PidMode="host"), None, None, "warn",
     "PidMode='host'"),
    ("PSS-baseline-hostNamespaces", R, None, None, "pass", "NetworkMode='none'"),
    ("PSS-baseline-privileged", record(R, HostConfig__Privileged=True), None, None, "warn",
     "Privileged=True"),
    ("PSS-baseline-privileged", R, None, None, "pass", "Privileged=False"),
    ("PSS-baseline-capabilities", record(R, HostConfig__CapAdd=["CAP_NET_RAW"]), None, None,
     "warn", "not in the baseline list: NET_RAW"),
    ("PSS-baseline-capabilities", record(R, HostConfig__CapAdd=["CAP_CHOWN"]), None, None,
     "pass", "CAP_CHOWN"),
    ("PSS-baseline-hostPathVolumes", record(R, Mounts=[mount("/srv", "/srv", rw=False)]),
     None, None, "warn", "bind mounts: /srv -> /srv"),
    ("PSS-baseline-hostPathVolumes",
     record(R, Mounts=[mount("/var/lib/docker/volumes/v/_data", "/v", kind="volume")]),
     None, None, "pass", "no bind mount"),
    ("PSS-baseline-hostPorts", record(R, NetworkSettings__Ports=ports("127.0.0.1")), None, None,
     "warn", "80/tcp -> 127.0.0.1:8080"),
    ("PSS-baseline-hostPorts", R, None, None, "pass", "no published port"),
    ("PSS-baseline-appArmorProfile", record(R, HostConfig__SecurityOpt=["apparmor=unconfined"]),
     None, None, "warn", "apparmor=['unconfined']"),
    ("PSS-baseline-appArmorProfile", record(R, AppArmorProfile="docker-default"), None, None,
     "pass", "AppArmorProfile='docker-default'"),
    ("PSS-baseline-seLinuxOptions", record(R, HostConfig__SecurityOpt=["label=user:root"]),
     None, None, "warn", "label user 'root' is set"),
    ("PSS-baseline-seLinuxOptions", record(R, HostConfig__SecurityOpt=["label=type:container_t"]),
     None, None, "pass", "type:container_t"),
    ("PSS-baseline-procMount", record(R, HostConfig__MaskedPaths=[]), None, None, "warn",
     "MaskedPaths=[]: /proc unmasked"),
    ("PSS-baseline-procMount", record(R, HostConfig__Privileged=True, HostConfig__MaskedPaths=None),
     None, None, "warn", "Privileged=True: /proc unmasked"),
    ("PSS-baseline-procMount", R, None, None, "pass", "10 masked path(s)"),
    ("PSS-baseline-seccompProfile", record(R, HostConfig__SecurityOpt=["seccomp=unconfined"]),
     None, None, "warn", "seccomp=unconfined"),
    ("PSS-baseline-seccompProfile", R, context("name=apparmor"), None, "pass", "seccomp=[]"),
    ("PSS-baseline-sysctls", record(R, HostConfig__Sysctls={"net.ipv4.ip_forward": "1"}),
     None, None, "warn", "not on the safe list: net.ipv4.ip_forward"),
    ("PSS-baseline-sysctls", record(R, HostConfig__Sysctls={"net.ipv4.tcp_syncookies": "1"}),
     None, None, "pass", "net.ipv4.tcp_syncookies"),
    # Pod Security restricted
    ("PSS-restricted-allowPrivilegeEscalation", D, None, None, "warn", "SecurityOpt=[]"),
    ("PSS-restricted-allowPrivilegeEscalation", R, None, None, "pass", "true"),
    ("PSS-restricted-runAsNonRoot", D, None, None, "warn", "the image's user"),
    ("PSS-restricted-runAsNonRoot", record(R, Config__User="0:0"), None, None, "warn", "root"),
    ("PSS-restricted-runAsNonRoot", record(R, Config__User="app"), None, None, "warn",
     "a name, which cannot be verified"),
    ("PSS-restricted-runAsNonRoot", R, None, None, "pass", "Config.User='65534:65534'"),
    ("PSS-restricted-seccompProfile", R, context("name=apparmor"), None, "warn",
     "no seccomp support"),
    ("PSS-restricted-seccompProfile", R, None, None, "pass", "the default or a custom profile"),
    ("PSS-restricted-capabilities", record(R, HostConfig__CapAdd=["CAP_CHOWN"]), None, None,
     "warn", "adds CHOWN"),
    ("PSS-restricted-capabilities", D, None, None, "warn", "CapDrop lacks ALL"),
    ("PSS-restricted-capabilities", record(R, HostConfig__CapAdd=["CAP_NET_BIND_SERVICE"]),
     None, None, "pass", "CapAdd=['CAP_NET_BIND_SERVICE']"),
    # secure_run waivers
    ("SR-waivers", record(R, Config__Labels={"io.secure-run.opt-ins": "privileged,root-user"}),
     None, None, "note", "waivers privileged, root-user"),
    ("SR-waivers", R, None, None, "pass", "no waivers"),
    ("SR-waivers", D, None, None, "not_applicable", "not launched by secure_run"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("check_id", "inspect", "ctx", "processes", "status", "evidence"),
    CASES,
    ids=[f"{c[0]}-{c[4]}-{i}" for i, c in enumerate(CASES)],
)
def test_check_verdict(check_id, inspect, ctx, processes, status, evidence):
    """Each check gives the expected status, and its evidence names the field and value read."""
    finding = judged(inspect, ctx, processes)[check_id]
    assert (finding.status, evidence in finding.evidence) == (status, True), finding.evidence


def test_every_check_has_a_failing_and_a_passing_case():
    """The case table above covers every check id with a non-pass and a pass/NA case."""
    failing = {c[0] for c in CASES if c[4] in ("warn", "info", "note")}
    passing = {c[0] for c in CASES if c[4] in ("pass", "not_applicable")}
    every = {c.id for c in CHECKS}
    manual = {"5.23", "5.24"}  # always a note: nothing to pass
    assert (every - failing, every - passing - manual) == (set(), set())


HOLES = [
    pytest.param(
        "5.3",
        record(R, HostConfig__SecurityOpt=["no-new-privileges:true"]),
        context(*SELINUX),
        "passes any SecurityOpt",
        id="5.3-any-security-opt",
    ),
    pytest.param(
        "5.4",
        record(R, HostConfig__Privileged=True, HostConfig__CapAdd=None),
        None,
        "reads only CapAdd and ignores Privileged and CapDrop",
        id="5.4-privileged-without-cap-add",
    ),
    pytest.param(
        "5.14",
        record(R, NetworkSettings__Ports=ports("::")),
        None,
        "catches only 0.0.0.0, not :: or an empty HostIp",
        id="5.14-ipv6-wildcard",
    ),
    pytest.param(
        "5.14",
        record(R, State__Running=False, HostConfig__PortBindings=ports("")),
        None,
        "catches only 0.0.0.0, not :: or an empty HostIp",
        id="5.14-empty-host-ip",
    ),
    pytest.param(
        "5.15",
        record(R, HostConfig__RestartPolicy={"Name": "always", "MaximumRetryCount": 0}),
        None,
        "reads only MaximumRetryCount",
        id="5.15-always",
    ),
    pytest.param(
        "5.15",
        record(R, HostConfig__RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 0}),
        None,
        "reads only MaximumRetryCount",
        id="5.15-on-failure-unlimited",
    ),
    pytest.param(
        "5.26",
        record(R, HostConfig__SecurityOpt=["no-new-privileges=false"]),
        None,
        "passes any option naming no-new-privileges",
        id="5.26-false",
    ),
    pytest.param(
        "5.26",
        record(R, HostConfig__SecurityOpt=["no-new-privileges:false"]),
        context(nnp=True),
        "passes any option naming no-new-privileges",
        id="5.26-false-overrides-daemon",
    ),
]


@pytest.mark.parametrize(("check_id", "inspect", "ctx", "reference"), HOLES)
def test_stricter_than_docker_bench_on_its_known_holes(check_id, inspect, ctx, reference):
    """Where docker-bench-security passes by a known hole, the check warns and says why."""
    finding = judged(inspect, ctx)[check_id]
    assert finding.status == "warn"
    assert f"{STRICTER}, which {reference}" in finding.evidence


SMALLER_HOLES = [
    ("5.6", record(R, Mounts=[mount("/etc/ssh", "/ssh")]), None, "exact directories"),
    ("5.22", record(R, HostConfig__Privileged=True), None, "seccomp=unconfined"),
    ("5.32", record(R, Mounts=[mount("/run/containerd/containerd.sock", "/c.sock")]), None,
     "only for 'docker.sock'"),
    ("5.32", record(R, Mounts=[mount("/var/run", "/host-run", rw=False)]), None,
     "only for 'docker.sock'"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "inspect", "ctx", "reference"), SMALLER_HOLES)
def test_stricter_on_smaller_holes(check_id, inspect, ctx, reference):
    """Subdirectories, privileged seccomp and other engine sockets warn, marked as stricter."""
    finding = judged(inspect, ctx)[check_id]
    assert (finding.status, STRICTER in finding.evidence, reference in finding.evidence) == (
        "warn",
        True,
        True,
    )


@pytest.mark.parametrize(
    ("check_id", "inspect"),
    [
        ("5.14", record(R, NetworkSettings__Ports=ports(WILDCARD))),
        ("5.15", record(R, HostConfig__RestartPolicy={"Name": "on-failure",
                                                      "MaximumRetryCount": 6})),
        ("5.22", record(R, HostConfig__SecurityOpt=["seccomp=unconfined"])),
        ("5.4", record(R, HostConfig__CapAdd=["CAP_SYS_ADMIN"])),
    ],
)  # fmt: skip
def test_no_stricter_mark_where_docker_bench_warns_too(check_id, inspect):
    """A warning docker-bench-security gives as well carries no 'stricter' remark."""
    finding = judged(inspect)[check_id]
    assert (finding.status, STRICTER in finding.evidence) == ("warn", False)


def test_waived_setting_is_named_in_the_warning():
    """A check that warns because of a recorded opt-in says which opt-in waived it."""
    inspect = record(
        D, Config__Labels={"io.secure-run.opt-ins": "privileged,writable-root"},
        HostConfig__Privileged=True,
    )  # fmt: skip
    found = judged(inspect)
    assert found["5.13"].status == "warn"
    assert found["5.13"].evidence.endswith("waived by opt-in 'writable-root'")
    assert found["5.5"].evidence.endswith("waived by opt-in 'privileged'")
    assert found["5.4"].evidence.endswith("waived by opt-in 'privileged'")
    assert "waived" not in found["5.11"].evidence  # unlimited-memory was not granted


def test_unwaived_warning_mentions_no_waiver():
    """Without the opt-ins label, no warning claims a waiver."""
    found = judged(record(D, HostConfig__Privileged=True))
    assert [f.id for f in found.values() if "waived" in f.evidence] == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ({}, DOCKER_DEFAULT_CAPABILITIES),
        ({"Privileged": True, "CapDrop": ["ALL"]}, frozenset(ALL_CAPABILITIES)),
        ({"CapDrop": ["ALL"], "CapAdd": ["CAP_NET_BIND_SERVICE"]}, {"NET_BIND_SERVICE"}),
        ({"CapAdd": ["ALL"], "CapDrop": ["SYS_ADMIN"]}, set(ALL_CAPABILITIES) - {"SYS_ADMIN"}),
        ({"CapDrop": ["NET_RAW"], "CapAdd": ["cap_sys_time"]},
         (DOCKER_DEFAULT_CAPABILITIES - {"NET_RAW"}) | {"SYS_TIME"}),
    ],
)  # fmt: skip
def test_effective_capabilities_follow_moby(host, expected):
    """The effective set is moby's TweakCapabilities: privileged, add ALL, drop ALL, else."""
    assert effective_capabilities_of(host)[0] == expected


@pytest.mark.parametrize(
    ("options", "pairs"),
    [
        (["no-new-privileges"], [("no-new-privileges", "true")]),
        (["no-new-privileges:false"], [("no-new-privileges", "false")]),
        (["disable"], [("label", "disable")]),
        (["label=type:container_t"], [("label", "type:container_t")]),
        (['seccomp={"a":"b:c"}'], [("seccomp", '{"a":"b:c"}')]),
    ],
)
def test_security_options_parse_as_the_daemon_does(options, pairs):
    """SecurityOpt splits on '=' first, then the old ':', with the two bare forms."""
    assert security_pairs(options) == pairs


# -- the daemon-wide no-new-privileges default -------------------------------------------


def fake_host(tmp_path: Path, argv: list[str] | None, pid: str = "4242") -> tuple[str, str]:
    """A /proc holding one dockerd (when argv is given) and an unrelated process; an /etc."""
    proc, etc = tmp_path / "proc", tmp_path / "etc"
    processes = (("1", "init", ["/sbin/init"], "1"), (pid, "dockerd", argv, "99"))
    for number, comm, args, start in processes:
        if args is None:
            continue
        (proc / number).mkdir(parents=True)
        (proc / number / "comm").write_text(comm + "\n")
        (proc / number / "cmdline").write_bytes(b"\0".join(a.encode() for a in args) + b"\0")
        fields = " ".join(["S", *["0"] * 18, start, "0"])
        (proc / number / "stat").write_text(f"{number} ({comm}) {fields}\n")
    proc.mkdir(exist_ok=True)
    (etc / "docker").mkdir(parents=True)
    return str(proc), str(etc)


def daemon_default(proc: str, etc: str) -> tuple[bool, str]:
    """The daemon-wide default as the audit reads it, through the one daemon locator."""
    return daemon_no_new_privileges(read_daemon_config(proc, etc))


def test_daemon_flag_turns_no_new_privileges_on(tmp_path):
    """``dockerd --no-new-privileges`` on the command line is read as on, naming the pid."""
    assert daemon_default(*fake_host(tmp_path, ["dockerd", "--no-new-privileges"])) == (
        True,
        "--no-new-privileges=true on the command line; dockerd pid 4242",
    )


def test_daemon_json_named_by_config_file_turns_it_on(tmp_path):
    """The daemon.json ``--config-file`` names is read, and its key turns it on."""
    config = tmp_path / "custom.json"
    config.write_text('{"no-new-privileges": true}')
    on, source = daemon_default(*fake_host(tmp_path, ["dockerd", "--config-file", str(config)]))
    assert (on, source) == (True, f'"no-new-privileges": true in {config}; dockerd pid 4242')


def test_daemon_flag_false_and_no_file_read_as_off(tmp_path):
    """``--no-new-privileges=false`` and no daemon.json: off, naming the flag and the pid."""
    on, source = daemon_default(*fake_host(tmp_path, ["dockerd", "--no-new-privileges=false"]))
    assert (on, source) == (
        False,
        "--no-new-privileges=false on the command line; dockerd pid 4242",
    )


def test_daemon_setting_in_neither_place_is_off(tmp_path):
    """Neither flag nor daemon.json key: off, and the evidence says both were read."""
    on, source = daemon_default(*fake_host(tmp_path, ["dockerd"]))
    assert not on
    assert source.startswith("no-new-privileges is set neither on the command line nor in")


def test_no_dockerd_process_is_read_as_off(tmp_path):
    """Without a readable dockerd, the default is unknown and read as off."""
    on, source = daemon_default(*fake_host(tmp_path, None))
    assert (on, source.startswith("unknown: no dockerd process in")) == (False, True)


def test_a_remote_daemon_default_is_unknown():
    """A daemon that is not local (no config read) counts as off, saying why."""
    assert daemon_no_new_privileges(None) == (False, "the engine is not local: unknown")


# -- audit_config --------------------------------------------------------------------------

#: What a config audit cannot judge without an engine, and why (the evidence says it).
CONFIG_NOT_APPLICABLE = {
    "5.1": "no engine",  # swarm mode is the engine's
    "5.2": "whether it has AppArmor is unknown",  # the engine applies docker-default
    "5.3": "whether it has SELinux is unknown",
    "5.7": "no processes to list",  # sshd needs a running container
}


@pytest.mark.parametrize("preset", ["restricted", "sandbox", "service"])
def test_hardened_presets_pass_every_scored_cis_check_a_config_can_show(preset):
    """restricted, sandbox and service pass every scored CIS check but the engine-only ones."""
    report = audit_config(sr.preset(preset, "busybox").build())
    found = {f.id: f for f in report.findings}
    assert report.ok, str(report)
    not_applicable = {i: f.evidence for i, f in found.items() if f.status == "not_applicable"}
    assert set(not_applicable) == set(CONFIG_NOT_APPLICABLE)
    for check_id, reason in CONFIG_NOT_APPLICABLE.items():
        assert reason in not_applicable[check_id]
    assert {i for i in SCORED_CIS if found[i].status != "pass"} == {*CONFIG_NOT_APPLICABLE, "5.27"}
    assert found["5.27"].status == "info"  # the image's HEALTHCHECK is not known yet
    assert found["SR-waivers"].status == "pass"
    assert {f.container for f in report.findings} == {""}


def test_baseline_warns_on_exactly_what_it_waives():
    """baseline warns on its writable root (5.13) and on restricted's capabilities, waived."""
    report = audit_config(sr.preset("baseline", "busybox").build())
    found = {f.id: f for f in report.findings}
    assert {f.id for f in report.warnings} == {"5.13", "PSS-restricted-capabilities"}
    assert "waived by opt-in 'writable-root'" in found["5.13"].evidence
    assert found["PSS-restricted-capabilities"].evidence.endswith(
        "waived by opt-in 'extra-capability'"
    )
    assert (found["SR-waivers"].status, found["SR-waivers"].evidence) == (
        "note",
        "io.secure-run.opt-ins='extra-capability,writable-root': "
        "waivers extra-capability, writable-root",
    )


def test_config_with_a_healthcheck_and_digest_passes_5_27_and_5_28():
    """A config's own healthcheck passes 5.27, and an image by digest passes 5.28."""
    image = "busybox@sha256:" + "c" * 64
    cfg = sr.builder(image).healthcheck(["true"]).build()
    found = {f.id: f for f in audit_config(cfg).findings}
    assert (found["5.27"].status, found["5.28"].status) == ("pass", "pass")


def test_config_audit_warns_on_weak_settings_with_their_waivers():
    """A privileged, public, root config warns on each setting, naming the opt-in."""
    cfg = (
        sr.builder("busybox")
        .user(0)
        .privileged()
        .network("bridge")
        .publish(80, 80, host_ip="0.0.0.0")  # noqa: S104
        .apparmor("unconfined")
        .opt_in("root-user", "privileged", "public-port", "privileged-port", "apparmor-unconfined")
        .build()
    )
    found = {f.id: f for f in audit_config(cfg).findings}
    expected = {
        "5.2": "apparmor-unconfined",
        "5.4": "privileged",
        "5.5": "privileged",
        "5.8": "privileged-port",
        "5.14": "public-port",
        "5.22": "privileged",
        "PSS-restricted-runAsNonRoot": "root-user",
    }
    for check_id, opt_in in expected.items():
        assert found[check_id].status == "warn", check_id
        assert f"waived by opt-in '{opt_in}'" in found[check_id].evidence, check_id
    assert found["5.3"].status == "warn"  # privileged disables SELinux labels on any engine
    assert found["5.30"].status == "info"
    assert "HostConfig.PortBindings" in found["5.9"].evidence


def test_config_record_is_what_the_daemon_would_keep():
    """audit_config's record has CAP_X names, the secure_run labels and inspect-form mounts."""
    cfg = sr.preset("service", "busybox").mount("/srv/data", "/data").build()
    record_ = config_inspect(cfg)
    assert record_["HostConfig"]["CapAdd"] == ["CAP_NET_BIND_SERVICE"]
    assert record_["HostConfig"]["CapDrop"] == ["ALL"]
    assert record_["Config"]["Labels"]["io.secure-run.preset"] == "service"
    assert record_["Config"]["User"] == "65534:65534"
    assert record_["Mounts"] == [
        {"Type": "bind", "Source": "/srv/data", "Destination": "/data", "Mode": "",
         "RW": False, "Propagation": "rprivate"}
    ]  # fmt: skip


def test_config_record_leaves_environment_values_out():
    """The environment is not copied into the audited record, so no secret reaches a report."""
    cfg = sr.builder("busybox").env(TOKEN="s3cret").build()  # noqa: S106
    assert "s3cret" not in json.dumps(config_inspect(cfg))
    assert "s3cret" not in audit_config(cfg).to_json()


def test_audit_config_refuses_what_is_not_a_config():
    """Anything but a RunConfig is a ConfigError naming the type."""
    with pytest.raises(ConfigError, match="dict"):
        audit_config({"image": "busybox"})  # type: ignore[arg-type]


# -- the report and the table of checks ----------------------------------------------------


def test_checks_list_every_id_in_order_once():
    """CHECKS is 5.1 to 5.32, then Pod Security, then SR-waivers, each id once."""
    ids = [c.id for c in CHECKS]
    assert ids[:32] == [f"5.{n}" for n in range(1, 33)]
    assert all(i.startswith("PSS-") for i in ids[32:-1])
    assert ids[-1] == "SR-waivers"
    assert len(ids) == len(set(ids))
    assert {c.source for c in CHECKS} == {"CIS 5.x", "PSS", "secure_run"}
    assert all(c.title and c.rationale and c.remedy for c in CHECKS)


def test_checks_cover_every_id_a_report_emits():
    """Every finding's id, title and remedy come from CHECKS, for any container."""
    specs = {c.id: c for c in CHECKS}
    for inspect in (RESTRICTED, DEFAULT):
        for finding in judged(inspect).values():
            spec = specs[finding.id]
            assert (finding.title, finding.remedy) == (spec.title, spec.remedy)
    assert set(judged(RESTRICTED)) == set(specs)


def test_unscored_checks_never_warn():
    """Checks marked unscored report info or note, never warn, on the worst record here."""
    unscored = {c.id for c in CHECKS if not c.scored}
    worst = record(
        D, HostConfig__Privileged=True,
        NetworkSettings__Networks={"bridge": {"NetworkID": BRIDGE_ID}},
        Config__Labels={"io.secure-run.opt-ins": "privileged"},
    )  # fmt: skip
    statuses = {i: f.status for i, f in judged(worst).items() if i in unscored}
    assert "warn" not in statuses.values()
    assert statuses == {"5.18": "info", "5.19": "info", "5.23": "note", "5.24": "note",
                        "5.28": "info", "5.30": "info", "SR-waivers": "note"}  # fmt: skip


def test_report_json_round_trips():
    """to_json parses back to to_dict: ok, a count per status, every finding's fields."""
    report = AuditReport(tuple(judged(DEFAULT).values()))
    data = json.loads(report.to_json())
    assert data == report.to_dict()
    assert data["ok"] is False
    assert sum(data["counts"].values()) == len(report.findings) == len(data["findings"])
    assert data["findings"][0] == attrs.asdict(report.findings[0])


def test_report_ok_and_warnings():
    """ok is true exactly when no finding warns; warnings lists those that do."""
    hardened = AuditReport(tuple(judged(record(R, State__Health={"Status": "healthy"})).values()))
    plain = AuditReport(tuple(judged(DEFAULT).values()))
    assert (hardened.ok, hardened.warnings) == (True, ())
    assert plain.ok is False
    assert {f.id for f in plain.warnings} == {
        "5.11", "5.12", "5.13", "5.26", "5.27", "5.29",
        "PSS-restricted-allowPrivilegeEscalation", "PSS-restricted-runAsNonRoot",
        "PSS-restricted-capabilities",
    }  # fmt: skip


def test_report_table_lists_each_finding_with_shortened_evidence():
    """str(report) is a header, a rule, one row per finding, and a summary line."""
    report = AuditReport(tuple(judged(DEFAULT).values()))
    lines = str(report).splitlines()
    assert [c.strip() for c in lines[0].split("|")] == [
        "container", "id", "status", "title", "evidence"
    ]
    assert len(lines) == len(report.findings) + 3
    assert lines[-1].startswith(f"{len(report.findings)} findings (")
    assert lines[-1].endswith(f"{len(report.warnings)} warning(s)")
    assert all(len(line) < 200 for line in lines)
    cells = [[c.strip() for c in line.split("|")] for line in lines]
    assert ["sharp_greider", "5.11"] in [row[:2] for row in cells]


def test_empty_report_is_ok_and_prints():
    """A report with no findings is ok and still prints its header and summary."""
    report = AuditReport(())
    assert (report.ok, str(report).splitlines()[-1]) == (True, "0 findings (none): ok")


def test_finding_refuses_an_unknown_status():
    """A finding's status is one of the five."""
    with pytest.raises(ValueError, match="status"):
        Finding("5.4", "t", "fail", "e", "r")


# -- gathering: one info, one network listing, one inspect per container ------------------


class FakeAPI:
    """The low-level calls the audit makes, answered from the recorded data."""

    base_url = "https://engine.example:2376"  # not local: the daemon's flags are not read

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.adapters: dict[str, Any] = {}
        self.records = records
        self.calls: list[str] = []
        self.threads: set[int] = set()
        self.gone: set[str] = set()
        self.ps_output = b"PID   USER     COMMAND\n    1 nobody   sleep 60\n"

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.threads.add(threading.get_ident())

    def info(self) -> dict[str, Any]:
        self._call("info")
        return {**INFO, "SecurityOptions": [SECCOMP]}

    def networks(self) -> list[dict[str, Any]]:
        self._call("networks")
        return NETWORKS

    def containers(self) -> list[dict[str, Any]]:
        self._call("containers")
        return [{"Id": cid} for cid in self.records]

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self._call(f"inspect {container_id}")
        if container_id not in self.records or container_id in self.gone:
            response = requests.Response()
            response.status_code = 404
            raise docker.errors.NotFound("No such container", response=response)
        return copy.deepcopy(self.records[container_id])

    def exec_create(self, container_id: str, cmd: list[str]) -> dict[str, str]:
        self._call(f"exec {container_id} {' '.join(cmd)}")
        return {"Id": "e1"}

    def exec_start(self, exec_id: str) -> bytes:
        return self.ps_output

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return {"ExitCode": 0}


class FakeClient:
    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.api = FakeAPI(records)
        self.closed = False

    def close(self) -> None:
        self.closed = True


class LocalClient(FakeClient):
    """A FakeClient whose engine listens on a unix socket on this host (``socket_path``)."""

    def __init__(self, records: dict[str, dict[str, Any]], socket_path: str) -> None:
        super().__init__(records)
        self.api.base_url = "http+docker://localhost"  # type: ignore[misc]
        self.api.adapters = {"http+docker://": SimpleNamespace(socket_path=socket_path)}


def named(base: dict[str, Any], name: str) -> dict[str, Any]:
    return record(base, Name=f"/{name}", Id=name)


def test_audit_reads_info_networks_and_one_inspect():
    """audit() makes exactly one info, one network listing and one inspect call."""
    client = FakeClient({"web": named(RESTRICTED, "web")})
    report = audit("web", client=client)  # type: ignore[arg-type]
    assert sorted(client.api.calls) == ["info", "inspect web", "networks"]
    assert {f.container for f in report.findings} == {"", "web"}
    assert report.findings[0].id == "5.1"


def test_audit_takes_anything_with_id_and_client():
    """A SecureContainer-like object is audited through its own client."""
    client = FakeClient({"web": named(RESTRICTED, "web")})

    class Launched:
        id = "web"

    launched = Launched()
    launched.client = client  # type: ignore[attr-defined]
    report = audit(launched)  # type: ignore[arg-type]
    assert "inspect web" in client.api.calls
    assert len(report.findings) == len(CHECKS)


def test_audit_exec_checks_run_ps_once():
    """exec_checks=True runs ``ps -el`` in the container and judges 5.7 on its output."""
    client = FakeClient({"web": named(RESTRICTED, "web")})
    client.api.ps_output += b"   12 root     /usr/sbin/sshd -D\n"
    report = audit("web", client=client, exec_checks=True)  # type: ignore[arg-type]
    assert "exec web ps -el" in client.api.calls
    found = {f.id: f for f in report.findings}
    assert found["5.7"].status == "warn"


def test_audit_of_a_missing_container_is_a_launch_error():
    """A container that does not exist is a LaunchError, with docker's error as the cause."""
    client = FakeClient({})
    with pytest.raises(LaunchError) as caught:
        audit("nope", client=client)  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, docker.errors.NotFound)


def test_audit_refuses_an_empty_target():
    """An empty id is a ConfigError before any engine is asked."""
    with pytest.raises(ConfigError, match="no container id"):
        audit("", client=FakeClient({}))  # type: ignore[arg-type]


def test_audit_all_inspects_each_container_once_concurrently():
    """audit_all: one listing, one info, one network listing, one inspect per container."""
    records = {name: named(DEFAULT if name[0] in "ab" else HEALTHY, name)
               for name in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")}  # fmt: skip
    client = FakeClient(records)
    report = audit_all(client)  # type: ignore[arg-type]
    calls = client.api.calls
    assert sorted(calls) == sorted(
        ["containers", "info", "networks", *(f"inspect {n}" for n in records)]
    )
    assert len(client.api.threads) > 1
    containers = [f.container for f in report.findings]
    assert containers[0] == ""
    assert containers[1:] == sorted(containers[1:])
    assert len(report.findings) == 1 + len(records) * (len(CHECKS) - 1)
    assert {f.container for f in report.warnings} == {"alpha", "bravo"}


def test_audit_all_leaves_out_a_container_removed_meanwhile():
    """A container listed but gone before its inspect is left out, not an error."""
    client = FakeClient({"alpha": named(RESTRICTED, "alpha"), "bravo": named(DEFAULT, "bravo")})
    client.api.gone.add("bravo")
    report = audit_all(client)  # type: ignore[arg-type]
    assert {f.container for f in report.findings} == {"", "alpha"}


def test_audit_all_with_nothing_running_reports_the_engine_only():
    """With no running container, the report holds 5.1 alone, as docker-bench-security's."""
    report = audit_all(FakeClient({}))  # type: ignore[arg-type]
    assert [f.id for f in report.findings] == ["5.1"]


# -- the client policy: close what was made, never what was given --------------------------


def test_audit_never_closes_a_client_it_was_given():
    """A client passed in, or the target's own, is left open by audit and audit_all."""
    given = FakeClient({"web": named(RESTRICTED, "web")})
    audit("web", client=given)  # type: ignore[arg-type]
    audit_all(given)  # type: ignore[arg-type]
    own = FakeClient({"web": named(RESTRICTED, "web")})
    audit(SimpleNamespace(id="web", client=own))  # type: ignore[arg-type]
    assert (given.closed, own.closed) == (False, False)


@pytest.mark.parametrize("call", [lambda: audit("web"), lambda: audit_all()])
def test_audit_closes_the_client_it_made(monkeypatch, call):
    """With no client given, the one connect() makes is closed when the audit ends."""
    made = FakeClient({"web": named(RESTRICTED, "web")})
    monkeypatch.setattr("secure_run._engine.client.connect", lambda **_: made)
    call()
    assert made.closed


# -- the one daemon locator, shared with the doctor -----------------------------------------


def test_5_32_knows_the_socket_the_daemon_listens_on(tmp_path):
    """A mount of the folder holding the client's own socket warns, whatever its name."""
    proc, etc = fake_host(tmp_path, None)
    container = named(record(RESTRICTED, Mounts=[mount("/srv/engine", "/e", rw=False)]), "web")
    client = LocalClient({"web": container}, "/srv/engine/api.sock")
    report = _audit("web", client, False, proc_root=proc, etc_root=etc)  # type: ignore[arg-type]
    found = {f.id: f for f in report.findings}
    assert found["5.32"].status == "warn"
    assert "/srv/engine -> /e" in found["5.32"].evidence


def test_a_mount_without_a_type_counts_as_a_bind_mount():
    """A mount record with no Type is read as a bind mount, the cautious reading (5.32)."""
    untyped = {"Source": "/run", "Destination": "/host-run", "RW": False}
    assert judged(record(RESTRICTED, Mounts=[untyped]))["5.32"].status == "warn"

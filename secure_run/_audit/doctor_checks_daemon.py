"""The doctor's checks of the daemon's settings (CIS Docker Benchmark v1.6 section 2 and more).

Inter-container traffic, default ulimits, user namespaces, no-new-privileges, live
restore, the userland proxy, seccomp, AppArmor or SELinux, rootless mode, cgroups, swap
accounting, registries, experimental features and logging.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence

from .daemon import DaemonConfig
from .doctor_report import DoctorFinding
from .observed import Observed, daemon_unread, security_names

__all__ = [
    "check_cgroup",
    "check_default_ulimits",
    "check_experimental",
    "check_icc",
    "check_insecure_registries",
    "check_live_restore",
    "check_logging",
    "check_mac",
    "check_no_new_privileges",
    "check_rootless",
    "check_seccomp",
    "check_swap_limit",
    "check_userland_proxy",
    "check_userns",
]


def check_icc(o: Observed) -> DoctorFinding:
    """2.2-icc: containers on the default bridge cannot talk to each other."""
    title = "CIS 2.2: no traffic between containers on the default bridge (icc off)"
    found = functools.partial(DoctorFinding, "2.2-icc", title)
    remedy = (
        '"icc": false in daemon.json (CIS 2.2, OWASP #5), and user-defined networks for '
        "containers that must talk; secure_run's presets use no network at all"
    )
    if o.daemon is not None and o.daemon.known:
        _, where = o.daemon.setting_bool("icc")
        config = f"; {where} ({o.daemon.source()})"
    else:
        config = f"; {daemon_unread(o)}"
    if o.bridge is None:
        return found(
            "not_applicable",
            "the engine has no default bridge network (docker network inspect bridge: "
            f"not found){config}",
        )
    options = o.bridge.get("Options") or {}
    icc = str(options.get("com.docker.network.bridge.enable_icc", "true")).lower()
    source = f"docker network inspect bridge: com.docker.network.bridge.enable_icc={icc}"
    if icc == "false":
        return found("pass", source + config)
    return found(
        "warn",
        f"{source}: containers on the default bridge reach each other{config}",
        remedy,
    )


def _default_ulimits(daemon: DaemonConfig) -> tuple[str, ...]:
    """``nofile=1024:1024`` for each ``--default-ulimit``, else each ``default-ulimits`` entry."""
    given = daemon.flag_values("default-ulimit")
    if given:
        return given
    configured = daemon.config.get("default-ulimits")
    if not isinstance(configured, Mapping):
        return ()
    shown = []
    for name, limit in sorted(configured.items()):
        if isinstance(limit, Mapping):
            shown.append(f"{name}={limit.get('Soft', '?')}:{limit.get('Hard', '?')}")
        else:
            shown.append(f"{name}={limit}")
    return tuple(shown)


def check_default_ulimits(o: Observed) -> DoctorFinding:
    """2.8-default-ulimits: the daemon gives every container default ulimits (unscored)."""
    title = "CIS 2.8: the daemon sets default ulimits"
    found = functools.partial(DoctorFinding, "2.8-default-ulimits", title)
    remedy = (
        '"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 1024}} in '
        "daemon.json (CIS 2.8); secure_run's presets set their own ulimits regardless"
    )
    if o.daemon is None or not o.daemon.known:
        return found("info", f"cannot tell: {daemon_unread(o)}", remedy)
    limits = _default_ulimits(o.daemon)
    if limits:
        return found(
            "pass",
            f"default ulimits {', '.join(limits)} ({o.daemon.source()}); a container that "
            "sets none gets them, in its HostConfig.Ulimits too",
        )
    return found(
        "info",
        f"no --default-ulimit and no default-ulimits ({o.daemon.source()}): a container "
        "that sets no ulimit inherits dockerd's own limits",
        remedy,
    )


def check_userns(o: Observed) -> DoctorFinding:
    """2.9-userns-remap: container root is not host root."""
    title = "CIS 2.9: container users are remapped (userns-remap)"
    found = functools.partial(DoctorFinding, "2.9-userns-remap", title)
    source = security_names(o)
    config = ""
    if o.daemon is not None and o.daemon.known:
        remap = o.daemon.flag_values("userns-remap")
        if not remap and "userns-remap" in o.daemon.config:
            remap = (str(o.daemon.config["userns-remap"]),)
        setting = f"userns-remap={remap[-1]!r}" if remap else "userns-remap is not set"
        config = f"; {setting} ({o.daemon.source()})"
    if o.facts.userns:
        return found("pass", f"{source}: name=userns{config}")
    if o.facts.rootless:
        return found(
            "pass",
            f"{source}: rootless, so the whole daemon runs in a user namespace "
            f"(docker-bench-security would warn: it reads only the userns-remap setting){config}",
        )
    return found(
        "warn",
        f"{source}: no name=userns, so root in a container is root on the host{config}",
        '"userns-remap": "default" in daemon.json (CIS 2.9, OWASP #2; it changes the '
        "owner of images and volumes, so plan the switch), or run the daemon rootless",
    )


def check_no_new_privileges(o: Observed) -> DoctorFinding:
    """2.14-no-new-privileges: the daemon sets no-new-privileges for every container."""
    title = "CIS 2.14: no-new-privileges is the daemon's default"
    found = functools.partial(DoctorFinding, "2.14-no-new-privileges", title)
    remedy = (
        '"no-new-privileges": true in daemon.json (CIS 2.14, OWASP #4); secure_run sets '
        "it on every container it launches regardless"
    )
    if o.daemon is None or not o.daemon.known:
        return found(
            "info",
            f"cannot tell: {daemon_unread(o)}, and docker info does not report it",
            'make sure daemon.json has "no-new-privileges": true',
        )
    value, where = o.daemon.setting_bool("no-new-privileges")
    source = f"{where} ({o.daemon.source()})"
    if value:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: containers started without the option can gain privileges "
        "through setuid binaries",
        remedy,
    )


def check_live_restore(o: Observed) -> DoctorFinding:
    """2.15-live-restore: containers keep running while the daemon restarts."""
    title = "CIS 2.15: live restore is enabled"
    found = functools.partial(DoctorFinding, "2.15-live-restore", title)
    enabled = bool(o.info.get("LiveRestoreEnabled"))
    swarm = (o.info.get("Swarm") or {}).get("LocalNodeState", "")
    source = f"docker info LiveRestoreEnabled: {str(enabled).lower()}, Swarm: {swarm or '?'}"
    if enabled:
        return found("pass", source)
    if swarm == "active":
        return found(
            "not_applicable",
            f"{source}: live restore cannot be used in swarm mode",
        )
    return found(
        "warn",
        f"{source}: restarting the daemon (to patch it) stops every container",
        '"live-restore": true in daemon.json (CIS 2.15), then reload the daemon (SIGHUP)',
    )


def check_userland_proxy(o: Observed) -> DoctorFinding:
    """2.16-userland-proxy: published ports are forwarded by iptables, not docker-proxy."""
    title = "CIS 2.16: the userland proxy is off"
    found = functools.partial(DoctorFinding, "2.16-userland-proxy", title)
    if o.facts.rootless:
        return found(
            "not_applicable",
            f"{security_names(o)}: name=rootless, so published ports go through "
            "rootlesskit's port driver, which needs the proxy",
        )
    if o.daemon is None or not o.daemon.known:
        return found(
            "info",
            f"cannot tell: {daemon_unread(o)}, and docker info does not report it",
            'make sure daemon.json has "userland-proxy": false',
        )
    value, where = o.daemon.setting_bool("userland-proxy")
    source = f"{where} ({o.daemon.source()})"
    if value is False:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: a docker-proxy process listens for each published port, a larger "
        "attack surface than the iptables NAT rules that can do the same",
        '"userland-proxy": false in daemon.json (CIS 2.16); it needs the daemon to manage '
        "iptables (CIS 2.4)",
    )


def _seccomp_profile(options: Sequence[str]) -> str | None:
    """The profile of ``name=seccomp,profile=default``; ``None`` when seccomp is absent."""
    for option in options:
        parts = dict(p.partition("=")[::2] for p in option.split(","))
        if parts.get("name") == "seccomp":
            return parts.get("profile", "default")
    return None


def check_seccomp(o: Observed) -> DoctorFinding:
    """2.17-seccomp: the daemon applies Docker's default seccomp profile."""
    title = "CIS 2.17: containers get the default seccomp profile"
    found = functools.partial(DoctorFinding, "2.17-seccomp", title)
    source = security_names(o)
    profile = _seccomp_profile(o.facts.security_options)
    if profile is None:
        return found(
            "warn",
            f"{source}: no seccomp, so containers run without a syscall filter",
            "use a kernel with CONFIG_SECCOMP and a dockerd built with seccomp (OWASP #6)",
        )
    if profile in ("default", "builtin"):
        return found("pass", f"{source}: profile={profile}")
    if profile == "unconfined":
        return found(
            "warn",
            f"{source}: the daemon's default is no filter at all",
            'remove "seccomp-profile": "unconfined" from daemon.json or the command line '
            "(OWASP #6)",
        )
    return found(
        "info",
        f"{source}: a custom default profile ({profile}); check it is at least as strict as "
        "Docker's",
        "compare the profile with moby's profiles/seccomp/default.json",
    )


def check_mac(o: Observed) -> DoctorFinding:
    """apparmor-selinux: a mandatory access control layer confines containers."""
    title = "AppArmor or SELinux confines containers"
    found = functools.partial(DoctorFinding, "apparmor-selinux", title)
    source = security_names(o)
    present = [
        name for name, on in (("apparmor", o.facts.apparmor), ("selinux", o.facts.selinux)) if on
    ]
    if present:
        return found("pass", f"{source}: {' and '.join(present)}")
    return found(
        "warn",
        f"{source}: neither name=apparmor nor name=selinux, so containers lack the "
        "mandatory access control layer Docker applies by default on Debian, Ubuntu "
        "(AppArmor) and Fedora or RHEL (SELinux); a profile asked for is dropped silently",
        "enable AppArmor on the host (kernel security=apparmor, the apparmor package) or "
        "SELinux with dockerd --selinux-enabled (OWASP #6)",
    )


def check_rootless(o: Observed) -> DoctorFinding:
    """rootless: the daemon runs as an unprivileged user."""
    title = "The daemon runs rootless"
    found = functools.partial(DoctorFinding, "rootless", title)
    source = security_names(o)
    if o.facts.rootless:
        return found("pass", f"{source}: name=rootless")
    return found(
        "info",
        f"{source}: no name=rootless, so the daemon runs as root and whoever controls it "
        "is root on the host (CIS 2.1 asks only that this is a conscious choice)",
        "consider rootless mode (OWASP #11): dockerd-rootless-setuptool.sh install",
    )


def check_cgroup(o: Observed) -> DoctorFinding:
    """cgroup: the cgroup version and driver the engine limits containers with."""
    title = "cgroup v2 with the systemd driver"
    found = functools.partial(DoctorFinding, "cgroup", title)
    version, driver = o.facts.cgroup_version, o.facts.cgroup_driver or "?"
    source = f"docker info CgroupVersion: {version}, CgroupDriver: {driver}"
    if driver == "none":
        return found(
            "warn",
            f"{source}: no cgroup manager, so memory, CPU and pids limits cannot be applied "
            "(a rootless daemon on cgroup v1)",
            "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate "
            "controllers to the rootless user",
        )
    if version >= 2 and driver == "systemd":
        return found("pass", source)
    if version >= 2:
        return found(
            "info",
            f"{source}: on a systemd host two managers then share the hierarchy; Docker "
            "and Kubernetes recommend the systemd driver there",
            '"exec-opts": ["native.cgroupdriver=systemd"] in daemon.json on a systemd host',
        )
    cgroupns = "name=cgroupns" in ",".join(o.facts.security_options)
    return found(
        "info",
        f"{source}: the legacy v1 hierarchy, which systemd and Kubernetes are dropping; "
        "containers share the host's cgroup namespace by default "
        f"({'name=cgroupns listed' if cgroupns else 'no name=cgroupns in SecurityOptions'}) "
        "and memory.high and pressure information are missing",
        "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
    )


def check_swap_limit(o: Observed) -> DoctorFinding:
    """swap-limit: the engine can limit a container's swap."""
    title = "Swap can be limited (SwapLimit)"
    found = functools.partial(DoctorFinding, "swap-limit", title)
    source = f"docker info SwapLimit: {str(o.facts.swap_limit).lower()}"
    warned = [w for w in o.facts.warnings if "swap" in w.lower()]
    if warned:
        source += f"; Warnings: {'; '.join(warned)}"
    if o.facts.swap_limit:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: a container with a memory limit can still swap without bound, and "
        "the engine drops --memory-swap with only a warning",
        "enable swap accounting on the host (kernel parameter swapaccount=1 on cgroup v1, "
        "or cgroup v2)",
    )


def _loopback_host(name: str) -> bool:
    host = name
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_cidr(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return network.is_loopback


def check_insecure_registries(o: Observed) -> DoctorFinding:
    """insecure-registries: images are pulled only over verified TLS (CIS 2.5)."""
    title = "CIS 2.5: no insecure registries beyond loopback"
    found = functools.partial(DoctorFinding, "insecure-registries", title)
    registry = o.info.get("RegistryConfig") or {}
    cidrs = [str(c) for c in registry.get("InsecureRegistryCIDRs") or ()]
    indexes = registry.get("IndexConfigs") or {}
    names = [
        str(name)
        for name, index in sorted(indexes.items())
        if isinstance(index, Mapping) and index.get("Secure") is False
    ]
    source = (
        "docker info RegistryConfig.InsecureRegistryCIDRs: "
        f"{', '.join(cidrs) or '(none)'}; IndexConfigs with Secure false: "
        f"{', '.join(names) or '(none)'}"
    )
    bad = [c for c in cidrs if not _loopback_cidr(c)] + [n for n in names if not _loopback_host(n)]
    if bad:
        return found(
            "warn",
            f"{source}: {', '.join(bad)} reached over plain HTTP or unchecked TLS, so an "
            "attacker on the path can swap the images",
            'remove them from "insecure-registries" in daemon.json and give those '
            "registries certificates (CIS 2.5)",
        )
    return found("pass", f"{source}: loopback only (Docker's default)")


def check_experimental(o: Observed) -> DoctorFinding:
    """experimental: experimental features are off (CIS 2.18)."""
    title = "CIS 2.18: experimental features are off"
    found = functools.partial(DoctorFinding, "experimental", title)
    on = bool(o.info.get("ExperimentalBuild"))
    source = f"docker info ExperimentalBuild: {str(on).lower()}"
    if not on:
        return found("pass", source)
    return found(
        "warn",
        f"{source}: features that are not production-ready are enabled",
        'remove "experimental": true from daemon.json (or --experimental)',
    )


#: Log drivers that ship logs off the host, or to the host's own rotated journal.
_REMOTE_LOG_DRIVERS = frozenset(
    ("syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "gcplogs", "logentries",
     "etwlogs")
)  # fmt: skip


def _log_opts(daemon: DaemonConfig) -> dict[str, str]:
    opts = {}
    configured = daemon.config.get("log-opts")
    if isinstance(configured, Mapping):
        opts.update({str(k): str(v) for k, v in configured.items()})
    for value in daemon.flag_values("log-opt"):
        key, _, val = value.partition("=")
        opts[key] = val
    return opts


def check_logging(o: Observed) -> DoctorFinding:
    """logging-driver: container logs are bounded, and ideally leave the host."""
    title = "Container logs are bounded and collected (CIS 2.13)"
    found = functools.partial(DoctorFinding, "logging-driver", title)
    driver = str(o.info.get("LoggingDriver") or "?")
    source = f"docker info LoggingDriver: {driver}"
    if driver in _REMOTE_LOG_DRIVERS:
        return found("pass", f"{source}: logs go to {driver}, not to files")
    remote = "; CIS 2.13 asks for a central, remote log driver"
    if driver == "json-file":
        if o.daemon is None or not o.daemon.known:
            return found(
                "info",
                f"{source}; cannot read log-opts: {daemon_unread(o)}{remote}",
                'make sure "log-opts" in daemon.json sets "max-size"',
            )
        opts = _log_opts(o.daemon)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(opts.items())) or "(none)"
        where = f"log-opts {shown} ({o.daemon.source()})"
        if "max-size" not in opts:
            return found(
                "warn",
                f"{source}; {where}: no max-size, so a chatty container fills the host's disk",
                '"log-opts": {"max-size": "10m", "max-file": "3"} in daemon.json (applies to '
                "new containers), or a remote driver (CIS 2.13); secure_run sets log "
                "limits per container",
            )
        return found(
            "info",
            f"{source}; {where}: rotated{remote}",
            "consider a remote log driver (syslog, journald, fluentd, gelf)",
        )
    if driver == "local":
        return found(
            "info",
            f"{source}: rotated files (the local driver keeps 100 MB per container by "
            f"default){remote}",
            "consider a remote log driver (syslog, journald, fluentd, gelf)",
        )
    if driver == "none":
        return found(
            "info",
            f"{source}: containers' output is discarded, so there is nothing to audit",
            "choose a log driver that keeps logs (CIS 2.13)",
        )
    return found(
        "info",
        f"{source}: a driver secure_run does not know (a plugin?)",
        "check that it bounds and collects logs",
    )

"""A RunConfig as a Docker Swarm service: keyword arguments of docker-py's ``services.create``.

Pure: nothing here talks to a daemon. What a service can carry depends on the Engine API
version the manager speaks (:data:`MIN_API`), and a setting it cannot carry is refused
with :class:`~secure_run.UnsupportedFeature` naming the setting, the API version that
would carry it and the alternative; nothing is dropped silently (an older daemon strips
fields it does not know, so those are never sent either). Two settings may be carried
by the nodes instead, on the caller's word, with an opt-in (:data:`SWARM_OPT_INS`).

The decisions, also in docs/cluster.md:

* the restart policy is always sent: swarmkit's default is to restart for ever;
* the memory reservation becomes the scheduler's reservation
  (``Resources.Reservations.MemoryBytes``: a node needs that much free to take the
  task), not the container's soft limit, which a service cannot set;
* ``network("none")`` has no service form (only ``bridge`` and ``host`` are predefined
  swarm networks): it becomes an internal overlay of the service's own
  (:func:`isolated_network`), with no gateway and no route out, which
  :func:`secure_run.service` creates and removes;
* the endpoint mode is ``dnsrr``: virtual-IP load balancing needs IPVS, which not
  every node kernel has, and a hardened task publishes no ingress port;
* docker-py 7 has no keyword for ``ContainerSpec.Ulimits``, ``Resources.Limits.Pids``
  or the ``Privileges`` fields of API 1.44: the pids limit and the privileges ride in
  docker-py's own ``Resources`` and ``Privileges`` mappings with the extra keys, and the
  ulimits are under :data:`SPEC_EXTRA`, which :func:`service_request` writes into the
  spec (docker-py's ``services.create`` refuses that key, so it cannot be lost unseen).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Callable

from .._config.checker import Checker
from .._config.values import LABEL_PREFIX, OptIn
from .._errors import ConfigError, Problem, UnsupportedFeature, show
from .docker import capability_names, config_labels, nano_cpus, tmpfs_mounts, working_dir

if TYPE_CHECKING:
    from .._config.run_config import RunConfig

__all__ = [
    "MIN_API",
    "SPEC_EXTRA",
    "SWARM_OPT_INS",
    "check_arguments",
    "isolated_network",
    "service_request",
    "swarm_waivers",
    "to_swarm",
]

#: The key of the spec fields docker-py has no keyword for (see :func:`service_request`).
SPEC_EXTRA = "spec_extra"
#: The opt-ins by which the caller states that the nodes carry a setting.
SWARM_OPT_INS = (OptIn.SWARM_DAEMON_NNP, OptIn.SWARM_DEFAULT_SWAP)
#: The label listing the opt-ins a container or service relies on.
OPT_INS_LABEL = LABEL_PREFIX + "opt-ins"

#: Each setting, the service field that carries it, and the first Engine API with it.
MIN_API: dict[str, tuple[str, str]] = {
    "user": ("ContainerSpec.User", "1.24"),
    "group_add": ("ContainerSpec.Groups", "1.25"),
    "cap_drop": ("ContainerSpec.CapabilityDrop", "1.41"),
    "cap_add": ("ContainerSpec.CapabilityAdd", "1.41"),
    "read_only": ("ContainerSpec.ReadOnly", "1.28"),
    "init": ("ContainerSpec.Init", "1.38"),
    "sysctls": ("ContainerSpec.Sysctls", "1.40"),
    "ulimits": ("ContainerSpec.Ulimits", "1.41"),
    "hostname": ("ContainerSpec.Hostname", "1.25"),
    "healthcheck": ("ContainerSpec.Healthcheck", "1.25"),
    "stop_timeout": ("ContainerSpec.StopGracePeriod", "1.25"),
    "no_new_privileges": ("ContainerSpec.Privileges.NoNewPrivileges", "1.44"),
    "seccomp": ("ContainerSpec.Privileges.Seccomp", "1.44"),
    "apparmor": ("ContainerSpec.Privileges.AppArmor", "1.44"),
    "tmpfs": ("ContainerSpec.Mounts[type=tmpfs].TmpfsOptions", "1.25"),
    "mounts": ("ContainerSpec.Mounts", "1.24"),
    "memory": ("Resources.Limits.MemoryBytes", "1.24"),
    "memory_reservation": ("Resources.Reservations.MemoryBytes", "1.24"),
    "memory_swap": ("Resources.SwapBytes", "1.52"),
    "cpus": ("Resources.Limits.NanoCPUs", "1.24"),
    "pids_limit": ("Resources.Limits.Pids", "1.41"),
    "restart": ("TaskTemplate.RestartPolicy", "1.24"),
    "log_limits": ("TaskTemplate.LogDriver", "1.24"),
    "network": ("TaskTemplate.Networks", "1.25"),
    "ports": ("EndpointSpec.Ports (mode host)", "1.25"),
}

#: Settings no service can carry at any Engine API version, and what to do instead.
NEVER: dict[str, str] = {
    "privileged": "run it with sr.launch() on the node",
    "devices": "run it with sr.launch() on the node that has the device",
    "pid_mode": "leave the PID namespace private",
    "ipc_mode": "leave the IPC namespace private",
    "uts_mode": "leave the UTS namespace private",
    "userns_mode": "leave the user namespace to the daemon",
    "runtime": "make it the nodes' default runtime (dockerd --default-runtime) and leave it unset",
    "cpu_quota": "give .cpus() instead",
    "cpu_period": "give .cpus() instead",
    "cpu_shares": "give .cpus() instead",
    "cpuset": "leave it unset, or pin the nodes' cgroup parent",
    "workspace": "a service has no workspace volume: give a .tmpfs() and read results from logs",
}

_ANY_HOST = ("0.0.0.0", "::")  # noqa: S104 (a service port binds every interface)


def _api(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def _carries(field: str, api_version: str) -> bool:
    return _api(api_version) >= _api(MIN_API[field][1])


def isolated_network(cfg: RunConfig, name: str | None) -> str:
    """The internal overlay a ``network("none")`` service is attached to, by its name.

    Per service when it is named; otherwise per config (its digest).
    """
    return f"secure-run-none-{name}" if name else f"secure-run-none-{cfg.digest()[7:19]}"


#: A service name swarmkit takes: a DNS name component (letters, digits, '-' and '_'
#: between them), at most 63 characters.
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*$")
_API_VERSION = re.compile(r"^1\.[0-9]+$")


def check_arguments(
    cfg: RunConfig,
    *,
    api_version: str | None = None,
    name: str | None = None,
    replicas: int | None = None,
    opt_ins: Iterable[OptIn | str] = (),
    constraints: Sequence[str] = (),
    preferences: Sequence[tuple[str, str]] = (),
    max_per_node: int | None = None,
) -> tuple[OptIn, ...]:
    """The Swarm opt-ins granted, once every argument is one a manager would take.

    Raises:
        ConfigError: Every argument the manager would refuse, or this module could not
            read, together; nothing has been sent to a daemon.
    """
    problems: list[Problem] = []
    granted = _read_grants(api_version, opt_ins, problems)
    chosen = name if name is not None else cfg.name
    if chosen is not None and (len(chosen) > 63 or not _SERVICE_NAME.match(chosen)):
        _bad(problems, "name", chosen, "not a service name the manager takes (a DNS name "
             "component)", "letters and digits, '-' or '_' only between them, at most 63 "
             "characters")  # fmt: skip
    if replicas is not None and (type(replicas) is not int or replicas < 0):
        _bad(problems, "replicas", replicas, "not a number of tasks",
             "give a whole number, 0 or more")  # fmt: skip
    if max_per_node is not None and (type(max_per_node) is not int or max_per_node < 1):
        _bad(problems, "max_per_node", max_per_node, "not a number of tasks per node",
             "give a whole number, 1 or more, or leave it out for no bound")  # fmt: skip
    for constraint in constraints:
        if not isinstance(constraint, str) or not re.search(r"\S\s*(==|!=)\s*\S", constraint):
            _bad(problems, "constraints", constraint, "not a placement constraint",
                 "write '<attribute>==<value>' or '!=', e.g. 'node.role==worker'")  # fmt: skip
    for preference in preferences:
        if not (isinstance(preference, tuple) and len(preference) == 2
                and preference[0] == "spread" and isinstance(preference[1], str)
                and preference[1]):  # fmt: skip
            _bad(problems, "preferences", preference, "not a placement preference",
                 "give ('spread', '<attribute>'), e.g. ('spread', 'node.labels.zone')")  # fmt: skip
    if problems:
        raise ConfigError(problems)
    return granted


def _bad(problems: list[Problem], field: str, value: object, message: str, fix: str) -> None:
    problems.append(Problem(field, show(value), message, fix))


def _read_grants(
    api_version: str | None, opt_ins: Iterable[OptIn | str], problems: list[Problem]
) -> tuple[OptIn, ...]:
    """The Swarm opt-ins among ``opt_ins``; a problem for the API version or another name."""
    if api_version is not None and not _API_VERSION.match(str(api_version)):
        _bad(problems, "api_version", api_version, "not an Engine API version",
             "give it as 'major.minor', e.g. '1.41' (client.api.api_version)")  # fmt: skip
    granted = []
    for opt_in in opt_ins:
        if opt_in in SWARM_OPT_INS:
            granted.append(OptIn(opt_in))
        else:
            _bad(problems, "opt_ins", opt_in, "not a Swarm opt-in",
                 f"give {' or '.join(repr(o.value) for o in SWARM_OPT_INS)}; grant the "
                 "config's own opt-ins on the config, with .opt_in()")  # fmt: skip
    return tuple(granted)


def to_swarm(
    cfg: RunConfig,
    *,
    api_version: str = "1.41",
    name: str | None = None,
    replicas: int | None = None,
    opt_ins: Iterable[OptIn | str] = (),
    constraints: Sequence[str] = (),
    preferences: Sequence[tuple[str, str]] = (),
    max_per_node: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``DockerClient.services.create`` carrying ``cfg``.

    Args:
        cfg: The configuration.
        api_version: The Engine API version the swarm manager speaks.
        name: The service's name; ``cfg.name`` when omitted.
        replicas: Replicated mode with this many tasks; docker's default (1) when omitted.
        opt_ins: Swarm opt-ins (:data:`SWARM_OPT_INS`) granted for this service, added to
            those of the config.
        constraints: Placement constraints (``"node.role==worker"``).
        preferences: Placement preferences (``("spread", "node.labels.zone")``).
        max_per_node: At most this many tasks of the service on one node (API 1.40).

    Raises:
        ConfigError: An argument a manager would refuse, named with its value and the fix.
        UnsupportedFeature: A setting has no form in a service at ``api_version``.
    """
    opt_ins = check_arguments(
        cfg, api_version=api_version, name=name, replicas=replicas, opt_ins=opt_ins,
        constraints=constraints, preferences=preferences, max_per_node=max_per_node,
    )  # fmt: skip
    waivers = swarm_waivers(cfg, api_version=api_version, opt_ins=opt_ins)
    labels = config_labels(cfg)
    if waivers:  # recorded with the config's own opt-ins
        used = sorted({*cfg.waivers(), *waivers}, key=str)
        labels[OPT_INS_LABEL] = ",".join(o.value for o in used)
    name = name or cfg.name
    kw: dict[str, Any] = {"image": cfg.image, "labels": labels, "container_labels": labels}
    if name:
        kw["name"] = name
    if replicas is not None:
        kw["mode"] = _docker_types().ServiceMode("replicated", replicas=replicas)
    _container(kw, cfg, api_version)
    _task(kw, cfg, api_version, name)
    _placement(kw, constraints, preferences, max_per_node)
    return kw


def swarm_waivers(
    cfg: RunConfig, *, api_version: str = "1.41", opt_ins: Iterable[OptIn | str] = ()
) -> tuple[OptIn, ...]:
    """The Swarm opt-ins ``cfg`` relies on at ``api_version``, sorted.

    Raises:
        ConfigError: ``api_version`` or an opt-in is not one this module knows.
        UnsupportedFeature: A setting has no form in a service at ``api_version`` and no
            opt-in granted carries it.
    """
    problems: list[Problem] = []
    swarm_opt_ins = _read_grants(api_version, opt_ins, problems)
    if problems:
        raise ConfigError(problems)
    granted = {*cfg.opt_ins, *swarm_opt_ins}
    c = Checker(granted)
    for rule in _RULES:
        rule(c, cfg, api_version)
    if c.problems:
        raise UnsupportedFeature(c.problems)
    return tuple(sorted(c.used, key=str))


# -- the refusals (read by scripts/gen_rules_doc.py for the opt-ins) ---------------------


def _swarm_never(c: Checker, cfg: RunConfig, api_version: str) -> None:
    """A Swarm service (``to_swarm()``, ``sr.service()``) has no field for these at any API."""
    for field, fix in NEVER.items():
        value = getattr(cfg, field)
        if value not in (None, False, ()):
            c.bad(field, value, "a Swarm service has no field for it at any Engine API", fix)


def _swarm_fields(c: Checker, cfg: RunConfig, api_version: str) -> None:
    """A Swarm service refuses a setting whose service field is newer than the manager's API."""
    present = {
        "user": cfg.user is not None,
        "group_add": bool(cfg.group_add),
        "cap_drop": bool(cfg.cap_drop),
        "cap_add": bool(cfg.cap_add),
        "read_only": cfg.read_only,
        "init": cfg.init,
        "sysctls": bool(cfg.sysctls),
        "ulimits": bool(cfg.ulimits),
        "hostname": cfg.hostname is not None,
        "healthcheck": cfg.healthcheck is not None,
        "stop_timeout": cfg.stop_timeout is not None,
        "tmpfs": bool(cfg.tmpfs),
        "memory": cfg.memory is not None,
        "memory_reservation": cfg.memory_reservation is not None,
        "cpus": cfg.cpus is not None,
        "pids_limit": cfg.pids_limit is not None,
        "log_limits": cfg.log_limits is not None,
        "network": cfg.network not in ("bridge", "default"),
        "ports": bool(cfg.ports),
    }
    for field, is_set in present.items():
        if is_set and not _carries(field, api_version):
            spec, minimum = MIN_API[field]
            c.bad(
                field,
                getattr(cfg, field),
                f"Engine API {api_version} has no service field for it "
                f"({spec} needs API {minimum})",
                f"use a swarm manager that speaks API {minimum} or later, or leave it unset",
            )


def _swarm_privileges(c: Checker, cfg: RunConfig, api_version: str) -> None:
    """A Swarm service below Engine API 1.44 has no field for the privileges settings."""
    if cfg.no_new_privileges and not _carries("no_new_privileges", api_version):
        c.needs(
            OptIn.SWARM_DAEMON_NNP,
            "no_new_privileges",
            True,
            f"Engine API {api_version} has no service field for no-new-privileges "
            "(Privileges.NoNewPrivileges needs API 1.44, Docker 25.0)",
            "use a manager that speaks API 1.44, or run every node's dockerd with "
            "--no-new-privileges and say so",
        )
    if cfg.seccomp.kind != "default" and not _carries("seccomp", api_version):
        c.bad(
            "seccomp",
            cfg.seccomp.kind,
            f"Engine API {api_version} has no service field for a seccomp profile "
            "(Privileges.Seccomp needs API 1.44); below it every task gets the node's default",
            "use a manager that speaks API 1.44, or keep the default profile",
        )
    if cfg.apparmor is not None and (
        cfg.apparmor != "unconfined" or not _carries("apparmor", api_version)
    ):
        c.bad(
            "apparmor",
            cfg.apparmor,
            "a service takes no named AppArmor profile, and a mode only from Engine API 1.44 "
            "(Privileges.AppArmor)",
            "leave it unset: each task gets the node's docker-default profile",
        )


def _swarm_resources(c: Checker, cfg: RunConfig, api_version: str) -> None:
    """A Swarm service below Engine API 1.52 has no swap field; its ports bind every interface."""
    swap_set = cfg.memory_swap is not None and cfg.memory_swap != (cfg.memory or 0) * 2
    if swap_set and not _carries("memory_swap", api_version):
        c.needs(
            OptIn.SWARM_DEFAULT_SWAP,
            "memory_swap",
            cfg.memory_swap,
            f"Engine API {api_version} has no service field for swap (Resources.SwapBytes "
            "needs API 1.52); the task gets the node's default swap",
            "use a manager that speaks API 1.52, or accept the node's default swap",
        )
    for p in cfg.ports:
        if p.host_ip not in _ANY_HOST or p.host_port is None:
            c.bad(
                "ports",
                f"{p.host_ip}:{p.host_port or '*'}->{p.key}",
                "a service port binds every interface of a node, on a fixed port",
                "publish on 0.0.0.0 with a fixed host port, or reach the tasks over an overlay",
            )


_Rule = Callable[[Checker, "RunConfig", str], None]
_RULES: tuple[_Rule, ...] = (_swarm_never, _swarm_fields, _swarm_privileges, _swarm_resources)


# -- the keyword arguments ----------------------------------------------------------------


def _docker_types() -> Any:
    import docker.types  # loaded on first use: configs are built without docker-py

    return docker.types


def _container(kw: dict[str, Any], cfg: RunConfig, api_version: str) -> None:
    """The ``ContainerSpec`` keywords (and the extras docker-py has no keyword for)."""
    types = _docker_types()
    if cfg.entrypoint is not None:
        kw["command"] = list(cfg.entrypoint)  # ContainerSpec.Command replaces the entrypoint
    if cfg.command is not None:
        kw["args"] = list(cfg.command)
    if cfg.env:
        kw["env"] = [f"{k}={v}" for k, v in cfg.env]
    for key, value in (
        ("workdir", working_dir(cfg)),
        ("hostname", cfg.hostname),
        ("user", None if cfg.user is None else str(cfg.user)),
        ("stop_grace_period", None if cfg.stop_timeout is None else cfg.stop_timeout * 10**9),
    ):
        if value is not None:
            kw[key] = value
    if cfg.group_add:
        kw["groups"] = [str(g) for g in cfg.group_add]
    if _carries("cap_drop", api_version):
        kw["cap_drop"] = capability_names(cfg.cap_drop)
        kw["cap_add"] = capability_names(cfg.cap_add)
    if _carries("read_only", api_version):
        kw["read_only"] = cfg.read_only
    if _carries("init", api_version):
        kw["init"] = cfg.init
    if cfg.sysctls:
        kw["sysctls"] = dict(cfg.sysctls)
    health = cfg.healthcheck
    if health is not None:
        kw["healthcheck"] = types.Healthcheck(
            test=list(health.test), interval=health.interval_ns, timeout=health.timeout_ns,
            retries=health.retries, start_period=health.start_period_ns,
        )  # fmt: skip
    kw["mounts"] = _mounts(cfg)
    privileges = _privileges(cfg, api_version)
    if privileges:
        kw["privileges"] = privileges
    if cfg.ulimits:
        kw[SPEC_EXTRA] = {
            "ContainerSpec": {
                "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in cfg.ulimits]
            }
        }


def _mounts(cfg: RunConfig) -> list[Any]:
    types = _docker_types()
    mounts = [
        types.Mount(t.path, None, type="tmpfs", tmpfs_size=t.size, tmpfs_mode=t.mode)
        for t in tmpfs_mounts(cfg)
    ]
    mounts += [
        types.Mount(m.target, m.source, read_only=m.read_only,
                    type="bind" if m.kind == "bind" else "volume", propagation=m.propagation)
        for m in cfg.mounts
    ]  # fmt: skip
    return mounts


def _privileges(cfg: RunConfig, api_version: str) -> dict[str, Any] | None:
    """docker-py's ``Privileges`` mapping, with the API 1.44 keys it has no keyword for."""
    if not _carries("no_new_privileges", api_version):
        return None
    privileges: dict[str, Any] = _docker_types().Privileges()
    privileges["NoNewPrivileges"] = cfg.no_new_privileges
    if cfg.seccomp.kind == "custom":
        privileges["Seccomp"] = {"Mode": "custom", "Profile": cfg.seccomp.profile_json}
    else:
        privileges["Seccomp"] = {"Mode": cfg.seccomp.kind}
    if cfg.apparmor == "unconfined":
        privileges["AppArmor"] = {"Mode": "disabled"}
    return privileges


def restart_condition(cfg: RunConfig) -> tuple[str, int]:
    """The swarm restart condition and attempts (0: no bound) of the config's policy."""
    restart = cfg.restart
    if restart is None or restart.name == "no":
        return "none", 0
    if restart.name == "on-failure":
        return "on-failure", restart.max_retries
    return "any", 0


def _task(kw: dict[str, Any], cfg: RunConfig, api_version: str, name: str | None) -> None:
    """The ``TaskTemplate`` and endpoint keywords."""
    types = _docker_types()
    resources: dict[str, Any] = types.Resources(
        cpu_limit=None if cfg.cpus is None else nano_cpus(cfg.cpus),
        mem_limit=cfg.memory,
        mem_reservation=cfg.memory_reservation,
    )
    if cfg.pids_limit is not None:
        resources.setdefault("Limits", {})["Pids"] = cfg.pids_limit
    if cfg.memory_swap is not None and _carries("memory_swap", api_version):
        resources["SwapBytes"] = cfg.memory_swap - (cfg.memory or 0) if cfg.memory_swap >= 0 else -1
    if resources:
        kw["resources"] = resources
    condition, attempts = restart_condition(cfg)
    # Always sent: omitted, swarmkit restarts the task for ever.
    kw["restart_policy"] = types.RestartPolicy(
        condition=condition, delay=0, max_attempts=attempts, window=0
    )
    if cfg.log_limits is not None:
        kw["log_driver"] = "json-file"
        kw["log_driver_options"] = {
            "max-size": str(cfg.log_limits.max_size),
            "max-file": str(cfg.log_limits.max_files),
        }
    if cfg.network == "none":
        kw["networks"] = [isolated_network(cfg, name)]
    elif cfg.network not in ("bridge", "default"):
        kw["networks"] = [cfg.network]
    ports = {p.host_port: (p.container_port, p.protocol, "host") for p in cfg.ports}
    kw["endpoint_spec"] = types.EndpointSpec(mode="dnsrr", ports=ports or None)


def _placement(
    kw: dict[str, Any],
    constraints: Sequence[str],
    preferences: Sequence[tuple[str, str]],
    max_per_node: int | None,
) -> None:
    if constraints:
        kw["constraints"] = list(constraints)
    if preferences:
        kw["preferences"] = [tuple(p) for p in preferences]
    if max_per_node is not None:
        kw["maxreplicas"] = max_per_node


def service_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of docker-py's ``APIClient.create_service`` for :func:`to_swarm`'s output.

    docker-py's own split of ``services.create`` keywords into a ``TaskTemplate`` (a private
    function, called here only), with the :data:`SPEC_EXTRA` fields written into it.
    """
    from docker.models import services as sdk_services

    kw = dict(kwargs)
    extra: dict[str, dict[str, Any]] = kw.pop(SPEC_EXTRA, {})
    split: Callable[[str, dict[str, Any]], dict[str, Any]] = getattr(  # noqa: B009
        sdk_services, "_get_create_service_kwargs"
    )
    request = split("create", kw)
    template = request["task_template"]
    for section, fields in extra.items():
        template.setdefault(section, {}).update(fields)
    return request

"""Podman's Docker-compatible API: how to know it, what it refuses, how its record reads.

Podman (``podman system service``) answers docker-py, and names itself in ``docker
version``'s ``Components`` (``"Podman Engine"``). Through that API, Podman 4.3.1:

* ignores ``HostConfig.Runtime``: the container runs under the engine's runtime, so
  :func:`podman_problems` refuses a ``runtime`` other than that one;
* gives a non-root ``user`` the capabilities added for it in its effective, permitted
  and ambient sets (Docker leaves a non-root process none): :func:`podman_problems`
  refuses ``cap_add`` with a non-root user;
* reads a seccomp profile in ``SecurityOpt`` only as a file path (inline JSON fails the
  create, podman#27710), and its own default profile lets a process without capabilities
  create a user namespace, where Docker's returns EPERM: on an engine on this host
  :func:`podman_security_opts` sends Docker's default profile (or the custom one) as a
  file (:mod:`.seccomp_files`); an engine elsewhere cannot read this host's files, so
  there seccomp other than ``unconfined`` is refused before create;
* fails at create on its init with the host PID namespace, on a mount path with a comma
  or a double quote, and on the workspace's tmpfs volume options, and
  runs no healthcheck without systemd: these are refused before create too;
* records settings in shapes of its own, which :func:`docker_form` rewrites into
  Docker's before the record is compared with the config: the seccomp profile as the
  path of the file sent (read back, and Docker's default read as ``default``; no
  profile at all is Podman's own default, :data:`PODMAN_OWN_SECCOMP`), ``CapDrop`` as the expanded
  list of what it dropped from its default set, tmpfs entries for ``/run`` and
  ``/var/tmp`` it adds and options it appends (``rw,rprivate,tmpcopyup``), and
  ``Ulimits`` named ``RLIMIT_NOFILE``, with the nofile and nproc it fills in itself;
* shows neither the log options nor the runtime in that record (``LogConfig.Config``
  is ``null``, ``Runtime`` is ``"oci"`` for every container): they are in Podman's own
  record (``GET /libpod/containers/<id>/json``: ``HostConfig.LogConfig.Size``,
  ``OCIRuntime``), which :func:`libpod_details` reads and :func:`docker_form` folds in.
  Podman keeps one log file, truncated at ``max-size`` (conmon ``--log-size-max``),
  which holds the config's bound of at most ``max_files`` files of ``max_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import docker
import docker.errors

from .._config.capabilities import effective_capabilities
from .._config.run_config import RunConfig
from .._errors import Problem, show
from .._export.docker import security_opts
from .seccomp_files import docker_default_profile, profile_file, read_profile

if TYPE_CHECKING:
    from .facts import EngineFacts

__all__ = [
    "LIBPOD_KEY",
    "PODMAN_OWN_SECCOMP",
    "PODMAN_RUNTIME",
    "docker_form",
    "human_size",
    "is_not_running_refusal",
    "is_podman",
    "is_podman_record",
    "libpod_details",
    "podman_problems",
    "podman_security_opts",
]

#: What Podman's Docker-API inspect record says of every container's runtime.
PODMAN_RUNTIME = "oci"
#: The tmpfs mounts Podman adds to every container, with the options it gives them.
_ADDED_TMPFS = {"/run", "/var/tmp"}  # noqa: S108 (paths inside the container)
#: The options Podman appends to each tmpfs entry of the record.
_APPENDED_TMPFS_OPTIONS = frozenset({"rw", "rprivate", "tmpcopyup"})
#: The ulimits Podman fills in when a container sets some ulimits but not these.
_FILLED_ULIMITS = frozenset({"nofile", "nproc"})
#: Where :func:`libpod_details` puts Podman's own record of the container in the inspect record.
LIBPOD_KEY = "SecureRunLibpod"
_ENGINE = "the engine is Podman (docker version: Components 'Podman Engine')"
#: How :func:`docker_form` shows a Podman record with no seccomp profile: Podman's own
#: default, which is not Docker's (a process without capabilities may create a user
#: namespace under it).
PODMAN_OWN_SECCOMP = "Podman's own default profile (not Docker's)"


def is_podman(version: Mapping[str, Any]) -> bool:
    """Whether ``docker version``'s answer is Podman's (a component named ``Podman ...``)."""
    components = version.get("Components")
    if not isinstance(components, list):
        return False
    return any(
        isinstance(c, Mapping) and str(c.get("Name", "")).lower().startswith("podman")
        for c in components
    )


def is_not_running_refusal(exc: docker.errors.APIError) -> bool:
    """Whether Podman refused a kill because the container is not running.

    Docker answers 409; Podman 4.3.1 answers 500 "can only kill running containers. <id>
    is in state exited: container state improper".
    """
    return exc.status_code == 500 and "can only kill running containers" in str(exc.explanation)


def is_podman_record(info: Mapping[str, Any]) -> bool:
    """Whether an inspect record is Podman's: its ``HostConfig.Runtime`` is ``"oci"``."""
    hc = info.get("HostConfig") or {}
    return isinstance(hc, Mapping) and hc.get("Runtime") == PODMAN_RUNTIME


def podman_problems(cfg: RunConfig, facts: EngineFacts) -> list[Problem]:
    """The settings of ``cfg`` that Podman's Docker API would change, drop or fail on.

    Only a local engine (``facts.local``, a unix socket) can read a seccomp profile
    file written on this host (:func:`podman_security_opts`).
    """
    default_runtime = facts.default_runtime
    found = _refused_by_podman(cfg, facts.cgroup_driver)
    if cfg.seccomp.kind != "unconfined" and not cfg.privileged and not facts.local:
        found.append(_problem(
            "seccomp", str(cfg.seccomp),
            "it takes a seccomp profile only as a file path on the engine's host "
            "(podman#27710), and its own default profile lets a process without "
            "capabilities create a user namespace, where Docker's refuses it; this "
            "engine is not on this host (not a unix socket), so Docker's profile cannot "
            "be given to it as a file",
            "launch through the engine's unix socket on its own host, or launch on Docker",
        ))  # fmt: skip
    if cfg.runtime is not None and cfg.runtime != default_runtime:
        found.append(
            Problem(
                "runtime",
                show(cfg.runtime),
                f"{_ENGINE}: its Docker API ignores HostConfig.Runtime, so the container "
                f"would run under the engine's own runtime ({default_runtime or 'its default'})",
                "leave runtime unset on Podman, or set the runtime in the engine's "
                "containers.conf ([engine] runtime) and launch there",
            )
        )
    if cfg.cap_add and not cfg.privileged and cfg.user is not None and cfg.user.uid != 0:
        found.append(
            Problem(
                "cap_add",
                show(", ".join(cfg.cap_add)),
                f"{_ENGINE}: it gives a non-root user ({cfg.user}) the added capabilities "
                "in its effective, permitted and ambient sets; Docker gives it none",
                "drop the cap_add for a non-root user on Podman (a port below 1024 can be "
                "served from a higher one), or launch on Docker",
            )
        )
    return found


def _problem(field: str, value: object, why: str, fix: str) -> Problem:
    return Problem(field, show(value), f"{_ENGINE}: {why}", fix)


def _refused_by_podman(cfg: RunConfig, cgroup_driver: str) -> list[Problem]:
    """What Podman 4.3.1 fails on at create or start, or never runs: refused first."""
    found = []
    if cfg.init and cfg.pid_mode == "host":
        found.append(_problem(
            "init", cfg.init,
            "it cannot add its init as PID 1 in the host PID namespace and fails the create",
            "give init(False) with the host PID namespace on Podman",
        ))  # fmt: skip
    for mount in cfg.mounts:
        if any(c in f"{mount.source}{mount.target}" for c in ',"'):
            found.append(_problem(
                "mount", f"{mount.source}:{mount.target}",
                "its Docker API re-parses each mount as a comma-separated --mount string, "
                "which a comma or a double quote in a path breaks",
                "give the mount a path with no comma or double quote on Podman",
            ))  # fmt: skip
    if cfg.workspace is not None:
        found.append(_problem(
            "workspace", cfg.workspace.path,
            "its local volume driver refuses the tmpfs size and uid options the workspace "
            "volume needs ('volume options size and inodes not supported')",
            "put files in with a bind mount or the image on Podman, or launch on Docker",
        ))  # fmt: skip
    if cfg.healthcheck is not None and cgroup_driver != "systemd":
        found.append(_problem(
            "healthcheck", list(cfg.healthcheck.test),
            "it runs healthchecks from systemd timers, and this engine has no systemd "
            f"(cgroup driver {cgroup_driver or 'unknown'}): the check would never run",
            "leave the healthcheck unset on this engine, or run Podman with systemd",
        ))  # fmt: skip
    return found


def podman_security_opts(cfg: RunConfig) -> list[str]:
    """``SecurityOpt`` for a local Podman: the seccomp profile as the path of a file.

    Docker's default profile for ``seccomp('default')``, the config's own for a custom
    one, each written by :func:`.seccomp_files.profile_file`; ``unconfined``, and a
    privileged container (which Docker runs unconfined), as Docker has them.

    Raises:
        LaunchError: The profile file cannot be written.
    """
    opts = [o for o in security_opts(cfg, seccomp_inline=True) if not o.startswith("seccomp=")]
    if cfg.seccomp.kind == "unconfined":
        opts.append("seccomp=unconfined")
    elif not cfg.privileged:
        text = cfg.seccomp.profile_json if cfg.seccomp.kind == "custom" else None
        opts.append(f"seccomp={profile_file(text or docker_default_profile())}")
    return opts


def _seccomp_entries(entries: list[str], privileged: bool) -> list[str]:
    """``SecurityOpt`` with a profile file of :mod:`.seccomp_files` in Docker's form."""
    result = []
    seen = False
    for entry in entries:
        key, _, value = entry.partition("=")
        if key == "seccomp":
            seen = True
            text = read_profile(value)
            if text == docker_default_profile():
                continue  # Docker records its default profile as no entry
            if text is not None:
                entry = f"seccomp={text}"
        result.append(entry)
    if not seen and not privileged:
        result.append(f"seccomp={PODMAN_OWN_SECCOMP}")
    return result


def human_size(size: float) -> str:
    """A byte count as Podman shows a log size (go-units ``HumanSize``: ``"10.49MB"``)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{units[i]}"


def libpod_details(client: docker.DockerClient, container_id: str) -> dict[str, Any]:
    """What Podman's own record of a container says and its Docker-API record does not.

    ``{"OCIRuntime": "runc", "LogSize": "10.49MB"}``, from ``GET
    /v4.0.0/libpod/containers/<id>/json``; put it under :data:`LIBPOD_KEY` in the
    inspect record for :func:`docker_form`.
    """
    response = client.api.get(f"{client.api.base_url}/v4.0.0/libpod/containers/{container_id}/json")
    response.raise_for_status()
    record = response.json()
    log = (record.get("HostConfig") or {}).get("LogConfig") or {}
    return {
        "OCIRuntime": str(record.get("OCIRuntime") or ""),
        "LogSize": str(log.get("Size") or ""),
    }


def docker_form(cfg: RunConfig, info: Mapping[str, Any]) -> dict[str, Any]:
    """Podman's inspect record of a container of ``cfg``, rewritten in Docker's shapes.

    Only shapes are rewritten, never a value: the capabilities are recorded as the
    config's own ``cap_add``/``cap_drop`` when the bounding set Podman's lists give
    (Docker's 14 defaults, less its drops, plus its adds) is the one the config
    asks for, and left as Podman's lists otherwise, so a difference still shows. With
    Podman's own record (:func:`libpod_details`, under :data:`LIBPOD_KEY`) the runtime is
    its ``OCIRuntime``, and the log options are the config's when Podman's log size is
    the config's ``max_size``; without it they stay as Podman shows them (``"oci"``, no
    options), and the checks fail. A seccomp profile file the library wrote is read back
    (Docker's default profile as no entry, as Docker records it); a record with no
    profile gets :data:`PODMAN_OWN_SECCOMP`, which is not ``default``.
    """
    record = dict(info)
    hc = dict(record.get("HostConfig") or {})
    record["HostConfig"] = hc
    if not cfg.privileged:
        granted, _ = effective_capabilities(
            hc.get("CapAdd") or (), hc.get("CapDrop") or (), privileged=False
        )
        wanted, _ = effective_capabilities(cfg.cap_add, cfg.cap_drop, privileged=False)
        if granted == wanted:
            hc["CapAdd"], hc["CapDrop"] = list(cfg.cap_add), list(cfg.cap_drop)
    asked = {t.path for t in cfg.tmpfs}
    tmpfs = {}
    for path, options in (hc.get("Tmpfs") or {}).items():
        if path in _ADDED_TMPFS and path not in asked:
            continue
        kept = [o for o in str(options).split(",") if o not in _APPENDED_TMPFS_OPTIONS]
        tmpfs[path] = ",".join(kept)
    hc["Tmpfs"] = tmpfs
    named = {u.name for u in cfg.ulimits}
    ulimits = []
    for entry in hc.get("Ulimits") or ():
        name = str(entry.get("Name", "")).lower().removeprefix("rlimit_")
        if name in _FILLED_ULIMITS and name not in named:
            continue
        ulimits.append({**entry, "Name": name})
    hc["Ulimits"] = ulimits
    hc["SecurityOpt"] = _seccomp_entries(
        [str(e) for e in hc.get("SecurityOpt") or ()], bool(hc.get("Privileged"))
    )
    details = info.get(LIBPOD_KEY) or {}
    if details.get("OCIRuntime"):
        hc["Runtime"] = details["OCIRuntime"]
    limits = cfg.log_limits
    if limits is not None and details.get("LogSize") == human_size(limits.max_size):
        # One file, truncated at max-size: within "at most max_files files of max_size".
        log = hc.get("LogConfig") or {}
        options = {"max-size": str(limits.max_size), "max-file": str(limits.max_files)}
        hc["LogConfig"] = {**log, "Config": options}
    return record

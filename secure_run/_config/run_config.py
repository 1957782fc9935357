"""The :class:`RunConfig`: one validated, immutable container launch.

It sits above the value types, the validation, the explanation and the exporters: its
methods are thin entry points into those modules, which take a ``RunConfig`` and import
it only for type checking, so the import graph has no circle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
from typing_extensions import Self

from .._export.cli import to_cli
from .._export.compose import to_compose
from .._export.docker import to_docker_kwargs
from .._export.kubernetes import to_kubernetes
from .._export.swarm import to_swarm
from .explain import explain
from .fields import register
from .validation import check
from .values import (
    Device,
    Explanation,
    Healthcheck,
    LogLimits,
    Mount,
    OptIn,
    PortBinding,
    RestartPolicy,
    Seccomp,
    Tmpfs,
    Ulimit,
    User,
    Workspace,
    _hidden_env,
    _opt_ins,
    _opt_tuple,
    _pairs,
    _tuple,
)

__all__ = ["RunConfig"]


@attrs.frozen(kw_only=True)
class RunConfig:
    """A validated, immutable description of one hardened container launch.

    Make one with :func:`secure_run.builder` or :func:`secure_run.preset`. It is
    hashable, compares by value, works with ``attrs.evolve`` (which validates
    again), and translates to docker-py keyword arguments, a ``docker run`` argv
    and a compose service.

    Memory sizes are bytes; ``memory_swap`` is memory plus swap, as Docker's
    ``--memory-swap`` (equal to ``memory`` means no swap, -1 unlimited).
    ``pids_limit``, ``memory`` and the CPU settings are ``None`` when unlimited.
    The working directory is the workspace's path when a workspace is set and
    ``workdir`` is not.

    .. versionadded:: 0.1
    """

    image: str
    preset: str | None = None
    command: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    entrypoint: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    env: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs, repr=_hidden_env)
    workdir: str | None = None
    hostname: str | None = None
    name: str | None = None
    labels: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    user: User | None = None
    group_add: tuple[int, ...] = attrs.field(default=(), converter=_tuple)
    cap_add: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    cap_drop: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    privileged: bool = False
    devices: tuple[Device, ...] = attrs.field(default=(), converter=_tuple)
    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    cpus: float | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    ulimits: tuple[Ulimit, ...] = attrs.field(default=(), converter=_tuple)
    read_only: bool = False
    tmpfs: tuple[Tmpfs, ...] = attrs.field(default=(), converter=_tuple)
    mounts: tuple[Mount, ...] = attrs.field(default=(), converter=_tuple)
    workspace: Workspace | None = None
    network: str = "none"
    ports: tuple[PortBinding, ...] = attrs.field(default=(), converter=_tuple)
    pid_mode: str | None = None
    ipc_mode: str | None = None
    uts_mode: str | None = None
    userns_mode: str | None = None
    seccomp: Seccomp = Seccomp()  # noqa: RUF009 (frozen, so one shared default is safe)
    apparmor: str | None = None
    no_new_privileges: bool = False
    init: bool = False
    runtime: str | None = None
    restart: RestartPolicy | None = None
    healthcheck: Healthcheck | None = None
    stop_timeout: int | None = None
    log_limits: LogLimits | None = None
    sysctls: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    opt_ins: tuple[OptIn, ...] = attrs.field(default=(), converter=_opt_ins)

    # Derived once, when the config is made; not part of its value.
    _waivers: tuple[OptIn, ...] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _digest: str | None = attrs.field(init=False, default=None, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_waivers", tuple(sorted(check(self), key=str)))

    @classmethod
    def _from_checked_fields(cls, fields: Mapping[str, Any]) -> Self:
        """The config of field values that each passed the per-field rules, in final form.

        For the builder, which runs those rules (and the converters) when a step sets a
        field: only the rules across fields run here. A config made any other way (the
        constructor, ``attrs.evolve``) runs every rule.

        Raises:
            ConfigError: A rule across fields is broken.
        """
        self = object.__new__(cls)
        for set_slot, name, default in _SLOTS:
            set_slot(self, fields.get(name, default))
        object.__setattr__(self, "_digest", None)
        waivers = check(self, fields_checked=True)
        object.__setattr__(self, "_waivers", tuple(sorted(waivers, key=str)))
        return self

    @property
    def environment(self) -> dict[str, str]:
        """The environment as a new dict (values included: handle with care)."""
        return dict(self.env)

    def waivers(self) -> tuple[OptIn, ...]:
        """The opt-ins this config really relies on, sorted; unused grants are left out."""
        return self._waivers

    def digest(self) -> str:
        """A stable ``sha256:<hex>`` of the config's content, the same in every process."""
        if self._digest is None:
            content = attrs.asdict(self, filter=lambda field, _: field.init)
            payload = json.dumps(content, sort_keys=True, default=str)
            digest = "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
            object.__setattr__(self, "_digest", digest)
            return digest
        return self._digest

    def to_docker_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``DockerClient.containers.run()`` and ``.create()``."""
        return to_docker_kwargs(self)

    def to_cli(self, *, reveal_env: bool = False) -> list[str]:
        """A ``docker run`` argv giving the container the same HostConfig.

        Args:
            reveal_env: Write environment values into the argv. By default only
                the names are written (``--env NAME``), so secrets stay out of
                process listings; run the argv with those variables set.
        """
        return to_cli(self, reveal_env=reveal_env)

    def to_compose(self, *, reveal_env: bool = False) -> dict[str, Any]:
        """A compose service mapping with the same settings (see :meth:`to_cli` for env)."""
        return to_compose(self, reveal_env=reveal_env)

    def to_kubernetes(
        self,
        *,
        kind: str = "Pod",
        namespace: str | None = None,
        name: str | None = None,
        reveal_env: bool = False,
    ) -> list[dict[str, Any]]:
        """Kubernetes objects with the same settings: always a list, the workload first.

        The workload is a ``Pod``, ``Job`` or ``Deployment``; with network ``none`` a
        deny-all ``NetworkPolicy`` follows it. A setting with no
        per-pod field is refused, unless an opt-in leaves it to the nodes
        (``kubernetes-node-limits``, ``unbounded-restart``); the manifest then lists it in
        its ``io.secure-run.kubernetes-losses`` annotation.

        Args:
            kind: ``"Pod"``, ``"Job"`` or ``"Deployment"``.
            namespace: Each object's namespace; ``None`` leaves it to kubectl.
            name: The objects' and container's name, a DNS-1123 label; the config's
                name, else ``"secure-run"``.
            reveal_env: Write environment values into the manifest. By default they
                stay out: each variable is read from the key of its name in the Secret
                ``<name>-env``.

        Raises:
            ConfigError: An unknown kind, or a name or namespace Kubernetes refuses.
            UnsupportedFeature: Every setting Kubernetes cannot carry per pod, with why
                and the fix.

        .. versionadded:: 0.2
        """
        return to_kubernetes(
            self, kind=kind, namespace=namespace, name=name, reveal_env=reveal_env
        )

    def to_swarm(
        self,
        *,
        api_version: str = "1.41",
        name: str | None = None,
        replicas: int | None = None,
        opt_ins: Iterable[OptIn | str] = (),
    ) -> dict[str, Any]:
        """Keyword arguments of ``DockerClient.services.create()``: the config as a Swarm service.

        Fields docker-py has no keyword for (the ulimits) are under ``"spec_extra"``, which
        :func:`secure_run.service` writes into the spec; docker-py refuses that key.

        Args:
            api_version: The Engine API version the swarm manager speaks.
            name: The service's name; the config's ``name`` when omitted.
            replicas: Replicated mode with this many tasks.
            opt_ins: Swarm opt-ins (``"swarm-daemon-nnp"``, ``"swarm-default-swap"``).

        Raises:
            UnsupportedFeature: A setting has no form in a service at ``api_version``.

        .. versionadded:: 0.2
        """
        return to_swarm(
            self, api_version=api_version, name=name, replicas=replicas, opt_ins=opt_ins
        )

    def explain(self) -> list[Explanation]:
        """Each setting with its value, the reason for it, and the controls it meets."""
        return explain(self)


register(RunConfig)
#: Each init field's slot setter, name and default (the final form a converter gives it).
_SLOTS: tuple[tuple[Callable[[RunConfig, Any], None], str, Any], ...] = tuple(
    (RunConfig.__dict__[a.name].__set__, a.name, a.default)
    for a in attrs.fields(RunConfig)
    if a.init
)

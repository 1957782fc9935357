"""The daemon half of hardening: :func:`doctor` checks the engine, its host and its users.

secure_run hardens each container; the containers rest on the daemon and its host,
which it does not control. :func:`doctor` reads what can be read of them and returns
a :class:`DoctorReport` of findings, each with an id, a status, the evidence (what
was read, and where) and a remedy:

==============================  ============================================================
Id                              Rule (warn when ...)
==============================  ============================================================
``engine-version``              the engine's release line is unmaintained upstream
                                (:data:`ENGINE_LINES`); info when it is unknown or near its end
``api-version``                 the engine speaks no API version a maintained line speaks
``kernel``                      the kernel is older than 4.10; info below 5.10
``2.2-icc``                     the default bridge lets containers talk to each other
``2.8-default-ulimits``          info: the daemon sets no default ulimits (unscored)
``2.9-userns-remap``            the daemon neither remaps users nor runs rootless
``2.14-no-new-privileges``      the daemon does not set no-new-privileges for every container
``2.15-live-restore``           live restore is off (not applicable in swarm mode)
``2.16-userland-proxy``         docker-proxy serves published ports (not applicable rootless)
``2.17-seccomp``                no seccomp, or the daemon's default profile is ``unconfined``
``apparmor-selinux``            the engine applies neither AppArmor nor SELinux
``rootless``                    info: the daemon runs as root
``cgroup``                      no cgroup manager (driver ``none``); info on cgroup v1
``swap-limit``                  the engine cannot limit swap (``SwapLimit`` false)
``insecure-registries``         a registry beyond loopback is reached without TLS checks
``experimental``                experimental features are on (CIS 2.18)
``logging-driver``              ``json-file`` without ``max-size``; info: logs stay local (2.13)
``socket-permissions``          the socket is world-writable, or owned by a user other than
                                root (or the rootless daemon's user)
``socket-group-members``        a user other than root is in the socket's group
``tcp-without-tls``             the API listens on TCP without TLS client verification (2.7)
``privileged-containers``       a running container is privileged
``socket-mounted-containers``   a running container has the daemon's socket mounted
==============================  ============================================================

The ``2.x`` ids are the CIS Docker Benchmark v1.6 section 2 checks, numbered as in
docker-bench-security. Each rule is a pure function of an :class:`Observed` record,
which :func:`doctor` fills from ``docker info``, ``docker version``, the default bridge
network and the running containers, plus, when the daemon is local, the daemon's
command line (``/proc/<pid>/cmdline``), its ``daemon.json``, the socket's ``stat``
and ``/etc/group`` and ``/etc/passwd``. The daemon is found by the one locator the
audit uses too (:func:`.daemon.locate_daemon`): the dockerd on the client's socket.

The rules are grouped by topic: versions (:mod:`.doctor_checks_versions`), the
daemon's settings (:mod:`.doctor_checks_daemon`) and who controls the daemon
(:mod:`.doctor_checks_access`); this module puts them in report order.
"""

from __future__ import annotations

from typing import Callable

import docker

from .._report import STATUSES
from .daemon import DaemonConfig, read_daemon_config
from .daemon_socket import SocketFacts, read_socket
from .doctor_checks_access import (
    check_privileged,
    check_socket_group,
    check_socket_mounts,
    check_socket_permissions,
    check_tcp_tls,
)
from .doctor_checks_daemon import (
    check_cgroup,
    check_default_ulimits,
    check_experimental,
    check_icc,
    check_insecure_registries,
    check_live_restore,
    check_logging,
    check_mac,
    check_no_new_privileges,
    check_rootless,
    check_seccomp,
    check_swap_limit,
    check_userland_proxy,
    check_userns,
)
from .doctor_checks_versions import check_api_version, check_engine_version, check_kernel
from .doctor_report import DoctorFinding, DoctorReport
from .engine_lines import (
    ENGINE_LINES,
    ENGINE_LINES_REVIEWED,
    KERNEL_MINIMUM,
    KERNEL_NO_NEW_PRIVS,
    KERNEL_OLDEST_LONGTERM,
    EngineLine,
)
from .observed import Observed, observe

__all__ = [
    "ENGINE_LINES",
    "ENGINE_LINES_REVIEWED",
    "KERNEL_MINIMUM",
    "KERNEL_NO_NEW_PRIVS",
    "KERNEL_OLDEST_LONGTERM",
    "RULES",
    "STATUSES",
    "DaemonConfig",
    "DoctorFinding",
    "DoctorReport",
    "EngineLine",
    "Observed",
    "SocketFacts",
    "diagnose",
    "doctor",
    "observe",
    "read_daemon_config",
    "read_socket",
]


_Rule = Callable[[Observed], DoctorFinding]

#: The rules, in report order.
RULES: tuple[_Rule, ...] = (
    check_engine_version,
    check_api_version,
    check_kernel,
    check_icc,
    check_default_ulimits,
    check_userns,
    check_no_new_privileges,
    check_live_restore,
    check_userland_proxy,
    check_seccomp,
    check_mac,
    check_rootless,
    check_cgroup,
    check_swap_limit,
    check_insecure_registries,
    check_experimental,
    check_logging,
    check_socket_permissions,
    check_socket_group,
    check_tcp_tls,
    check_privileged,
    check_socket_mounts,
)


def diagnose(observed: Observed) -> DoctorReport:
    """Apply every rule to what was observed; pure, so it is tested on recorded data.

    Args:
        observed: What :func:`observe` read.

    Returns:
        One finding per rule, in :data:`RULES` order.
    """
    return DoctorReport(tuple(rule(observed) for rule in RULES))


def doctor(
    client: docker.DockerClient | None = None,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> DoctorReport:
    """Check the engine, its settings, who controls it and what runs on it.

    Reads ``docker info``, ``docker version``, the default bridge network and an
    ``inspect`` of each running container; when the daemon is local (a unix socket),
    also the daemon's command line, its ``daemon.json``, the socket's owner, group
    and mode, and the members of that group. Nothing is changed.

    Example::

        report = sr.doctor()
        for finding in report.failures:
            print(finding.id, finding.evidence, finding.remedy)

    Args:
        client: The engine's client; ``None`` connects as ``docker.from_env()`` does.
        proc_root: Where the host's ``/proc`` is (another path for tests, or a
            host's ``/proc`` mounted into a container).
        etc_root: Where the host's ``/etc`` is.

    Returns:
        The report; ``report.ok`` is false when any check warns.

    Raises:
        DaemonUnavailable: No engine answers.
        RunTimeout: The engine did not answer in time.
        LaunchError: The engine refused a request.

    .. versionadded:: 0.1
    """
    return diagnose(observe(client, proc_root=proc_root, etc_root=etc_root))

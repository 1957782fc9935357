"""audit() on the real engine: each check warns on a bad container and passes on a hardened one.

The containers are made once for the module, carry ``TEST_LABELS`` and are always
removed. The running ones have no network (``network_mode="none"``) and run
``sleep 60``. The settings this engine cannot run, or that must never run here, are
judged on containers that are **created but never started**: ``--privileged``
containers do not start on this machine, and a port published on every interface
(``0.0.0.0``, ``::``) must not be opened; so are host networking, a bind of ``/etc``
and of the Docker socket, shared propagation and a custom cgroup parent. Engine
facts that cannot be changed (AppArmor and SELinux are absent here, swarm mode must
stay off) are shown bad through :func:`audit_config`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import docker.types
import pytest
from docker.models.containers import Container

import secure_run as sr
from secure_run._audit.audit import CHECKS, AuditReport, Finding, audit, audit_all, audit_config
from secure_run._engine.errors import base_url
from secure_run._engine.facts import EngineFacts
from secure_run._errors import LaunchError, SecureRunError
from secure_run.testing import TEST_LABELS

SLEEP = ["sleep", "60"]
#: A process named sshd: a shell script at /bin/sshd (the root is writable here).
FAKE_SSHD = ["sh", "-c", "printf '#!/bin/sh\\nsleep 60\\n' >/bin/sshd && chmod +x /bin/sshd "
             "&& exec /bin/sshd"]  # fmt: skip


@contextlib.contextmanager
def made(client: docker.DockerClient) -> Iterator[dict[str, Container]]:
    """A dict to put containers in; every one is removed at the end, whatever happens."""
    containers: dict[str, Container] = {}
    try:
        yield containers
    finally:
        for container in containers.values():
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)


def name(role: str) -> str:
    return f"sr-audit-{role}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def containers(
    docker_client: docker.DockerClient,
    test_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    engine: EngineFacts,
) -> Iterator[dict[str, Container]]:
    """The module's containers, by role; see the module docstring for what each gets."""
    if engine.podman:  # before any container is made: audit() refuses every one there
        pytest.skip("under Podman: audit() refuses a Podman container (UnsupportedFeature), "
                    "since it judges Docker's inspect shapes (test_podman_engine.py)")  # fmt: skip
    client = docker_client
    image_id = client.images.get(test_image).id
    assert image_id is not None
    scratch = str(tmp_path_factory.mktemp("audit-bind"))
    hardened = (
        sr.builder(image_id)  # by image id: pinned (5.28)
        .command(SLEEP)
        .healthcheck(["true"], interval=1)
        .labels(TEST_LABELS)
        .build()
    )
    baseline = (
        sr.preset("baseline", test_image).network("none").command(SLEEP).labels(TEST_LABELS).build()
    )
    common: dict[str, Any] = {"labels": TEST_LABELS}
    with made(client) as out:
        out["hardened"] = client.containers.run(
            **hardened.to_docker_kwargs(), name=name("hardened"), detach=True
        )
        out["baseline"] = client.containers.run(
            **baseline.to_docker_kwargs(), name=name("baseline"), detach=True
        )
        out["plain"] = client.containers.run(
            test_image, FAKE_SSHD, name=name("plain"), network_mode="none", detach=True,
            restart_policy={"Name": "always"}, **common,
        )  # fmt: skip
        out["weak"] = client.containers.create(
            test_image, SLEEP, name=name("weak"), network_mode="none",
            cap_add=["SYS_ADMIN"],
            security_opt=["seccomp=unconfined", "no-new-privileges=false",
                          "apparmor=unconfined", "label=disable"],
            pid_mode="host", ipc_mode="host", uts_mode="host", userns_mode="host",
            devices=["/dev/null:/dev/xnull:rwm"],
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 10},
            sysctls={"net.ipv4.ip_forward": "1"},
            mounts=[docker.types.Mount("/scratch", scratch, type="bind", read_only=True)],
            **common,
        )  # fmt: skip
        # A rootless engine cannot start the host PID or IPC namespace or a renamed device
        # (runc cannot mount /proc, /dev/mqueue or the device in its user namespace): there
        # the weak container is judged on what it asks for, as the created ones below are.
        if not engine.rootless:
            out["weak"].start()
        # Created, never started: privileged does not start here, and none of these
        # settings (host network, /etc and the Docker socket, rshared) may run.
        # A userns-remap engine refuses privileged and host networking in the remap.
        remap = {"userns_mode": "host"} if engine.userns else {}
        out["privileged"] = client.containers.create(
            test_image, SLEEP, name=name("privileged"), privileged=True, network_mode="host",
            **remap,
            cgroup_parent="/secure-run-audit-test",
            mounts=[
                docker.types.Mount("/host-etc", "/etc", type="bind"),
                docker.types.Mount("/var/run/docker.sock", "/var/run/docker.sock",
                                   type="bind", read_only=True),
                docker.types.Mount("/shared", scratch, type="bind", propagation="rshared"),
            ],
            **common,
        )  # fmt: skip
        # Created, never started: ports on every interface must not be opened here.
        out["ports"] = client.containers.create(
            test_image, SLEEP, name=name("ports"), network_mode="bridge",
            ports={"80/tcp": ("::", 80), "82/tcp": 8082}, **common,
        )  # fmt: skip
        out["public"] = client.containers.create(
            test_image, SLEEP, name=name("public"), network_mode="bridge",
            ports={"8080/tcp": ("0.0.0.0", 18080)}, **common,  # noqa: S104
        )  # fmt: skip
        yield out


@pytest.fixture(scope="module")
def reports(
    docker_client: docker.DockerClient, containers: dict[str, Container]
) -> dict[str, dict[str, Finding]]:
    """Each container's findings by check id (exec checks on the running ones)."""
    out = {}
    for role, container in containers.items():
        running = role in ("hardened", "baseline", "plain", "weak")
        report = audit(container, client=docker_client, exec_checks=running and role != "weak")
        out[role] = {f.id: f for f in report.findings}
    bad_config = (
        sr.builder("busybox")
        .privileged()
        .apparmor("unconfined")
        .opt_in("privileged", "apparmor-unconfined")
        .build()
    )
    out["config"] = {f.id: f for f in audit_config(bad_config).findings}
    return out


@pytest.fixture(scope="module")
def engine_options(docker_client: docker.DockerClient) -> list[str]:
    return [str(o) for o in docker_client.info().get("SecurityOptions") or []]


#: (check id, the container that gets it wrong, the status it gets)
BAD = [
    ("5.2", "config", "warn"),  # no AppArmor on this host: shown on a config
    ("5.3", "config", "warn"),  # no SELinux on this host: shown on a config
    ("5.4", "weak", "warn"),
    ("5.4", "privileged", "warn"),
    ("5.5", "privileged", "warn"),
    ("5.6", "privileged", "warn"),
    ("5.7", "plain", "warn"),
    ("5.8", "ports", "warn"),
    ("5.9", "ports", "warn"),
    ("5.10", "privileged", "warn"),
    ("5.11", "plain", "warn"),
    ("5.12", "plain", "warn"),
    ("5.13", "plain", "warn"),
    ("5.13", "baseline", "warn"),
    ("5.14", "ports", "warn"),
    ("5.14", "public", "warn"),
    ("5.15", "plain", "warn"),
    ("5.15", "weak", "warn"),
    ("5.16", "weak", "warn"),
    ("5.17", "weak", "warn"),
    ("5.18", "weak", "info"),
    ("5.19", "plain", "info"),
    ("5.20", "privileged", "warn"),
    ("5.21", "weak", "warn"),
    ("5.22", "weak", "warn"),
    ("5.22", "privileged", "warn"),
    ("5.23", "plain", "note"),
    ("5.24", "plain", "note"),
    ("5.25", "privileged", "warn"),
    ("5.26", "weak", "warn"),
    ("5.26", "plain", "warn"),
    ("5.27", "plain", "warn"),
    ("5.28", "plain", "info"),
    ("5.29", "plain", "warn"),
    ("5.30", "ports", "info"),
    ("5.31", "weak", "warn"),
    ("5.32", "privileged", "warn"),
    ("PSS-baseline-hostNamespaces", "weak", "warn"),
    ("PSS-baseline-privileged", "privileged", "warn"),
    ("PSS-baseline-capabilities", "weak", "warn"),
    ("PSS-baseline-hostPathVolumes", "weak", "warn"),
    ("PSS-baseline-hostPorts", "ports", "warn"),
    ("PSS-baseline-appArmorProfile", "weak", "warn"),
    ("PSS-baseline-seLinuxOptions", "weak", "warn"),
    ("PSS-baseline-procMount", "privileged", "warn"),
    ("PSS-baseline-seccompProfile", "weak", "warn"),
    ("PSS-baseline-sysctls", "weak", "warn"),
    ("PSS-restricted-allowPrivilegeEscalation", "plain", "warn"),
    ("PSS-restricted-runAsNonRoot", "plain", "warn"),
    ("PSS-restricted-seccompProfile", "weak", "warn"),
    ("PSS-restricted-capabilities", "plain", "warn"),
    ("SR-waivers", "baseline", "note"),
]


def hardened_status(check_id: str, engine_options: list[str]) -> str:
    """What the hardened container gets on this engine: pass, but for host facts and notes."""
    names = {p for o in engine_options for p in o.split(",")}
    if check_id == "5.2" and "name=apparmor" not in names:
        return "not_applicable"
    if check_id == "5.3":
        return "not_applicable" if "name=selinux" not in names else "warn"
    return "note" if check_id in ("5.23", "5.24") else "pass"


@pytest.mark.parametrize(("check_id", "bad", "status"), BAD, ids=[f"{c}-{b}" for c, b, _ in BAD])
def test_check_on_the_real_engine(check_id, bad, status, reports, engine_options, docker_client):
    """The misconfigured container gets the warning (or info), the hardened one passes."""
    finding = reports[bad][check_id]
    if check_id == "5.30" and not docker_client.api.networks(names=["bridge"]):
        pytest.skip(
            "the engine has no default bridge (dockerd --bridge=none), so no container is "
            "on docker0"
        )
    assert finding.status == status, finding.evidence
    good = reports["hardened"][check_id]
    assert good.status == hardened_status(check_id, engine_options), good.evidence


def test_every_check_has_a_real_bad_case():
    """The table above covers every check but 5.1, whose bad case needs swarm mode on."""
    assert {c.id for c in CHECKS} - {c for c, _, _ in BAD} == {"5.1"}


def test_engine_level_check_passes_with_swarm_off(reports, docker_client):
    """5.1 reads this engine's swarm state: inactive here (a unit test shows the warning)."""
    assert docker_client.info()["Swarm"]["LocalNodeState"] == "inactive"
    assert reports["hardened"]["5.1"].status == "pass"


@pytest.mark.parametrize(
    ("bad", "check_id", "fragment"),
    [
        ("privileged", "5.4", "ignores Privileged"),
        ("ports", "5.14", "not :: or an empty HostIp"),
        ("plain", "5.15", "reads only MaximumRetryCount"),
        ("weak", "5.26", "passes any option naming no-new-privileges"),
        ("privileged", "5.22", "looks only for seccomp=unconfined"),
    ],
)
def test_stricter_than_reference_on_real_containers(bad, check_id, fragment, reports):
    """The holes of docker-bench-security show up on real inspect records, marked stricter."""
    evidence = reports[bad][check_id].evidence
    assert "stricter than docker-bench-security" in evidence
    assert fragment in evidence


def test_not_started_containers_are_judged_on_what_they_ask_for(reports):
    """A created container's ports are read from HostConfig.PortBindings: '::' and '' warn."""
    evidence = reports["ports"]["5.14"].evidence
    assert evidence.startswith("HostConfig.PortBindings (not running: bound at start)")
    assert "80/tcp -> :::80" in evidence
    assert "82/tcp -> '':8082" in evidence


def test_hardened_container_passes_everything(reports):
    """The restricted preset with a healthcheck and a pinned image has no warning at all."""
    warnings = {i: f.evidence for i, f in reports["hardened"].items() if f.status == "warn"}
    assert warnings == {}
    assert reports["hardened"]["5.7"].evidence.startswith("ps -el in the container")


def test_waivers_are_reported_and_named_on_the_warning(reports):
    """baseline's writable root and added capabilities warn, each naming its opt-in."""
    baseline = reports["baseline"]
    assert "waived by opt-in 'writable-root'" in baseline["5.13"].evidence
    assert baseline["PSS-restricted-capabilities"].evidence.endswith(
        "waived by opt-in 'extra-capability'"
    )
    assert baseline["SR-waivers"].evidence.endswith("waivers extra-capability, writable-root")


def test_daemon_default_for_new_privileges_is_read_from_the_local_dockerd(reports, docker_client):
    """5.26 says where the daemon-wide default was read: the local dockerd's command line."""
    evidence = reports["plain"]["5.26"].evidence
    if base_url(docker_client).startswith("unix://"):
        assert "dockerd pid" in evidence or "unknown: no dockerd process in /proc" in evidence
    else:
        assert "not local" in evidence


def test_audit_all_finds_the_running_hardened_container(docker_client, containers):
    """audit_all() reports on every running container, the hardened one with no warning."""
    report = audit_all(docker_client)
    hardened = containers["hardened"].name
    mine = [f for f in report.findings if f.container == hardened]
    assert len(mine) == len(CHECKS) - 1  # 5.1 is once per report, for the engine
    assert [f.id for f in mine if f.status == "warn"] == []
    assert report.findings[0].id == "5.1"
    created = {containers[r].name for r in ("privileged", "ports", "public")}
    assert created.isdisjoint(f.container for f in report.findings)  # not running


def test_audit_json_of_a_real_container_parses(docker_client, containers):
    """The report of a real container serialises to JSON that parses back."""
    import json

    report = audit(containers["weak"].id, client=docker_client)
    assert isinstance(report, AuditReport)
    assert json.loads(report.to_json())["ok"] is False


def test_audit_of_a_nonexistent_container_is_a_typed_error(docker_client):
    """Auditing an id that names no container raises LaunchError, a SecureRunError."""
    with pytest.raises(LaunchError, match="inspect container") as caught:
        audit(f"sr-audit-missing-{uuid.uuid4().hex}", client=docker_client)
    assert isinstance(caught.value, SecureRunError)
    assert isinstance(caught.value.__cause__, docker.errors.NotFound)

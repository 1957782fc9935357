"""doctor() on the real engine: its verdicts here, and a container with the socket mounted."""

from __future__ import annotations

import json
import os
import stat
import uuid

import docker
import pytest

from secure_run._audit.doctor import DoctorFinding, DoctorReport, doctor, read_daemon_config
from secure_run._engine.errors import base_url
from secure_run._engine.facts import engine_facts
from secure_run.testing import TEST_LABELS


def _finding(report: DoctorReport, finding_id: str) -> DoctorFinding:
    return next(f for f in report.findings if f.id == finding_id)


def _socket_path(client: docker.DockerClient) -> str:
    address = base_url(client)
    if not address.startswith("unix://"):
        pytest.skip(f"the engine is not local ({address})")
    return address[len("unix://") :]


@pytest.fixture(scope="module")
def report(docker_client: docker.DockerClient) -> DoctorReport:
    """One doctor() run on the engine under test."""
    return doctor(docker_client)


def test_an_end_of_life_engine_warns_and_fails_the_report(
    docker_client: docker.DockerClient, report: DoctorReport
) -> None:
    """Docker 20.10 is end-of-life upstream: engine-version warns and report.ok is False."""
    version = engine_facts(docker_client).server_version
    if not version.startswith("20.10."):
        pytest.skip(f"this engine is {version}, not 20.10")
    finding = _finding(report, "engine-version")
    assert finding.status == "warn"
    assert "2023-12-10" in finding.evidence
    assert not report.ok
    assert finding in report.failures


def test_seccomp_and_mandatory_access_control_match_the_engine(
    docker_client: docker.DockerClient, report: DoctorReport
) -> None:
    """The default seccomp profile passes; no AppArmor or SELinux warns, either one passes."""
    facts = engine_facts(docker_client)
    if not facts.seccomp:
        pytest.skip("this engine has no seccomp")
    assert _finding(report, "2.17-seccomp").status == "pass"
    mac = _finding(report, "apparmor-selinux")
    assert mac.status == ("pass" if facts.apparmor or facts.selinux else "warn")
    assert "SecurityOptions" in mac.evidence


def test_socket_evidence_names_the_socket_and_its_mode(
    docker_client: docker.DockerClient, report: DoctorReport
) -> None:
    """socket-permissions quotes the socket's path and octal mode as os.stat gives them."""
    path = _socket_path(docker_client)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    finding = _finding(report, "socket-permissions")
    assert f"{path}: owner " in finding.evidence
    assert f"mode {mode:04o} ({stat.filemode(os.stat(path).st_mode)})" in finding.evidence
    assert finding.status == ("warn" if mode & stat.S_IWOTH else "pass")


def test_the_daemons_command_line_is_read_from_proc(
    docker_client: docker.DockerClient, report: DoctorReport
) -> None:
    """With dockerd in this PID namespace, the no-new-privileges evidence names its cmdline."""
    path = _socket_path(docker_client)
    daemon = read_daemon_config(socket_path=path)
    if daemon.pid is None:
        pytest.skip(f"dockerd is not visible here: {daemon.problem}")
    finding = _finding(report, "2.14-no-new-privileges")
    assert f"/proc/{daemon.pid}/cmdline" in finding.evidence
    assert finding.status in ("pass", "warn")


def test_report_json_parses(report: DoctorReport) -> None:
    """to_json() on the real report parses, with ok and every finding."""
    data = json.loads(report.to_json())
    assert data["ok"] is report.ok
    assert len(data["findings"]) == len(report.findings) == 22


def test_a_container_with_the_socket_mounted_read_only_warns(
    docker_client: docker.DockerClient, test_image: str, gvisor_default: bool
) -> None:
    """A running container with the Docker socket mounted :ro is named by socket-mounted.

    Where the default runtime is gVisor, the container runs under runc: runsc does not
    start with a host unix socket bound in (it needs --host-uds).
    """
    path = _socket_path(docker_client)
    name = f"secure-run-doctor-{uuid.uuid4().hex[:8]}"
    container = docker_client.containers.run(
        test_image,
        ["sleep", "60"],
        name=name,
        network_mode="none",
        labels=TEST_LABELS,
        volumes={path: {"bind": "/var/run/docker.sock", "mode": "ro"}},
        detach=True,
        runtime="runc" if gvisor_default else None,
    )
    try:
        report = doctor(docker_client)
    finally:
        container.remove(force=True)
    finding = _finding(report, "socket-mounted-containers")
    assert finding.status == "warn"
    assert f"{name} ({container.id[:12]}): {path} -> /var/run/docker.sock (read-only)" in (
        finding.evidence
    )

"""On a daemon hardened as CIS Docker Benchmark section 2 asks (``scripts/engines.sh up
hardened``: ``--no-new-privileges --icc=false --live-restore --default-ulimit
nofile=1024:1024``, in a network namespace of its own): what it does to containers, and
that secure_run's launch, verify(), audit and doctor tell its truth.

The suites' tests whose premise is a stock daemon's default skip there
(``DAEMON_DEFAULT_SKIPS`` in tests/conftest.py); each premise is checked here as it
holds on this daemon. On any other engine these tests skip, saying so. Every container
carries ``TEST_LABELS`` and is removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Callable

import docker
import pytest
from docker.models.containers import Container

import secure_run as sr
from secure_run._proof.verify import VerifyReport, verify
from secure_run.testing import SUID_PROBE_PATH, TEST_LABELS

NNP_AND_LIMITS = "grep NoNewPrivs /proc/self/status; echo soft=$(ulimit -Sn) hard=$(ulimit -Hn)"


@pytest.fixture(autouse=True)
def _hardened(daemon_defaults: Any) -> None:
    if not (
        daemon_defaults.no_new_privileges
        and "nofile=1024:1024" in daemon_defaults.default_ulimits
        and daemon_defaults.cis_settings
    ):
        pytest.skip(
            "needs a local daemon with --no-new-privileges --icc=false --live-restore "
            "--default-ulimit nofile=1024:1024 (scripts/engines.sh up hardened)"
        )


@contextlib.contextmanager
def running(
    client: docker.DockerClient, image: str, command: list[str], **kwargs: Any
) -> Iterator[Container]:
    """A detached container through raw docker-py, with the test labels; always removed."""
    if "network" not in kwargs:
        kwargs.setdefault("network_mode", "none")
    kwargs.setdefault("labels", TEST_LABELS)
    container = client.containers.run(image, command, detach=True, **kwargs)
    try:
        yield container
    finally:
        container.remove(force=True, v=True)


def output(client: docker.DockerClient, image: str, command: str, **kwargs: Any) -> str:
    """What ``sh -c command`` prints on stdout in a raw docker-py container made with
    ``kwargs`` (stderr is left out: a tool's diagnostics, such as nc's "timed out", may
    come after the answer and would make the last line unreliable)."""
    with running(client, image, ["sh", "-c", command], **kwargs) as container:
        assert container.wait(timeout=60)["StatusCode"] == 0
        return container.logs(stdout=True, stderr=False).decode()


def failed(report: VerifyReport) -> dict[str, tuple[str, str, str]]:
    return {c.property: (c.expected, c.actual, c.source) for c in report.failures}


@pytest.fixture
def cfg(test_image: str) -> sr.RunConfig:
    """The restricted preset on the test image, sleeping long enough to be inspected."""
    return sr.builder(test_image).command(["sleep", "30"]).labels(TEST_LABELS).build()


def with_security_opt(
    cfg: sr.RunConfig, change: Callable[[list[str]], list[str]]
) -> dict[str, Any]:
    """``cfg.to_docker_kwargs()`` with its ``security_opt`` changed behind secure_run's back."""
    kwargs = cfg.to_docker_kwargs()
    kwargs["security_opt"] = change(list(kwargs["security_opt"]))
    return kwargs


def without_nnp(opts: list[str]) -> list[str]:
    return [o for o in opts if "no-new-privileges" not in o]


# -- the daemon's defaults, from inside --------------------------------------------------


def test_a_plain_container_gets_no_new_privileges_and_the_default_ulimit(docker_client, test_image):
    """A container that asks nothing has NoNewPrivs 1 and nofile 1024:1024, in its record too."""
    with running(docker_client, test_image, ["sh", "-c", NNP_AND_LIMITS]) as container:
        container.wait(timeout=60)
        out = container.logs().decode()
        record = docker_client.api.inspect_container(container.id)["HostConfig"]
    assert "NoNewPrivs:\t1" in out
    assert "soft=1024 hard=1024" in out
    assert {"Name": "nofile", "Soft": 1024, "Hard": 1024} in record["Ulimits"]
    assert not any("no-new-privileges" in o for o in record["SecurityOpt"] or ())


def test_only_no_new_privileges_false_turns_it_off(docker_client, test_image):
    """security_opt no-new-privileges=false gives NoNewPrivs 0, and the setuid helper euid 0."""
    opt = {"security_opt": ["no-new-privileges=false"], "user": "1000:1000"}
    out = output(
        docker_client, test_image, f"grep NoNewPrivs /proc/self/status; {SUID_PROBE_PATH}", **opt
    )
    assert "NoNewPrivs:\t0" in out
    assert "euid=0" in out


def test_the_setuid_helper_gains_nothing_under_a_preset(docker_client, test_image):
    """Under the restricted preset the setuid-root helper keeps euid 1000 (the control above: 0)."""
    built = sr.builder(test_image).user(1000, 1000).command([SUID_PROBE_PATH]).labels(TEST_LABELS)
    result = sr.run(built.build(), client=docker_client, timeout=60)
    assert "euid=1000" in result.stdout.decode()


def test_a_config_waiving_no_new_privileges_still_gets_the_daemons(docker_client, test_image):
    """A config waiving it asks nothing, so the daemon sets NoNewPrivs 1; verify() accepts that."""
    waived = (
        sr.builder(test_image).user(1000, 1000).no_new_privileges(False).opt_in("new-privileges")
    )
    with sr.launch(waived.command(["sleep", "30"]).labels(TEST_LABELS).build(),
                   client=docker_client) as box:  # fmt: skip
        report = box.verify()
        status = box.exec(["grep", "NoNewPrivs", "/proc/self/status"])
    assert report.ok, str(report)
    assert "NoNewPrivs:\t1" in status.stdout.decode()


def test_containers_on_the_default_bridge_cannot_talk(docker_client, test_image):
    """icc=false: a container on the default bridge cannot reach another's port; on a user
    network it can (the control)."""
    serve = ["httpd", "-f", "-p", "8080", "-h", "/"]
    fetch = "echo x | nc -w 3 {} 8080 | grep -q ^HTTP && echo reached || echo blocked"
    network = docker_client.networks.create("sr-hardened-icc-test", labels=TEST_LABELS)
    try:
        with running(docker_client, test_image, serve, network_mode="bridge") as server:
            server.reload()
            ip = server.attrs["NetworkSettings"]["IPAddress"]
            bridged = output(docker_client, test_image, fetch.format(ip), network_mode="bridge")
        with running(docker_client, test_image, serve, network=network.name) as server:
            server.reload()
            ip = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
            control = output(docker_client, test_image, fetch.format(ip), network=network.name)
    finally:
        network.remove()
    assert bridged.split()[-1] == "blocked"
    assert control.split()[-1] == "reached"


# -- secure_run on this daemon ----------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(sr.presets()))
def test_each_preset_launches_and_verifies(docker_client, test_image, runtime_present, preset):
    """sr.launch of the preset verifies with no failure, the kernel read from host /proc."""
    cfg = sr.preset(preset, test_image).command(["sleep", "30"]).labels(TEST_LABELS).build()
    runtime_present(cfg)
    with sr.launch(cfg, client=docker_client) as box:
        report = box.verify()
    assert report.ok, str(report)
    assert any(c.property == "NoNewPrivs" and c.actual == "1" for c in report.checks)


@pytest.mark.parametrize("kernel", ["host", "exec"])
def test_verify_catches_no_new_privileges_false(docker_client, cfg, kernel):
    """Made with no-new-privileges=false behind secure_run's back: record and kernel both fail."""
    kwargs = with_security_opt(cfg, lambda o: [*without_nnp(o), "no-new-privileges=false"])
    with running(docker_client, **kwargs) as container:
        report = verify(container, cfg, client=docker_client, kernel=kernel, strict=False)
    found = failed(report)
    assert set(found) == {"HostConfig.SecurityOpt no-new-privileges", "NoNewPrivs"}
    assert found["NoNewPrivs"][:2] == ("1", "0")


def test_verify_fails_only_the_record_without_the_option(docker_client, cfg):
    """Made without the option: the record fails, the kernel's bit (the daemon's) passes."""
    with running(docker_client, **with_security_opt(cfg, without_nnp)) as container:
        report = verify(container, cfg, client=docker_client, strict=False)
    assert failed(report) == {
        "HostConfig.SecurityOpt no-new-privileges": ("true", "false", "inspect")
    }
    (nnp,) = [c for c in report.checks if c.property == "NoNewPrivs"]
    assert (nnp.ok, nnp.actual) == (True, "1")


def test_verify_catches_a_weaker_nofile_than_the_config(docker_client, cfg):
    """A config's nofile 64:64 made as the daemon's 1024:1024 fails in the record and kernel."""
    strict = (
        sr.builder(cfg.image)
        .ulimit("nofile", 64)
        .command(["sleep", "30"])
        .labels(TEST_LABELS)
        .build()
    )
    kwargs = strict.to_docker_kwargs()
    kwargs["ulimits"] = [u for u in kwargs["ulimits"] if u["Name"] != "nofile"]
    with running(docker_client, **kwargs) as container:
        report = verify(container, strict, client=docker_client, strict=False)
    assert set(failed(report)) == {"HostConfig.Ulimits", "rlimit nofile"}


def test_audit_credits_the_daemons_defaults_to_a_plain_container(docker_client, test_image):
    """5.26 and PSS allowPrivilegeEscalation pass by the daemon's default; 5.19 by its ulimit."""
    with running(docker_client, test_image, ["sleep", "30"]) as container:
        found = {f.id: f for f in sr.audit(container, client=docker_client).findings}
    assert found["5.26"].status == "pass"
    assert "--no-new-privileges" in found["5.26"].evidence
    assert found["PSS-restricted-allowPrivilegeEscalation"].status == "pass"
    assert found["5.19"].status == "pass"
    assert "nofile=1024:1024" in found["5.19"].evidence


@pytest.mark.parametrize(
    ("check_id", "evidence"),
    [
        ("2.2-icc", "enable_icc=false"),
        ("2.8-default-ulimits", "nofile=1024:1024"),
        ("2.14-no-new-privileges", "--no-new-privileges=true on the command line"),
        ("2.15-live-restore", "LiveRestoreEnabled: true"),
        ("2.16-userland-proxy", "--userland-proxy=false on the command line"),
        ("2.17-seccomp", "profile=default"),
    ],
)
def test_doctor_passes_the_daemons_cis_settings(docker_client, check_id, evidence):
    """The doctor passes each CIS section 2 setting this daemon has, citing where it read it."""
    found = {f.id: f for f in sr.doctor(docker_client).findings}
    assert found[check_id].status == "pass", found[check_id].evidence
    assert evidence in found[check_id].evidence

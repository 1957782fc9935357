"""The doctor's CIS 2.8 (default ulimits) and 2.16 (userland proxy) checks, on recorded data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secure_run._audit.doctor import DaemonConfig, DoctorFinding, Observed, diagnose
from secure_run._engine.facts import EngineFacts

DATA = Path(__file__).parent.parent / "data" / "doctor"
INFO: dict[str, Any] = json.loads((DATA / "info.json").read_text())
VERSION: dict[str, Any] = json.loads((DATA / "version.json").read_text())
HARDENED_ARGV = (
    "dockerd", "--userland-proxy=false", "--no-new-privileges",
    "--default-ulimit", "nofile=1024:1024",
)  # fmt: skip


def finding(
    finding_id: str,
    argv: tuple[str, ...] = ("dockerd",),
    config: dict[str, Any] | None = None,
    *,
    read: bool = True,
    rootless: bool = False,
) -> DoctorFinding:
    """The finding ``finding_id`` on the recorded engine, its daemon read as given."""
    info = dict(INFO)
    if rootless:
        info["SecurityOptions"] = [*INFO.get("SecurityOptions", []), "name=rootless"]
    daemon = (
        DaemonConfig(pid=4242, argv=argv, config_path="/etc/docker/daemon.json",
                     config=config or {}, config_found=config is not None)
        if read
        else DaemonConfig(problem="no dockerd process in /proc")
    )  # fmt: skip
    observed = Observed(
        facts=EngineFacts.parse(info, VERSION, api_version="1.41", local=True),
        info=info,
        address="unix:///var/run/docker.sock",
        daemon=daemon,
    )
    (found,) = [f for f in diagnose(observed).findings if f.id == finding_id]
    return found


@pytest.mark.parametrize(
    ("argv", "config", "shown"),
    [
        (HARDENED_ARGV, None, "nofile=1024:1024"),
        (("dockerd",), {"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 64,
                                                        "Hard": 128}}}, "nofile=64:128"),
    ],
    ids=["command-line", "daemon.json"],
)  # fmt: skip
def test_default_ulimits_pass_and_are_shown(argv, config, shown):
    """--default-ulimit or daemon.json default-ulimits passes 2.8, naming the limits."""
    found = finding("2.8-default-ulimits", argv, config)
    assert found.status == "pass"
    assert shown in found.evidence


def test_no_default_ulimits_is_info():
    """Without default ulimits, 2.8 (unscored) is info, with the daemon.json remedy."""
    found = finding("2.8-default-ulimits")
    assert found.status == "info"
    assert "default-ulimits" in found.remedy


@pytest.mark.parametrize(
    ("argv", "config", "status"),
    [
        (HARDENED_ARGV, None, "pass"),
        (("dockerd",), {"userland-proxy": False}, "pass"),
        (("dockerd", "--userland-proxy=true"), None, "warn"),
        (("dockerd",), None, "warn"),
    ],
    ids=["flag-false", "json-false", "flag-true", "unset"],
)
def test_userland_proxy_passes_only_when_off(argv, config, status):
    """2.16 passes only for userland-proxy false; set true or unset (the default) warns."""
    assert finding("2.16-userland-proxy", argv, config).status == status


def test_userland_proxy_is_not_applicable_rootless():
    """A rootless daemon needs its proxy for published ports: 2.16 does not apply."""
    assert finding("2.16-userland-proxy", rootless=True).status == "not_applicable"


@pytest.mark.parametrize("finding_id", ["2.8-default-ulimits", "2.16-userland-proxy"])
def test_unread_daemon_is_info(finding_id):
    """When the daemon's command line cannot be read, neither check guesses: info."""
    found = finding(finding_id, read=False)
    assert found.status == "info"
    assert "cannot tell" in found.evidence

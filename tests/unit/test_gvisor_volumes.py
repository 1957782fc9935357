"""Under gVisor, the workspace volume's tmpfs options come from its record, not mountinfo."""

from __future__ import annotations

from typing import Any

import secure_run as sr
from secure_run._proof.gvisor_volumes import workspace_from_record
from secure_run._proof.kernel import KernelState, cgroup_limits, parse_mountinfo

VOLUME = "secure-run-ws-0123456789abcdef"
OPTIONS = "size=16777216,mode=700,uid=65534,gid=65534,noexec,nosuid,nodev"


class _Api:
    def __init__(self, options: dict[str, str]) -> None:
        self.options = options
        self.asked: list[str] = []

    def inspect_volume(self, name: str) -> dict[str, Any]:
        self.asked.append(name)
        return {"Name": name, "Options": self.options}


class _Client:
    def __init__(self, options: dict[str, str]) -> None:
        self.api = _Api(options)


def _state(line: str) -> KernelState:
    lines = ["1 0 0:1 / / ro - 9p none ro,trans=fd", line]
    mounts = tuple(parse_mountinfo(lines))
    return KernelState(status={}, limits={}, mounts=mounts, cgroup=cgroup_limits(1, {}))


def _cfg() -> sr.RunConfig:
    return sr.builder("img").workspace("/workspace", size="16m").build()


INFO = {"Mounts": [{"Type": "volume", "Name": VOLUME, "Destination": "/workspace"}]}
NINE_P = "9 1 0:9 / /workspace rw - 9p none rw,trans=fd,cache=remote_revalidating"


def test_a_gofer_served_workspace_is_read_from_the_volume_record() -> None:
    """A 9p mount at the workspace becomes the volume's tmpfs (size, mode, owner, noexec)."""
    client = _Client({"type": "tmpfs", "device": "tmpfs", "o": OPTIONS})
    notes: list[str] = []
    state = workspace_from_record(_cfg(), _state(NINE_P), INFO, client, notes)  # type: ignore[arg-type]
    (workspace,) = [m for m in state.mounts if m.mount_point == "/workspace"]
    assert (workspace.fstype, workspace.size_bytes, workspace.mode) == ("tmpfs", 16 << 20, 0o700)
    assert (workspace.uid, workspace.gid, workspace.noexec) == (65534, 65534, True)
    assert client.api.asked == [VOLUME]
    assert any("through the gofer" in note for note in notes)


def test_a_read_only_or_non_tmpfs_workspace_is_left_for_the_checks() -> None:
    """A read-only 9p mount, or a volume that is no tmpfs, is not replaced (the check fails)."""
    notes: list[str] = []
    read_only = _state(NINE_P.replace(" rw - ", " ro - "))
    client = _Client({"type": "tmpfs", "o": OPTIONS})
    assert workspace_from_record(_cfg(), read_only, INFO, client, notes) is read_only  # type: ignore[arg-type]
    plain = _state(NINE_P)
    disk = _Client({})
    assert workspace_from_record(_cfg(), plain, INFO, disk, notes) is plain  # type: ignore[arg-type]
    assert notes == []

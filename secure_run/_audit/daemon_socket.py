"""The daemon's unix socket on this host: its owner, group and mode, and who is in its group."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import attrs

from .daemon import passwd_entries, read_text

__all__ = ["SocketFacts", "read_socket"]


@attrs.frozen(kw_only=True)
class SocketFacts:
    """The daemon's unix socket on this host, and who can use it.

    Attributes:
        path: The socket's path, from the client's address.
        uid: The owner's user id.
        gid: The group id.
        mode: ``st_mode`` (file type and permission bits).
        owner: The owner's name from ``/etc/passwd``, or the uid as text.
        group: The group's name from ``/etc/group``, or the gid as text.
        members: The users in that group: its member list in ``/etc/group`` and the
            users whose primary group it is in ``/etc/passwd``, sorted.
        member_uids: The uid of each member named in ``/etc/passwd``.
        group_found: Whether ``/etc/group`` has an entry for the gid.
        error: Why the socket could not be read, or ``""``.
    """

    path: str
    uid: int = -1
    gid: int = -1
    mode: int = 0
    owner: str = ""
    group: str = ""
    members: tuple[str, ...] = ()
    member_uids: Mapping[str, int] = attrs.field(factory=dict)
    group_found: bool = False
    error: str = ""

    def describe(self) -> str:
        """``/var/run/docker.sock: owner root (uid 0), group docker (gid 105), mode 0660``."""
        return (
            f"{self.path}: owner {self.owner} (uid {self.uid}), group {self.group} "
            f"(gid {self.gid}), mode {stat.S_IMODE(self.mode):04o} ({stat.filemode(self.mode)})"
        )


def _groups(etc_root: str) -> list[list[str]]:
    """The entries of ``/etc/group`` under ``etc_root``, split at ``:``."""
    text = read_text(Path(etc_root) / "group") or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _user_name(etc_root: str, uid: int) -> str:
    """The name of ``uid`` in ``/etc/passwd``, or the uid as text."""
    for entry in passwd_entries(etc_root):
        if len(entry) > 2 and entry[2] == str(uid):
            return entry[0]
    return str(uid)


def read_socket(path: str, etc_root: str = "/etc") -> SocketFacts:
    """``stat`` the daemon's socket and list the members of its group.

    Args:
        path: The socket's path.
        etc_root: Where the host's ``/etc`` is (``group`` and ``passwd`` are read).

    Returns:
        The socket's facts; ``error`` says why it could not be read.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        return SocketFacts(path=path, error=f"os.stat failed: {exc.strerror or exc}")
    group = str(st.st_gid)
    found = False
    members: set[str] = set()
    for entry in _groups(etc_root):
        if len(entry) > 2 and entry[2] == str(st.st_gid):
            group, found = entry[0], True
            if len(entry) > 3:
                members.update(m for m in entry[3].split(",") if m)
    uids: dict[str, int] = {}
    for entry in passwd_entries(etc_root):
        if len(entry) > 3 and entry[2].isdigit():
            uids[entry[0]] = int(entry[2])
            if entry[3] == str(st.st_gid):
                members.add(entry[0])
    return SocketFacts(
        path=path,
        uid=st.st_uid,
        gid=st.st_gid,
        mode=st.st_mode,
        owner=_user_name(etc_root, st.st_uid),
        group=group,
        members=tuple(sorted(members)),
        member_uids={m: uids[m] for m in members if m in uids},
        group_found=found,
    )

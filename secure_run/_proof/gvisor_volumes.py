"""Under gVisor, the workspace volume as the sandbox cannot show it.

A session's workspace is a tmpfs volume: the host mounts the tmpfs, and runsc serves
it to the sandbox through its gofer, so inside it is a ``9p`` mount whose
``mountinfo`` holds none of the tmpfs's size, mode, owner or ``noexec``. Those are
read from the volume's own record (its driver options) instead, and a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import docker

from .._config.run_config import RunConfig
from .._engine.errors import translated
from .kernel import KernelState, parse_mountinfo

__all__ = ["workspace_from_record"]


def workspace_from_record(
    cfg: RunConfig,
    state: KernelState,
    info: Mapping[str, Any],
    client: docker.DockerClient,
    notes: list[str],
) -> KernelState:
    """``state`` with its workspace mount read from the volume's record, where gVisor hides it.

    Only a read-write, non-tmpfs mount at the workspace path backed by a ``local`` tmpfs
    volume is replaced; anything else is left for the checks to compare (and fail).
    """
    workspace = cfg.workspace
    if workspace is None:
        return state
    volume = next(
        (m for m in info.get("Mounts") or () if m.get("Type") == "volume"
         and m.get("Destination") == workspace.path), None)  # fmt: skip
    inside = next((m for m in state.mounts if m.mount_point == workspace.path), None)
    if volume is None or inside is None or inside.fstype == "tmpfs" or inside.read_only:
        return state
    name = str(volume.get("Name") or "")
    with translated(f"inspect volume {name}", client=client):
        options: Mapping[str, str] = client.api.inspect_volume(name).get("Options") or {}
    if options.get("type") != "tmpfs":
        return state
    escaped = workspace.path.replace("\\", "\\134").replace(" ", "\\040")
    line = f"0 0 0:0 / {escaped} rw - tmpfs tmpfs rw,{options.get('o', '')}"
    recorded = next(parse_mountinfo([line]))
    notes.append(
        f"workspace {workspace.path} under gVisor: the sandbox sees its volume through the "
        f"gofer ({inside.fstype}, read-write), so its size, mode, owner and noexec are read "
        f"from the volume's record ({name[:24]}: o={options.get('o', '')})"
    )
    return attrs.evolve(state, mounts=tuple(recorded if m is inside else m for m in state.mounts))

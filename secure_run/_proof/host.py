"""Reading a process's kernel state from the host: ``/proc/<pid>`` and its cgroup files.

The host's side of the one kernel reader (:mod:`.kernel` parses; the probe script is
the side inside the container). Plain file reads: no tool and no subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .kernel import (
    CGROUP_ROOT,
    KernelState,
    cgroup_entries,
    cgroup_keys,
    cgroup_limits,
    cgroup_version,
    parse_id_map,
    parse_limits,
    parse_mountinfo,
    parse_status,
)

__all__ = ["cgroup_file_paths", "read_host_process", "read_text"]


def cgroup_file_paths(
    proc_cgroup: str, root: str = CGROUP_ROOT, keys: Iterable[str] | None = None
) -> tuple[int, dict[str, list[str]]]:
    """The cgroup version and, by key, where a host finds each file of a process.

    On v1 a controller's directory is ``<root>/<controllers>/<path>`` (``cpu,cpuacct``
    when co-mounted) or ``<root>/<controller>/<path>``; on v2 ``<root>/<path>``. A key
    may have several candidate paths: the first that exists holds it.
    """
    version = cgroup_version(proc_cgroup)
    wanted = cgroup_keys() if keys is None else tuple(keys)
    entries = cgroup_entries(proc_cgroup)
    paths: dict[str, list[str]] = {}
    if version == 2:
        unified = next((p for h, cs, p in entries if h == "0" and not cs), "/")
        base = os.path.join(root, unified.lstrip("/"))
        for key in wanted:
            if "/" not in key:
                paths[key] = [os.path.join(base, key)]
        return 2, paths
    dirs: dict[str, list[str]] = {}
    for _, controllers, path in entries:
        for name in controllers:
            mounts = dict.fromkeys((",".join(controllers), name))
            dirs[name] = [os.path.join(root, mount, path.lstrip("/")) for mount in mounts]
    for key in wanted:
        controller, _, name = key.partition("/")
        if name:
            paths[key] = [os.path.join(d, name) for d in dirs.get(controller, ())]
    return 1, paths


def read_text(path: str) -> str:
    """A kernel file's text (undecodable bytes replaced)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _maybe(path: str) -> str | None:
    try:
        return read_text(path).strip()
    except OSError:
        return None


def read_host_process(
    proc: str,
    proc_cgroup: str,
    *,
    cgroup_root: str = CGROUP_ROOT,
    keys: Iterable[str] | None = None,
    mount_points: frozenset[str] | None = None,
    cap_last_cap: str | None = None,
) -> KernelState:
    """A process's state read from the host: plain file reads, no subprocess.

    Args:
        proc: The process's directory, ``/proc/<pid>``.
        proc_cgroup: Its ``/proc/<pid>/cgroup``, already read.
        cgroup_root: Where the host's cgroup file systems are.
        keys: The keys of the cgroup files to read (default: all).
        mount_points: The mounts to parse (default: all).
        cap_last_cap: The path of ``/proc/sys/kernel/cap_last_cap``, to read it too.

    Raises:
        OSError: ``status``, ``limits`` or ``mountinfo`` could not be read.
        KernelFileError: A file is not in the kernel's form.
    """
    status = parse_status(read_text(os.path.join(proc, "status")).splitlines())
    limits = parse_limits(read_text(os.path.join(proc, "limits")).splitlines())
    mountinfo = read_text(os.path.join(proc, "mountinfo")).splitlines()
    version, paths = cgroup_file_paths(proc_cgroup, cgroup_root, keys)
    files: dict[str, str | None] = {}
    for key, candidates in paths.items():
        found = (_maybe(path) for path in candidates)
        files[key] = next((text for text in found if text is not None), None)
    last = _maybe(cap_last_cap) if cap_last_cap else None
    return KernelState(
        status=status,
        limits=limits,
        mounts=tuple(parse_mountinfo(mountinfo, mount_points)),
        cgroup=cgroup_limits(version, files),
        uid_map=parse_id_map(_maybe(os.path.join(proc, "uid_map"))),
        gid_map=parse_id_map(_maybe(os.path.join(proc, "gid_map"))),
        cap_last=int(last) if last and last.isdigit() else None,
    )

"""Source 2 of :func:`~secure_run.verify`: the kernel's state compared with the config.

A :class:`~secure_run._proof.kernel.KernelState` is the same record whether it was
read from the host or by the exec probe, so each check here is made one way: ids
(mapped back through the user namespace), capability sets, ``NoNewPrivs``,
``Seccomp``, rlimits, the mounts the config names, and the cgroup limits (v1 or v2).
Where the config takes the weaker side of an opt-in, only a weaker value fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .._config.capabilities import decode_mask, encode_mask
from .._config.run_config import RunConfig
from .._config.values import Tmpfs
from .._export.docker import tmpfs_mounts
from .expected import (
    CFS_PERIOD_US,
    cpu_list,
    cpu_quota_period,
    cpu_weights,
    expected_caps,
    memory_swap,
)
from .kernel import LIMIT_FILES, CgroupLimits, KernelState, Limit, MountInfo
from .verify_report import Check, check, equal, listing

__all__ = ["cgroup_keys_for", "kernel_checks", "mount_points"]

#: The largest page size Linux uses; cgroup and tmpfs sizes are rounded to pages.
_MAX_PAGE = 64 * 1024
_SECCOMP_MODES = {"0": "disabled", "1": "strict", "2": "filter"}


def cgroup_keys_for(cfg: RunConfig) -> frozenset[str]:
    """The cgroup files (v1 and v2 keys) the config's limits are checked in."""
    limits = []
    if cfg.memory is not None:
        limits += ["memory_limit", "swap"]
    if cfg.memory_reservation is not None:
        limits.append("memory_reservation")
    if cfg.cpus is not None or cfg.cpu_quota is not None or cfg.cpu_period is not None:
        limits += ["cpu_quota_us", "cpu_period_us"]
    if cfg.cpu_shares is not None:
        limits.append("cpu_share")
    if cfg.pids_limit is not None:
        limits.append("pids_limit")
    if cfg.cpuset is not None:
        limits.append("cpuset")
    return frozenset(key for limit in limits for key in LIMIT_FILES[limit])


def mount_points(cfg: RunConfig) -> frozenset[str]:
    """The mount points the checks look at: ``/``, each tmpfs and each mount."""
    paths = ["/", *(t.path for t in tmpfs_mounts(cfg)), *(m.target for m in cfg.mounts)]
    return frozenset(p.rstrip("/") or "/" for p in paths)


def kernel_checks(
    cfg: RunConfig, state: KernelState, source: str, notes: list[str]
) -> Iterator[Check]:
    """Every check of the kernel's state; what cannot be checked is added to ``notes``."""
    status = state.status
    uids = _in_ns(tuple(int(f) for f in status.get("Uid", "").split()), state.uid_map)
    gids = _in_ns(tuple(int(f) for f in status.get("Gid", "").split()), state.gid_map)
    if cfg.user is not None:
        yield equal("Uid", " ".join([str(cfg.user.uid)] * 4), " ".join(map(str, uids)), source)
        yield equal("Gid", " ".join([str(cfg.user.gid)] * 4), " ".join(map(str, gids)), source)
    yield from _cap_checks(cfg, state, len(uids) > 1 and uids[1] == 0, source)

    nnp = status.get("NoNewPrivs", "absent")
    if cfg.no_new_privileges:
        yield check("NoNewPrivs", "1", nnp, source, nnp == "1")
    else:
        yield check("NoNewPrivs", "any (config: 0)", nnp, source, True)
    seccomp = status.get("Seccomp", "absent")
    shown = f"{seccomp} ({_SECCOMP_MODES.get(seccomp, 'unknown')})"
    if cfg.seccomp.kind == "unconfined" or cfg.privileged:
        yield check("Seccomp", "any (config: unconfined)", shown, source, True)
    else:
        yield check("Seccomp", "2 (filter)", shown, source, seccomp == "2")

    for u in cfg.ulimits:
        limit = state.limits.get(u.name)
        wanted = Limit(None if u.soft < 0 else u.soft, None if u.hard < 0 else u.hard)
        shown_limit = "absent" if limit is None else limit
        yield check(f"rlimit {u.name}", wanted, shown_limit, source, limit == wanted)

    yield from _mount_checks(cfg, state.mounts, source)
    yield from _cgroup_checks(cfg, state.cgroup, source, notes)


# -- ids and capabilities ------------------------------------------------------------


def _in_ns(ids: tuple[int, ...], mapping: tuple[tuple[int, int, int], ...]) -> tuple[int, ...]:
    """Host ids as seen inside the process's user namespace."""
    if not mapping:
        return ids
    inside = []
    for value in ids:
        for start, host_start, count in mapping:
            if host_start <= value < host_start + count:
                inside.append(start + value - host_start)
                break
        else:
            inside.append(value)
    return tuple(inside)


def _caps_text(names: frozenset[str], mask: str | None = None) -> str:
    known = frozenset(n for n in names if not n.startswith("BIT_"))
    hex_mask = mask if mask is not None else f"{encode_mask(known):016x}"
    return f"{listing(names)} ({hex_mask})"


def _cap_checks(cfg: RunConfig, state: KernelState, root: bool, source: str) -> Iterator[Check]:
    """CapBnd always; CapPrm and CapEff hold the same set for root, none for another user."""
    cap_last = state.cap_last
    bnd_mask = state.status.get("CapBnd", "")
    if cap_last is None and bnd_mask and int(bnd_mask, 16):
        cap_last = int(bnd_mask, 16).bit_length() - 1  # the highest the kernel knows, at best
    expected = expected_caps(cfg, cap_last)
    for name, wanted in (
        ("CapBnd", expected),
        ("CapPrm", expected if root else frozenset()),
        ("CapEff", expected if root else frozenset()),
    ):
        mask = state.status.get(name)
        actual = decode_mask(mask) if mask else None
        yield check(
            name,
            _caps_text(wanted),
            "absent" if mask is None else _caps_text(actual or frozenset(), mask),
            source,
            actual == wanted,
        )


# -- mounts --------------------------------------------------------------------------


def _mount_at(mounts: tuple[MountInfo, ...], path: str) -> MountInfo | None:
    path = path.rstrip("/") or "/"
    found = None
    for info in mounts:
        if info.mount_point == path:
            found = info
    return found


def _access(info: MountInfo | None) -> str:
    if info is None:
        return "not mounted"
    return "read-only" if info.read_only else "read-write"


def _mount_checks(cfg: RunConfig, mounts: tuple[MountInfo, ...], source: str) -> Iterator[Check]:
    root = _mount_at(mounts, "/")
    if cfg.read_only:
        ok = root is not None and root.read_only
        yield check("mount /", "read-only", _access(root), source, ok)
    for t in tmpfs_mounts(cfg):  # the workspace too: a tmpfs, or a tmpfs volume
        yield _tmpfs_check(t, _mount_at(mounts, t.path), source)
    for m in cfg.mounts:
        info = _mount_at(mounts, m.target)
        if m.read_only:
            ok = info is not None and info.read_only
            yield check(f"mount {m.target}", "read-only", _access(info), source, ok)
        else:
            expected = "any (config: read-write)"
            yield check(f"mount {m.target}", expected, _access(info), source, info is not None)


def _tmpfs_check(t: Tmpfs, info: MountInfo | None, source: str) -> Check:
    """A tmpfs's size (to a page), mode, owner and ``noexec``/``nosuid``/``nodev``."""
    path, size, mode = t.path, t.size, t.mode
    owner = {"uid": t.uid, "gid": t.gid}
    flags = ["exec" if t.exec else "noexec", "suid" if t.suid else "nosuid", "nodev"]
    wanted = f"tmpfs size={size} mode={mode:o}"
    wanted += "".join(f" {k}={v}" for k, v in owner.items() if v is not None)
    wanted += " " + " ".join(flags)
    if info is None:
        return check(f"mount {path}", wanted, "not mounted", source, False)
    got_flags = [
        "noexec" if info.noexec else "exec",
        "nosuid" if info.nosuid else "suid",
        "nodev" if info.nodev else "dev",
    ]
    actual = f"{info.fstype} size={info.size_bytes} mode={(info.mode or 0):o}"
    actual += "".join(
        f" {k}={v}" for k, v in (("uid", info.uid), ("gid", info.gid)) if owner[k] is not None
    )
    actual += " " + " ".join(got_flags)
    ok = (
        info.fstype == "tmpfs"
        and info.size_bytes is not None
        and abs(info.size_bytes - size) < _MAX_PAGE
        and info.mode == mode
        and all(v is None or getattr(info, k) == v for k, v in owner.items())
        and got_flags == flags
    )
    return check(f"mount {path}", wanted, actual, source, ok)


# -- cgroups -------------------------------------------------------------------------


def _rounded(expected: int, actual: int | None) -> bool:
    """Equal up to the kernel rounding a byte count down to whole pages."""
    return actual is not None and 0 <= expected - actual < _MAX_PAGE


_FileCheck = Callable[[str, object, bool], Check]


def _cgroup_checks(
    cfg: RunConfig, cgroup: CgroupLimits, source: str, notes: list[str]
) -> Iterator[Check]:
    """Each limit the config sets, in the file it lands in, showing that file's content."""

    def file_check(limit: str, expected: object, ok: bool) -> Check:
        raw = cgroup.raw(limit)
        name = cgroup.key(limit).rpartition("/")[2]
        return check(f"cgroup {name}", expected, "absent" if raw is None else raw, source, ok)

    swap = memory_swap(cfg)
    if cfg.memory is not None and swap is not None:
        ok = _rounded(cfg.memory, cgroup.memory_limit)
        yield file_check("memory_limit", cfg.memory, ok)
        yield from _swap_checks(cfg.memory, swap, cgroup, file_check, notes)
    if cfg.memory_reservation is not None:
        ok = _rounded(cfg.memory_reservation, cgroup.memory_reservation)
        yield file_check("memory_reservation", cfg.memory_reservation, ok)
    yield from _cpu_checks(cfg, cgroup, file_check)
    if cfg.pids_limit is not None:
        yield file_check("pids_limit", cfg.pids_limit, cgroup.pids_limit == cfg.pids_limit)
    if cfg.cpuset is not None:
        # The configured set: the effective one also reflects what the parents grant.
        ok = cgroup.cpuset is not None and cpu_list(cgroup.cpuset) == cpu_list(cfg.cpuset)
        yield file_check("cpuset", cfg.cpuset, ok)


def _swap_checks(
    memory: int, swap: int, cgroup: CgroupLimits, file_check: _FileCheck, notes: list[str]
) -> Iterator[Check]:
    """v1 holds memory plus swap (``memsw``), v2 swap alone (``memory.swap.max``)."""
    if not cgroup.swap_accounted:
        notes.append(
            f"cgroup {cgroup.key('swap').rpartition('/')[2]} absent: the kernel has no swap "
            "accounting, so the swap limit cannot be enforced or checked"
        )
        return
    unlimited = "unlimited" if cgroup.version == 1 else "max"
    if cgroup.version == 1:
        expected, actual = swap, cgroup.memory_swap_limit
    else:
        expected, actual = swap - memory, cgroup.swap_limit
    if swap < 0:
        yield file_check("swap", unlimited, actual is None)
    else:
        yield file_check("swap", expected, _rounded(expected, actual))


def _cpu_checks(cfg: RunConfig, cgroup: CgroupLimits, file_check: _FileCheck) -> Iterator[Check]:
    """The CFS quota and period (v1 files, v2 ``cpu.max``) and the shares or weight."""
    quota, period = cpu_quota_period(cfg)
    if cgroup.version == 1:
        if quota is not None:
            yield file_check("cpu_quota_us", quota, cgroup.cpu_quota_us == quota)
        if period is not None:
            yield file_check("cpu_period_us", period, cgroup.cpu_period_us == period)
        if cfg.cpu_shares is not None:
            yield file_check("cpu_share", cfg.cpu_shares, cgroup.cpu_shares == cfg.cpu_shares)
        return
    if quota is not None or period is not None:
        # The systemd driver rounds the quota up to 10 ms per second.
        period = period or CFS_PERIOD_US
        ok = cgroup.cpu_period_us == period and (
            cgroup.cpu_quota_us is None
            if quota is None
            else cgroup.cpu_quota_us is not None
            and quota <= cgroup.cpu_quota_us <= quota + period // 100
        )
        yield file_check("cpu_quota_us", f"{'max' if quota is None else quota} {period}", ok)
    if cfg.cpu_shares is not None:
        weights = cpu_weights(cfg.cpu_shares)
        expected = " or ".join(map(str, sorted(weights)))
        yield file_check("cpu_share", expected, cgroup.cpu_weight in weights)

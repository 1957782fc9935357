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
from .._engine.rootless import NO_CGROUPS, unenforced_limits
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
from .verify_report import EXEC, Check, check, equal, listing

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
    cfg: RunConfig,
    state: KernelState,
    source: str,
    notes: list[str],
    *,
    gvisor: bool = False,
    host_cgroup: tuple[CgroupLimits, str] | None = None,
    unenforced: bool = False,
) -> Iterator[Check]:
    """Every check of the kernel's state; what cannot be checked is added to ``notes``.

    ``gvisor``: ``state`` was read inside a gVisor sandbox, whose kernel (the sentry)
    shows no ``NoNewPrivs`` line, ``Seccomp: 0``, no ``/proc/self/limits``, no
    ``nosuid``/``nodev`` in ``mountinfo`` and no cgroup files. What it does not show
    becomes a note (the daemon's record still proves it was asked for), never a pass
    and never a failure. ``host_cgroup``: the sandbox's own cgroup limits read on the
    host, and their source, checked instead of the (absent) files inside.
    ``unenforced``: the engine applies no cgroup limit (rootless without cgroups) and the
    config waived them (``unenforced-limits``): each limit is a note saying so, with what
    its file reads, instead of a check.
    """
    if gvisor:
        yield from _gvisor_checks(cfg, state, source, notes, host_cgroup)
        return
    status = state.status
    # The host shows a process's ids as host ids; the probe, inside, its own already.
    # Mount owners are host ids either way (the kernel shows tmpfs uid= from the host's view).
    uid_map, gid_map = ((), ()) if source == EXEC else (state.uid_map, state.gid_map)
    uids = _in_ns(tuple(int(f) for f in status.get("Uid", "").split()), uid_map)
    gids = _in_ns(tuple(int(f) for f in status.get("Gid", "").split()), gid_map)
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

    yield from _mount_checks(cfg, state.mounts, source, id_maps=(state.uid_map, state.gid_map))
    if unenforced:
        _unenforced_note(cfg, state.cgroup, source, notes)
    else:
        yield from _cgroup_checks(cfg, state.cgroup, source, notes)


#: Where a note says a property cannot be seen inside gVisor.
_NOT_VISIBLE = "not visible under gVisor"


def _gvisor_checks(
    cfg: RunConfig,
    state: KernelState,
    source: str,
    notes: list[str],
    host_cgroup: tuple[CgroupLimits, str] | None,
) -> Iterator[Check]:
    """The checks of a workload read inside gVisor; what the sentry hides becomes a note."""
    status = state.status
    uids = status.get("Uid", "").split()
    if cfg.user is not None:
        gids = " ".join(status.get("Gid", "").split()) or "absent"
        yield equal("Uid", " ".join([str(cfg.user.uid)] * 4), " ".join(uids) or "absent", source)
        yield equal("Gid", " ".join([str(cfg.user.gid)] * 4), gids, source)
    yield from _cap_checks(cfg, state, len(uids) > 1 and uids[1] == "0", source)
    nnp = status.get("NoNewPrivs")
    if nnp is not None and cfg.no_new_privileges:
        yield check("NoNewPrivs", "1", nnp, source, nnp == "1")
    elif cfg.no_new_privileges:
        notes.append(
            f"NoNewPrivs {_NOT_VISIBLE}: its /proc/self/status has no NoNewPrivs line "
            "(HostConfig.SecurityOpt no-new-privileges is checked on the record)"
        )
    seccomp = status.get("Seccomp", "absent")
    wants_filter = cfg.seccomp.kind != "unconfined" and not cfg.privileged
    if wants_filter and seccomp != "2" and state.init_seccomp == "2":
        # runsc --oci-seccomp loads the profile into the workload, never into an exec.
        notes.append(
            f"Seccomp read from pid 1: the exec probe's own status shows Seccomp {seccomp}, "
            "as every `docker exec` into runsc gets no seccomp filter (its commands are "
            "contained by the sentry and the capability sets, not by seccomp)"
        )
        yield check("Seccomp", "2 (filter)", "2 (filter)", f"{source}, pid 1", True)
    elif wants_filter and seccomp == "2":
        yield check("Seccomp", "2 (filter)", "2 (filter)", source, True)
    elif wants_filter:
        notes.append(
            f"Seccomp {_NOT_VISIBLE} (Seccomp: {seccomp} inside): the sentry filters the "
            "workload's system calls itself, and this gVisor shows no filter whether or not "
            "runsc loads Docker's profile inside (--oci-seccomp); HostConfig.SecurityOpt "
            "seccomp is checked on the record"
        )
    yield from _gvisor_limits(cfg, state, source, notes)
    yield from _mount_checks(cfg, state.mounts, source, gvisor=True)
    hidden = [t.path for t in tmpfs_mounts(cfg)]  # nodev is always asked for
    if hidden:
        notes.append(
            f"nosuid and nodev of tmpfs {', '.join(hidden)} {_NOT_VISIBLE}: its mountinfo "
            "does not show them (HostConfig.Tmpfs is checked on the record)"
        )
    if host_cgroup is not None:
        cgroup, cgroup_source = host_cgroup
        yield from _cgroup_checks(cfg, cgroup, cgroup_source, notes)
    elif cgroup_keys_for(cfg):
        notes.append(
            f"cgroup limits {_NOT_VISIBLE}: the sandbox has no cgroup files inside, and the "
            "host's cgroup of the sandbox could not be read here (the HostConfig limits are "
            "checked on the record)"
        )


def _gvisor_limits(
    cfg: RunConfig, state: KernelState, source: str, notes: list[str]
) -> Iterator[Check]:
    """rlimits, when gVisor shows ``/proc/self/limits`` (this build does not)."""
    if not cfg.ulimits:
        return
    if not state.limits:
        names = ", ".join(u.name for u in cfg.ulimits)
        notes.append(
            f"rlimits {names} {_NOT_VISIBLE}: it has no /proc/self/limits "
            "(HostConfig.Ulimits is checked on the record)"
        )
        return
    for u in cfg.ulimits:
        limit = state.limits.get(u.name)
        wanted = Limit(None if u.soft < 0 else u.soft, None if u.hard < 0 else u.hard)
        shown_limit = "absent" if limit is None else limit
        yield check(f"rlimit {u.name}", wanted, shown_limit, source, limit == wanted)


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


_IdMap = tuple[tuple[int, int, int], ...]


def _owner_in_ns(value: int | None, mapping: _IdMap) -> int | str | None:
    """A tmpfs owner (the kernel shows host ids) as the container sees it.

    Under a user namespace, an id the map does not cover is no id inside (the kernel
    shows it as the overflow id): it reads ``unmapped(N)``, which equals no configured
    owner, so a tmpfs left owned by the host's root fails.
    """
    if value is None or not mapping:
        return value
    if not any(host <= value < host + count for _, host, count in mapping):
        return f"unmapped({value})"
    return _in_ns((value,), mapping)[0]


def _mount_checks(
    cfg: RunConfig,
    mounts: tuple[MountInfo, ...],
    source: str,
    *,
    gvisor: bool = False,
    id_maps: tuple[_IdMap, _IdMap] = ((), ()),
) -> Iterator[Check]:
    root = _mount_at(mounts, "/")
    if cfg.read_only:
        ok = root is not None and root.read_only
        yield check("mount /", "read-only", _access(root), source, ok)
    for t in tmpfs_mounts(cfg):  # the workspace too: a tmpfs, or a tmpfs volume
        info = _mount_at(mounts, t.path)
        ids = None
        if info is not None:
            ids = (_owner_in_ns(info.uid, id_maps[0]), _owner_in_ns(info.gid, id_maps[1]))
        yield _tmpfs_check(t, info, source, gvisor=gvisor, ids=ids)
    for m in cfg.mounts:
        info = _mount_at(mounts, m.target)
        if m.read_only:
            ok = info is not None and info.read_only
            yield check(f"mount {m.target}", "read-only", _access(info), source, ok)
        else:
            expected = "any (config: read-write)"
            yield check(f"mount {m.target}", expected, _access(info), source, info is not None)


def _tmpfs_check(
    t: Tmpfs,
    info: MountInfo | None,
    source: str,
    *,
    gvisor: bool = False,
    ids: tuple[int | str | None, int | str | None] | None = None,
) -> Check:
    """A tmpfs's size (to a page), mode, owner and ``noexec``/``nosuid``/``nodev``.

    ``ids`` is the owner as the container sees it (host ids mapped through its user
    namespace, see :func:`_owner_in_ns`).

    Under gVisor only ``noexec`` is compared: its ``mountinfo`` never shows the others.
    """
    path, size, mode = t.path, t.size, t.mode
    owner = {"uid": t.uid, "gid": t.gid}
    flags = ["exec" if t.exec else "noexec", "suid" if t.suid else "nosuid", "nodev"]
    if gvisor:
        flags = flags[:1]
    wanted = f"tmpfs size={size} mode={mode:o}"
    wanted += "".join(f" {k}={v}" for k, v in owner.items() if v is not None)
    wanted += " " + " ".join(flags)
    if info is None:
        return check(f"mount {path}", wanted, "not mounted", source, False)
    if ids is None:
        ids = (info.uid, info.gid)
    got_flags = [
        "noexec" if info.noexec else "exec",
        "nosuid" if info.nosuid else "suid",
        "nodev" if info.nodev else "dev",
    ][: len(flags)]
    actual = f"{info.fstype} size={info.size_bytes} mode={(info.mode or 0):o}"
    actual += "".join(
        f" {k}={v}" for k, v in (("uid", ids[0]), ("gid", ids[1])) if owner[k] is not None
    )
    actual += " " + " ".join(got_flags)
    ok = (
        info.fstype == "tmpfs"
        and info.size_bytes is not None
        and abs(info.size_bytes - size) < _MAX_PAGE
        and info.mode == mode
        and all(v is None or actual_id == v for (k, v), actual_id in zip(owner.items(), ids))
        and got_flags == flags
    )
    return check(f"mount {path}", wanted, actual, source, ok)


# -- cgroups -------------------------------------------------------------------------


def _rounded(expected: int, actual: int | None) -> bool:
    """Equal up to the kernel rounding a byte count down to whole pages."""
    return actual is not None and 0 <= expected - actual < _MAX_PAGE


_FileCheck = Callable[[str, object, bool], Check]


def _unenforced_note(cfg: RunConfig, cgroup: CgroupLimits, source: str, notes: list[str]) -> None:
    """The waived limits, noted as not enforced, with what their cgroup files read."""
    limits = unenforced_limits(cfg)
    if not limits:
        return
    wanted, read = cgroup_keys_for(cfg), {}
    for limit in LIMIT_FILES:
        if cgroup.key(limit) in wanted:
            raw = cgroup.raw(limit)
            read[cgroup.key(limit).rpartition("/")[2]] = "absent" if raw is None else raw
    shown = ", ".join(f"{name} {value}" for name, value in read.items())
    notes.append(
        f"{', '.join(limits)}: not enforced by the engine ({NO_CGROUPS}; waived by the "
        f"opt-in 'unenforced-limits'); {source} reads {shown or 'no cgroup file'}"
    )


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

"""What Docker makes of a config: the values the daemon records and the kernel holds.

A :class:`~secure_run.RunConfig` leaves some values to Docker's rules (swap defaults to
twice the memory, ``--cpus`` becomes a CFS quota, shares become a v2 weight, the
capability set follows moby's ``TweakCapabilities``). Each rule lives here once, and
both sources of :func:`~secure_run.verify` compare with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .._config.capabilities import ALL_CAPABILITIES, capability_name, effective_capabilities
from .._config.run_config import RunConfig
from .._export.docker import nano_cpus

__all__ = [
    "CFS_PERIOD_US",
    "cap_names",
    "cpu_list",
    "cpu_quota_period",
    "cpu_weights",
    "expected_caps",
    "memory_swap",
    "needs_every_cap",
]

#: The CFS period Docker uses unless the config sets one, in microseconds.
CFS_PERIOD_US = 100_000


def memory_swap(cfg: RunConfig) -> int | None:
    """Memory plus swap as Docker sets it: ``memory_swap``, or twice ``memory`` when unset.

    ``-1`` is unlimited swap; ``None`` when the config sets no memory limit at all.
    """
    if cfg.memory is None:
        return None
    return cfg.memory_swap if cfg.memory_swap is not None else 2 * cfg.memory


def cpu_quota_period(cfg: RunConfig) -> tuple[int | None, int | None]:
    """The CFS quota and period runc writes for the config, ``None`` where unlimited/unset."""
    if cfg.cpus is not None:
        return nano_cpus(cfg.cpus) * CFS_PERIOD_US // 1_000_000_000, CFS_PERIOD_US
    if cfg.cpu_quota is not None and cfg.cpu_quota > 0:
        return cfg.cpu_quota, cfg.cpu_period or CFS_PERIOD_US
    return None, cfg.cpu_period


def cpu_weights(shares: int) -> frozenset[int]:
    """The cgroup v2 ``cpu.weight`` for v1 shares, by either runc conversion."""
    old = 1 + ((shares - 2) * 9999) // 262142
    level = math.log2(shares)
    new = math.ceil(10 ** ((level * level + 125 * level) / 612.0 - 7.0 / 34.0))
    return frozenset({old, new})


def cpu_list(text: str) -> frozenset[int] | None:
    """A cpuset list (``"0-2,4"``) as CPU numbers, ``None`` if it is not one."""
    cpus: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        return None
    return frozenset(cpus)


def needs_every_cap(cfg: RunConfig) -> bool:
    """Privileged or ``cap_add ALL``: the expected set depends on the kernel's last cap."""
    return cfg.privileged or "ALL" in map(capability_name, cfg.cap_add)


def expected_caps(cfg: RunConfig, cap_last: int | None) -> frozenset[str]:
    """The capability set moby's TweakCapabilities gives: privileged, ALL added or dropped."""
    names, _ = effective_capabilities(
        cfg.cap_add, cfg.cap_drop, privileged=cfg.privileged, cap_last=cap_last
    )
    return names


def cap_names(names: Iterable[object]) -> set[str]:
    """Capability names in the daemon's stored form; unknown ones are kept as given."""
    result = set()
    for name in map(capability_name, names):
        known = name == "ALL" or name in ALL_CAPABILITIES
        result.add("CAP_" + name if known and name != "ALL" else name)
    return result

"""Linux capabilities: names, bits, Docker's default set, and the dangerous ones.

Bit numbers come from ``include/uapi/linux/capability.h`` (CAP_LAST_CAP = 40);
Docker's default set from moby ``oci/caps/defaults.go``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .._errors import ConfigError, Problem, show

__all__ = [
    "ALL_CAPABILITIES",
    "DANGEROUS_CAPABILITIES",
    "DOCKER_DEFAULT_CAPABILITIES",
    "decode_mask",
    "encode_mask",
    "normalize_capability",
]

#: Every capability the kernel knows, in bit order (index = bit number).
ALL_CAPABILITIES: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip

_BITS = {name: bit for bit, name in enumerate(ALL_CAPABILITIES)}

#: The 14 capabilities Docker grants a container unless told otherwise (mask 0xa80425fb).
DOCKER_DEFAULT_CAPABILITIES: frozenset[str] = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
})  # fmt: skip

#: Capabilities that break the container boundary or the host's integrity; adding
#: one needs the ``dangerous-capability`` opt-in. ``ALL`` is here as the magic value.
DANGEROUS_CAPABILITIES: frozenset[str] = frozenset({
    "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "DAC_READ_SEARCH", "NET_ADMIN",
    "BPF", "PERFMON", "SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG", "ALL",
})  # fmt: skip


#: The only capability a container may add without an opt-in: Pod Security "restricted"
#: allows it and nothing else. Any other addition needs ``extra-capability`` (or
#: ``dangerous-capability``).
UNWAIVED_CAPABILITIES: frozenset[str] = frozenset({"NET_BIND_SERVICE"})


def normalize_capability(name: object, *, field: str = "cap_add") -> str:
    """Return the canonical name (``"NET_BIND_SERVICE"``) of a capability.

    Case is ignored and a ``CAP_`` prefix is dropped; ``"ALL"`` is accepted.

    Raises:
        ConfigError: The name is not a string or names no capability; the message
            suggests the closest known names.
    """
    if not isinstance(name, str):
        raise ConfigError.single(
            field, name, "a capability name must be a string", 'write it like "NET_BIND_SERVICE"'
        )
    canonical = name.strip().upper()
    if canonical.startswith("CAP_"):
        canonical = canonical[4:]
    if canonical == "ALL" or canonical in _BITS:
        return canonical
    close = difflib.get_close_matches(canonical, (*ALL_CAPABILITIES, "ALL"), n=3, cutoff=0.6)
    fix = (
        "did you mean " + " or ".join(repr(c) for c in close) + "?"
        if close
        else "use a name from capabilities(7), such as 'NET_BIND_SERVICE'"
    )
    raise ConfigError([Problem(field, show(name), "unknown capability", fix)])


def capability_name(name: object) -> str:
    """The bare upper-case name of a capability as any engine writes it.

    ``"cap_chown"``, ``"CAP_CHOWN"`` and ``" chown "`` all give ``"CHOWN"``. Unlike
    :func:`normalize_capability`, nothing is refused: an unknown name is kept, upper-cased,
    so an inspect record or a report can still show it.
    """
    text = str(name).strip().upper()
    return text[4:] if text.startswith("CAP_") else text


def effective_capabilities(
    cap_add: Iterable[object],
    cap_drop: Iterable[object],
    *,
    privileged: bool,
    cap_last: int | None = None,
) -> tuple[frozenset[str], str]:
    """The capabilities a container's processes get, as moby's ``TweakCapabilities``.

    The one calculator behind :func:`secure_run.verify` (what the kernel should show)
    and :func:`secure_run.audit` (what the inspect record grants).

    Args:
        cap_add: Names added, in any spelling :func:`capability_name` reads.
        cap_drop: Names dropped.
        privileged: Whether the container is privileged (every capability).
        cap_last: The kernel's last capability number (``/proc/sys/kernel/cap_last_cap``):
            "every capability" means those up to it. ``None``: all that are known here.

    Returns:
        The bare names, and the rule that produced them, in words.
    """
    every = frozenset(ALL_CAPABILITIES[: (cap_last + 1) if cap_last is not None else None])
    adds = {capability_name(c) for c in cap_add}
    drops = {capability_name(c) for c in cap_drop}
    if privileged:
        return every, "Privileged=true: every capability"
    if "ALL" in adds:
        return every - drops, "CapAdd ALL: every capability but the drops"
    if "ALL" in drops:
        return frozenset(adds), "CapDrop ALL: only the adds"
    return (DOCKER_DEFAULT_CAPABILITIES - drops) | adds, "Docker's 14 defaults - drops + adds"


def decode_mask(mask: int | str) -> frozenset[str]:
    """Names of the capabilities set in a mask, as ``/proc/self/status`` prints it (hex).

    Bits above the last known capability are reported as ``"BIT_<n>"``.
    """
    value = int(mask, 16) if isinstance(mask, str) else mask
    names = set()
    bit = 0
    while value >> bit:
        if (value >> bit) & 1:
            names.add(ALL_CAPABILITIES[bit] if bit < len(ALL_CAPABILITIES) else f"BIT_{bit}")
        bit += 1
    return frozenset(names)


def encode_mask(names: frozenset[str] | set[str]) -> int:
    """The mask with the bits of the named capabilities set."""
    mask = 0
    for name in names:
        mask |= 1 << _BITS[name]
    return mask

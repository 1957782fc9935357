"""Seccomp profiles: read from a file or a mapping, checked on the client side."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError, Problem, show
from .values import Seccomp

__all__ = ["is_allow_all", "load_seccomp", "profile_problems"]

ACTIONS = frozenset({
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
})  # fmt: skip

_FIX = "give a Docker seccomp profile: a JSON object with a defaultAction and a syscalls list"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON the engine reads")


def _is_action(value: object) -> bool:
    return isinstance(value, str) and value in ACTIONS


def profile_problems(profile: object) -> list[str]:
    """What is wrong with a decoded profile, as short sentences (empty when it is valid)."""
    if not isinstance(profile, Mapping):
        return ["the profile is not a JSON object"]
    errors = []
    if not _is_action(profile.get("defaultAction")):
        errors.append(f"defaultAction {profile.get('defaultAction')!r} is not a seccomp action")
    syscalls = profile.get("syscalls", [])
    if not isinstance(syscalls, list):
        return [*errors, "syscalls is not a list"]
    for index, rule in enumerate(syscalls):
        if not isinstance(rule, Mapping):
            errors.append(f"syscalls[{index}] is not an object")
            continue
        names = rule.get("names", [rule["name"]] if "name" in rule else None)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            errors.append(f"syscalls[{index}] has no list of syscall names")
        if not _is_action(rule.get("action")):
            errors.append(
                f"syscalls[{index}].action {rule.get('action')!r} is not a seccomp action"
            )
    arches = profile.get("architectures", [])
    if not isinstance(arches, list) or not all(isinstance(a, str) for a in arches):
        errors.append("architectures is not a list of names")
    return errors


def is_allow_all(profile: Mapping[str, Any]) -> bool:
    """Whether a profile allows every syscall: no filter at all, in effect."""
    if profile.get("defaultAction") != "SCMP_ACT_ALLOW":
        return False
    return all(rule.get("action") == "SCMP_ACT_ALLOW" for rule in profile.get("syscalls", []))


#: The largest profile file read. Docker's own default profile is about 20 KiB.
MAX_PROFILE_BYTES = 1 << 20


def _read_profile(path: str, field: str) -> str:
    """The text of a profile file: a regular file of at most ``MAX_PROFILE_BYTES``.

    Opened without blocking and checked before reading, so a FIFO, a device such as
    ``/dev/zero`` or a huge file is refused at once instead of hanging or filling memory.
    """
    fix = "give the path of a readable JSON profile, 'default' or 'unconfined'"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            regular = stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
            data = handle.read(MAX_PROFILE_BYTES + 1) if regular else b""
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError.single(
            field, path, f"cannot read the profile file ({reason})", fix
        ) from None
    if not regular:
        raise ConfigError.single(field, path, "not a regular file (a FIFO or a device)", fix)
    if len(data) > MAX_PROFILE_BYTES:
        raise ConfigError.single(
            field, path, f"larger than {MAX_PROFILE_BYTES} bytes, too large for a profile", fix
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError.single(field, path, f"not UTF-8 text ({exc.reason})", fix) from None


def load_seccomp(profile: object, *, field: str = "seccomp") -> Seccomp:
    """A :class:`Seccomp` from ``"default"``, ``"unconfined"``, a path, or a mapping.

    The file is read and the profile checked now, so a bad one never reaches the daemon.

    Raises:
        ConfigError: The file is missing or unreadable, not JSON, or not a valid profile.
    """
    if profile in ("default", "unconfined"):
        return Seccomp(kind=str(profile))
    source = None
    if isinstance(profile, (str, Path)):
        source = str(profile)
        text = _read_profile(source, field)
        try:
            profile = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ConfigError.single(field, source, f"not valid JSON ({exc})", _FIX) from None
    if not isinstance(profile, Mapping):
        raise ConfigError.single(field, profile, "not a seccomp profile", _FIX)
    try:
        errors = profile_problems(profile)
    except RecursionError:
        errors = ["nested too deeply to be a seccomp profile"]
    if errors:
        shown = source if source is not None else "<mapping>"
        raise ConfigError([Problem(field, show(shown), e, _FIX) for e in errors])
    try:
        # A file keeps its key order, compacted, as `docker run --security-opt seccomp=FILE`
        # sends it (Go's json.Compact); a mapping gets sorted keys, for a stable digest.
        compact = json.dumps(
            profile,
            sort_keys=source is None,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,  # NaN and Infinity are not JSON: the engine refuses them at start
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError.single(
            field, "<mapping>", f"not JSON-serialisable ({exc})", _FIX
        ) from None
    return Seccomp(kind="custom", profile_json=compact, source=source)

"""Parsers that turn a user's text into the typed values a RunConfig holds.

Each raises :class:`ConfigError` naming the field, the value and the fix, and
nothing else, whatever it is given.
"""

from __future__ import annotations

import functools
import math
import re

from .._errors import ConfigError
from .values import User

__all__ = ["parse_cpus", "parse_duration_ns", "parse_image", "parse_memory", "parse_user"]

_MEMORY = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kmg]?)(?:i?b)?", re.IGNORECASE)
_MEMORY_FIX = 'give bytes as an int, or a size such as "256m", "1g" or "512MiB"'
#: Docker's own units (``docker.utils.parse_bytes``): powers of 1024.
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_memory(value: object, *, field: str = "memory") -> int:
    """Bytes from an int or a size in ``k``, ``m``, ``g`` units (``MiB`` style too; powers of 2).

    Raises:
        ConfigError: Not a size, negative, fractional bytes, or absurdly large.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError.single(field, value, "not a size", _MEMORY_FIX)
    if isinstance(value, int):
        if value < 0:
            raise ConfigError.single(field, value, "a size cannot be negative", _MEMORY_FIX)
        return value
    size = _size_of_text(value)
    if size == _NOT_A_SIZE:
        raise ConfigError.single(field, value, "not a size", _MEMORY_FIX)
    if size == _TOO_LARGE:
        raise ConfigError.single(field, value, "too large", _MEMORY_FIX)
    if size == _NOT_WHOLE:
        raise ConfigError.single(field, value, "bytes must be whole", _MEMORY_FIX)
    return size


# What _size_of_text answers for text that is no size (a size is never negative).
_NOT_A_SIZE, _TOO_LARGE, _NOT_WHOLE = -1, -2, -3


@functools.lru_cache(maxsize=256)
def _size_of_text(text: str) -> int:
    """Bytes of a size written as text, or one of the negative codes above.

    Cached: a program states the same few sizes ("256m") again and again, and the
    result depends on the text alone.
    """
    match = _MEMORY.fullmatch(text.strip())
    if not match:
        return _NOT_A_SIZE
    number, unit = match["num"], match["unit"].lower()
    if len(number) > 30:
        return _TOO_LARGE
    if not unit and "." in number:
        return _NOT_WHOLE
    return int(float(number) * _UNITS[unit])  # as docker.utils.parse_bytes computes it


def parse_cpus(value: object, *, field: str = "cpus") -> float:
    """A CPU count from an int, a float or a numeric string (``0.5`` = half a CPU).

    Raises:
        ConfigError: Not a finite number.
    """
    fix = "give a number of CPUs such as 0.5 or 2"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError.single(field, value, "not a number of CPUs", fix)
    try:
        cpus = float(value)
    except (ValueError, OverflowError):
        raise ConfigError.single(field, value, "not a number of CPUs", fix) from None
    if not math.isfinite(cpus):
        raise ConfigError.single(field, value, "not a finite number", fix)
    return cpus


def _id(text: str, field: str, what: str) -> int:
    if not text.isdecimal() or not text.isascii():
        raise ConfigError.single(
            field,
            text,
            f"{what} must be numeric",
            "give numbers (e.g. 65534:65534) so the non-root rule can be checked before launch",
        )
    number = int(text) if len(text) <= 10 else 2**31
    if number > 2**31 - 1:
        raise ConfigError.single(field, text, f"{what} is out of range", "use 0 to 2147483647")
    return number


def parse_user(uid: object, gid: object = None, *, field: str = "user") -> User:
    """A :class:`User` from ``(1000, 1000)``, ``"1000:1000"``, ``"1000"`` or ``"root"``.

    A missing gid takes the uid's value, so no process silently gets group 0
    from an image without a passwd entry.

    Raises:
        ConfigError: A name other than ``root``, a negative or non-numeric id.
    """
    if isinstance(uid, bool) or isinstance(gid, bool):
        raise ConfigError.single(field, uid, "not a user id", "give a uid such as 65534")
    if isinstance(uid, str):
        text = uid.strip()
        if ":" in text:
            if gid is not None:
                raise ConfigError.single(
                    field, uid, "gid given twice", 'use user("1000:1000") or user(1000, 1000)'
                )
            text, gid = text.split(":", 1)
        uid = 0 if text == "root" else _id(text, field, "uid")
    if isinstance(gid, str):
        gid = 0 if gid.strip() == "root" else _id(gid.strip(), field, "gid")
    if not isinstance(uid, int) or not (gid is None or isinstance(gid, int)):
        raise ConfigError.single(field, uid, "not a user id", "give a uid such as 65534")
    for number, what in ((uid, "uid"), (gid, "gid")):
        if number is not None and not 0 <= number <= 2**31 - 1:
            raise ConfigError.single(
                field, number, f"{what} is out of range", "use 0 to 2147483647"
            )
    return User(uid=uid, gid=uid if gid is None else gid)


# distribution/reference grammar, simplified: [host[:port]/]path[:tag][@digest]
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"  # noqa: E501
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_IMAGE = re.compile(
    rf"{_HOST}{_PATH}(?::[\w][\w.-]{{0,127}})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{{32,}})?",
    re.ASCII,
)


def parse_image(value: object, *, field: str = "image") -> str:
    """An image reference such as ``busybox``, ``registry:5000/team/app:1.2`` or ``app@sha256:…``.

    Raises:
        ConfigError: Empty, not a string, or not a valid reference.
    """
    fix = 'give a reference such as "busybox", "busybox:1.36" or "repo/app@sha256:<digest>"'
    if not isinstance(value, str) or not value.strip():
        raise ConfigError.single(field, value, "an image reference is required", fix)
    if len(value) > 4096 or not _valid_reference(value):
        raise ConfigError.single(field, value, "not a valid image reference", fix)
    return value


@functools.lru_cache(maxsize=256)
def _valid_reference(text: str) -> bool:
    """Whether ``text`` is an image reference (cached: a program names few images)."""
    return _IMAGE.fullmatch(text) is not None


_DURATION = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>ns|us|ms|s|m|h)?")
_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
       "h": 3_600_000_000_000}  # fmt: skip


def parse_duration_ns(value: object, *, field: str) -> int:
    """Nanoseconds from seconds (int or float) or text such as ``"30s"``, ``"500ms"``.

    Raises:
        ConfigError: Not a duration, or negative.
    """
    fix = 'give seconds as a number or text such as "30s" or "500ms"'
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError.single(field, value, "not a duration", fix)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if not match or len(match["num"]) > 20:
            raise ConfigError.single(field, value, "not a duration", fix)
        return round(float(match["num"]) * _NS[match["unit"] or "s"])
    if isinstance(value, int) and not 0 <= value <= 10**9:  # before float(): it may overflow
        raise ConfigError.single(field, value, "not a duration", fix)
    if not math.isfinite(value) or value < 0 or value > 10**9:
        raise ConfigError.single(field, value, "not a duration", fix)
    return round(value * 1_000_000_000)

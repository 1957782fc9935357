"""How the builder's methods check their arguments before they make a field of them.

Each raises :class:`ConfigError` naming the field, the value and the fix, whatever it
is given; the builder records the problem and :meth:`RunBuilder.build` reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .._errors import ConfigError, show

__all__ = [
    "UNSET",
    "argv_list",
    "flag",
    "frozen_mapping",
    "string_pairs",
    "sysctl_value",
    "text",
    "whole_number",
]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: A keyword argument the caller did not give (where ``None`` means something).
UNSET: Any = _Unset()


def frozen_mapping(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of a mapping."""
    return MappingProxyType(dict(fields))


def argv_list(value: object, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError.single(
            field,
            value,
            "give the argv as a list, not one string",
            'write e.g. ["sh", "-c", "echo hi"] or shlex.split(text); no shell is implied',
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError.single(
                field, item, "every argument must be a string", "convert it with str()"
            )
    return items


def whole_number(value: object, field: str, what: str = "a whole number") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError.single(field, value, f"not {what}", f"give {what}")
    return value


def sysctl_value(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError.single("sysctl", value, "the value must be text or a whole number",
                                 "give e.g. '1' or 1")  # fmt: skip
    if isinstance(value, int) and value.bit_length() > 64:
        raise ConfigError.single("sysctl", value, "beyond the kernel's 64-bit numbers",
                                 "give a smaller number")  # fmt: skip
    return str(value)


def flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError.single(field, value, "not True or False", "give a bool")
    return value


def text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError.single(field, value, "not text", "give a string")
    return value


def string_pairs(
    field: str, mapping: Mapping[str, object] | None, extra: Mapping[str, object]
) -> dict[str, str]:
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ConfigError.single(
            field, type(mapping).__name__, "not a mapping", 'give a dict such as {"KEY": "value"}'
        )
    merged: dict[str, str] = {}
    # Each pair is checked before it is a dict key: a Mapping of our user's own may
    # hold a key no dict can (a list), which must be a ConfigError, not a TypeError.
    for key, value in (*(mapping.items() if mapping else ()), *extra.items()):
        if not isinstance(key, str) or not isinstance(value, str):
            shown = show(key) if field == "env" else f"{show(key)}={show(value)}"
            raise ConfigError.single(
                field, shown, "keys and values must be strings", "convert them with str()"
            )
        merged[key] = value
    return merged

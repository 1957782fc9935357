"""A small YAML writer for plain data, so that exports need no YAML library at run time.

It writes dicts, lists, ``str``, ``int``, ``float``, ``bool`` and ``None`` in block
style. A string is written plain only when it has nothing a YAML 1.1 or 1.2 reader
could take for another type or for syntax (a letter or ``_``/``/`` first, then
letters, digits and ``-_./``, and not a word such as ``yes``, ``off`` or ``null``);
every other string is double-quoted, with every character that is not printable
escaped (by hex code). ``tests/unit/test_yaml_emitter.py`` reads the
output back with PyYAML.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["dump", "dump_all", "scalar"]

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
#: Words a YAML 1.1 reader takes for a bool or null (1.2 keeps only some), any case.
_SPECIAL = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
_INDENT = "  "


def dump(data: Any) -> str:
    """One YAML document for ``data``, ending in a newline.

    Raises:
        TypeError: A value that is not plain data (or a key that is not a string).
    """
    return "\n".join(_node(data, 0)) + "\n"


def dump_all(documents: Iterable[Any]) -> str:
    """Several documents, each started by ``---``."""
    return "".join("---\n" + dump(d) for d in documents)


def scalar(value: Any) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)  # YAML 1.1 wants a dot in the mantissa: 1e-05 -> 1.0e-05
        mantissa, e, exponent = text.partition("e")
        return text if "." in mantissa else f"{mantissa}.0{e}{exponent}"
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _SPECIAL:
            return value
        return _quoted(value)
    raise TypeError(f"not plain data: {type(value).__name__}")


def _quoted(text: str) -> str:
    """A double-quoted scalar: printable characters as they are, the rest escaped."""
    out = []
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 0x20 <= code <= 0x7E or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029)) \
                or 0xE000 <= code <= 0xFFFD or code >= 0x10000:  # fmt: skip
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a mapping key must be a string, not {type(key).__name__}")
    return scalar(key)


def _is_collection(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and len(value) > 0


def _node(value: Any, depth: int) -> list[str]:
    """The lines of ``value`` at ``depth`` (a collection never empty here is block style)."""
    pad = _INDENT * depth
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        return [line for k, v in value.items() for line in _entry(_key(k) + ":", v, depth)]
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        return [line for item in value for line in _item(item, depth)]
    return [pad + scalar(value)]


def _entry(head: str, value: Any, depth: int) -> list[str]:
    pad = _INDENT * depth
    if _is_collection(value):
        return [pad + head, *_node(value, depth + 1)]
    text = _node(value, 0)[0]
    return [f"{pad}{head} {text}"]


def _item(item: Any, depth: int) -> list[str]:
    """A list item: ``- `` then the item, a mapping's first key on the dash's line."""
    pad = _INDENT * depth
    if not _is_collection(item):
        return [pad + "- " + _node(item, 0)[0]]
    lines = _node(item, depth + 1)
    first = lines[0][len(_INDENT * (depth + 1)):]
    return [pad + "- " + first, *lines[1:]]


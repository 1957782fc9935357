"""The rules for names of files put into a workspace or collected from it.

A name is text relative to the workspace, in ``/``-separated components: never absolute,
never a ``.`` or ``..`` component or an empty one, never a NUL or another control character
(below 0x20, or 0x7f), at most :data:`MAX_NAME` bytes of UTF-8 in all and :data:`MAX_PART`
per component. Names are exact: nothing is normalised, so ``"a//b"`` is refused rather than
read as ``"a/b"``. A trailing ``/`` names a directory: refused for a file put in, kept for a
directory to collect.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from secure_run._errors import ConfigError, Problem, show

__all__ = ["MAX_NAME", "MAX_PART", "check_collect_names", "check_input_names", "name_problems"]

#: The longest name, in bytes of UTF-8 (the whole name, slashes included).
MAX_NAME = 1024
#: The longest component of a name, in bytes of UTF-8 (Linux's NAME_MAX).
MAX_PART = 255
#: A value longer than this many characters is cut in messages.
_SHOWN = 80


def shown(name: object) -> str:
    """A name for a message: its repr, cut when long (a 10 kB name must not fill a screen)."""
    if isinstance(name, str) and len(name) > _SHOWN:
        return f"{name[:_SHOWN]!r}... ({len(name)} characters)"
    return show(name)


def refused(field: str, value: object, message: str, fix: str) -> ConfigError:
    """A ConfigError of one problem, the value shown as :func:`shown` does."""
    return ConfigError([Problem(field, shown(value), message, fix)])


def _controls(name: str) -> list[str]:
    return sorted({c for c in name if (ord(c) < 0x20 and c != "\x00") or ord(c) == 0x7F})


def _utf8_length(text: str) -> int | None:
    """The bytes of ``text`` in UTF-8, or None when it holds a lone surrogate."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def name_problems(name: object, field: str, *, directory_ok: bool = False) -> list[Problem]:
    """Every problem with one name, each naming the rule broken and the fix.

    Args:
        name: The name given.
        field: The setting it was given for (``"files"``, ``"collect"``).
        directory_ok: Whether a trailing ``/`` (a directory) is allowed.

    Returns:
        The problems found; empty when the name is good.
    """
    value = shown(name)
    if not isinstance(name, str):
        return [
            Problem(
                field,
                value,
                f"a name must be text (str), not {type(name).__name__}",
                "give the name as text relative to the workspace, like 'data/in.csv'",
            )
        ]
    if not name:
        return [
            Problem(
                field,
                value,
                "a name must not be empty",
                "name the file relative to the workspace, like 'main.sh'",
            )
        ]
    problems = _text_problems(name, field, value)
    body = name
    if name.startswith("/"):
        body = name.lstrip("/")
        problems.append(
            Problem(
                field,
                value,
                "is absolute; names are relative to the workspace",
                f"drop the leading '/': {shown(body or 'name')}",
            )
        )
    if body.endswith("/") and directory_ok:
        body = body[:-1]
    elif body.endswith("/"):
        fix = f"name the file: {shown(body.rstrip('/'))}"
        problems.append(
            Problem(
                field, value, "ends with '/', which names a directory; only files can be put", fix
            )
        )
        body = body.rstrip("/")
    if body or not problems:
        problems.extend(_part_problems(body, field, value))
    return problems


def _text_problems(name: str, field: str, value: str) -> list[Problem]:
    """Problems with the characters of a name and its length."""
    problems = []
    size = _utf8_length(name)
    if size is None:
        problems.append(
            Problem(
                field,
                value,
                "holds a lone surrogate, which is not valid text and cannot be written in UTF-8",
                "use only valid text in names",
            )
        )
    elif size > MAX_NAME:
        problems.append(
            Problem(
                field,
                value,
                f"is {size} bytes long in UTF-8, over the limit "
                f"of {MAX_NAME} bytes for a whole name",
                "use a shorter name",
            )
        )
    if "\x00" in name:
        problems.append(
            Problem(
                field, value, "holds a NUL byte, which no file name can hold", "remove the '\\x00'"
            )
        )
    controls = _controls(name)
    if controls:
        listed = ", ".join(repr(c) for c in controls)
        problems.append(
            Problem(
                field,
                value,
                f"holds the control character(s) {listed}; "
                "characters below 0x20 and 0x7f are refused in names",
                "remove them; use only printable characters",
            )
        )
    return problems


def _part_problems(body: str, field: str, value: str) -> list[Problem]:
    """Problems with the components of a name (no leading or trailing slash left)."""
    parts = body.split("/")
    kept = "/".join(p for p in parts if p not in ("", "."))
    problems = []
    if ".." in parts:
        problems.append(
            Problem(
                field,
                value,
                "has a '..' component; a name must stay inside the workspace",
                "name the path inside the workspace, no '..'",
            )
        )
    if "." in parts:
        problems.append(
            Problem(
                field,
                value,
                "has a '.' component; names are exact and are not normalised",
                f"drop it: {shown(kept or 'name')}",
            )
        )
    if "" in parts:
        fix = f"use single slashes: {shown(kept or 'name')}"
        problems.append(
            Problem(
                field,
                value,
                "has an empty component ('//'); names are exact and are not normalised",
                fix,
            )
        )
    long = [p for p in parts if (_utf8_length(p) or 0) > MAX_PART]
    if long:
        problems.append(
            Problem(
                field,
                value,
                f"has a component of {_utf8_length(long[0])} bytes "
                f"in UTF-8, over the limit of {MAX_PART} bytes per component",
                f"shorten {shown(long[0])}",
            )
        )
    return problems


def _listed(names: object, field: str, example: str) -> list[object]:
    """The names as a list; a bare string or a non-iterable is refused."""
    if isinstance(names, (str, bytes)):
        text = names.decode("utf-8", "replace") if isinstance(names, bytes) else names
        raise refused(
            field,
            names,
            f"is one name given as text; {field} takes a list of names",
            f"{field}=[{json.dumps(text)}]",
        )
    if not isinstance(names, Iterable):
        raise refused(field, names, "must be a list of names", f"{field}=[{json.dumps(example)}]")
    return list(names)


def _clashes(names: list[str], field: str) -> list[Problem]:
    """Names given twice, and a file that is also the directory of another name."""
    problems = []
    seen: set[str] = set()
    parents: dict[str, str] = {}
    for name in names:
        parts = name.rstrip("/").split("/")
        for i in range(1, len(parts)):
            parents.setdefault("/".join(parts[:i]), name)
    files = {n for n in names if not n.endswith("/")}
    for name in names:
        if name in seen:
            problems.append(Problem(field, shown(name), "is given twice", "give each name once"))
            continue
        seen.add(name)
        if name in parents:
            problems.append(
                Problem(
                    field,
                    shown(name),
                    f"is a file, but also a directory of {shown(parents[name])}",
                    "rename one of them",
                )
            )
        elif name.endswith("/") and name[:-1] in files:
            problems.append(
                Problem(
                    field,
                    shown(name),
                    f"is a directory, but {shown(name[:-1])} is given as a file",
                    "give it once, as a file or a directory",
                )
            )
    return problems


def check_input_names(names: Iterable[object], field: str = "files") -> list[str]:
    """Check the names of files to put in a workspace, every problem at once.

    Args:
        names: The names, relative to the workspace.
        field: The setting they were given for, in messages.

    Returns:
        The names, unchanged, in the order given.

    Raises:
        ConfigError: Listing every problem of every name: a bad name, a name given twice,
            or a name that is also the directory of another (``"a"`` and ``"a/b"``).
    """
    listed = _listed(names, field, "main.sh")
    problems = [p for name in listed for p in name_problems(name, field)]
    good = [n for n in listed if isinstance(n, str) and not name_problems(n, field)]
    problems.extend(_clashes(good, field))
    if problems:
        raise ConfigError(problems)
    return good


def check_collect_names(names: Iterable[object], field: str = "collect") -> list[str]:
    """Check the names to collect from a workspace, every problem at once.

    A trailing ``/`` names a directory, whose whole tree is collected; it is kept.

    Args:
        names: The names, relative to the workspace; a bare string is refused.
        field: The setting they were given for, in messages.

    Returns:
        The names, unchanged, in the order given.

    Raises:
        ConfigError: Listing every problem of every name, as :func:`check_input_names`.
    """
    listed = _listed(names, field, "out.txt")
    problems = [p for name in listed for p in name_problems(name, field, directory_ok=True)]
    good = [
        n for n in listed if isinstance(n, str) and not name_problems(n, field, directory_ok=True)
    ]
    problems.extend(_clashes(good, field))
    if problems:
        raise ConfigError(problems)
    return good

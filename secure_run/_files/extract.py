"""Writing a checked tree of files under a host directory, never through a link.

:func:`secure_run._files.tar_out.extract_tree` checks the archive first; this module
writes what it kept. Each directory is opened component by component with
``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's descriptor, and each file is created
under a fresh name with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and renamed over its place, so a
link already inside the target (planted by anyone) is never followed, and an existing
file hard-linked elsewhere is replaced, never truncated. No ``tarfile`` extraction and no
filter is used: the guarantees are the same on every Python from 3.9.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from secure_run._files.names import refused

__all__ = ["Node", "nest", "obstacles", "open_into", "write_tree"]

_COPY = 1 << 16
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Node:
    """One name in a tree: a file or a directory, given by an entry or implied by one."""

    __slots__ = ("children", "given", "kind", "member")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "dir" or "file"
        self.given = False
        self.children: dict[str, Node] = {}
        self.member: tuple[int, int, int] = (0, 0, 0)  # (mode, offset, size) of a file


def open_into(into: object) -> int:
    """A descriptor of the existing directory ``into`` (a link to one is the caller's choice)."""
    try:
        path = os.fspath(into)  # type: ignore[call-overload]
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except (OSError, TypeError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise refused(
            "into",
            into,
            f"must be an existing directory ({why})",
            "create the directory first, and pass its path",
        ) from None


def nest(parents: list[str], top: Node) -> Node:
    """The tree, under the directories of the requested name's parents (``x/results``)."""
    for part in reversed(parents):
        outer = Node("dir")
        outer.children[part] = top
        top = outer
    return top


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file"


def obstacles(dir_fd: int, node: Node, where: str) -> Iterator[str]:
    """What in the existing directory ``dir_fd`` is in the way of ``node``'s children."""
    for part, child in node.children.items():
        path = where + part
        try:
            info = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # made fresh: nothing below it exists
        except OSError as exc:
            yield f"{path!r} cannot be examined ({exc.strerror})"
            continue
        if child.kind == "file":
            if not stat.S_ISREG(info.st_mode):
                yield f"{path!r} is {_kind(info.st_mode)}, where a file goes"
            continue
        if not stat.S_ISDIR(info.st_mode):
            yield f"{path!r} is {_kind(info.st_mode)}, where a directory goes"
            continue
        try:
            inner = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            yield f"{path!r} cannot be opened as a directory ({exc.strerror})"
            continue
        try:
            yield from obstacles(inner, child, path + "/")
        finally:
            os.close(inner)


def write_tree(dir_fd: int, node: Node, at: Path, spool: IO[bytes], written: list[Path]) -> None:
    """Make ``node``'s children in ``dir_fd``, never through a link."""
    for part, child in node.children.items():
        if child.kind == "file":
            _write_file(dir_fd, part, child.member, spool)
            written.append(at / part)
            continue
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=dir_fd)
        try:
            inner = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise refused(
                "into",
                str(at / part),
                f"changed while the tree was written: it is no longer a directory ({exc.strerror})",
                "extract into a directory nothing else writes to",
            ) from None
        try:
            write_tree(inner, child, at / part, spool, written)
        finally:
            os.close(inner)


def _write_file(dir_fd: int, part: str, member: tuple[int, int, int], spool: IO[bytes]) -> None:
    """Write one file under a fresh name, then rename it over ``part``."""
    mode, offset, size = member
    temporary = f".secure-run-{secrets.token_hex(8)}.part"
    fd = os.open(temporary, _NEW_FILE, 0o600, dir_fd=dir_fd)
    try:
        try:
            spool.seek(offset)
            left = size
            while left > 0:
                block = spool.read(min(left, _COPY))
                if not block:
                    raise OSError("the spooled archive ended early")
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view) :]
                left -= len(block)
            os.fchmod(fd, mode | 0o600)
        finally:
            os.close(fd)
        os.replace(temporary, part, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise

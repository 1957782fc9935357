"""The archive of files to put into a workspace, built on the host before the engine sees it.

Every name and every value is checked first, and all problems are raised together as one
:class:`~secure_run.ConfigError`. Host files are measured (``stat``) before any is read, so
a file too large for the workspace is refused unread, and a FIFO or device is never opened
(opening a FIFO blocks until a writer comes). Each file is read once, through a descriptor
opened without blocking and checked again to be the regular file that was measured.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
import time
from collections.abc import Mapping
from typing import Union

from secure_run._errors import ConfigError, Problem
from secure_run._files.names import check_input_names, refused, shown

__all__ = ["input_archive"]

#: What a value of ``files`` may be: the content itself, or the path of a host file.
Content = Union[bytes, bytearray, memoryview, "os.PathLike[str]"]

_CONTENT_FIX = "give the content as bytes (text.encode()) or a pathlib.Path to a host file"
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class _Source:
    """One file to put: its bytes, or the host file it is read from, and its size and mode."""

    def __init__(
        self,
        name: str,
        size: int,
        mode: int,
        data: bytes | None = None,
        path: str | None = None,
        identity: tuple[int, int] = (0, 0),
    ) -> None:
        self.name, self.size, self.mode = name, size, mode
        self.data, self.path, self.identity = data, path, identity


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _measure(name: str, value: object, field: str) -> _Source | Problem:
    """The size and mode of one value, from its length or a stat; nothing is read."""
    if isinstance(value, (bytes, bytearray)):
        return _Source(name, len(value), 0o644, data=bytes(value))
    if isinstance(value, memoryview):
        return _Source(name, value.nbytes, 0o644, data=value.tobytes())
    if isinstance(value, str):
        return Problem(
            field,
            shown(name),
            "its value is text (str), which could be content or a path",
            _CONTENT_FIX,
        )
    if not isinstance(value, os.PathLike):
        return Problem(
            field,
            shown(name),
            f"its value must be bytes or a path to a host file, not {type(value).__name__}",
            _CONTENT_FIX,
        )
    path = os.fspath(value)
    text = os.fsdecode(path)
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Problem(
            field,
            shown(name),
            f"its host file {text!r} cannot be read: {why}",
            "give the path of an existing, readable host file",
        )
    if not stat.S_ISREG(info.st_mode):
        return Problem(
            field,
            shown(name),
            f"its host path {text!r} is {_kind(info.st_mode)}; only regular files can be put",
            "put each regular file by its own name",
        )
    mode = 0o755 if info.st_mode & stat.S_IXUSR else 0o644
    return _Source(
        name, info.st_size, mode, path=os.fsdecode(path), identity=(info.st_dev, info.st_ino)
    )


def _read(source: _Source, field: str) -> Problem | None:
    """Read a measured host file into ``source.data``; a file that changed is a problem."""
    path = source.path or ""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return Problem(
            field,
            shown(source.name),
            f"its host file {source.path!r} cannot be opened: {exc.strerror}",
            "give the path of a readable host file",
        )
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != source.identity or not stat.S_ISREG(info.st_mode):
            raise OSError(errno.ESTALE, "it was replaced after it was measured")
        chunks, left = [], source.size + 1  # one byte more shows a file that grew
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) != source.size:
            raise OSError(
                errno.ESTALE, f"it changed size while read ({source.size} bytes when measured)"
            )
    except OSError as exc:
        return Problem(
            field,
            shown(source.name),
            f"its host file {source.path!r} could not be read: {exc.strerror}",
            "leave the file unchanged while it is put",
        )
    finally:
        os.close(fd)
    source.data = data
    return None


def _check_total(sources: list[_Source], max_total: int, field: str) -> Problem | None:
    total = sum(s.size for s in sources)
    if total <= max_total:
        return None
    return Problem(
        field,
        f"{len(sources)} files of {total} bytes",
        f"the files total {total} bytes, over the workspace's {max_total} bytes",
        f"the workspace holds {max_total} bytes: raise .workspace(size=...) or put less",
    )


def input_archive(
    files: Mapping[str, Content], *, uid: int, gid: int, max_total: int, field: str = "files"
) -> bytes:
    """An uncompressed tar of ``files`` with their parent directories, owned by ``uid:gid``.

    Directories get mode 0o755; files 0o644, or 0o755 for a host file its owner may run.

    Args:
        files: Name (relative to the workspace) to content: bytes, or a path to a regular
            host file.
        uid: The owner of every entry.
        gid: The group of every entry.
        max_total: The most bytes the files may total (the workspace's size).
        field: The setting the files were given for, in messages.

    Returns:
        The archive, for the engine's ``put_archive``.

    Raises:
        ConfigError: The names' problems; else every value's problem at once (not bytes
            nor a path, a host path that is missing or not a regular file, a total over
            ``max_total``); else a host file that could not be read or changed meanwhile.
    """
    if not isinstance(files, Mapping):
        raise refused(
            field,
            files,
            "must be a mapping of name to content",
            f'{field}={{"main.sh": b"echo hi"}}',
        )
    names = check_input_names(list(files), field)
    measured = [_measure(name, files[name], field) for name in names]
    problems = [m for m in measured if isinstance(m, Problem)]
    sources = [m for m in measured if isinstance(m, _Source)]
    over = _check_total(sources, max_total, field)
    if over is not None:
        problems.append(over)
    if problems:
        raise ConfigError(problems)
    read = [_read(s, field) for s in sources if s.data is None]
    problems = [p for p in read if p is not None]
    if problems:
        raise ConfigError(problems)
    return _tar(sources, uid, gid)


def _tar(sources: list[_Source], uid: int, gid: int) -> bytes:
    """The archive: each file after its parent directories, each directory once."""
    now = int(time.time())
    buffer = io.BytesIO()
    made: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for source in sources:
            parts = source.name.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent not in made:
                    made.add(parent)
                    tar.addfile(_entry(parent, tarfile.DIRTYPE, 0o755, 0, uid, gid, now))
            data = source.data or b""
            entry = _entry(source.name, tarfile.REGTYPE, source.mode, len(data), uid, gid, now)
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def _entry(
    name: str, kind: bytes, mode: int, size: int, uid: int, gid: int, mtime: int
) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.mode, entry.size = kind, mode, size
    entry.uid, entry.gid, entry.mtime = uid, gid, mtime
    entry.uname = entry.gname = ""
    return entry

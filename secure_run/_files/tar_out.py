"""Reading what comes out of a sandbox: archives written by an attacker, treated so.

The engine sends a tar stream for a path. Everything here reads it as hostile:

- the stream is capped (:func:`capped`) before tarfile sees a byte, so no header trick
  makes the host read or buffer more than the caps allow;
- each entry's header is checked before its content is read: the size against
  ``max_size``, the running total against ``max_total``, the count against
  ``max_entries`` (each cap fails at once, at the first entry past it);
- only regular files and directories are accepted, under plain relative names inside
  the requested directory. A link (symbolic or hard), a device, a FIFO, a sparse file,
  an absolute name, a ``..``, ``.`` or empty component, a name outside the request, or a
  name clash (given twice, or a file with entries inside it) is refused: every such
  entry is listed in one :class:`~secure_run.UnsafeArchive`, and nothing is returned or
  written;
- :func:`extract_tree` writes with its own code, never tarfile's extraction: each
  directory is opened component by component with ``O_NOFOLLOW`` relative to its
  parent's descriptor, and each file is created under a fresh name with ``O_EXCL``
  and renamed into place, so no link already inside ``into`` (planted by anyone) is
  ever followed, and no file outside is ever truncated through a hard link. This gives
  the same guarantees on every Python from 3.9, with or without tarfile's filters.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

from secure_run._errors import (
    ConfigError,
    OutputTooLarge,
    Problem,
    SandboxFileNotFound,
    SecureRunError,
    UnsafeArchive,
)
from secure_run._files.extract import Node, nest, obstacles, open_into, write_tree
from secure_run._files.names import MAX_PART, name_problems, refused, shown

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_MAX_TOTAL",
    "CappedStream",
    "capped",
    "check_read",
    "extract_tree",
    "read_file",
    "read_tree",
]

DEFAULT_MAX_SIZE = 10_000_000
DEFAULT_MAX_TOTAL = 100_000_000
DEFAULT_MAX_ENTRIES = 10_000

#: Bytes of headers allowed in a stream beyond its content (PAX records, padding, the end).
HEADER_ALLOWANCE = 1 << 20
#: Bytes of headers allowed per entry of a tree (a header, a PAX header, padding).
ENTRY_ALLOWANCE = 2048
#: The longest entry name accepted, in bytes (Linux's PATH_MAX).
MAX_PATH = 4096
#: The deepest entry accepted, in components (a deeper one is refused as unsafe).
MAX_DEPTH = 128

_COPY = 1 << 16

#: An example of each cap's value, for the fix of a bad one.
_CAP_EXAMPLES = {
    "max_size": DEFAULT_MAX_SIZE,
    "max_total": DEFAULT_MAX_TOTAL,
    "max_entries": DEFAULT_MAX_ENTRIES,
}


#: ``check_read``'s ``into`` when the read writes no host directory (``get``).
_NO_INTO = object()


def check_read(
    name: object, field: str, caps: Mapping[str, object], into: object = _NO_INTO
) -> str:
    """Check a read's name, caps and target directory, every problem at once.

    Called by ``get`` and ``get_tree`` before the engine is contacted.

    Args:
        name: The workspace name asked for (a trailing ``/`` allowed).
        field: The call, in messages (``"get"``, ``"get_tree"``).
        caps: Each cap by its argument's name (``max_size``, ``max_total``,
            ``max_entries``): a whole number, 0 or more, not a bool.
        into: For ``get_tree``, the host directory to write into (must exist).

    Returns:
        The name, unchanged.

    Raises:
        ConfigError: Listing every problem.
    """
    problems = name_problems(name, field, directory_ok=True)
    for cap, value in caps.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            what = "a count of entries" if cap == "max_entries" else "a byte count"
            example = f"give e.g. {cap}={_CAP_EXAMPLES.get(cap, 1000):_}"
            problems.append(Problem(cap, shown(value), f"not {what} (0 or more)", example))
    if into is not _NO_INTO:
        try:
            os.close(open_into(into))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return str(name)


class CappedStream(io.RawIOBase):
    """A readable file over an iterator of byte chunks that stops past a byte limit.

    It holds one chunk at a time, and raises :class:`~secure_run.OutputTooLarge` as soon
    as the bytes received pass the limit, before handing any of the last chunk on. When
    closed (or past the limit) it closes the chunk iterator if it can be closed, so a
    response from the engine is released.
    """

    def __init__(self, chunks: Iterable[bytes], limit: int, what: str, *,
                 cap: str = "max_total", shown_limit: int | None = None,
                 detail: str = "") -> None:  # fmt: skip
        super().__init__()
        self._source = chunks
        self._chunks = iter(chunks)
        self._limit, self._what, self._cap = limit, what, cap
        self._shown_limit = limit if shown_limit is None else shown_limit
        self._detail = detail
        self._chunk = memoryview(b"")
        self._done = False
        #: Bytes received from the iterator so far.
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        while not self._chunk:
            if self._done:
                return 0
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
                return 0
            self.received += len(chunk)
            if self.received > self._limit:
                self._done = True
                self._release()
                detail = self._detail or f"more than {self._limit} bytes arrived"
                raise OutputTooLarge(self._what, self._cap, self._shown_limit, detail)
            self._chunk = memoryview(chunk).cast("B")
        count = min(len(view), len(self._chunk))
        view[:count] = self._chunk[:count]
        self._chunk = self._chunk[count:]
        return count

    def _release(self) -> None:
        self._chunk = memoryview(b"")
        close = getattr(self._source, "close", None) or getattr(self._chunks, "close", None)
        if callable(close):
            close()

    def close(self) -> None:
        if not self.closed:
            self._release()
        super().close()


def capped(chunks: Iterable[bytes], limit: int, what: str) -> CappedStream:
    """A readable file over ``chunks`` that raises past ``limit`` bytes.

    Args:
        chunks: The byte chunks, as docker's ``get_archive`` yields them.
        limit: The most bytes to accept.
        what: What is read, for the error.

    Returns:
        A raw, read-only file object.

    Raises:
        OutputTooLarge: From a read, as soon as more than ``limit`` bytes have arrived
            (``cap="max_total"``).
    """
    return CappedStream(chunks, limit, what)


def _open_tar(stream: CappedStream) -> tarfile.TarFile:
    return tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape")


def _empty(tar: tarfile.TarFile) -> bool:
    """Whether the archive has no entry at all (it is known once open).

    Asked again, an empty stream makes tarfile seek backwards on 3.9 (a StreamError).
    """
    return getattr(tar, "firstmember", True) is None


def _unreadable(name: str, exc: Exception) -> UnsafeArchive:
    return UnsafeArchive([(name, f"not a readable tar archive ({type(exc).__name__}: {exc})")])


def _refusal(entry: tarfile.TarInfo) -> str | None:
    """Why an entry's type is refused, or None for a regular file or a directory."""
    if entry.issparse():
        return "a sparse file; the engine never sends one"
    if entry.isreg() or entry.isdir():
        return None
    if entry.issym():
        return (f"a symbolic link to {shown(entry.linkname)}; secure_run never follows "
                "links out of a sandbox")  # fmt: skip
    if entry.islnk():
        return (f"a hard link to {shown(entry.linkname)}; secure_run never follows links "
                "out of a sandbox")  # fmt: skip
    kinds = {tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device",
             tarfile.FIFOTYPE: "a FIFO"}  # fmt: skip
    return kinds.get(entry.type, f"an entry of unknown type {entry.type!r}")


def _name_refusal(name: str, base: str) -> str | None:
    """Why an entry's name is refused, or None for a plain name under ``base``."""
    if "\x00" in name:
        return "its name holds a NUL byte"
    if name.startswith("/"):
        return "an absolute name; names must be relative"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' component, which points outside"
    if "" in parts or "." in parts:
        return "an empty or '.' component; names must be exact"
    if len(os.fsencode(name)) > MAX_PATH or len(parts) > MAX_DEPTH:
        return f"a name over {MAX_PATH} bytes or {MAX_DEPTH} components"
    if any(len(os.fsencode(p)) > MAX_PART for p in parts):
        return f"a component over {MAX_PART} bytes"
    if parts[0] != base:
        return f"outside the requested directory {shown(base)}"
    return None


def read_file(chunks: Iterable[bytes], name: str, *, max_size: int) -> bytes:
    """The content of the one regular file in the engine's archive of ``name``.

    Args:
        chunks: The archive's byte chunks (docker's ``get_archive`` stream).
        name: The path asked for, relative to the workspace; the archive's one entry is
            named by its last component.
        max_size: The most bytes the file may hold.

    Returns:
        The file's content.

    Raises:
        UnsafeArchive: The entry is a link (its text is given, never its target's
            content), a device, a FIFO, or not the entry asked for, or the archive is
            not a readable tar.
        SandboxFileNotFound: The entry is a directory, or the archive holds no entry.
        OutputTooLarge: The file is over ``max_size`` (seen in its header: nothing of it
            is read), or the stream is.
    """
    base = posixpath.basename(name.rstrip("/"))
    limit = max_size + HEADER_ALLOWANCE
    detail = f"the archive passed {limit} bytes, {HEADER_ALLOWANCE} more than the file may hold"
    stream = CappedStream(chunks, limit, name, cap="max_size", shown_limit=max_size,
                          detail=detail)  # fmt: skip
    try:
        with stream, _open_tar(stream) as tar:
            entry = None if _empty(tar) else tar.next()
            if entry is None:
                raise SandboxFileNotFound(f"{name!r}: the engine's archive of it holds no entry")
            _check_single(entry, name, base, max_size)
            data = _content(tar, entry)
            extra = tar.next()
            if extra is not None:
                raise UnsafeArchive([(extra.name, f"a second entry; the archive of {name!r} "
                                                  "must hold one")])  # fmt: skip
            return data
    except SecureRunError:
        raise
    except (tarfile.TarError, ValueError, UnicodeError, EOFError, OverflowError) as exc:
        raise _unreadable(name, exc) from exc


def _check_single(entry: tarfile.TarInfo, name: str, base: str, max_size: int) -> None:
    if entry.name != base or entry.name.startswith("/"):
        raise UnsafeArchive([(entry.name, f"not the entry asked for ({shown(base)})")])
    if entry.isdir():
        raise SandboxFileNotFound(f"{name!r} is a directory, not a file; get its files with "
                                  f"get_tree({(name.rstrip('/') + '/')!r})")  # fmt: skip
    refusal = _refusal(entry)
    if refusal is not None:
        raise UnsafeArchive([(name, refusal)])
    if entry.size < 0:
        raise UnsafeArchive([(name, f"a negative size ({entry.size}) in its header")])
    if entry.size > max_size:
        raise OutputTooLarge(name, "max_size", max_size, f"the file is {entry.size} bytes")


def _content(tar: tarfile.TarFile, entry: tarfile.TarInfo) -> bytes:
    source = tar.extractfile(entry)
    if source is None:  # pragma: no cover (only regular files are read)
        return b""
    data = source.read()
    if len(data) != entry.size:
        raise tarfile.ReadError("unexpected end of data")
    return data


#: What a tree scan does with a regular file's content: (path, content, size) -> where kept.
Keep = Callable[[str, IO[bytes], int], int]


class _TreeScan:
    """One pass over a tree's archive: caps enforced, bad entries listed, files kept."""

    def __init__(self, name: str, max_size: int, max_total: int, max_entries: int) -> None:
        self.name = name
        self.root = name.rstrip("/")
        self.base = posixpath.basename(self.root)
        self.prefix = self.root[: len(self.root) - len(self.base)]
        self.max_size, self.max_total, self.max_entries = max_size, max_total, max_entries
        self.bad: list[tuple[str, str]] = []
        self.top = Node("dir")
        self.count = self.total = 0

    def stream(self, chunks: Iterable[bytes]) -> CappedStream:
        limit = self.max_total + HEADER_ALLOWANCE + self.max_entries * ENTRY_ALLOWANCE
        detail = (f"the archive passed {limit} bytes, max_total plus {HEADER_ALLOWANCE} and "
                  f"{ENTRY_ALLOWANCE} per entry allowed for headers")  # fmt: skip
        return CappedStream(chunks, limit, self.name, shown_limit=self.max_total, detail=detail)

    def run(self, chunks: Iterable[bytes], keep: Keep) -> Node:
        """Read the whole archive; raise the first cap passed, or every bad entry at once."""
        stream = self.stream(chunks)
        try:
            with stream, _open_tar(stream) as tar:
                for entry in () if _empty(tar) else tar:
                    self.entry(tar, entry, keep)
        except SecureRunError:
            raise
        except (tarfile.TarError, ValueError, UnicodeError, EOFError, OverflowError) as exc:
            self.bad.append((self.name, f"not a readable tar archive ({type(exc).__name__}: "
                                        f"{exc})"))  # fmt: skip
        if self.bad:
            raise UnsafeArchive(self.bad)
        return self.top

    def entry(self, tar: tarfile.TarFile, entry: tarfile.TarInfo, keep: Keep) -> None:
        """Check one entry, and keep its content if it is a good regular file."""
        self.count += 1
        if self.count > self.max_entries:
            raise OutputTooLarge(self.name, "max_entries", self.max_entries,
                                 f"stopped at entry {self.count}{self._also()}")  # fmt: skip
        raw = entry.name
        if entry.isdir() and raw.endswith("/") and raw != "/":
            raw = raw[:-1]  # a directory may keep its slash in a PAX path record
        refusal = _name_refusal(raw, self.base) or _refusal(entry)
        path = self.prefix + raw if not raw.startswith("/") else raw
        if refusal is None and entry.isreg() and entry.size < 0:
            refusal = f"a negative size ({entry.size}) in its header"
        if refusal is None:
            refusal = self._place(raw.split("/"), entry)
        if refusal is not None:
            self.bad.append((path, refusal))
            return
        if entry.isdir():
            return
        if raw == self.base:
            raise SandboxFileNotFound(f"{self.name!r} is a file, not a directory; get it with "
                                      f"get({self.root!r})")  # fmt: skip
        if entry.size > self.max_size:
            raise OutputTooLarge(path, "max_size", self.max_size,
                                 f"the file is {entry.size} bytes{self._also()}")  # fmt: skip
        self.total += entry.size
        if self.total > self.max_total:
            raise OutputTooLarge(
                self.name,
                "max_total",
                self.max_total,
                f"its files reach {self.total} bytes at {path!r}{self._also()}",
            )
        if not self.bad:  # once anything is refused, nothing more is kept
            source = tar.extractfile(entry)
            if source is None:  # pragma: no cover (tarfile gives a file for a regular entry)
                raise tarfile.ReadError(f"no content for {path!r}")
            offset = keep(path, source, entry.size)
            self._node(raw.split("/")).member = (entry.mode & 0o755, offset, entry.size)

    def _also(self) -> str:
        if not self.bad:
            return ""
        return f" (and {len(self.bad)} entries were refused as unsafe before it)"

    def _node(self, parts: list[str]) -> Node:
        node = self.top
        for part in parts:
            node = node.children[part]
        return node

    def _place(self, parts: list[str], entry: tarfile.TarInfo) -> str | None:
        """Put an entry in the tree; why not, when its name clashes with an earlier one."""
        node = self.top
        for depth, part in enumerate(parts[:-1], 1):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Node("dir")
            elif child.kind == "file":
                return f"inside {shown(self.prefix + '/'.join(parts[:depth]))}, which is a file"
            node = child
        kind = "dir" if entry.isdir() else "file"
        child = node.children.get(parts[-1])
        if child is not None and child.given:
            return "given twice in the archive"
        if child is not None and kind == "file":
            return "a file, but earlier entries are inside it"
        if child is None:
            child = node.children[parts[-1]] = Node(kind)
        child.given = True
        return None


def read_tree(chunks: Iterable[bytes], name: str, *, max_size: int, max_total: int,
              max_entries: int) -> dict[str, bytes]:  # fmt: skip
    """Every regular file in the engine's archive of directory ``name``.

    Args:
        chunks: The archive's byte chunks (docker's ``get_archive`` stream).
        name: The directory asked for, relative to the workspace (a trailing ``/`` is
            allowed); the archive's entries are under its last component.
        max_size: The most bytes one file may hold.
        max_total: The most bytes all files may hold together.
        max_entries: The most entries (files, directories, anything) the archive may hold.

    Returns:
        Each file's content, by its path relative to the workspace
        (``"results/a/b.txt"``); directories give no key.

    Raises:
        UnsafeArchive: Listing every refused entry (see the module's docstring); nothing
            is returned.
        OutputTooLarge: At the first cap passed (each file's header is read before its
            content).
        SandboxFileNotFound: ``name`` is a file, not a directory.
    """
    files: dict[str, bytes] = {}

    def keep(path: str, source: IO[bytes], size: int) -> int:
        files[path] = source.read(size)
        if len(files[path]) != size:
            raise tarfile.ReadError("unexpected end of data")
        return 0

    _TreeScan(name, max_size, max_total, max_entries).run(chunks, keep)
    return files


def extract_tree(chunks: Iterable[bytes], name: str, into: os.PathLike[str] | str, *,
                 max_size: int, max_total: int, max_entries: int) -> list[Path]:  # fmt: skip
    """Write the files of the engine's archive of directory ``name`` under ``into``.

    The whole stream is first read (capped) into a spooled temporary file and every
    entry checked; nothing is written unless all are good. Each entry goes to
    ``into/<its path relative to the workspace>``: ``name="results/"`` gives
    ``into/results/...``. Files get the entry's mode masked with 0o755 (never setuid,
    setgid or sticky), plus read and write for their owner; nothing is chowned. An
    existing file of the same name is replaced; an existing directory is kept.

    Args:
        chunks: The archive's byte chunks (docker's ``get_archive`` stream).
        name: The directory asked for, relative to the workspace.
        into: An existing host directory.
        max_size: The most bytes one file may hold.
        max_total: The most bytes all files may hold together.
        max_entries: The most entries the archive may hold.

    Returns:
        The files written, in the archive's order.

    Raises:
        UnsafeArchive: As :func:`read_tree`; nothing is written.
        OutputTooLarge: As :func:`read_tree`; nothing is written.
        SandboxFileNotFound: ``name`` is a file, not a directory.
        ConfigError: ``into`` is not an existing directory, or something in it is in the
            way: a link, or a file where a directory goes (or the reverse). Nothing is
            written when this is found before writing; when something in ``into``
            changes during the writing, the files written so far are left.
    """
    into_fd = open_into(into)
    try:
        with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:

            def keep(path: str, source: IO[bytes], size: int) -> int:
                offset = spool.tell()
                left = size
                while left > 0:
                    block = source.read(min(left, _COPY))
                    if not block:
                        raise tarfile.ReadError("unexpected end of data")
                    spool.write(block)
                    left -= len(block)
                return offset

            scan = _TreeScan(name, max_size, max_total, max_entries)
            tree = nest(scan.prefix.split("/")[:-1], scan.run(chunks, keep))
            problems = list(obstacles(into_fd, tree, ""))
            if problems:
                more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
                raise refused("into", str(into), "cannot hold the tree: "
                                         + "; ".join(problems[:10]) + more,
                                         "extract into an empty directory")  # fmt: skip
            written: list[Path] = []
            write_tree(into_fd, tree, Path(into), spool, written)
            return written
    finally:
        os.close(into_fd)

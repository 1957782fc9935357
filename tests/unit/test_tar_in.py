"""The archive of files put into a workspace (secure_run._files.tar_in)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest

from secure_run import ConfigError
from secure_run._files import tar_in
from secure_run._files.tar_in import input_archive

UID, GID = 65534, 65533
BIG = 10**9


def members(archive: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """Each entry of ``archive`` by name, with its content."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for entry in tar:
            data = tar.extractfile(entry).read() if entry.isreg() else b""  # type: ignore[union-attr]
            found[entry.name] = (entry, data)
    return found


def test_files_come_with_their_parent_directories_once_each():
    """Each file is in the tar after its parent directories; each directory is there once."""
    archive = input_archive({"a/b/c.txt": b"1", "a/b/d.txt": b"2", "e.txt": b"3"},
                            uid=UID, gid=GID, max_total=BIG)  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
    assert names == ["a", "a/b", "a/b/c.txt", "a/b/d.txt", "e.txt"]


def test_entries_are_owned_by_the_user_with_fixed_modes_and_a_fresh_mtime():
    """Dirs are 0o755 and files 0o644, all owned uid:gid, dated now, content as given."""
    before = int(time.time())
    found = members(input_archive({"d/f": b"hello"}, uid=UID, gid=GID, max_total=BIG))
    directory, _ = found["d"]
    file, data = found["d/f"]
    assert directory.isdir()
    assert directory.mode == 0o755
    assert file.isreg()
    assert file.mode == 0o644
    assert data == b"hello"
    for entry in (directory, file):
        assert (entry.uid, entry.gid) == (UID, GID)
        assert before <= entry.mtime <= time.time() + 1


def test_bytes_like_values_are_accepted():
    """bytes, bytearray and memoryview give the same content."""
    found = members(input_archive({"a": b"xy", "b": bytearray(b"xy"), "c": memoryview(b"xy")},
                                  uid=UID, gid=GID, max_total=BIG))  # fmt: skip
    assert [found[n][1] for n in "abc"] == [b"xy"] * 3


def test_a_host_file_is_read_and_keeps_its_owner_execute_bit(tmp_path):
    """A Path's content is put; an owner-executable file gets 0o755, another 0o644."""
    run, data = tmp_path / "run.sh", tmp_path / "data.bin"
    run.write_bytes(b"#!/bin/sh\n")
    run.chmod(0o700)
    data.write_bytes(b"\x00\x01")
    data.chmod(0o600)
    found = members(input_archive({"run.sh": run, "data.bin": data}, uid=UID, gid=GID,
                                  max_total=BIG))  # fmt: skip
    assert (found["run.sh"][0].mode, found["run.sh"][1]) == (0o755, b"#!/bin/sh\n")
    assert (found["data.bin"][0].mode, found["data.bin"][1]) == (0o644, b"\x00\x01")


def test_non_ascii_and_long_names_survive_the_archive():
    """A non-ASCII name and a 1000-byte name come out of the tar exactly as given."""
    long = "/".join(["n" * 199] * 5)
    found = members(input_archive({"é/ü.txt": b"1", long: b"2"}, uid=UID, gid=GID,
                                  max_total=BIG))  # fmt: skip
    assert found["é/ü.txt"][1] == b"1"
    assert found[long][1] == b"2"


def test_names_are_checked_before_values():
    """A bad name is raised alone, before any value is looked at."""
    with pytest.raises(ConfigError) as caught:
        input_archive({"../x": b"", "ok": 5}, uid=UID, gid=GID, max_total=BIG)  # type: ignore[dict-item]
    assert [p.value for p in caught.value.problems] == ["'../x'"]


def test_every_bad_value_is_raised_at_once(tmp_path):
    """Text, a number, a missing path, a directory and a device are all listed together."""
    files = {"text": "echo hi", "number": 5, "missing": tmp_path / "nope",
             "folder": tmp_path, "device": Path("/dev/null")}  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        input_archive(files, uid=UID, gid=GID, max_total=BIG)  # type: ignore[arg-type]
    by_name = {p.value: p.message for p in caught.value.problems}
    assert set(by_name) == {repr(n) for n in files}
    assert "could be content or a path" in by_name["'text'"]
    assert "not int" in by_name["'number'"]
    assert "No such file" in by_name["'missing'"]
    assert "a directory" in by_name["'folder'"]
    assert "a device" in by_name["'device'"]
    assert all(p.field == "files" for p in caught.value.problems)


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    """A FIFO is refused from its stat; opening it would block, so the call must return."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def put() -> None:
        try:
            input_archive({"p": fifo}, uid=UID, gid=GID, max_total=BIG)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=put, daemon=True)
    worker.start()
    worker.join(timeout=5)
    if worker.is_alive():
        with open(fifo, "wb"):  # release the blocked reader before failing
            pass
        pytest.fail("input_archive opened the FIFO and blocked")
    (error,) = outcome
    assert isinstance(error, ConfigError)
    assert "a FIFO" in error.problems[0].message


def test_a_total_over_the_cap_names_total_cap_and_fix():
    """Files totalling more than max_total are refused with the total, the cap and the fix."""
    with pytest.raises(ConfigError) as caught:
        input_archive({"a": b"x" * 60, "b": b"y" * 50}, uid=UID, gid=GID, max_total=100)
    (problem,) = caught.value.problems
    assert "110 bytes" in problem.message
    assert "100 bytes" in problem.message
    assert problem.fix.startswith("the workspace holds 100 bytes: raise .workspace(size=...)")


def test_a_total_exactly_at_the_cap_is_accepted():
    """max_total bytes in all is not over the cap."""
    assert input_archive({"a": b"x" * 100}, uid=UID, gid=GID, max_total=100)


def test_a_huge_host_file_is_refused_unread(tmp_path, monkeypatch):
    """A 10 GB (sparse) host file over the cap is refused from its size alone: nothing is read."""
    huge = tmp_path / "huge"
    with open(huge, "wb") as handle:
        handle.truncate(10 * 1024**3)

    def no_read(*args: object) -> None:
        raise AssertionError("a host file was read")

    monkeypatch.setattr(tar_in, "_read", no_read)
    with pytest.raises(ConfigError, match="10737418240 bytes"):
        input_archive({"huge": huge}, uid=UID, gid=GID, max_total=64 * 1024**2)


def test_a_host_file_that_grows_after_it_was_measured_is_refused(tmp_path, monkeypatch):
    """A file that changes between its stat and its read is refused, not put half-known."""
    path = tmp_path / "grows"
    path.write_bytes(b"abc")
    measure = tar_in._check_total

    def grow_then_check(*args: object, **kwargs: object) -> object:
        with open(path, "ab") as handle:
            handle.write(b"more")
        return measure(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tar_in, "_check_total", grow_then_check)
    with pytest.raises(ConfigError, match="changed size while read"):
        input_archive({"g": path}, uid=UID, gid=GID, max_total=BIG)


def test_something_other_than_a_mapping_is_refused():
    """files must map names to content; a list is refused with the fix."""
    with pytest.raises(ConfigError, match="must be a mapping"):
        input_archive(["a"], uid=UID, gid=GID, max_total=BIG)  # type: ignore[arg-type]

"""File names and sandbox archives, fuzzed: names against a model of the rules, archives
against the one promise that matters (nothing written outside ``into``, only typed errors).
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

import pytest
from fuzzkit import ANYTHING, example, fuzz_settings
from hypothesis import event, given
from hypothesis import strategies as st

from secure_run import (
    ConfigError,
    OutputTooLarge,
    SandboxFileNotFound,
    UnsafeArchive,
)
from secure_run._files.names import (
    MAX_NAME,
    MAX_PART,
    check_collect_names,
    check_input_names,
    name_problems,
)
from secure_run._files.tar_out import extract_tree, read_tree

#: What the readers may raise on any archive: typed refusals, never a crash or an OSError.
#: SandboxFileNotFound is the answer when the requested directory is a file.
ALLOWED = (UnsafeArchive, OutputTooLarge, ConfigError, SandboxFileNotFound)

# -- names ------------------------------------------------------------------------------

_SEGMENTS = ["a", "é", "data.csv", "..", ".", "", "x" * MAX_PART, "y" * (MAX_PART + 1),
             "€" * 85, "€" * 86, "b\x00", "c\n", "d\t", "\x7f", "e\ud800", " ", "\\",
             "~"]  # fmt: skip


@st.composite
def names(draw: st.DrawFn) -> str:
    """A name made of tricky components, maybe absolute, maybe with a trailing slash."""
    parts = draw(st.lists(st.sampled_from(_SEGMENTS) | st.text(max_size=8), min_size=1,
                          max_size=8))  # fmt: skip
    lead = draw(st.sampled_from(["", "", "", "/", "//"]))
    trail = draw(st.sampled_from(["", "", "", "/", "//"]))
    return lead + "/".join(parts) + trail


ANY_NAME = st.one_of(names(), st.text(st.characters(exclude_categories=()), max_size=40),
                     st.text(alphabet="a/.\x00\n", max_size=12), ANYTHING)  # fmt: skip


def model_accepts(name: object, directory_ok: bool) -> bool:
    """The rules, written out once more: what a good name is."""
    if not isinstance(name, str) or not name:
        return False
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if len(encoded) > MAX_NAME or name.startswith("/"):
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return False
    if name.endswith("/"):
        if not directory_ok:
            return False
        name = name[:-1]
    return all(p not in ("", ".", "..") and len(p.encode()) <= MAX_PART for p in name.split("/"))


@fuzz_settings()
@given(name=ANY_NAME, directory_ok=st.booleans())
def test_name_rules_accept_exactly_the_names_the_model_does(name, directory_ok):
    """name_problems never crashes, and finds no problem exactly when the model accepts."""
    with example():
        problems = name_problems(name, "files", directory_ok=directory_ok)
        event("refused" if problems else "accepted")
        assert (problems == []) == model_accepts(name, directory_ok)
        assert all(p.field == "files" and p.message and p.fix for p in problems)
        check = check_collect_names if directory_ok else check_input_names
        if problems:
            with pytest.raises(ConfigError):
                check([name])
        else:
            assert check([name]) == [name]


def model_accepts_all(given: list[object]) -> bool:
    """Every name good, none given twice, none also the directory of another."""
    if not all(model_accepts(n, False) for n in given) or len(set(given)) != len(given):
        return False
    texts = [str(n) for n in given]
    return not any(other.startswith(name + "/") for name in texts for other in texts)


@fuzz_settings()
@given(given_names=st.lists(ANY_NAME | st.sampled_from(["a", "a/b", "a/b/c", "b"]), max_size=6))
def test_checking_many_names_accepts_exactly_what_the_model_does(given_names):
    """Any list of anything: the names back unchanged when the model accepts them all (no
    duplicate, no file that is another's directory); else a ConfigError, nothing else."""
    with example():
        if model_accepts_all(given_names):
            assert check_input_names(given_names) == given_names
        else:
            with pytest.raises(ConfigError):
                check_input_names(given_names)


# -- archives ---------------------------------------------------------------------------

_KINDS = [tarfile.REGTYPE] * 4 + [tarfile.DIRTYPE] * 3 + [
    tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE,
    tarfile.CONTTYPE, tarfile.AREGTYPE, tarfile.GNUTYPE_SPARSE, b"Z"]  # fmt: skip
_PARTS = ["results", "results", "a", "b", "..", ".", "", "x" * 300, "c.txt"]
_LINKS = ["", "/etc/passwd", "../outside/victim", "results/a", "/proc/self/environ"]


_CLEAN_KINDS = [tarfile.REGTYPE, tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.AREGTYPE,
                tarfile.CONTTYPE]  # fmt: skip
_CLEAN_PARTS = st.text(alphabet="abcé.-", min_size=1, max_size=3).filter(lambda p: p.strip("."))


@st.composite
def members(draw: st.DrawFn, clean: bool) -> tuple[tarfile.TarInfo, bytes]:
    """One entry: with ``clean``, a plain file or directory under results/; else a tricky
    name (mostly under results/) of any type."""
    if clean:
        parts = ["results", *draw(st.lists(_CLEAN_PARTS, min_size=1, max_size=3))]
    else:
        parts = draw(st.lists(st.sampled_from(_PARTS), min_size=1, max_size=4))
        if draw(st.booleans()):
            parts[0] = "results"
    lead = "" if clean else draw(st.sampled_from(["", "", "/"]))
    info = tarfile.TarInfo(lead + "/".join(parts))
    info.type = draw(st.sampled_from(_CLEAN_KINDS if clean else _KINDS))
    info.linkname = draw(st.sampled_from(_LINKS))
    info.mode = draw(st.integers(0, 0o7777))
    data = draw(st.binary(max_size=80)) if info.isreg() else b""
    info.size = len(data)
    return info, data


@st.composite
def streams(draw: st.DrawFn) -> list[bytes]:
    """A tar of drawn members (all plain, or some hostile), maybe damaged, cut into chunks."""
    clean = draw(st.booleans())
    entries = draw(st.lists(members(clean), max_size=12))
    if clean or draw(st.booleans()):
        top = tarfile.TarInfo("results")
        top.type = tarfile.DIRTYPE
        entries.insert(0, (top, b""))
    buffer = io.BytesIO()
    fmt = draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = bytearray(buffer.getvalue())
    damage = "none" if clean else draw(st.sampled_from(["none", "flip", "cut"]))
    if damage == "flip" and raw:
        raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
    elif damage == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    size = draw(st.integers(1, 3000))
    return [bytes(raw[i : i + size]) for i in range(0, len(raw), size)]


def snapshot(root: Path) -> dict[str, object]:
    """Every path under ``root`` with what it is: content, link text, or a directory."""
    found: dict[str, object] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = "dir"
            else:
                found[key] = (path.read_bytes(), path.stat().st_mode)
    return found


def plant(root: Path, how: str) -> None:
    """Make the site: into/, outside/victim, and maybe a trap planted inside into/."""
    (root / "into").mkdir()
    (root / "outside").mkdir()
    (root / "outside" / "victim").write_bytes(b"precious")
    if how == "dir-link":
        (root / "into" / "results").symlink_to(root / "outside")
    elif how == "file-link":
        (root / "into" / "results").mkdir()
        (root / "into" / "results" / "c.txt").symlink_to(root / "outside" / "victim")
    elif how == "hard-link":
        (root / "into" / "results").mkdir()
        os.link(root / "outside" / "victim", root / "into" / "results" / "c.txt")


CAPS = st.fixed_dictionaries({"max_size": st.just(10_000) | st.integers(0, 120),
                              "max_total": st.just(100_000) | st.integers(0, 1200),
                              "max_entries": st.just(1000) | st.integers(0, 20)})  # fmt: skip
REQUESTS = st.sampled_from(["results/", "results/", "results", "x/results/"])
TRAPS = st.sampled_from(["none", "none", "none", "dir-link", "file-link", "hard-link"])


@fuzz_settings()
@given(chunks=streams(), request=REQUESTS, caps=CAPS, trap=TRAPS)
def test_extract_tree_never_writes_outside_into(chunks, request, caps, trap):
    """Any archive, any trap in into: only typed errors; outside untouched; a refusal writes
    nothing; a success writes exactly the returned regular files, inside into."""
    with example(), tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        plant(root, trap)
        before = snapshot(root)
        try:
            written = extract_tree(iter(chunks), request, root / "into", **caps)
        except ALLOWED as exc:
            event(f"refused: {type(exc).__name__}")
            assert snapshot(root) == before
            return
        event(f"extracted {min(len(written), 3)}+ files" if written else "extracted no file")
        after = snapshot(root)
        assert {k: v for k, v in after.items() if not k.startswith("into")} == {
            k: v for k, v in before.items() if not k.startswith("into")}  # fmt: skip
        inside = os.path.realpath(root / "into")
        for path in written:
            assert os.path.commonpath([os.path.realpath(path), inside]) == inside
            assert not path.is_symlink()
            assert path.is_file()
            assert path.stat().st_mode & 0o7000 == 0
        new = {k for k, v in after.items() if k not in before and v != "dir"}
        assert new <= {str(p.relative_to(root)) for p in written}


@fuzz_settings()
@given(chunks=streams(), request=REQUESTS, caps=CAPS)
def test_read_tree_gives_files_under_the_request_or_a_typed_error(chunks, request, caps):
    """Any archive: files keyed under the requested directory, within the caps, or a
    typed error; never another exception."""
    with example():
        try:
            files = read_tree(iter(chunks), request, **caps)
        except ALLOWED as exc:
            event(f"refused: {type(exc).__name__}")
            return
        event("read" if files else "read, no file")
        top = request.rstrip("/") + "/"
        assert all(key.startswith(top) for key in files)
        assert all(len(data) <= caps["max_size"] for data in files.values())
        assert sum(map(len, files.values())) <= caps["max_total"]

"""Reading what a sandbox sends back, as an attacker's archive (secure_run._files.tar_out).

Each test builds a hostile tar in memory (links out, devices, FIFOs, ``..``, absolute names,
lying size headers, a flood of entries, name clashes) and checks the exact typed error, and
for extraction that nothing at all was written, inside ``into`` or outside it.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_run import ConfigError, OutputTooLarge, SandboxFileNotFound, UnsafeArchive
from secure_run._files import tar_out
from secure_run._files.tar_out import capped, extract_tree, read_file, read_tree

REG, DIR, SYM, LNK = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
CHR, BLK, FIFO = tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE
CAPS = {"max_size": 1000, "max_total": 10_000, "max_entries": 100}


def entry(name: str, kind: bytes = REG, data: bytes = b"", link: str = "",
          mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:  # fmt: skip
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    info.size = len(data) if kind == REG else 0
    return info, data


def archive(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def pieces(data: bytes, size: int = 333) -> list[bytes]:
    """``data`` in chunks, as the engine streams it."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def header(name: str, size: int, kind: bytes = REG) -> bytes:
    """One raw header block, claiming ``size`` bytes of content that may never follow."""
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(format=tarfile.GNU_FORMAT)


class Counted:
    """A chunk iterator that counts the chunks taken and knows whether it was closed."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.taken, self.closed = chunks, 0, False

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> bytes:
        self.taken += 1
        return next(self.chunks)

    def close(self) -> None:
        self.closed = True


def results(*extra: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A good tree for ``results/`` with ``extra`` entries appended."""
    return archive(entry("results", DIR), entry("results/a", DIR),
                   entry("results/a/b.txt", data=b"b"), entry("results/c.txt", data=b"c"),
                   *extra)  # fmt: skip


def listing(root: Path) -> dict[str, bytes | str]:
    """Everything under ``root``: files with content, links with target, directories."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[key] = "dir"
        else:
            found[key] = path.read_bytes()
    return found


# -- capped ------------------------------------------------------------------------------


def test_capped_reads_back_exactly_the_chunks_within_the_limit():
    """A stream within the limit reads back byte for byte, in any read size."""
    data = bytes(range(256)) * 10
    stream = capped(iter(pieces(data, 77)), len(data), "x")
    assert stream.read(5) + stream.read() == data


def test_capped_raises_at_the_chunk_that_passes_the_limit():
    """The chunk that passes the limit raises OutputTooLarge; no later chunk is taken."""
    source = Counted(iter([b"abcd"] * 100))
    stream = capped(source, 10, "results/")
    with pytest.raises(OutputTooLarge) as caught:
        stream.read()
    error = caught.value
    assert (error.what, error.cap, error.limit) == ("results/", "max_total", 10)
    assert source.taken == 3
    assert source.closed


def test_capped_closes_its_source_when_closed():
    """Closing the stream closes the chunk iterator (the engine's response is released)."""
    source = Counted(iter([b"a"]))
    with capped(source, 10, "x"):
        pass
    assert source.closed


# -- read_file ---------------------------------------------------------------------------


def test_read_file_returns_the_content_of_the_one_regular_file():
    """The archive of 'dir/out.txt' holds 'out.txt'; its content is returned."""
    data = archive(entry("out.txt", data=b"hello"))
    assert read_file(pieces(data), "dir/out.txt", max_size=5) == b"hello"


def test_read_file_gives_a_links_text_never_its_targets_content():
    """A symlink to /etc/passwd is refused, naming the link's text; nothing of the target."""
    data = archive(entry("out.txt", SYM, link="/etc/passwd"))
    with pytest.raises(UnsafeArchive) as caught:
        read_file(pieces(data), "out.txt", max_size=100)
    ((name, why),) = caught.value.entries
    assert name == "out.txt"
    assert why == ("a symbolic link to '/etc/passwd'; secure_run never follows links out of a "
                   "sandbox")  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "link", "reason"),
    [(LNK, "/etc/shadow", "a hard link to '/etc/shadow'"), (CHR, "", "a character device"),
     (BLK, "", "a block device"), (FIFO, "", "a FIFO"), (b"Z", "", "unknown type")],
)  # fmt: skip
def test_read_file_refuses_every_other_entry_type(kind, link, reason):
    """A hard link, a device, a FIFO or an unknown type is an UnsafeArchive naming it."""
    with pytest.raises(UnsafeArchive) as caught:
        read_file(pieces(archive(entry("f", kind, link=link))), "f", max_size=100)
    ((name, why),) = caught.value.entries
    assert name == "f"
    assert reason in why


def test_read_file_on_a_directory_says_to_use_get_tree():
    """A directory is SandboxFileNotFound (a FileNotFoundError) naming get_tree as the fix."""
    with pytest.raises(SandboxFileNotFound, match=r"get_tree\('results/'\)") as caught:
        read_file(pieces(archive(entry("results", DIR))), "results", max_size=100)
    assert isinstance(caught.value, FileNotFoundError)


def test_read_file_refuses_a_huge_size_header_without_reading_on():
    """A header claiming 1 TB is refused from the header: only its first chunk is taken."""
    source = Counted(iter([header("out.txt", 10**12)] + [b"\0" * 512] * 10**6))
    with pytest.raises(OutputTooLarge) as caught:
        read_file(source, "out.txt", max_size=100)
    assert (caught.value.what, caught.value.cap, caught.value.limit) == ("out.txt", "max_size", 100)
    assert source.taken < 30


def test_read_file_over_max_size_by_one_byte_is_refused():
    """max_size bytes pass; max_size + 1 is OutputTooLarge."""
    assert read_file(pieces(archive(entry("f", data=b"x" * 10))), "f", max_size=10)
    with pytest.raises(OutputTooLarge):
        read_file(pieces(archive(entry("f", data=b"x" * 11))), "f", max_size=10)


def test_read_file_caps_the_stream_even_when_headers_lie():
    """A PAX header of 2 MiB before a tiny file passes the stream cap: OutputTooLarge."""
    info, data = entry("f", data=b"x")
    info.pax_headers = {"comment": "c" * (2 << 20)}
    with pytest.raises(OutputTooLarge) as caught:
        read_file(pieces(archive((info, data)), 65536), "f", max_size=10)
    assert caught.value.cap == "max_size"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (archive(entry("other", data=b"x")), "not the entry asked for"),
        (archive(entry("f", data=b"x"), entry("g", data=b"y")), "a second entry"),
        (b"this is not a tar archive" * 40, "not a readable tar archive"),
        (archive(entry("f", data=b"x" * 5000))[:1500], "not a readable tar archive"),
        (header("f", 0, tarfile.GNUTYPE_SPARSE) + b"\0" * 1024, "a sparse file"),
    ],
    ids=["wrong-name", "two-entries", "garbage", "truncated", "sparse"],
)
def test_read_file_refuses_an_archive_that_is_not_one_plain_file(data, reason):
    """A wrong name, a second entry, garbage, a cut stream or a sparse file: UnsafeArchive."""
    with pytest.raises(UnsafeArchive) as caught:
        read_file(pieces(data), "f", max_size=10_000)
    assert any(reason in why for _, why in caught.value.entries)


def test_read_file_on_an_empty_archive_is_not_found():
    """An archive with no entry is SandboxFileNotFound."""
    with pytest.raises(SandboxFileNotFound):
        read_file(pieces(archive()), "f", max_size=10)


# -- read_tree ---------------------------------------------------------------------------


def test_read_tree_keys_files_by_their_path_in_the_workspace():
    """Regular files are keyed by workspace path (under the request's parents); dirs give none."""
    expected = {"x/results/a/b.txt": b"b", "x/results/c.txt": b"c"}
    assert read_tree(pieces(results()), "x/results/", **CAPS) == expected


HOSTILE = [
    (entry("results/passwd", SYM, link="/etc/passwd"), "results/passwd", "symbolic link"),
    (entry("results/env", SYM, link="/proc/self/environ"), "results/env", "symbolic link"),
    (entry("results/hard", LNK, link="results/c.txt"), "results/hard", "hard link"),
    (entry("results/tty", CHR), "results/tty", "character device"),
    (entry("results/disk", BLK), "results/disk", "block device"),
    (entry("results/pipe", FIFO), "results/pipe", "a FIFO"),
    (entry("../x", data=b"x"), "../x", "'..' component"),
    (entry("results/../../x", data=b"x"), "results/../../x", "'..' component"),
    (entry("/abs", data=b"x"), "/abs", "absolute"),
    (entry("elsewhere/x", data=b"x"), "elsewhere/x", "outside the requested directory"),
    (entry("results/./y", data=b"x"), "results/./y", "'.' component"),
    (entry("results/c.txt", data=b"again"), "results/c.txt", "given twice"),
    (entry("results/c.txt/inner", data=b"x"), "results/c.txt/inner", "which is a file"),
]


@pytest.mark.parametrize(("bad", "name", "reason"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_read_tree_refuses_each_hostile_entry_by_name(bad, name, reason):
    """Each hostile entry among good ones is an UnsafeArchive naming it; nothing is returned."""
    with pytest.raises(UnsafeArchive) as caught:
        read_tree(pieces(results(bad)), "results/", **CAPS)
    assert [n for n, _ in caught.value.entries] == [name]
    assert reason in caught.value.entries[0][1]


def test_read_tree_lists_every_hostile_entry_at_once():
    """All bad entries of one archive come in one UnsafeArchive, in archive order."""
    with pytest.raises(UnsafeArchive) as caught:
        read_tree(pieces(results(*(h[0] for h in HOSTILE))), "results/", **CAPS)
    assert [n for n, _ in caught.value.entries] == [h[1] for h in HOSTILE]


def test_read_tree_refuses_a_file_that_earlier_entries_are_inside():
    """'results/a/b' then 'results/a' as a file: the clash is refused (no dict key shadowing)."""
    data = archive(entry("results", DIR), entry("results/a/b", data=b"1"),
                   entry("results/a", data=b"2"))  # fmt: skip
    with pytest.raises(UnsafeArchive, match="earlier entries are inside it"):
        read_tree(pieces(data), "results/", **CAPS)


def test_read_tree_caps_each_file_from_its_header():
    """A file over max_size is OutputTooLarge naming its path, found from its header."""
    source = Counted(iter([archive(entry("results", DIR))[:512], header("results/big", 10**12)]
                          + [b"\0" * 512] * 10**6))  # fmt: skip
    with pytest.raises(OutputTooLarge) as caught:
        read_tree(source, "results/", **CAPS)
    assert (caught.value.what, caught.value.cap) == ("results/big", "max_size")
    assert source.taken < 30


def test_read_tree_caps_the_total():
    """Files within max_size each but over max_total together: OutputTooLarge max_total."""
    files = [entry(f"results/{i}", data=b"x" * 900) for i in range(20)]
    with pytest.raises(OutputTooLarge) as caught:
        read_tree(pieces(archive(entry("results", DIR), *files)), "results/", **CAPS)
    assert (caught.value.what, caught.value.cap, caught.value.limit) == ("results/", "max_total",
                                                                         10_000)  # fmt: skip


def flood(count: int) -> Iterator[bytes]:
    """A tree of ``count`` empty files, each header made only when it is taken."""
    yield header("results", 0, DIR)
    for i in range(count):
        yield header(f"results/f{i}", 0)


def test_read_tree_stops_a_flood_of_entries_at_the_cap():
    """A million tiny entries stop at max_entries + 1, without the rest being read or made."""
    source = Counted(flood(1_000_000))
    with pytest.raises(OutputTooLarge) as caught:
        read_tree(source, "results/", max_size=10, max_total=10, max_entries=100)
    assert (caught.value.cap, caught.value.limit) == ("max_entries", 100)
    assert "stopped at entry 101" in str(caught.value)
    assert source.taken < 150


def test_read_tree_of_a_file_is_not_found_as_a_directory():
    """Asking 'out/' when out is a file: SandboxFileNotFound naming get('out')."""
    with pytest.raises(SandboxFileNotFound, match=r"get\('out'\)"):
        read_tree(pieces(archive(entry("out", data=b"x"))), "out/", **CAPS)


def test_read_tree_refuses_a_garbled_stream():
    """Bytes that are no tar are an UnsafeArchive."""
    with pytest.raises(UnsafeArchive, match="not a readable tar"):
        read_tree([b"\x01" * 4096], "results/", **CAPS)


# -- extract_tree ------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder with ``into/`` (empty) and ``outside/`` (holding a victim file) side by side."""
    (tmp_path / "into").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim").write_bytes(b"precious")
    return tmp_path


def test_extract_tree_writes_under_into_by_workspace_path(site):
    """Files land in into/<workspace path>, the request's parents included; paths returned."""
    into = site / "into"
    written = extract_tree(pieces(results()), "x/results/", into, **CAPS)
    assert written == [into / "x/results/a/b.txt", into / "x/results/c.txt"]
    assert listing(into) == {"x": "dir", "x/results": "dir", "x/results/a": "dir",
                             "x/results/a/b.txt": b"b", "x/results/c.txt": b"c"}  # fmt: skip


def test_extract_tree_masks_modes_and_drops_special_bits(site):
    """A setuid 0o4777 entry is written 0o755; a 0o400 one still readable by its owner."""
    data = archive(entry("r", DIR), entry("r/suid", data=b"x", mode=0o4777),
                   entry("r/ro", data=b"y", mode=0o400))  # fmt: skip
    extract_tree(pieces(data), "r/", site / "into", **CAPS)
    assert (site / "into/r/suid").stat().st_mode & 0o7777 == 0o755
    assert (site / "into/r/ro").stat().st_mode & 0o7777 == 0o600


@pytest.mark.parametrize(("bad", "name", "reason"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_extract_tree_writes_nothing_when_any_entry_is_refused(site, bad, name, reason):
    """A hostile entry after good ones: UnsafeArchive, and nothing written anywhere."""
    before = listing(site)
    with pytest.raises(UnsafeArchive) as caught:
        extract_tree(pieces(results(bad)), "results/", site / "into", **CAPS)
    assert [n for n, _ in caught.value.entries] == [name]
    assert listing(site) == before


def test_extract_tree_writes_nothing_past_a_cap(site):
    """A flood of entries stops at the cap with nothing written."""
    before = listing(site)
    with pytest.raises(OutputTooLarge):
        extract_tree(flood(100_000), "results/", site / "into", max_size=10, max_total=10,
                     max_entries=50)  # fmt: skip
    assert listing(site) == before


def test_extract_tree_never_follows_a_directory_link_planted_in_into(site):
    """into/results -> ../outside: refused as in the way; nothing written outside or inside."""
    (site / "into" / "results").symlink_to(site / "outside")
    before = listing(site)
    with pytest.raises(ConfigError, match="'results' is a symbolic link"):
        extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert listing(site) == before


def test_extract_tree_never_follows_a_file_link_planted_in_into(site):
    """into/results/c.txt -> outside/victim: refused; the victim keeps its content."""
    (site / "into" / "results").mkdir()
    (site / "into" / "results" / "c.txt").symlink_to(site / "outside" / "victim")
    before = listing(site)
    with pytest.raises(ConfigError, match="a symbolic link, where a file goes"):
        extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert listing(site) == before


def test_extract_tree_walks_by_descriptor_past_a_link_planted_after_the_check(site, monkeypatch):
    """With the pre-check skipped (a race), a planted directory link is still not followed."""
    monkeypatch.setattr(tar_out, "obstacles", lambda *args: iter(()))
    (site / "into" / "results").symlink_to(site / "outside")
    before = listing(site / "outside")
    with pytest.raises(ConfigError, match="no longer a directory"):
        extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert listing(site / "outside") == before


def test_extract_tree_replaces_a_file_link_rather_than_writing_through_it(site, monkeypatch):
    """With the pre-check skipped, a link at a file's place is replaced, its target untouched."""
    monkeypatch.setattr(tar_out, "obstacles", lambda *args: iter(()))
    (site / "into" / "results").mkdir()
    (site / "into" / "results" / "c.txt").symlink_to(site / "outside" / "victim")
    extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert (site / "outside" / "victim").read_bytes() == b"precious"
    assert not (site / "into" / "results" / "c.txt").is_symlink()
    assert (site / "into" / "results" / "c.txt").read_bytes() == b"c"


def test_extract_tree_never_truncates_a_file_through_a_hard_link(site):
    """An existing file hard-linked to one outside is replaced, so the outside one is kept."""
    (site / "into" / "results").mkdir()
    os.link(site / "outside" / "victim", site / "into" / "results" / "c.txt")
    extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert (site / "outside" / "victim").read_bytes() == b"precious"
    assert (site / "into" / "results" / "c.txt").read_bytes() == b"c"


def test_extract_tree_keeps_existing_directories_and_replaces_files(site):
    """An existing directory is entered and kept; an existing regular file is overwritten."""
    (site / "into" / "results" / "a").mkdir(parents=True)
    (site / "into" / "results" / "keep.txt").write_bytes(b"mine")
    (site / "into" / "results" / "c.txt").write_bytes(b"old")
    extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert (site / "into" / "results" / "keep.txt").read_bytes() == b"mine"
    assert (site / "into" / "results" / "c.txt").read_bytes() == b"c"


def test_extract_tree_refuses_a_file_where_a_directory_goes(site):
    """into/results/a is a file where the tree has a directory: ConfigError, nothing written."""
    (site / "into" / "results").mkdir()
    (site / "into" / "results" / "a").write_bytes(b"x")
    before = listing(site)
    with pytest.raises(ConfigError, match="'results/a' is a file, where a directory goes"):
        extract_tree(pieces(results()), "results/", site / "into", **CAPS)
    assert listing(site) == before


@pytest.mark.parametrize("where", ["missing", "outside/victim"])
def test_extract_tree_needs_an_existing_directory(site, where):
    """into that is missing or a file is a ConfigError on 'into', before the stream is read."""
    source = Counted(iter(pieces(results())))
    with pytest.raises(ConfigError) as caught:
        extract_tree(source, "results/", site / where, **CAPS)
    assert caught.value.problems[0].field == "into"
    assert source.taken == 0


def test_extract_tree_makes_empty_directories(site):
    """A directory entry with nothing in it is still made."""
    extract_tree(pieces(archive(entry("r", DIR), entry("r/empty", DIR))), "r/", site / "into",
                 **CAPS)  # fmt: skip
    assert (site / "into" / "r" / "empty").is_dir()


def test_extract_tree_spools_large_files_correctly(site):
    """A file past the spool's memory size (on disk) comes out byte for byte."""
    big = os.urandom(3 << 20)
    data = archive(entry("r", DIR), entry("r/big", data=big), entry("r/small", data=b"s"))
    extract_tree(pieces(data, 1 << 16), "r/", site / "into", max_size=4 << 20,
                 max_total=8 << 20, max_entries=10)  # fmt: skip
    assert (site / "into" / "r" / "big").read_bytes() == big
    assert (site / "into" / "r" / "small").read_bytes() == b"s"


class _NoEngine:
    """A stand-in client that fails the test if anything touches it."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the engine was contacted ({name})")


BAD_CAPS = {
    "negative": -1,
    "bool": True,
    "float": 2.5,
    "text": "10",
    "none": None,
}


@pytest.mark.parametrize("cap", ["max_size", "max_total", "max_entries"])
@pytest.mark.parametrize("value", BAD_CAPS.values(), ids=BAD_CAPS.keys())
def test_check_read_refuses_a_cap_that_is_no_count(cap, value):
    """A cap must be a whole number, 0 or more: the problem names the cap, the value and a fix."""
    with pytest.raises(ConfigError) as caught:
        tar_out.check_read("out/", "get_tree", {cap: value})
    (problem,) = caught.value.problems
    assert (problem.field, problem.value) == (cap, repr(value) if isinstance(value, str) else
                                              str(value))  # fmt: skip
    assert f"give e.g. {cap}=" in problem.fix


def test_check_read_lists_name_caps_and_into_at_once(tmp_path):
    """A bad name, two bad caps and a missing into are four problems of one ConfigError."""
    with pytest.raises(ConfigError) as caught:
        tar_out.check_read("../x", "get_tree", {"max_size": -1, "max_entries": "9"},
                           tmp_path / "missing")  # fmt: skip
    assert [p.field for p in caught.value.problems] == [
        "get_tree", "max_size", "max_entries", "into",
    ]  # fmt: skip


def test_check_read_accepts_zero_and_an_existing_into(tmp_path):
    """0 is a cap (nothing may come out); an existing directory is a target; the name returns."""
    caps = {"max_size": 0, "max_total": 0, "max_entries": 0}
    assert tar_out.check_read("results/", "get_tree", caps, tmp_path) == "results/"
    assert tar_out.check_read("out.txt", "get", {"max_size": 10}) == "out.txt"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda box, tmp: box.get("out.txt", max_size=-1), "max_size"),
        (lambda box, tmp: box.get("out.txt", max_size="1"), "max_size"),
        (lambda box, tmp: box.get_tree("r/", tmp, max_total=1.5), "max_total"),
        (lambda box, tmp: box.get_tree("r/", tmp, max_entries=False), "max_entries"),
        (lambda box, tmp: box.get_tree("r/", tmp / "missing"), "into"),
        (lambda box, tmp: box.get_tree("/etc/", tmp), "get_tree"),
    ],
    ids=["get-negative", "get-text", "tree-float", "tree-bool", "tree-missing-into", "tree-abs"],
)
def test_container_reads_refuse_bad_arguments_before_the_engine(call, field, tmp_path):
    """get and get_tree raise ConfigError for a bad cap, name or into; the engine is untouched."""
    import secure_run as sr

    cfg = sr.builder("busybox").workspace("/workspace", "16m").build()
    box = sr.SecureContainer("c" * 64, cfg, _NoEngine())  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        call(box, tmp_path)
    assert caught.value.problems[0].field == field

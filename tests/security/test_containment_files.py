"""The hostile-archive battery: what a sandbox hands back is written by an attacker.

In every preset, the container itself plants what an attacker would in its
workspace: links to secrets, a link in place of a directory, hard links, FIFOs,
huge and sparse files, thousands of small files, a full workspace. Reading them
back with ``get``, ``get_tree`` or ``run(collect=...)`` must never return a link's
target, never write outside ``into`` (nothing at all when an entry is refused),
and stop at the caps without filling the host's disk. Device files cannot be made
here (no CAP_MKNOD): tests/unit/test_tar_out.py refuses them in hand-made archives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import secure_run as sr

from .support import Battery, preset_builder, under_gvisor

pytestmark = pytest.mark.docker

SECRET = "s3cr3t-in-the-environment"  # noqa: S105 (a marker to look for, not a credential)


@pytest.fixture
def box(preset: str, test_image: str) -> Iterator[sr.SecureContainer]:
    """A launched preset container with a 32 MiB workspace and a secret in its env."""
    cfg = (
        preset_builder(preset, test_image)
        .command(["sleep", "600"])
        .workspace("/workspace", "32m")
        .env(TOKEN=SECRET)
        .build()
    )
    with sr.launch(cfg) as launched:
        yield launched


def _plant(box: sr.SecureContainer, script: str) -> None:
    done = box.exec(["sh", "-c", script])
    assert done.exit_code == 0, done.stderr


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def into(tmp_path: Path) -> Iterator[Path]:
    """An empty target directory; the test fails if anything appears beside it."""
    target = tmp_path / "into"
    target.mkdir()
    (tmp_path / "beside.txt").write_text("untouched")

    def outside() -> list[str]:
        return [p for p in _tree(tmp_path) if p != "into" and not p.startswith("into/")]

    before = outside()
    yield target
    assert outside() == before, "something was written outside into"
    assert (tmp_path / "beside.txt").read_text() == "untouched"


def test_a_link_to_a_secret_yields_no_content(
    box: sr.SecureContainer, preset: str, battery: Battery
) -> None:
    """get() of links to /etc/passwd and /proc/self/environ refuses them, naming the target."""
    _plant(box, "ln -s /etc/passwd passwd; ln -s /proc/self/environ environ")
    battery.record("link-to-secret", preset, control="links are refused, never followed")
    for name, target in (("passwd", "/etc/passwd"), ("environ", "/proc/self/environ")):
        with pytest.raises(sr.UnsafeArchive) as caught:
            box.get(name)
        assert caught.value.entries[0][0] == name
        assert target in str(caught.value)
        assert "root:" not in str(caught.value)
        assert SECRET not in str(caught.value)


def test_collect_of_a_link_keeps_the_run_but_not_the_target(preset: str, test_image: str) -> None:
    """run(collect=[link]) raises UnsafeArchive carrying the run's result, not the content."""
    cfg = preset_builder(preset, test_image).workspace("/workspace", "16m")
    cfg = cfg.command(["sh", "-c", "echo ran; ln -s /etc/passwd out.txt"]).build()
    with pytest.raises(sr.UnsafeArchive) as caught:
        sr.run(cfg, collect=["out.txt"], timeout=30)
    result = caught.value.result
    assert isinstance(result, sr.RunResult)
    assert result.stdout == b"ran\n"
    assert result.files == {}


def test_a_link_in_place_of_a_directory_leads_nowhere(
    box: sr.SecureContainer, preset: str, battery: Battery, into: Path
) -> None:
    """Paths through a planted link to / or /etc never reach the image's files."""
    _plant(box, "ln -s /etc etc; ln -s / root")
    battery.record(
        "link-as-directory", preset, control="each parent is checked; paths resolve in the keeper"
    )
    with pytest.raises(sr.UnsafeArchive) as caught:
        box.get("etc/passwd")
    assert caught.value.entries[0][0] == "etc"
    assert "root:" not in str(caught.value)
    with pytest.raises(sr.UnsafeArchive):
        box.get_tree("root/", into)
    assert _tree(into) == []


def test_hard_links_fifos_and_links_in_a_tree_are_all_refused(
    box: sr.SecureContainer, preset: str, battery: Battery, into: Path
) -> None:
    """get_tree lists every unsafe entry (hard link, FIFO, symlink) and writes nothing."""
    _plant(
        box,
        "mkdir -p out/sub && echo ok > out/ok.txt && ln out/ok.txt out/hard "
        "&& mkfifo out/pipe && ln -s ../../etc/passwd out/sub/up",
    )
    battery.record("hostile-tree", preset, control="every entry is checked before any write")
    with pytest.raises(sr.UnsafeArchive) as caught:
        box.get_tree("out/", into)
    refused = {name for name, _ in caught.value.entries}
    # The engine stores the first name it meets as the file and the other as the hard link.
    # Under gVisor the FIFO is the sentry's alone: it never reaches the volume, so the
    # archive (read by the engine from the host) holds no such entry at all.
    unsafe = {"out/sub/up"} if under_gvisor() else {"out/pipe", "out/sub/up"}
    assert refused - {"out/hard", "out/ok.txt"} == unsafe
    assert len(refused & {"out/hard", "out/ok.txt"}) == 1
    assert _tree(into) == []


def test_a_huge_file_stops_at_max_size(
    box: sr.SecureContainer, preset: str, battery: Battery
) -> None:
    """A 20 MiB file and an 8 GiB sparse one are refused over max_size, unread."""
    _plant(box, "dd if=/dev/zero of=big bs=1M count=20 2>/dev/null; truncate -s 8G sparse")
    battery.record("tar-bomb", preset, control="max_size from the size header, before reading")
    for name in ("big", "sparse"):
        with pytest.raises(sr.OutputTooLarge) as caught:
            box.get(name, max_size=1_000_000)
        assert (caught.value.what, caught.value.cap) == (name, "max_size")


def test_a_sparse_file_in_a_tree_stops_at_max_total(
    box: sr.SecureContainer, preset: str, battery: Battery, into: Path
) -> None:
    """get_tree of a directory holding an 8 GiB sparse file stops at the cap, writing nothing."""
    _plant(box, "mkdir out && truncate -s 8G out/sparse")
    battery.record("tar-bomb-tree", preset, control="max_size and max_total on the stream")
    with pytest.raises(sr.OutputTooLarge):
        box.get_tree("out/", into, max_size=10_000_000, max_total=10_000_000)
    assert _tree(into) == []


def test_many_small_files_stop_at_max_entries(
    box: sr.SecureContainer, preset: str, battery: Battery, into: Path
) -> None:
    """3000 files against max_entries=500 fail with OutputTooLarge and nothing written."""
    _plant(box, "mkdir out && cd out && seq 1 3000 | xargs touch")
    battery.record("many-files", preset, control="max_entries, counted while reading")
    with pytest.raises(sr.OutputTooLarge) as caught:
        box.get_tree("out/", into, max_entries=500)
    assert caught.value.cap == "max_entries"
    assert _tree(into) == []


def test_a_full_workspace_fails_the_put_that_overflows(
    box: sr.SecureContainer, preset: str, battery: Battery
) -> None:
    """With the workspace filled from inside, a put raises WorkspaceFull; the box still works."""
    fill = box.exec(["dd", "if=/dev/zero", "of=fill", "bs=1M", "count=64"])
    assert b"No space left on device" in fill.stderr
    battery.record("workspace-full", preset, control="tmpfs size; the put reports the failure")
    with pytest.raises(sr.WorkspaceFull) as caught:
        box.put("more.bin", os.urandom(2_000_000))
    assert caught.value.names == ("more.bin",)
    box.exec(["rm", "fill"])
    box.put("after.txt", b"fits again")
    assert box.get("after.txt") == b"fits again"


def test_names_that_escape_are_refused_before_the_engine(box: sr.SecureContainer) -> None:
    """put() of ../x, /abs and a NUL name is one ConfigError listing all three."""
    with pytest.raises(sr.ConfigError) as caught:
        box.put({"../x": b"1", "/abs": b"2", "a\0b": b"3"})
    assert {p.value for p in caught.value.problems} >= {"'../x'", "'/abs'", "'a\\x00b'"}

"""The workspace on the real engine: files in before the command, out after it, nothing kept.

Each test launches or runs a config with ``.workspace()`` and proves what it says
from inside the container (``ls -ln``, ``id``, ``/proc/self/mountinfo``, a write
that fails), or from the engine's own record of the keeper and the volume.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts
from secure_run._proof.kernel import parse_id_map
from secure_run.testing import TEST_LABELS

pytestmark = pytest.mark.docker


@pytest.fixture
def sandbox(test_image: str) -> sr.RunBuilder:
    """The restricted preset with a 16 MiB workspace, as uid 1000."""
    return (
        sr.builder(test_image).user(1000, 1000).workspace("/workspace", "16m").labels(TEST_LABELS)
    )


def _host_id(id_map: str, inner: int) -> int:
    """The host id ``inner`` is, by the rows of a ``uid_map`` or ``gid_map``."""
    for inside, outside, count in parse_id_map(id_map):
        if inside <= inner < inside + count:
            return outside + inner - inside
    raise AssertionError(f"{inner} is not mapped by {id_map!r}")


def _listing(box: sr.SecureContainer, path: str = "/workspace") -> str:
    return box.exec(["ls", "-lnA", path]).stdout.decode()


def test_put_files_arrive_owned_by_the_user_and_private(sandbox: sr.RunBuilder) -> None:
    """Put files are owned by the config's user; the workspace root is theirs, mode 0700."""
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        box.put({"main.sh": b"echo hi\n", "data/in.csv": b"1,2\n"})
        root = box.exec(["stat", "-c", "%u:%g %a", "/workspace"]).stdout.decode().split()
        files = box.exec(["stat", "-c", "%n %u:%g %a", "main.sh", "data", "data/in.csv"])
    assert root == ["1000:1000", "700"]
    assert files.stdout.decode().splitlines() == [
        "main.sh 1000:1000 644",
        "data 1000:1000 755",
        "data/in.csv 1000:1000 644",
    ]


def test_put_of_a_host_path_copies_its_content(sandbox: sr.RunBuilder, tmp_path: Path) -> None:
    """A host Path is read on this side and arrives with its content."""
    source = tmp_path / "in.txt"
    source.write_bytes(b"from the host\n")
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        box.put("in.txt", source)
        assert box.exec(["cat", "in.txt"]).stdout == b"from the host\n"


def test_the_workspace_is_the_default_working_directory(sandbox: sr.RunBuilder) -> None:
    """With no workdir set, the command runs in the workspace."""
    result = sr.run(sandbox.command(["pwd"]).build(), timeout=30)
    assert result.stdout == b"/workspace\n"


def test_run_puts_files_before_and_collects_after(sandbox: sr.RunBuilder) -> None:
    """run(files=, collect=) gives the command its inputs and returns what it wrote."""
    script = b"cat data/in.csv > out.txt; mkdir -p results/deep; echo r > results/deep/r.txt"
    result = sr.run(
        sandbox.command(["sh", "main.sh"]).build(),
        files={"main.sh": script, "data/in.csv": b"1,2\n"},
        collect=["out.txt", "results/", "absent.txt"],
        timeout=30,
    )
    assert result.exit_code == 0, result.stderr
    assert dict(result.files) == {"out.txt": b"1,2\n", "results/deep/r.txt": b"r\n"}
    assert result.missing == ("absent.txt",)


def test_run_files_are_a_read_only_mapping(sandbox: sr.RunBuilder) -> None:
    """RunResult.files cannot be changed by the caller."""
    result = sr.run(sandbox.command(["sh", "-c", "echo x > o"]).build(), collect=["o"], timeout=30)
    with pytest.raises(TypeError):
        result.files["o"] = b"changed"  # type: ignore[index]


def test_files_outlive_the_command(sandbox: sr.RunBuilder) -> None:
    """A file the command wrote is still there after its container exited (the keeper)."""
    with sr.launch(sandbox.command(["sh", "-c", "echo late > out.txt"]).build()) as box:
        assert box.wait(timeout=30) == 0
        assert box.get("out.txt") == b"late\n"


def test_the_workspace_is_capped_inside(sandbox: sr.RunBuilder) -> None:
    """Writing more than the workspace's size fails inside with ENOSPC."""
    result = sr.run(
        sandbox.command(["dd", "if=/dev/zero", "of=big", "bs=1M", "count=32"]).build(), timeout=30
    )
    assert result.exit_code != 0
    assert b"No space left on device" in result.stderr


def test_the_workspace_is_noexec_unless_asked(sandbox: sr.RunBuilder) -> None:
    """An executable put into the workspace cannot be run directly; exec=True allows it."""
    script = {"run.sh": b"#!/bin/sh\necho ran\n"}
    denied = sr.run(sandbox.command(["./run.sh"]).build(), files=script, timeout=30)
    cfg = sandbox.workspace("/workspace", "16m", exec=True).command(
        ["sh", "-c", "chmod +x run.sh && ./run.sh"]
    )
    allowed = sr.run(cfg.build(), files=script, timeout=30)
    assert denied.exit_code == 126
    assert (allowed.exit_code, allowed.stdout) == (0, b"ran\n")


def test_the_kernel_shows_the_workspace_as_configured(
    sandbox: sr.RunBuilder, engine: EngineFacts
) -> None:
    """verify() reads the workspace mount from the kernel: tmpfs, 16 MiB, 0700, uid, flags."""
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        report = box.verify()
        mountinfo = box.exec(["grep", " /workspace ", "/proc/self/mountinfo"]).stdout.decode()
        uid_map, gid_map = (box.exec(["cat", f"/proc/self/{m}"]).stdout.decode()
                            for m in ("uid_map", "gid_map"))  # fmt: skip
    mount = next(c for c in report.checks if c.property == "mount /workspace")
    assert mount.ok, mount
    per_mount, per_fs = mountinfo.split(" - ")
    assert per_fs.split()[0] == "tmpfs"
    uid, gid = engine.host_ids(1000, 1000)  # the kernel shows host ids (userns-remap)
    if engine.rootless:  # and the ids of the engine's user namespace as the host's
        uid, gid = _host_id(uid_map, 1000), _host_id(gid_map, 1000)
    assert {"size=16384k", "mode=700", f"uid={uid}", f"gid={gid}"} <= set(
        per_fs.split()[-1].split(",")
    )
    assert {"noexec", "nosuid", "nodev"} <= set(per_mount.split()[5].split(","))


def test_verify_catches_a_workspace_that_lost_its_cap(
    sandbox: sr.RunBuilder, docker_client: docker.DockerClient, test_image: str
) -> None:
    """A container given an uncapped writable volume where the workspace should be fails."""
    cfg = sandbox.command(["sleep", "600"]).build()
    kwargs = cfg.to_docker_kwargs()
    kwargs["tmpfs"] = {"/tmp": kwargs["tmpfs"]["/tmp"], "/workspace": "size=1g,mode=777"}
    container = docker_client.containers.run(**kwargs, detach=True)
    try:
        report = sr.verify(container.id, cfg, client=docker_client, strict=False)
    finally:
        container.remove(force=True)
    failed = {c.property for c in report.failures}
    assert {"HostConfig.Tmpfs", "mount /workspace"} <= failed


def test_the_keeper_holds_no_power(
    sandbox: sr.RunBuilder, docker_client: docker.DockerClient, engine: EngineFacts
) -> None:
    """The keeper runs as nobody with no capability, no new privileges, seccomp, no network."""
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        assert box.workspace is not None
        keeper = docker_client.api.inspect_container(box.workspace.keeper_id)
        status = Path(f"/proc/{keeper['State']['Pid']}/status").read_text()
        uid_map = Path(f"/proc/{keeper['State']['Pid']}/uid_map").read_text()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    uid = engine.host_ids(65534, 65534)[0]  # the host's view (userns-remap)
    if engine.rootless:  # the engine's user namespace, seen from the host
        uid = _host_id(uid_map, 65534)
    assert fields["Uid"].split()[0] == str(uid)
    assert fields["CapEff"].strip() == fields["CapBnd"].strip() == "0000000000000000"
    assert (fields["NoNewPrivs"].strip(), fields["Seccomp"].strip()) == ("1", "2")
    assert keeper["HostConfig"]["NetworkMode"] == "none"
    assert keeper["HostConfig"]["ReadonlyRootfs"] is True


def test_close_removes_the_keeper_and_the_volume(
    sandbox: sr.RunBuilder, docker_client: docker.DockerClient
) -> None:
    """After the with block, neither the keeper nor the workspace volume exists."""
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        assert box.workspace is not None
        keeper, volume = box.workspace.keeper_id, box.workspace.volume
        assert docker_client.api.inspect_volume(volume)["Name"] == volume
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_container(keeper)
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_volume(volume)


def test_an_error_in_the_block_still_removes_everything(
    sandbox: sr.RunBuilder, docker_client: docker.DockerClient
) -> None:
    """An exception (or Ctrl-C) inside the block removes container, keeper and volume."""
    names: list[str] = []

    def interrupted() -> None:
        with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
            assert box.workspace is not None
            names.extend([box.id, box.workspace.keeper_id, box.workspace.volume])
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    *containers, volume = names
    for container_id in containers:
        with pytest.raises(docker.errors.NotFound):
            docker_client.api.inspect_container(container_id)
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_volume(volume)


def test_a_timed_out_run_removes_its_volume(
    sandbox: sr.RunBuilder, docker_client: docker.DockerClient
) -> None:
    """A run that times out still collects what is there, and leaves no volume behind."""
    before = {v["Name"] for v in docker_client.api.volumes().get("Volumes") or ()}
    result = sr.run(
        sandbox.command(["sleep", "600"]).build(), files={"a": b"1"}, collect=["a"], timeout=1
    )
    after = {v["Name"] for v in docker_client.api.volumes().get("Volumes") or ()}
    assert result.timed_out
    assert result.files == {"a": b"1"}
    assert after <= before


def test_a_killed_owners_volume_is_reaped(
    sandbox: sr.RunBuilder, docker_client: docker.DockerClient
) -> None:
    """A process killed outright leaves container, keeper and volume; cleanup() reaps all."""
    cfg = sandbox.command(["sleep", "600"]).build()
    code = textwrap.dedent(
        f"""
        import os, secure_run as sr
        cfg = sr.builder({cfg.image!r}).command(["sleep", "600"]).workspace("/workspace", "16m")
        box = sr.launch(cfg.labels({TEST_LABELS!r}).build())
        print(box.workspace.volume, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    volume = done.stdout.strip()
    assert volume.startswith("secure-run-ws-"), done.stderr
    assert docker_client.api.inspect_volume(volume)["Name"] == volume
    reaped = sr.cleanup(client=docker_client)
    kinds = sorted(r.kind for r in reaped if r.kind == "volume" and r.name == volume)
    assert kinds == ["volume"]
    assert sum(r.kind == "container" for r in reaped) >= 2  # the sandbox and its keeper
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_volume(volume)


def test_files_without_a_workspace_are_refused_before_the_engine(test_image: str) -> None:
    """run(files=...) of a config with no workspace is a ConfigError naming the fix."""
    cfg = sr.builder(test_image).command(["true"]).labels(TEST_LABELS).build()
    with pytest.raises(sr.ConfigError, match=r"\.workspace\("):
        sr.run(
            cfg,
            files={"a": b"1"},
            client=docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.41"),
        )


def test_collecting_past_max_collect_names_that_cap_and_keeps_the_result(
    sandbox: sr.RunBuilder,
) -> None:
    """run(collect=) over max_collect raises OutputTooLarge(cap="max_collect") with the result."""
    cfg = sandbox.command(["sh", "-c", "echo ran; head -c 200000 /dev/zero > big"]).build()
    with pytest.raises(sr.OutputTooLarge) as caught:
        sr.run(cfg, collect=["big"], max_collect=100_000, timeout=30)
    assert (caught.value.what, caught.value.cap, caught.value.limit) == (
        "big",
        "max_collect",
        100_000,
    )
    assert "max_collect" in str(caught.value)
    assert isinstance(caught.value.result, sr.RunResult)
    assert caught.value.result.stdout == b"ran\n"


def test_get_tree_copies_what_the_container_wrote(sandbox: sr.RunBuilder, tmp_path: Path) -> None:
    """get_tree writes the directory the command made under into, byte for byte, and no more.

    The modes come out masked (no setuid, setgid or sticky bit); nothing else appears.
    """
    script = (
        "mkdir -p results/deep && printf a > results/a.txt && printf bb > results/deep/b.bin "
        "&& chmod 4755 results/a.txt && mkdir results/empty && echo elsewhere > other.txt"
    )
    into = tmp_path / "into"
    into.mkdir()
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        assert box.exec(["sh", "-c", script]).exit_code == 0
        written = box.get_tree("results/", into=into)
    assert sorted(p.relative_to(into).as_posix() for p in written) == [
        "results/a.txt",
        "results/deep/b.bin",
    ]
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*")) == [
        "results", "results/a.txt", "results/deep", "results/deep/b.bin", "results/empty",
    ]  # fmt: skip
    assert (into / "results/a.txt").read_bytes() == b"a"
    assert (into / "results/deep/b.bin").read_bytes() == b"bb"
    assert (into / "results/a.txt").stat().st_mode & 0o7777 == 0o755


def test_a_put_of_many_files_and_host_paths_arrives_whole(
    sandbox: sr.RunBuilder, tmp_path: Path
) -> None:
    """One put of a mapping of 100 bytes values and a host Path: every file, every byte, inside."""
    source = tmp_path / "host.bin"
    source.write_bytes(bytes(range(256)) * 40)
    files: dict[str, bytes | Path] = {f"many/f{i:03}": f"{i}\n".encode() for i in range(100)}
    files["host.bin"] = source
    with sr.launch(sandbox.command(["sleep", "600"]).build()) as box:
        box.put(files)
        count = box.exec(["sh", "-c", "ls many | wc -l; cat many/f042; md5sum host.bin"])
    lines = count.stdout.decode().split()
    assert lines[:2] == ["100", "42"]
    assert lines[2] == hashlib.md5(source.read_bytes()).hexdigest()  # noqa: S324 (a checksum)

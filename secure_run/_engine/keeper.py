"""The keeper: secure_run's own tiny image, whose only process holds a workspace mounted.

A workspace is a tmpfs volume (:mod:`.workspace`). The local volume driver mounts the
tmpfs when the first container using the volume starts and unmounts it, contents
and all, when the last one stops; while no container runs, the archive API writes
into, and reads from, a fresh tmpfs that is gone again at once. So files can only
go in before a command starts, and come out after it ended, while some other
container holds the volume mounted: the keeper, Kubernetes' "pause" container
pattern.

The keeper image is built here, never pulled: one static ELF executable of a few
instructions (``for (;;) pause();``; ``ppoll(NULL, 0, NULL, NULL)`` on arm64, which
has no ``pause``), written out below byte by byte with its disassembly, imported
with ``docker import`` as ``secure-run/keeper:<digest>``. It runs as nobody under
the restricted preset, with no network, no capabilities, a pids limit and a few
megabytes of memory.

Reading through the keeper has a second use: the archive API resolves links
inside the container it is asked about, and the keeper's root holds nothing but
the keeper itself, so a link planted in the workspace can never lead to the
files of the workload's image.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import threading

import docker

from .._errors import ImageNotFound, Problem, UnsupportedFeature
from .client import low_level
from .errors import translated

__all__ = ["KEEPER_LABEL", "KEEPER_PATH", "keeper_elf", "keeper_image"]

KEEPER_PATH = "/keeper"
KEEPER_LABEL = "io.secure-run.keeper"
_REPOSITORY = "secure-run/keeper"

#: Each machine's code, at the ELF's entry point: loop forever in a blocking syscall.
_CODE = {
    "x86_64": (
        0x3E,  # EM_X86_64
        bytes.fromhex(
            "b822000000"  # 0: mov  eax, 34      (SYS_pause)
            "0f05"  #       5: syscall
            "ebf7"  #       7: jmp  0
        ),
    ),
    "aarch64": (
        0xB7,  # EM_AARCH64
        struct.pack(
            "<7I",
            0xD2800000,  # 0:  mov x0, #0     (fds = NULL)
            0xD2800001,  # 4:  mov x1, #0     (nfds = 0)
            0xD2800002,  # 8:  mov x2, #0     (timeout = NULL: for ever)
            0xD2800003,  # 12: mov x3, #0     (sigmask = NULL)
            0xD2800928,  # 16: mov x8, #73    (SYS_ppoll)
            0xD4000001,  # 20: svc #0
            0x17FFFFFA,  # 24: b   0
        ),
    ),
}

#: Docker's names for the machines (``docker version``'s ``Arch``), and uname's.
_MACHINES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}

_BASE = 0x400000  # the load address
_HEADERS = 64 + 56  # the ELF header and one program header


def keeper_elf(machine: str) -> bytes:
    """The keeper executable for ``machine`` (``"x86_64"`` or ``"aarch64"``).

    A static ELF64 little-endian executable with one read+execute ``PT_LOAD``
    segment that maps the whole file; the code starts right after the headers.
    """
    e_machine, code = _CODE[machine]
    size = _HEADERS + len(code)
    header = struct.pack(
        "<4sBBBBB7xHHIQQQIHHHHHH",
        b"\x7fELF",
        2,  # ELFCLASS64
        1,  # ELFDATA2LSB
        1,  # EV_CURRENT
        0,  # ELFOSABI_SYSV
        0,  # ABI version
        2,  # ET_EXEC
        e_machine,
        1,  # EV_CURRENT
        _BASE + _HEADERS,  # e_entry
        64,  # e_phoff
        0,  # e_shoff: no section headers
        0,  # e_flags
        64,  # e_ehsize
        56,  # e_phentsize
        1,  # e_phnum
        0,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    program = struct.pack(
        "<IIQQQQQQ",
        1,  # PT_LOAD
        5,  # PF_R | PF_X
        0,  # p_offset
        _BASE,  # p_vaddr
        _BASE,  # p_paddr
        size,  # p_filesz
        size,  # p_memsz
        0x1000,  # p_align
    )
    return header + program + code


def _rootfs(machine: str) -> bytes:
    """The keeper image's root filesystem: the executable alone, owned by root, 0555."""
    elf = keeper_elf(machine)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(KEEPER_PATH.lstrip("/"))
        info.size, info.mode, info.mtime = len(elf), 0o555, 0
        tar.addfile(info, io.BytesIO(elf))
    return buffer.getvalue()


_lock = threading.Lock()
_known: set[tuple[str, str]] = set()


def keeper_image(client: docker.DockerClient) -> str:
    """The keeper image's reference on this engine, imported first if it is not there.

    Raises:
        UnsupportedFeature: The engine runs on a machine the keeper has no code for.
    """
    with translated("read the engine's version", client=client):
        arch = str(client.api.version().get("Arch", ""))
    machine = _MACHINES.get(arch)
    if machine is None:
        why = "no keeper executable for this machine (secure_run has one for amd64 and arm64)"
        fix = "run the sandbox without a workspace; pass files by stdin or a read-only mount"
        raise UnsupportedFeature([Problem("workspace", arch or "unknown", why, fix)])
    rootfs = _rootfs(machine)
    reference = f"{_REPOSITORY}:{hashlib.sha256(rootfs).hexdigest()[:16]}"
    key = (str(client.api.base_url), reference)
    with _lock:
        if key in _known:
            return reference
        try:
            with translated("inspect image", image=reference, client=client):
                low_level(client).inspect_image(reference)
        except ImageNotFound:
            pass
        else:
            _known.add(key)
            return reference
        repository, tag = reference.split(":")
        changes = [f'CMD ["{KEEPER_PATH}"]', "USER 65534:65534", f"LABEL {KEEPER_LABEL}=1"]
        with translated("import the keeper image", image=reference, client=client):
            client.api.import_image_from_data(
                rootfs, repository=repository, tag=tag, changes=changes
            )
        _known.add(key)
    return reference

"""Helpers for testing code that launches containers with secure_run.

The centrepiece is :func:`build_test_image`: it builds, through the Docker SDK and
without pulling anything, a tiny image for tests that need a real Docker Engine::

    import docker
    from secure_run.testing import build_test_image

    client = docker.from_env()
    image = build_test_image(client)
    out = client.containers.run(image, ["id"], user="1000", network_mode="none", remove=True)
    assert b"uid=1000(app)" in out

The image is ``FROM scratch`` and holds:

* the host's statically linked busybox at ``/bin/busybox``, with a symlink in ``/bin``
  for each of its applets (``sh``, ``id``, ``stat``, ...);
* ``/etc/passwd`` and ``/etc/group`` naming ``root`` (0), ``app`` (1000:1000, home
  ``/home/app``, which exists and belongs to it) and ``nobody`` (65534:65534);
* ``/usr/local/bin/suid-probe``, a static C program owned by root with mode ``04755``
  (setuid root) that prints ``ruid=<n> euid=<n> rgid=<n> egid=<n>`` followed by the
  ``CapPrm:`` and ``CapEff:`` lines of ``/proc/self/status``. Run as a non-root user
  it shows whether a setuid binary can still gain privileges, which is what
  ``no-new-privileges`` is meant to prevent;
* ``/usr/local/bin/sr-attack``, a static C program (not setuid, mode ``0755``) that
  makes the one privileged or probing system call its first argument names and
  prints one line, ``NAME: ok`` or ``NAME: errno=EPERM (Operation not permitted)``,
  exiting 0 either way (2 for a usage error). See :data:`ATTACK_TOOL_SOURCE` for the
  attacks (``chown``, ``mknod``, ``mount``, ``raw-socket``, ``sethostname``,
  ``ptrace``, ``init-module``, ``finit-module``, ``settime``, ``kill``, ``fork-bomb``,
  ``unshare-user``, ``connect``, ``read``, ``create``, ``write``). It sends nothing off
  the machine: ``raw-socket`` only creates the socket, ``connect`` only ever dials
  ``127.0.0.1``.

It needs, on the machine running the tests: a static busybox (Debian and Ubuntu:
``apt-get install busybox-static``) and, for the two C programs, ``gcc`` with a static
C library (``apt-get install gcc libc6-dev``). Without gcc the image is built without
them, see :func:`has_suid_probe` and :func:`has_attack_tool`. The host binaries are
copied into the image, so the engine must run on the same CPU architecture as the
machine running the tests.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from ._errors import SecureRunError
from ._testing_sources import ATTACK_TOOL_SOURCE, SUID_PROBE_SOURCE

__all__ = [
    "ATTACK_TOOL_LABEL",
    "ATTACK_TOOL_PATH",
    "ATTACK_TOOL_SOURCE",
    "IMAGE_LABEL",
    "RECIPE_LABEL",
    "SUID_PROBE_LABEL",
    "SUID_PROBE_PATH",
    "SUID_PROBE_SOURCE",
    "TEST_IMAGE",
    "TEST_LABELS",
    "TestImageError",
    "build_test_image",
    "has_attack_tool",
    "has_suid_probe",
]

#: The tag :func:`build_test_image` gives the image unless told otherwise.
TEST_IMAGE = "secure-run-test/busybox:latest"

TEST_LABELS: dict[str, str] = {"secure-run.test": "1"}
"""Labels a test puts on every container it makes, so a leak check can count them.

They sit outside the reserved ``io.secure-run.`` namespace, which configs refuse.
"""

#: Label set to ``"1"`` on every image :func:`build_test_image` builds.
IMAGE_LABEL = "io.secure-run.test-image"

#: Label holding a hash of everything the image was built from; a change rebuilds it.
RECIPE_LABEL = "io.secure-run.test-image.recipe"

#: Label set to ``"1"`` when the image holds the setuid probe, ``"0"`` when it does not.
SUID_PROBE_LABEL = "io.secure-run.suid-probe"

#: Where the setuid probe lives inside the image.
SUID_PROBE_PATH = "/usr/local/bin/suid-probe"


#: Label set to ``"1"`` when the image holds the attack tool, ``"0"`` when it does not.
ATTACK_TOOL_LABEL = "io.secure-run.attack-tool"

#: Where the attack tool lives inside the image.
ATTACK_TOOL_PATH = "/usr/local/bin/sr-attack"


# Bump when the way the image is put together changes, so old images get rebuilt.
_RECIPE_VERSION = "3"

_USERS_FILE = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUPS_FILE = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"

_BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox")
_BUSYBOX_BASE = "busybox"
_PT_INTERP = 3
_HOST_TIMEOUT = 120


class TestImageError(SecureRunError, RuntimeError):
    """The test image could not be built; the message says what is missing and the fix.

    .. versionadded:: 0.1
    """

    __test__ = False  # not a test class, whatever pytest makes of the name


def build_test_image(
    client: docker.DockerClient,
    *,
    tag: str = TEST_IMAGE,
    busybox: str | None = None,
    allow_pull: bool = False,
    rebuild: bool = False,
) -> str:
    """Build the test image (see the module docs) unless an up-to-date one exists.

    The image is built through ``client`` from a context made in memory, with
    ``pull=False`` and ``network_mode="none"``. An image already tagged ``tag`` is
    reused when it was built by this function from the same inputs (busybox binary,
    probe source, recipe); otherwise it is rebuilt.

    Without a static busybox on the host, a local image named ``busybox`` is used as
    the base instead; if there is none, it is pulled only when ``allow_pull`` is true.
    Nothing is ever pulled otherwise.

    Args:
        client: The client of the engine to build on.
        tag: The tag to give the image.
        busybox: Path of a statically linked busybox binary. By default
            ``/bin/busybox``, ``/usr/bin/busybox`` or the ``busybox`` on ``PATH``,
            whichever is found first and is static.
        allow_pull: Whether the ``busybox`` image may be pulled when neither a static
            busybox binary nor a local ``busybox`` image exists.
        rebuild: Build the image again even if an up-to-date one exists.

    Returns:
        ``tag``, which names the image.

    Raises:
        TestImageError: No busybox could be found, ``tag`` names an image this
            function did not build, or the engine refused the build.
    """
    existing = _get_image(client, tag)
    if existing is not None and existing.labels.get(IMAGE_LABEL) != "1":
        raise TestImageError(
            f"the tag {tag!r} names image {existing.short_id}, which build_test_image did "
            f"not build; pass another tag= or remove that image (docker rmi {tag})"
        )

    gcc = shutil.which("gcc")
    binary = _find_static_busybox(busybox)
    base: str | None = None
    applets: list[str] = []
    if binary is not None:
        applets = _busybox_applets(binary)
        inputs = f"busybox-sha256={_sha256_file(binary)}\napplets={','.join(applets)}"
    else:
        base = _busybox_base(client, allow_pull=allow_pull)
        inputs = f"base={_image_id(client, base)}"
    recipe = _recipe(inputs, has_gcc=gcc is not None)
    if existing is not None and not rebuild and existing.labels.get(RECIPE_LABEL) == recipe:
        return tag

    probe = _compile(gcc, SUID_PROBE_SOURCE, "suid-probe") if gcc is not None else None
    attack = _compile(gcc, ATTACK_TOOL_SOURCE, "sr-attack") if gcc is not None else None
    context = _build_context(binary=binary, applets=applets, base=base, probe=probe, attack=attack)
    labels = {
        IMAGE_LABEL: "1",
        RECIPE_LABEL: recipe,
        SUID_PROBE_LABEL: "1" if probe is not None else "0",
        ATTACK_TOOL_LABEL: "1" if attack is not None else "0",
    }
    _build(client, context, tag, labels)
    if existing is not None and existing.id is not None:
        _remove_if_unused(client, existing.id)
    return tag


def _recipe(inputs: str, *, has_gcc: bool) -> str:
    """A hash of everything the image is built from: a change means a rebuild."""
    parts = (f"recipe={_RECIPE_VERSION}", inputs, f"gcc={has_gcc}", _USERS_FILE, _GROUPS_FILE,
             SUID_PROBE_SOURCE, ATTACK_TOOL_SOURCE)  # fmt: skip
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _build(
    client: docker.DockerClient, context: io.BytesIO, tag: str, labels: dict[str, str]
) -> None:
    """Build the image from ``context``: never pulling, with no network."""
    try:
        client.images.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            labels=labels,
            pull=False,
            network_mode="none",
            rm=True,
            forcerm=True,
            use_config_proxy=False,
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise TestImageError(f"the engine could not build the test image {tag!r}: {exc}") from exc


def has_suid_probe(client: docker.DockerClient, tag: str = TEST_IMAGE) -> bool:
    """Whether the test image ``tag`` holds the setuid probe at :data:`SUID_PROBE_PATH`.

    Args:
        client: The client of the engine holding the image.
        tag: The test image, as :func:`build_test_image` returned it.

    Returns:
        ``True`` when the image was built with the probe (``gcc`` was found),
        ``False`` when it was built without it or does not exist.
    """
    image = _get_image(client, tag)
    return image is not None and image.labels.get(SUID_PROBE_LABEL) == "1"


def has_attack_tool(client: docker.DockerClient, tag: str = TEST_IMAGE) -> bool:
    """Whether the test image ``tag`` holds the attack tool at :data:`ATTACK_TOOL_PATH`.

    Args:
        client: The client of the engine holding the image.
        tag: The test image, as :func:`build_test_image` returned it.

    Returns:
        ``True`` when the image was built with the tool (``gcc`` was found),
        ``False`` when it was built without it or does not exist.

    .. versionadded:: 0.1
    """
    image = _get_image(client, tag)
    return image is not None and image.labels.get(ATTACK_TOOL_LABEL) == "1"


def _get_image(client: docker.DockerClient, name: str) -> Image | None:
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


def _remove_if_unused(client: docker.DockerClient, image_id: str) -> None:
    """Remove a replaced test image, unless it is still tagged or in use."""
    current = _get_image(client, image_id)
    if current is None or current.tags:
        return
    with contextlib.suppress(docker.errors.APIError):  # still used by a container
        client.images.remove(image_id, noprune=False)


def _image_id(client: docker.DockerClient, name: str) -> str:
    image = _get_image(client, name)
    return image.id if image is not None and image.id is not None else name


def _find_static_busybox(explicit: str | None) -> Path | None:
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise TestImageError(f"busybox={explicit!r}: no such file")
        if not _is_static_elf(path):
            raise TestImageError(
                f"busybox={explicit!r} is not a statically linked ELF binary; it cannot run "
                "in an empty image. Install one with: apt-get install busybox-static"
            )
        return path
    candidates = list(_BUSYBOX_CANDIDATES)
    on_path = shutil.which("busybox")
    if on_path is not None:
        candidates.append(on_path)
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and _is_static_elf(path):
            return path
    return None


def _is_static_elf(path: Path) -> bool:
    """Whether ``path`` is an ELF executable with no program interpreter."""
    try:
        with path.open("rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2):
                return False
            is64 = ident[4] == 2
            order = "<" if ident[5] == 1 else ">"
            header = f.read(48 if is64 else 36)
            if is64:
                phoff = struct.unpack_from(order + "Q", header, 16)[0]
                phentsize, phnum = struct.unpack_from(order + "HH", header, 38)
            else:
                phoff = struct.unpack_from(order + "I", header, 12)[0]
                phentsize, phnum = struct.unpack_from(order + "HH", header, 26)
            if phnum == 0:
                return False
            for index in range(phnum):
                f.seek(phoff + index * phentsize)
                entry = f.read(4)
                if len(entry) < 4:
                    return False
                if struct.unpack(order + "I", entry)[0] == _PT_INTERP:
                    return False
            return True
    except (OSError, struct.error):
        return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _busybox_applets(binary: Path) -> list[str]:
    try:
        listed = subprocess.run(
            [str(binary), "--list"],
            capture_output=True,
            text=True,
            check=True,
            timeout=_HOST_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TestImageError(f"could not list the applets of {binary}: {exc}") from exc
    names = {
        name.strip()
        for name in listed.stdout.splitlines()
        if name.strip() and "/" not in name and name.strip() not in (".", "..", "busybox")
    }
    if "sh" not in names:
        raise TestImageError(f"{binary} --list names no 'sh' applet; it cannot serve as a shell")
    return sorted(names)


def _busybox_base(client: docker.DockerClient, *, allow_pull: bool) -> str:
    for image in client.images.list(name=_BUSYBOX_BASE):
        if image.tags:
            return str(image.tags[0])
    if not allow_pull:
        raise TestImageError(
            "no statically linked busybox binary was found (looked at "
            + ", ".join(_BUSYBOX_CANDIDATES)
            + " and PATH) and the engine has no local 'busybox' image. Fix: install one "
            "with `apt-get install busybox-static`, pass busybox='/path/to/static/busybox', "
            "or allow pulling the busybox image (allow_pull=True)"
        )
    try:
        client.images.pull(_BUSYBOX_BASE, tag="latest")
    except docker.errors.APIError as exc:
        raise TestImageError(
            f"no static busybox on the host and pulling {_BUSYBOX_BASE}:latest failed: {exc}; "
            "install one with `apt-get install busybox-static`"
        ) from exc
    return f"{_BUSYBOX_BASE}:latest"


def _compile(gcc: str, text: str, name: str) -> bytes | None:
    """``text`` compiled with ``gcc -static -O2``; None without a static C library."""
    with tempfile.TemporaryDirectory(prefix="secure-run-probe-") as tmp:
        source = Path(tmp, f"{name}.c")
        output = Path(tmp, name)
        source.write_text(text)
        try:
            subprocess.run(
                [gcc, "-static", "-O2", "-o", str(output), str(source)],
                capture_output=True,
                check=True,
                timeout=_HOST_TIMEOUT,
            )
        except (OSError, subprocess.SubprocessError):
            # gcc without a static C library (libc6-dev): build without the program,
            # which its label (SUID_PROBE_LABEL, ATTACK_TOOL_LABEL) records.
            return None
        return output.read_bytes()


def _build_context(
    *,
    binary: Path | None,
    applets: list[str],
    base: str | None,
    probe: bytes | None,
    attack: bytes | None,
) -> io.BytesIO:
    """A tar build context: a Dockerfile, ``rootfs/`` copied to ``/`` and ``home-app/``."""
    lines = [f"FROM {base}" if base is not None else "FROM scratch", "COPY rootfs/ /"]
    lines.append("COPY --chown=1000:1000 home-app/ /home/app/")
    if probe is not None:
        # The engine's COPY drops the setuid bit (the context is unpacked without it),
        # so set it in a RUN step; the build runs it with network_mode="none".
        lines.append(f'RUN ["/bin/chmod", "4755", "{SUID_PROBE_PATH}"]')
    if base is None:
        lines.append('CMD ["/bin/sh"]')
    dockerfile = "\n".join(lines) + "\n"

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_file(tar, "Dockerfile", dockerfile.encode(), 0o644)
        for directory in ("rootfs", "rootfs/etc", "home-app"):
            _add_dir(tar, directory)
        if binary is not None:
            _add_dir(tar, "rootfs/bin")
            _add_file(tar, "rootfs/bin/busybox", binary.read_bytes(), 0o755)
            for applet in applets:
                link = tarfile.TarInfo(f"rootfs/bin/{applet}")
                link.type = tarfile.SYMTYPE
                link.linkname = "busybox"
                link.mode = 0o777
                tar.addfile(link)
        _add_file(tar, "rootfs/etc/passwd", _USERS_FILE.encode(), 0o644)
        _add_file(tar, "rootfs/etc/group", _GROUPS_FILE.encode(), 0o644)
        if probe is not None or attack is not None:
            for directory in ("rootfs/usr", "rootfs/usr/local", "rootfs/usr/local/bin"):
                _add_dir(tar, directory)
        if probe is not None:
            # COPY makes it root-owned; the RUN step above adds the setuid bit.
            _add_file(tar, "rootfs" + SUID_PROBE_PATH, probe, 0o755)
        if attack is not None:
            _add_file(tar, "rootfs" + ATTACK_TOOL_PATH, attack, 0o755)
    buffer.seek(0)
    return buffer


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":  # `python -m secure_run.testing` builds the test image
    print(build_test_image(docker.from_env()))

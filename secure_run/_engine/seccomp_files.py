"""Seccomp profiles as files on this host, for an engine that takes a profile only by path.

Podman 4.3.1's Docker API reads the value of a ``seccomp=`` security option as a file
path, so the inline JSON Docker takes fails the create (podman#27710); and its own
default profile (containers-common's) is weaker than Docker's: a process without
capabilities may ``unshare(CLONE_NEWUSER)`` under it, where Docker's returns EPERM.
On a Podman engine on this host (a unix socket) the library therefore writes the
profile to a file and sends its path: for ``seccomp('default')`` Docker's own default
profile, vendored here, so a container gets the same filter as under Docker; for a
custom profile, its JSON. A Podman engine elsewhere cannot read a file of this host:
there the library refuses seccomp (:mod:`secure_run._engine.podman`).

The files live in ``$TMPDIR/secure-run-seccomp-<uid>/`` (mode 0700, owned by the
user; anything else there is refused), each named by the SHA-256 of its content
(``sha256-<hex>.json``), written once and atomically (a temporary file renamed), so
concurrent launches share it and a file is never read half written. :func:`read_profile`
reads one back for ``verify()``, and only when its content still hashes to its name.

``docker-default-seccomp.json`` beside this module is Docker Engine 20.10.24's default
seccomp profile: moby's ``profiles/seccomp/default.json`` as shipped, unchanged, in
Debian's ``golang-github-docker-docker-dev`` 20.10.24+dfsg1-1+deb12u1 (the source of
Debian 12's ``docker.io`` 20.10.24 dockerd, whose compiled-in default it is).
Copyright 2012-2018 Docker, Inc.; licensed under the Apache License, Version 2.0, whose
text ships beside it as ``docker-default-seccomp.LICENSE``, with the attribution in
``docker-default-seccomp.NOTICE``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import tempfile
from importlib import resources
from pathlib import Path

from .._errors import LaunchError

__all__ = [
    "DOCKER_DEFAULT_RESOURCE",
    "docker_default_profile",
    "profile_dir",
    "profile_file",
    "read_profile",
]

#: The vendored profile, a resource of this package.
DOCKER_DEFAULT_RESOURCE = "docker-default-seccomp.json"
_PREFIX = "sha256-"
_SUFFIX = ".json"


@functools.lru_cache(maxsize=1)
def docker_default_profile() -> str:
    """Docker Engine 20.10.24's default seccomp profile, as the JSON text vendored here."""
    package = resources.files(__name__.rpartition(".")[0])
    return (package / DOCKER_DEFAULT_RESOURCE).read_text("utf-8")


def profile_dir() -> Path:
    """``$TMPDIR/secure-run-seccomp-<uid>``: where this user's profile files go."""
    return Path(tempfile.gettempdir()) / f"secure-run-seccomp-{os.getuid()}"


def _name(text: str) -> str:
    return f"{_PREFIX}{hashlib.sha256(text.encode('utf-8')).hexdigest()}{_SUFFIX}"


def _own_dir() -> Path:
    """The profile folder, made mode 0700 if absent; refused if it is not the user's own."""
    folder = profile_dir()
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise _refused(folder, f"it cannot be made ({exc.strerror})") from None
    st = folder.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise _refused(folder, "it is not a folder (a symlink or a file)")
    if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise _refused(
            folder,
            f"it is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}, "
            f"not by uid {os.getuid()} with mode 0700",
        )
    return folder


def _refused(folder: Path, why: str) -> LaunchError:
    return LaunchError(
        f"the seccomp profile cannot be written to {folder}: {why}; remove it, or point "
        "TMPDIR at a folder of your own"
    )


def profile_file(text: str) -> str:
    """The path of a file holding ``text``, written now unless it is there already.

    Raises:
        LaunchError: The folder is not the user's own (mode 0700), or cannot be written.
    """
    folder = _own_dir()
    path = folder / _name(text)
    if read_profile(str(path)) == text:
        return str(path)
    fd, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o644)  # the engine (root, or another user) reads it
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise _refused(folder, f"writing failed ({exc.strerror})") from None
    return str(path)


def read_profile(path: str) -> str | None:
    """The profile a path written by :func:`profile_file` holds; ``None`` for any other path.

    ``None`` too when the file is gone, or its content no longer hashes to its name.
    """
    file = Path(path)
    if file.parent != profile_dir() or not file.name.startswith(_PREFIX):
        return None
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text if _name(text) == file.name else None

"""A sandbox's workspace: a tmpfs volume a keeper holds mounted, and the files that cross it.

Why a volume and a keeper (see :mod:`.keeper`): the workspace must be writable on a
read-only root and capped in size, so it is a tmpfs; files must go in before the
command starts and come out after it ends, so the tmpfs must outlive the
command's container. A tmpfs-backed volume of the local driver lives exactly as
long as some container holding it runs, so a keeper container holds it from the
first put to the last get. The archive API goes through the keeper:

- in: :meth:`WorkspaceVolume.put` sends one tar, built and checked on this side
  (names, sizes, the workspace's size) before the engine is called, owned by the
  config's user. A put the tmpfs cannot hold raises :class:`WorkspaceFull`.
- out: :meth:`WorkspaceVolume.get`, :meth:`~WorkspaceVolume.get_tree` and
  :meth:`~WorkspaceVolume.collect` read what the sandbox wrote as hostile input:
  never through a link, within caps on size, total and entry count
  (:mod:`secure_run._files.tar_out`). The engine resolves a path inside the keeper,
  whose root holds nothing but the keeper itself.

The volume and the keeper carry secure_run's labels and the config's, are tracked
while alive (:mod:`.live`) and are removed on every path; a killed owner's are
reaped by :func:`~secure_run.cleanup`.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
import docker.errors
import docker.utils
from typing_extensions import Self

from .._config.presets import builder
from .._config.run_config import RunConfig
from .._config.values import User, Workspace
from .._errors import (
    ConfigError,
    LaunchError,
    OutputTooLarge,
    SandboxFileNotFound,
    UnsafeArchive,
    WorkspaceFull,
)
from .._files.tar_in import input_archive
from .._files.tar_out import extract_tree, read_file, read_tree
from .._proof.verify import verify
from .client import low_level
from .create import create
from .errors import translated
from .facts import engine_facts
from .keeper import KEEPER_PATH, keeper_image
from .labels import VOLUME_PREFIX, managed_labels
from .live import LIVE, release, release_volume
from .signals import held_during_create

__all__ = ["VOLUME_PREFIX", "WorkspaceVolume", "input_tar", "workspace_of"]

_CHUNK = 64 * 1024
#: Go's os.ModeSymlink, in the mode of the engine's path stat.
_GO_MODE_SYMLINK = 1 << 27


def workspace_of(cfg: RunConfig, action: str) -> Workspace:
    """The config's workspace, or a ConfigError saying how to give it one."""
    if cfg.workspace is None:
        fix = 'build the config with .workspace("/workspace", size="64m")'
        raise ConfigError.single("workspace", None, f"{action} needs a workspace", fix)
    return cfg.workspace


def input_tar(cfg: RunConfig, files: Mapping[str, bytes | os.PathLike[str]]) -> bytes:
    """The tar a put sends, checked against the config's workspace before any engine call."""
    workspace = workspace_of(cfg, "putting files")
    uid, gid = (cfg.user.uid, cfg.user.gid) if cfg.user is not None else (0, 0)
    return input_archive(files, uid=uid, gid=gid, max_total=workspace.size)


def _volume_owner(client: docker.DockerClient, cfg: RunConfig) -> User | None:
    """Who the volume's tmpfs belongs to, in the host's ids the engine mounts it with.

    The local driver mounts the volume on the host, so its ``uid=``/``gid=`` are host
    ids; under ``userns-remap`` the container's user is another id there (65534 is
    165534 with ``dockremap:100000:65536``). verify() checks the owner inside.
    """
    uid, gid = (cfg.user.uid, cfg.user.gid) if cfg.user is not None else (0, 0)
    if cfg.userns_mode == "host":
        return User(uid, gid)
    return User(*engine_facts(client).host_ids(uid, gid))


class WorkspaceVolume:
    """The workspace volume of one sandbox, and the keeper container that holds it."""

    def __init__(
        self, client: docker.DockerClient, cfg: RunConfig, volume: str, keeper_id: str
    ) -> None:
        self.client = client
        self.config = cfg
        self.workspace = workspace_of(cfg, "a workspace volume")
        self.volume = volume
        self.keeper_id = keeper_id
        self.closed = False

    @classmethod
    def open(cls, client: docker.DockerClient, cfg: RunConfig, *, strict: bool) -> Self:
        """Create the volume and start the keeper; both are removed if anything fails."""
        workspace = workspace_of(cfg, "a workspace volume")
        image = keeper_image(client)
        name = VOLUME_PREFIX + uuid.uuid4().hex[:16]
        options = workspace.as_tmpfs(_volume_owner(client, cfg)).options()
        with held_during_create(), translated("create the workspace volume", client=client):
            client.api.create_volume(
                name,
                driver="local",
                driver_opts={"type": "tmpfs", "device": "tmpfs", "o": options},
                labels={**dict(cfg.labels), **managed_labels()},
            )
            LIVE.add_volume(name, client)
        try:
            keeper_cfg = _keeper_config(image, cfg, name)
            keeper_id = create(
                client, keeper_cfg, strict=strict, stdin=False, workspace_volume=name
            )
            try:
                with translated("start the workspace keeper", client=client):
                    client.api.start(keeper_id)
                verify(keeper_id, keeper_cfg, client=client, strict=True, kernel=False)
            except BaseException:
                release(client, keeper_id)
                raise
        except BaseException:
            release_volume(client, name)
            raise
        return cls(client, cfg, name, keeper_id)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the keeper, then the volume; safe to call more than once.

        A container still using the volume keeps it: remove that container first.
        """
        if self.closed:
            return
        self.closed = True
        try:
            release(self.client, self.keeper_id)
        finally:
            release_volume(self.client, self.volume)

    def _alive(self) -> None:
        if self.closed:
            raise LaunchError("the workspace was removed with its sandbox; launch a new one")

    def _path(self, name: str) -> str:
        return posixpath.join(self.workspace.path, name.rstrip("/"))

    # -- in ------------------------------------------------------------------

    def put_tar(self, data: bytes, names: Sequence[str]) -> None:
        """Send a tar made by :func:`input_tar` into the workspace.

        Raises:
            WorkspaceFull: The tmpfs could not hold it (files may be partly written).
        """
        self._alive()
        try:
            with translated("copy files into the workspace", client=self.client):
                self.client.api.put_archive(self.keeper_id, self.workspace.path, data)
        except LaunchError as exc:
            if "no space left" not in str(exc).lower():
                raise
            raise WorkspaceFull(
                f"the workspace ({self.workspace.size} bytes at {self.workspace.path}) is full: "
                f"the put of {', '.join(map(repr, names))} did not fit and is not done; files "
                "of it may be partly written. Free space, or give .workspace(size=...) more",
                names=names,
            ) from exc

    def put(self, files: Mapping[str, bytes | os.PathLike[str]]) -> None:
        """Check, pack and send files into the workspace (see :func:`input_tar`)."""
        self.put_tar(input_tar(self.config, files), list(files))

    # -- out -----------------------------------------------------------------

    def _stat(self, name: str) -> dict[str, Any] | None:
        """The engine's stat of a workspace path (its last part not followed); None if absent.

        docker-py has no call for ``HEAD /containers/{id}/archive``: its private URL and
        status helpers are used here, and only here.
        """
        api = low_level(self.client)
        with translated("stat in the workspace", client=self.client):
            url = api._url("/containers/{0}/archive", self.keeper_id)
            response = api.head(url, params={"path": self._path(name)})
            if response.status_code == 404:
                return None
            api._raise_for_status(response)
        header = response.headers.get("x-docker-container-path-stat")
        return dict(docker.utils.decode_json_header(header)) if header else {}

    def _refuse_linked_parents(self, name: str) -> None:
        """Refuse a path whose parent directories hold a link: the engine would follow it.

        The engine resolves every part of a path but the last, inside the keeper, whose
        root holds only the keeper itself: so this is a second wall, not the first.
        """
        parts = name.rstrip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            stat = self._stat(prefix)
            if stat is None:
                raise SandboxFileNotFound(f"{prefix!r} is not in the workspace; check the name")
            if stat.get("linkTarget") or int(stat.get("mode", 0)) & _GO_MODE_SYMLINK:
                why = f"a symbolic link to {stat.get('linkTarget')!r} on the way; secure_run "
                raise UnsafeArchive([(prefix, why + "never follows links out of a sandbox")])

    def _archive(self, name: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        self._alive()
        self._refuse_linked_parents(name)
        path = self._path(name)
        with translated("read from the workspace", client=self.client):
            try:
                stream, stat = self.client.api.get_archive(self.keeper_id, path, chunk_size=_CHUNK)
            except docker.errors.NotFound:
                raise SandboxFileNotFound(
                    f"{name!r} is not in the workspace ({self.workspace.path}); list it with "
                    "exec(['ls', '-la']) or check the name"
                ) from None
        return stream, dict(stat or {})

    def get(self, name: str, *, max_size: int) -> bytes:
        """One regular file's content; never a link's target."""
        stream, stat = self._archive(name)
        try:
            if int(stat.get("size", 0)) > max_size and not stat.get("linkTarget"):
                raise OutputTooLarge(name, "max_size", max_size, f"it holds {stat['size']} bytes")
            return read_file(stream, name, max_size=max_size)
        finally:
            _close(stream)

    def get_tree(
        self, name: str, into: str | os.PathLike[str], *, max_size: int, max_total: int,
        max_entries: int,
    ) -> list[Path]:  # fmt: skip
        """Extract a directory of the workspace into ``into``, safely (see tar_out)."""
        stream, _ = self._archive(name)
        try:
            return extract_tree(stream, name, into, max_size=max_size, max_total=max_total,
                                max_entries=max_entries)  # fmt: skip
        finally:
            _close(stream)

    def collect(
        self, names: Sequence[str], *, max_total: int, max_entries: int
    ) -> tuple[dict[str, bytes], tuple[str, ...]]:
        """What ``run(collect=...)`` returns: the files found, and the names not there.

        A name ending in ``/`` is a directory: every regular file under it. The caps
        count across all names together.
        """
        found: dict[str, bytes] = {}
        missing: list[str] = []
        for name in names:
            budget = max_total - sum(len(v) for v in found.values())
            try:
                if name.endswith("/"):
                    stream, _ = self._archive(name)
                    try:
                        found.update(read_tree(stream, name, max_size=budget, max_total=budget,
                                               max_entries=max_entries - len(found)))  # fmt: skip
                    finally:
                        _close(stream)
                else:
                    found[name] = self.get(name, max_size=budget)
            except SandboxFileNotFound:
                missing.append(name)
        return found, tuple(missing)


def _close(stream: Iterator[bytes]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def _keeper_config(image: str, cfg: RunConfig, volume: str) -> RunConfig:
    """The keeper's own hardened config: the restricted preset, nearly no resources."""
    workspace = workspace_of(cfg, "a keeper")
    return (
        builder(image)
        .name(f"secure-run-keeper-{volume[len(VOLUME_PREFIX) :]}")
        .command([KEEPER_PATH])
        .init(False)  # the keeper never forks: no zombie to reap
        .memory("16m", reservation="8m")
        .cpus(0.05)
        .pids_limit(128)  # gVisor counts the sandbox's threads: runsc needs 128
        .workspace(workspace.path, workspace.size, exec=workspace.exec)
        .labels(dict(cfg.labels))
        .build()
    )

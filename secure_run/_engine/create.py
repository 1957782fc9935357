"""Creating a container: the image under the pull policy, then one create request.

The request goes through the low-level API, so the engine's ``Warnings`` are seen;
the new container carries secure_run's labels and is tracked from the moment its
id is known, with SIGINT and SIGTERM held while the request is in flight.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import docker
import docker.types

from .._config.run_config import RunConfig
from .._errors import ConfigError, ImageNotFound, LaunchError
from .._export.docker import create_args, sdk_kwargs
from .client import low_level
from .errors import translated
from .facts import cached_facts, create_warnings, engine_facts, refuse_unsupported
from .labels import managed_labels
from .live import LIVE, release
from .podman import podman_security_opts
from .rootless import rootless_waivers, with_waivers
from .signals import held_during_create

__all__ = ["PULL_POLICIES", "PullPolicy", "check_pull", "create", "prepare"]

logger = logging.getLogger("secure_run")

PullPolicy = Literal["never", "missing", "always"]
PULL_POLICIES = ("never", "missing", "always")


def check_pull(pull: str) -> None:
    """Refuse an unknown pull policy, before the engine is contacted."""
    if pull not in PULL_POLICIES:
        raise ConfigError.single("pull", pull, "unknown pull policy", f"use one of {PULL_POLICIES}")


def prepare(cfg: RunConfig, client: docker.DockerClient, pull: str) -> None:
    """Refuse what the engine cannot honour, and make sure of the image (pull policy)."""
    refuse_unsupported(cfg, engine_facts(client))
    if pull != "never":  # under 'never', create's own 404 says the image is missing
        _ensure_image(client, cfg.image, pull)


def _ensure_image(client: docker.DockerClient, image: str, pull: str) -> None:
    """Make sure the image is present under the pull policy; no implicit pulls."""
    present = True
    try:
        with translated("inspect image", image=image, client=client):
            low_level(client).inspect_image(image)
    except ImageNotFound:
        present = False
    if pull == "always" or (pull == "missing" and not present):
        try:
            with translated("pull image", image=image, client=client):
                client.images.pull(image)
        except LaunchError as exc:  # the registry refused or could not be reached
            raise ImageNotFound(
                f"image {image!r} could not be pulled ({exc}); check the name and the "
                "registry, or build or load it locally",
                image=image,
            ) from exc
    elif not present:
        raise _not_present(image)


def _not_present(image: str) -> ImageNotFound:
    return ImageNotFound(
        f"image {image!r} is not present and the pull policy is 'never'; build or load "
        f"it first (docker build / docker load), or pass pull='missing' to allow a pull",
        image=image,
    )


def _request(
    client: docker.DockerClient, cfg: RunConfig, *, stdin: bool, workspace_volume: str | None
) -> tuple[dict[str, Any], str | None, str | None]:
    """The create request's body, name and platform, with secure_run's labels.

    With ``workspace_volume``, the workspace is that volume (a tmpfs volume a keeper
    holds, see :mod:`.workspace`) instead of the container's own tmpfs.
    """
    kwargs = sdk_kwargs(cfg)
    kwargs.setdefault("command", None)  # no command: the image's own CMD
    kwargs["labels"] = {**kwargs["labels"], **managed_labels()}
    facts = cached_facts(client)  # read by prepare(), which refused what it cannot honour
    if facts is not None and facts.without_cgroups:  # the limits it drops are waived: say so
        kwargs["labels"] = with_waivers(kwargs["labels"], rootless_waivers(cfg))
    if facts is not None and facts.podman:  # the seccomp profile as a file (podman#27710)
        kwargs["security_opt"] = podman_security_opts(cfg)
    if workspace_volume is not None and cfg.workspace is not None:
        kwargs["tmpfs"].pop(cfg.workspace.path)
        # no_copy: the engine must not copy the image's directory (its content, owner and
        # mode) into the empty volume; the workspace is the user's, mode 0700, empty.
        mount = docker.types.Mount(
            cfg.workspace.path, workspace_volume, type="volume", no_copy=True
        )
        kwargs["mounts"] = [*kwargs.get("mounts", ()), mount]
    kwargs.pop("use_config_proxy")  # only create_container() knows it; it is not applied here
    kwargs["version"] = low_level(client)._version
    kwargs["stdin_open"] = stdin
    args = create_args(kwargs)
    name, platform = args.pop("name", None), args.pop("platform", None)
    config: dict[str, Any] = low_level(client).create_container_config(
        **args, stop_timeout=cfg.stop_timeout
    )
    if stdin:
        config["StdinOnce"] = True  # stdin closes when the attached writer closes
    return config, name, platform


def create(
    client: docker.DockerClient,
    cfg: RunConfig,
    *,
    strict: bool,
    stdin: bool,
    workspace_volume: str | None = None,
) -> str:
    """Create the container, tracked from the moment its id is known; return the id.

    Raises:
        ImageNotFound: The image is absent (the Engine API never pulls on create).
        LaunchError: The engine refused the request, or (``strict``) warned about it;
            a container it made is removed first.
    """
    config, name, platform = _request(client, cfg, stdin=stdin, workspace_volume=workspace_volume)
    container_id: str | None = None
    try:
        with held_during_create():  # a signal now would lose the id of what the daemon makes
            try:
                with translated("create container", image=cfg.image, client=client):
                    response = low_level(client).create_container_from_config(
                        config, name, platform
                    )
            except ImageNotFound:
                # With the default policy, 'never', no image inspect comes first (a
                # request saved on every launch): create's 404 is the answer.
                raise _not_present(cfg.image) from None
            container_id = str(response["Id"])
            LIVE.add(container_id, client)
        create_warnings(response.get("Warnings"), strict=strict, logger=logger)
    except BaseException:
        if container_id is not None:
            release(client, container_id)
        raise
    return container_id

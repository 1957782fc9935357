"""launch(): create, start and verify a container that outlives the call.

Every container secure_run creates carries ``io.secure-run.managed=1`` and an
owner label (:mod:`.labels`), is tracked while it is alive in this process
(:mod:`.live`), and is removed on every exit path: a normal return, an exception,
``KeyboardInterrupt``, SIGTERM (turned into a clean ``SystemExit`` while a
container is alive and the program has no SIGTERM handler of its own, see
:mod:`.signals`), and interpreter exit. A container whose owner was killed
outright is reaped later by :func:`~secure_run.cleanup`.

This module also re-exports the engine's public names from their homes:
:class:`SecureContainer`, :class:`ExecResult` and :class:`ExecStream` (:mod:`.container`),
:func:`run`, :class:`RunResult` and :class:`Streams` (:mod:`.run`).
"""

from __future__ import annotations

import contextlib

import docker

from .._config.run_config import RunConfig
from .client import session
from .container import ExecResult, ExecStream, SecureContainer, verify_started
from .create import PullPolicy, check_pull, create, prepare
from .errors import translated
from .run import RunResult, Streams, run
from .workspace import WorkspaceVolume

__all__ = ["ExecResult", "ExecStream", "RunResult", "SecureContainer", "Streams", "launch", "run"]


def launch(
    cfg: RunConfig,
    *,
    client: docker.DockerClient | None = None,
    verify: bool = True,
    strict: bool = True,
    pull: PullPolicy = "never",
) -> SecureContainer:
    """Create, start and verify a container; use it in a ``with`` block.

    Args:
        cfg: The configuration.
        client: The Docker client; ``docker.from_env()`` when omitted.
        verify: Check the daemon's record and the kernel's state once started;
            a difference removes the container and raises.
        strict: Raise on an engine warning at create, and on a verification
            difference; otherwise log the warning and keep the report.
        pull: ``"never"`` (the default), ``"missing"`` or ``"always"``.

    Raises:
        DaemonUnavailable: No engine answers.
        ImageNotFound: The image is absent and the pull policy forbids a pull.
        UnsupportedFeature: The engine cannot honour a setting.
        LaunchError: The engine refused to create or start the container.
        HardeningNotApplied: The container did not get what the config asked for.

    .. versionadded:: 0.1
    """
    check_pull(pull)
    with contextlib.ExitStack() as owned:
        engine = owned.enter_context(session(client))  # a client made here is closed with it
        with contextlib.ExitStack() as on_failure:
            prepare(cfg, engine, pull)
            workspace = None
            if cfg.workspace is not None:  # a volume a keeper holds: files outlive the command
                workspace = WorkspaceVolume.open(engine, cfg, strict=strict)
                on_failure.callback(workspace.close)
            volume = None if workspace is None else workspace.volume
            container_id = create(engine, cfg, strict=strict, stdin=False, workspace_volume=volume)
            container = SecureContainer(container_id, cfg, engine)
            container.workspace = workspace
            on_failure.callback(container.close)
            with translated("start container", client=engine):
                engine.api.start(container.id)
            if verify:
                container.report = verify_started(container, strict)
            on_failure.pop_all()
        # Success: the container outlives the call, and owns what was made for it.
        container._owned = owned.pop_all()
    return container

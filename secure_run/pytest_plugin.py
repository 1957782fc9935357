r"""A pytest plugin: launch hardened containers in a test, removed when the test ends.

Installed with secure_run and registered as a ``pytest11`` entry point, so the
fixture is there in every test session::

    def test_echo(secure_launch):
        c = secure_launch(sr.builder("busybox").command(["sleep", "30"]).build())
        assert c.exec(["echo", "hi"]).stdout == b"hi\\n"

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest

from ._config.run_config import RunConfig
from ._engine.container import SecureContainer
from ._engine.launch import launch

__all__ = ["secure_launch"]


@pytest.fixture
def secure_launch() -> Iterator[Callable[..., SecureContainer]]:
    """A function that launches a :class:`RunConfig`; every container it made is removed after.

    It takes the keyword arguments of :func:`secure_run.launch` (``client``,
    ``verify``, ``strict``, ``pull``).
    """
    launched: list[SecureContainer] = []

    def start(cfg: RunConfig, **kwargs: Any) -> SecureContainer:
        container = launch(cfg, **kwargs)
        launched.append(container)
        return container

    try:
        yield start
    finally:
        for container in reversed(launched):
            container.close()

"""The one client policy (``_engine.client.session``): a given client is never closed."""

from __future__ import annotations

import contextlib

import pytest
from engine_fakes import FakeClient, as_client

from secure_run._engine import client as client_module


def test_a_given_client_is_used_as_is_and_not_closed() -> None:
    """session(client) yields that very client and leaves it open."""
    given = FakeClient()
    with client_module.session(as_client(given)) as used:
        assert used is given
    assert given.closed == 0


def test_a_given_client_stays_open_when_the_block_fails() -> None:
    """An error in the block does not close a client the caller gave."""
    given = FakeClient()
    with pytest.raises(KeyError), client_module.session(as_client(given)):
        raise KeyError("boom")
    assert given.closed == 0


@pytest.mark.parametrize("error", [None, KeyError, KeyboardInterrupt], ids=repr)
def test_a_made_client_is_closed_once_on_every_path(
    error: type[BaseException] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a client, session() makes one with the options given and closes it once."""
    made = FakeClient()
    options: list[dict[str, object]] = []

    def connect(**kwargs: object) -> FakeClient:
        options.append(kwargs)
        return made

    monkeypatch.setattr(client_module, "connect", connect)
    expected = pytest.raises(error) if error else contextlib.nullcontext()
    with expected, client_module.session(None, max_pool_size=8) as used:
        assert used is made
        if error is not None:
            raise error
    assert made.closed == 1
    assert options == [{"max_pool_size": 8}]


def test_low_level_is_the_clients_api() -> None:
    """low_level(client) is client.api, for the calls its type stubs lack."""
    fake = FakeClient()
    assert client_module.low_level(as_client(fake)) is fake.api

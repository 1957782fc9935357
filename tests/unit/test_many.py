"""run_many()'s argument checks and the RunOutcome type, without an engine."""

from __future__ import annotations

import pytest

import secure_run as sr


class _NoEngine:
    """A stand-in client that fails the test if anything touches it."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the engine was contacted ({name})")


@pytest.fixture
def cfg() -> sr.RunConfig:
    return sr.builder("busybox").command(["true"]).build()


def _result() -> sr.RunResult:
    return sr.RunResult(
        exit_code=0, stdout=b"", stderr=b"", timed_out=False, oom_killed=False,
        duration_s=0.1, truncated=sr.Streams(), container_id="abc",
    )  # fmt: skip


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "4", None])
def test_bad_workers_is_a_config_error_before_the_engine(cfg, workers) -> None:
    """A worker count that is not a positive int is a ConfigError naming ``workers``."""
    with pytest.raises(sr.ConfigError) as info:
        sr.run_many([cfg], workers=workers, client=_NoEngine())  # type: ignore[arg-type]
    assert [p.field for p in info.value.problems] == ["workers"]


def test_every_bad_argument_is_listed_at_once(cfg) -> None:
    """Bad workers, timeout, max_output, pull and a non-config item are reported together."""
    with pytest.raises(sr.ConfigError) as info:
        sr.run_many(
            [cfg, "not a config"], workers=0, timeout=-1, max_output=-5, pull="sometimes",
            client=_NoEngine(),
        )  # type: ignore[arg-type, list-item]  # fmt: skip
    fields = [p.field for p in info.value.problems]
    assert fields == ["workers", "timeout", "max_output", "pull", "configs[1]"]


def test_an_empty_batch_returns_at_once() -> None:
    """No configs: an empty list, and the engine is not contacted."""
    assert sr.run_many([], client=_NoEngine()) == []  # type: ignore[arg-type]


def test_outcome_with_a_result_unwraps_to_it(cfg) -> None:
    """An outcome holding a result is ok and unwraps to that result."""
    result = _result()
    outcome = sr.RunOutcome(config=cfg, result=result)
    assert outcome.ok
    assert outcome.unwrap() is result


def test_outcome_with_an_error_raises_it(cfg) -> None:
    """An outcome holding an error is not ok, and unwrap() raises that very error."""
    error = sr.LaunchError("refused")
    outcome = sr.RunOutcome(config=cfg, error=error)
    assert not outcome.ok
    with pytest.raises(sr.LaunchError) as info:
        outcome.unwrap()
    assert info.value is error


@pytest.mark.parametrize("both", [True, False])
def test_outcome_holds_exactly_one_of_result_and_error(cfg, both) -> None:
    """An outcome with both a result and an error, or neither, cannot be made."""
    kwargs = {"result": _result(), "error": sr.LaunchError("x")} if both else {}
    with pytest.raises(ValueError, match="exactly one"):
        sr.RunOutcome(config=cfg, **kwargs)


def test_outcome_repr_shows_no_config_details(cfg) -> None:
    """The outcome's repr names the image, not the whole config (which may hold secrets)."""
    secret = sr.builder("busybox").env({"TOKEN": "hunter2"}).build()
    assert "hunter2" not in repr(sr.RunOutcome(config=secret, result=_result()))
    assert "busybox" in repr(sr.RunOutcome(config=cfg, result=_result()))

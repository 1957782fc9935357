"""Every builder method, given anything: a valid config or a ConfigError, never the daemon."""

from __future__ import annotations

import inspect
from typing import Any

import docker
import fuzzkit
import pytest
from fuzzkit import ANYTHING, SHAPED, example, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

import secure_run as sr

#: Every public method of the builder that takes user data (all but build and problems).
METHODS = sorted(
    name
    for name, _ in inspect.getmembers(sr.RunBuilder, inspect.isfunction)
    if not name.startswith("_") and name != "build"
)


@st.composite
def arguments(draw: st.DrawFn, method: str, values: Any) -> tuple[list[Any], dict[str, Any]]:
    """Arguments for ``method`` from its signature; ``values(param)`` gives each one's values."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    params = list(inspect.signature(getattr(sr.RunBuilder, method)).parameters.values())[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    count = draw(st.integers(min_value=required, max_value=len(positional)))
    args.extend(draw(values(p.name)) for p in positional[:count])
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            args.extend(draw(st.lists(values(p.name), max_size=3)))
        elif p.kind is p.VAR_KEYWORD:
            keys = st.text(min_size=1, max_size=6).filter(
                lambda k: k not in {q.name for q in params if q.kind is not q.POSITIONAL_ONLY}
            )
            kwargs.update(draw(st.dictionaries(keys, values(p.name), max_size=2)))
        elif p.kind is p.KEYWORD_ONLY and draw(st.booleans()):
            kwargs[p.name] = draw(values(p.name))
    return args, kwargs


def _run(start: sr.RunBuilder, method: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    if method == "seccomp" and any(fuzzkit.unsafe_path(a) for a in args):
        return  # never read a device or /proc file as a profile (see test_fuzz_inputs)
    with example():
        builder = fuzzkit.call(start, method, *args, **kwargs)
        if builder is not None:
            assert isinstance(builder, sr.RunBuilder)
            fuzzkit.build_or_refuse(builder, args, kwargs)


def test_every_builder_method_is_fuzzed():
    """The shaped-value table covers every builder method, so a new method cannot be missed."""
    assert sorted(SHAPED) == METHODS


@fuzz_settings()
@given(data=st.data(), start=fuzzkit.preset_builders(), method=st.sampled_from(METHODS))
def test_any_values_to_any_builder_method(data, start, method):
    """Arbitrary values to any method, from any preset: a valid config or a ConfigError."""
    args, kwargs = data.draw(arguments(method, lambda _: ANYTHING), label="arguments")
    _run(start, method, args, kwargs)


@fuzz_settings()
@given(data=st.data(), start=fuzzkit.preset_builders(), method=st.sampled_from(METHODS))
def test_well_shaped_wrong_values_to_any_builder_method(data, start, method):
    """Near-miss values (weird units, huge ints, NaN, NUL, unicode digits) per parameter."""

    def values(param: str) -> st.SearchStrategy[Any]:
        shaped = SHAPED[method].get(param)
        return ANYTHING if shaped is None else st.one_of(shaped, shaped, ANYTHING)

    args, kwargs = data.draw(arguments(method, values), label="arguments")
    _run(start, method, args, kwargs)


@fuzz_settings()
@given(
    start=fuzzkit.preset_builders(),
    calls=st.lists(
        st.sampled_from(METHODS).flatmap(
            lambda m: st.tuples(
                st.just(m),
                arguments(m, lambda p, m=m: st.one_of(SHAPED[m].get(p, ANYTHING), ANYTHING)),
            )
        ),
        min_size=2,
        max_size=6,
    ),
)
def test_chains_of_builder_calls(start, calls):
    """A chain of calls with near-miss values: every problem is kept until build()."""
    if any(m == "seccomp" and any(fuzzkit.unsafe_path(a) for a in args) for m, (args, _) in calls):
        return
    with example():
        builder: sr.RunBuilder | None = start
        problems = 0
        for method, (args, kwargs) in calls:
            assert builder is not None
            builder = fuzzkit.call(builder, method, *args, **kwargs)
            if builder is None:
                return
            assert len(builder.problems) >= problems, "a later call dropped a recorded problem"
            problems = len(builder.problems)
        assert builder is not None
        cfg = fuzzkit.build_or_refuse(builder, calls)
        assert cfg is None or not builder.problems, "built although a call recorded a problem"


@pytest.mark.parametrize("method", ["env", "labels"])
def test_a_mapping_whose_keys_no_dict_can_hold_is_refused(method):
    """The flake's input class: a Mapping with a list key is a ConfigError, not a TypeError."""
    mapping = fuzzkit.PairsMapping([(["a"], "1"), ("B", "2")])
    with example():
        builder = getattr(sr.preset("restricted", fuzzkit.IMAGE), method)(mapping)
        assert [p.message for p in builder.problems] == ["keys and values must be strings"]
        assert fuzzkit.build_or_refuse(builder, mapping) is None


def test_the_env_strategy_draws_only_keys_a_dict_can_hold():
    """The shaped env mappings never make Hypothesis itself raise TypeError while drawing."""

    @fuzz_settings(max_examples=300)
    @given(fuzzkit.SHAPED["env"]["mapping"])
    def draw(mapping: Any) -> None:
        assert isinstance(mapping, (dict, fuzzkit.PairsMapping))

    draw()


def test_the_daemon_double_counts_and_refuses_every_way_to_a_client(daemon_tripwire):
    """Under the double, making a client raises DaemonTouched and is counted: the proof can fail."""
    for attempt in (sr.audit_all, docker.from_env, lambda: docker.APIClient()):
        with pytest.raises(fuzzkit.DaemonTouched):
            attempt()
    assert daemon_tripwire.calls == ["docker.DockerClient()", "docker.from_env",
                                     "docker.APIClient()"]  # fmt: skip
    daemon_tripwire.calls.clear()

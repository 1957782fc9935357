"""The per-field rules: every RunConfig field type-checked, the same by the builder and evolve."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Union

import attrs
import pytest

import secure_run as sr
from secure_run._config import fields
from secure_run._config.run_config import RunConfig

IMAGE = "busybox:1.36"
VALID = sr.builder(IMAGE).build()
INIT_FIELDS = [a.name for a in attrs.fields(RunConfig) if a.init]


class _NotAType:
    """A value of no type any RunConfig field declares."""

    def __repr__(self) -> str:
        return "<not a type>"


def test_every_init_field_has_a_shape():
    """The type rule knows every init field of RunConfig, in order: none is left unchecked."""
    assert list(fields.FIELDS) == INIT_FIELDS


@pytest.mark.parametrize("field", INIT_FIELDS)
def test_every_init_field_is_type_checked(field):
    """A value of no declared type in any field is a ConfigError naming that field."""
    with pytest.raises(sr.ConfigError) as caught:
        attrs.evolve(VALID, **{field: _NotAType()})
    assert [p.field for p in caught.value.problems] == [field]
    assert "not _NotAType" in caught.value.problems[0].message


@pytest.mark.parametrize(
    "annotation",
    [
        dict[str, int],
        list[str],
        set[int],
        object,
        Union[int, str, tuple[int, ...]],
        "tuple[str, ...]",
    ],
    ids=str,
)
def test_an_annotation_the_type_rule_cannot_check_is_an_error(annotation):
    """An annotation the rule cannot read raises TypeError when it is learnt, never passes."""
    with pytest.raises(TypeError, match="the type rule cannot check"):
        fields.shape_of(annotation, "RunConfig.x")


def test_register_refuses_a_class_with_an_unreadable_field():
    """register() of a class with a field the rule cannot check fails at once (import time)."""

    @attrs.frozen
    class Odd:
        mapping: dict[str, int]

    saved = dict(fields.FIELDS)
    try:
        with pytest.raises(TypeError, match=r"Odd\.mapping"):
            fields.register(Odd)  # type: ignore[arg-type]
    finally:
        fields.register(RunConfig)
    assert saved == fields.FIELDS


# A value the builder takes as it is, and what the same value does given to evolve.
_BAD_STEPS = {
    "workdir=5": (lambda b: b.workdir(5), {"workdir": 5}),
    "hostname with NUL": (lambda b: b.hostname("a\x00b"), {"hostname": "a\x00b"}),
    "name as bytes": (lambda b: b.name(b"x"), {"name": b"x"}),
    "privileged=1": (lambda b: b.privileged(1), {"privileged": 1}),
    "read_only='yes'": (lambda b: b.read_only("yes"), {"read_only": "yes"}),
    "init=None": (lambda b: b.init(None), {"init": None}),
    "cpuset=[0]": (lambda b: b.cpuset([0]), {"cpuset": [0]}),
    "apparmor with NUL": (lambda b: b.apparmor("x\x00"), {"apparmor": "x\x00"}),
    "runtime=1.5": (lambda b: b.runtime(1.5), {"runtime": 1.5}),
    "pids_limit=2**70": (lambda b: b.pids_limit(2**70), {"pids_limit": 2**70}),
    "cpu_shares=2**64": (lambda b: b.cpu_shares(2**64), {"cpu_shares": 2**64}),
    "network with NUL": (lambda b: b.network("a\x00"), {"network": "a\x00"}),
    "a label with NUL": (lambda b: b.labels({"k": "v\x00"}), {"labels": {"k": "v\x00"}}),
    "stop_timeout=2**63": (lambda b: b.stop_timeout(2**63), {"stop_timeout": 2**63}),
}


@pytest.mark.parametrize(("step", "changes"), list(_BAD_STEPS.values()), ids=list(_BAD_STEPS))
def test_the_builder_and_evolve_refuse_the_same_input_with_the_same_problems(step, changes):
    """A bad field value gives the same problems by a builder step and by attrs.evolve."""
    with pytest.raises(sr.ConfigError) as by_builder:
        step(sr.builder(IMAGE)).build()
    with pytest.raises(sr.ConfigError) as by_evolve:
        attrs.evolve(VALID, **changes)
    assert by_builder.value.problems == by_evolve.value.problems


@pytest.mark.parametrize(("step", "changes"), list(_BAD_STEPS.values()), ids=list(_BAD_STEPS))
def test_a_builder_step_refuses_a_bad_value_when_it_is_set(step, changes):
    """The per-field rules run when a step sets a field: the problem is recorded at once."""
    before = sr.builder(IMAGE)
    after = step(before)
    assert [p.field for p in after.problems] == list(changes)
    assert repr(after).split(", problems=")[0] == repr(before).split(", problems=")[0]


@pytest.mark.parametrize(("_", "changes"), list(_BAD_STEPS.values()), ids=list(_BAD_STEPS))
def test_the_constructor_runs_every_rule(_, changes):
    """RunConfig(...) with a bad field raises ConfigError, as evolve does."""
    values = {a.name: getattr(VALID, a.name) for a in attrs.fields(RunConfig) if a.init}
    with pytest.raises(sr.ConfigError):
        RunConfig(**{**values, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"labels": 5},
        {"env": [("A",)]},
        {"cap_add": 3},
        {"opt_ins": ["no-such-opt-in"]},
        {"opt_ins": [["unhashable"]]},
        {"tmpfs": (sr.Tmpfs("/scratch", "big", 0o1777),)},
        {"user": sr.User("1000", 1000)},
        {"ulimits": (sr.Ulimit("nofile", 1.5, 2),)},
        {"healthcheck": sr.Healthcheck(test=("CMD", 1))},
    ],
    ids=str,
)
def test_what_a_converter_cannot_convert_is_a_config_error(changes):
    """Converters never raise: a value they cannot convert is a ConfigError, not a TypeError."""
    with pytest.raises(sr.ConfigError) as caught:
        attrs.evolve(VALID, **changes)
    assert {p.field for p in caught.value.problems} == set(changes)


class _PairsWithListKeys(Mapping):  # type: ignore[type-arg]
    """A Mapping of a user's own whose keys no dict could hold (the fuzz's TypeError)."""

    def __getitem__(self, key: object) -> str:
        return "v"

    def __iter__(self) -> Iterator[object]:
        return iter([["not", "hashable"]])

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize("method", ["env", "labels"])
def test_a_mapping_with_unhashable_keys_is_a_config_error(method):
    """env() and labels() record a problem for a key no dict can hold, instead of a TypeError."""
    builder = getattr(sr.builder(IMAGE), method)(_PairsWithListKeys())
    (problem,) = builder.problems
    assert problem.message == "keys and values must be strings"
    with pytest.raises(sr.ConfigError):
        builder.build()


def test_a_builder_made_directly_checks_its_fields():
    """RunBuilder(fields=...) runs the per-field rules: a bad or unknown field is a problem."""
    builder = sr.RunBuilder(fields={"image": IMAGE, "workdir": 7, "colour": "blue"})
    assert sorted(p.field for p in builder.problems) == ["colour", "workdir"]
    with pytest.raises(sr.ConfigError):
        builder.build()


@pytest.mark.parametrize("field", INIT_FIELDS)
def test_the_fast_test_never_passes_what_the_rules_refuse(field):
    """For each field's valid and invalid values, a passed fast test means no problem."""
    test = fields.FIELD_TESTS[field]
    samples = [getattr(VALID, field), None, True, 1, 2**64, 1.5, "x", "x\x00", (), ("x",), (1,)]
    for value in samples:
        if test(value):
            assert fields.field_problems(field, value) == [], (field, value)
    assert test(getattr(VALID, field)) or fields.field_problems(field, getattr(VALID, field)) == []

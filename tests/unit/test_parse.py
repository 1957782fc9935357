"""Parsers of user text: memory sizes, CPU counts, users, image references, durations."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import secure_run as sr
from secure_run._config.capabilities import ALL_CAPABILITIES, normalize_capability
from secure_run._config.parse import (
    parse_cpus,
    parse_duration_ns,
    parse_image,
    parse_memory,
    parse_user,
)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

PROPERTY = settings(max_examples=200, deadline=None, database=None)

# Anything a caller might pass by mistake.
ANYTHING = st.one_of(
    st.text(),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.binary(),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers(), st.integers()),
)


def _only_problem(excinfo: pytest.ExceptionInfo[sr.ConfigError]) -> sr.Problem:
    assert len(excinfo.value.problems) == 1
    return excinfo.value.problems[0]


# -- memory -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("256m", 256 * MiB),
        ("256M", 256 * MiB),
        ("1g", GiB),
        ("1G", GiB),
        ("512MiB", 512 * MiB),
        ("512mb", 512 * MiB),
        ("1.5g", 3 * GiB // 2),
        ("0.5k", 512),
        ("64k", 64 * KiB),
        ("10KiB", 10 * KiB),
        ("10kb", 10 * KiB),
        ("100", 100),
        ("100b", 100),
        (" 32m ", 32 * MiB),
        ("32 m", 32 * MiB),
        (0, 0),
        (4096, 4096),
        (7 * GiB, 7 * GiB),
    ],
)
def test_parse_memory_gives_exact_bytes(given_value, expected):
    """A size in bytes, k, m, g (powers of two, MiB style too) becomes the exact byte count."""
    assert parse_memory(given_value) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "abc",
        "-1",
        "12x",
        "1.5",
        "1.5b",
        "1e6",
        "m",
        "1.g",
        "0x10",
        1.5,
        -1,
        True,
        False,
        None,
        b"1m",
        [1],
    ],
)
def test_parse_memory_refuses_a_bad_value_naming_the_field(bad):
    """Non-sizes, negatives, fractional bytes, floats and bools raise ConfigError for the field."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_memory(bad, field="tmpfs")
    assert _only_problem(excinfo).field == "tmpfs"


def test_parse_memory_names_memory_by_default():
    """Without a field argument the problem is reported against ``memory``."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_memory("abc")
    assert _only_problem(excinfo).field == "memory"


def test_parse_memory_refuses_fractional_bytes_saying_so():
    """``"1.5"`` is refused because bytes must be whole, not as an unreadable size."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_memory("1.5")
    assert "whole" in _only_problem(excinfo).message


def test_parse_memory_refuses_absurdly_long_numbers():
    """A 31-digit number is refused as too large rather than computed."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_memory("1" * 31 + "g")
    assert "too large" in _only_problem(excinfo).message


@PROPERTY
@given(st.integers(min_value=0, max_value=10**12))
def test_parse_memory_units_round_trip(n):
    """``n`` in each unit is exactly ``n`` times the power of two the unit names."""
    assert parse_memory(f"{n}k") == n * KiB
    assert parse_memory(f"{n}m") == n * MiB
    assert parse_memory(f"{n}g") == n * GiB
    assert parse_memory(f"{n}MiB") == n * MiB
    assert parse_memory(f"{n}") == n
    assert parse_memory(n) == n


@PROPERTY
@given(ANYTHING)
def test_parse_memory_returns_int_or_raises_config_error(value):
    """Whatever it is given, parse_memory returns a non-negative int or raises ConfigError."""
    try:
        result = parse_memory(value)
    except sr.ConfigError:
        return
    assert type(result) is int
    assert result >= 0


@PROPERTY
@given(st.from_regex(r"\s*-?[0-9]{0,400}(\.[0-9]{0,4})?\s*[kmgKMGbBi]{0,3}\s*", fullmatch=True))
def test_parse_memory_on_size_like_text_raises_only_config_error(text):
    """Text that looks almost like a size never escapes as a DockerException or ValueError."""
    try:
        result = parse_memory(text)
    except sr.ConfigError:
        return
    assert isinstance(result, int)


# -- cpus ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [(0.5, 0.5), (2, 2.0), ("0.25", 0.25), (" 1.5 ", 1.5), ("3", 3.0), (0, 0.0)],
)
def test_parse_cpus_gives_a_float(given_value, expected):
    """Ints, floats and numeric text become a float CPU count."""
    result = parse_cpus(given_value)
    assert result == expected
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "bad", ["", "half", "1,5", "inf", "-inf", "nan", float("inf"), float("nan"), True, None, b"1"]
)
def test_parse_cpus_refuses_a_non_finite_or_non_number(bad):
    """Text that is not a number, infinities, NaN, bools and None raise ConfigError for cpus."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_cpus(bad)
    assert _only_problem(excinfo).field == "cpus"


def test_parse_cpus_refuses_an_int_too_large_for_a_float():
    """An int beyond float range is refused with ConfigError, not an OverflowError."""
    with pytest.raises(sr.ConfigError):
        parse_cpus(10**400)


@PROPERTY
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_cpus_text_round_trip(x):
    """The repr of any finite float parses back to the same float."""
    assert parse_cpus(repr(x)) == x


@PROPERTY
@given(ANYTHING)
def test_parse_cpus_returns_finite_float_or_raises_config_error(value):
    """Whatever it is given, parse_cpus returns a finite float or raises ConfigError."""
    try:
        result = parse_cpus(value)
    except sr.ConfigError:
        return
    assert isinstance(result, float)
    assert math.isfinite(result)


# -- users --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("1000:1000",), sr.User(1000, 1000)),
        (("1000:2000",), sr.User(1000, 2000)),
        ((1000, 1000), sr.User(1000, 1000)),
        ((1000, "2000"), sr.User(1000, 2000)),
        (("1000",), sr.User(1000, 1000)),
        ((1000,), sr.User(1000, 1000)),
        (("root",), sr.User(0, 0)),
        (("root:root",), sr.User(0, 0)),
        (("0",), sr.User(0, 0)),
        ((0,), sr.User(0, 0)),
        (("1000:root",), sr.User(1000, 0)),
        ((" 65534:65534 ",), sr.User(65534, 65534)),
        ((2**31 - 1,), sr.User(2**31 - 1, 2**31 - 1)),
    ],
)
def test_parse_user_gives_numeric_ids(args, expected):
    """Numeric forms and ``root`` become a User; a missing gid takes the uid's value."""
    assert parse_user(*args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ("nobody",),
        ("www-data:www-data",),
        ("1000:staff",),
        ("",),
        (":",),
        ("1000:",),
        (-1,),
        (1000, -1),
        (2**31,),
        ("2147483648",),
        ("-5",),
        (True,),
        (1000, False),
        (None,),
        (1.5,),
        (b"1000",),
        ("1000:1000", 1000),
        ("\u0661",),  # an Arabic-Indic digit: decimal, but not an ASCII id
    ],
)
def test_parse_user_refuses_names_bad_ids_and_bools(args):
    """Names but root, negative or too-big ids, bools and a gid given twice raise ConfigError."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_user(*args)
    assert _only_problem(excinfo).field == "user"


def test_parse_user_refuses_a_huge_numeric_text():
    """A uid of thousands of digits is refused as out of range with ConfigError."""
    with pytest.raises(sr.ConfigError):
        parse_user("1" * 5000)


@PROPERTY
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_parse_user_round_trip(uid, gid):
    """``"uid:gid"``, ``(uid, gid)`` and ``str(User)`` all give the same User."""
    user = parse_user(f"{uid}:{gid}")
    assert user == sr.User(uid, gid)
    assert parse_user(uid, gid) == user
    assert parse_user(str(user)) == user


@PROPERTY
@given(ANYTHING, st.one_of(st.none(), ANYTHING))
def test_parse_user_returns_user_or_raises_config_error(uid, gid):
    """Whatever it is given, parse_user returns a User with in-range ids or raises ConfigError."""
    try:
        result = parse_user(uid, gid)
    except sr.ConfigError:
        return
    assert isinstance(result, sr.User)
    assert 0 <= result.uid <= 2**31 - 1
    assert 0 <= result.gid <= 2**31 - 1


@PROPERTY
@given(st.from_regex(r"\s*(root|-?[0-9]{1,15})?(:(root|-?[0-9]{0,15}))?\s*", fullmatch=True))
def test_parse_user_on_id_like_text_raises_only_config_error(text):
    """Text that looks almost like ``uid:gid`` gives a User or ConfigError, nothing else."""
    try:
        result = parse_user(text)
    except sr.ConfigError:
        return
    assert isinstance(result, sr.User)


# -- images -------------------------------------------------------------------

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "ref",
    [
        "busybox",
        "busybox:latest",
        "busybox:1.36.1-musl",
        "library/busybox",
        "docker.io/library/busybox:1.36",
        "localhost:5000/a/b:tag",
        "registry.example.com/team/app_name:v1.2",
        f"a@{DIGEST}",
        f"repo/app:1.2@{DIGEST}",
        "my-app__x",
    ],
)
def test_parse_image_accepts_valid_references(ref):
    """Names, tags, registries with ports and digests are returned unchanged."""
    assert parse_image(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "   ",
        "Busybox",
        "library/BusyBox",
        "busy box",
        "busybox:",
        "busybox:-tag",
        ":tag",
        "/busybox",
        "busybox/",
        "a@sha256:1234",
        "a@" + "0" * 64,
        "busybox:" + "t" * 129,
        "x" * 5000,
        None,
        42,
        b"busybox",
    ],
)
def test_parse_image_refuses_invalid_references(ref):
    """Empty, uppercase paths, spaces, bad tags and digests and non-strings raise ConfigError."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_image(ref)
    assert _only_problem(excinfo).field == "image"


@pytest.mark.parametrize("ref", ["busybox:\u00e9t\u00e9", "busybox:\u0661"])
def test_parse_image_refuses_non_ascii_tags(ref):
    """A tag is ASCII letters, digits, ``_ . -`` as Docker's grammar says; others are refused."""
    with pytest.raises(sr.ConfigError):
        parse_image(ref)


@PROPERTY
@given(ANYTHING)
def test_parse_image_returns_the_text_or_raises_config_error(value):
    """Whatever it is given, parse_image returns the same string or raises ConfigError."""
    try:
        result = parse_image(value)
    except sr.ConfigError:
        return
    assert result == value
    assert isinstance(result, str)


@PROPERTY
@given(
    st.from_regex(
        r"([a-zA-Z0-9.-]{1,12}(:[0-9]{1,5})?/)?[a-z0-9._/-]{1,20}(:[\w.-]{0,10})?(@[a-z0-9]{1,8}:[0-9a-f]{0,70})?",
        fullmatch=True,
    )
)
def test_parse_image_on_reference_like_text_raises_only_config_error(text):
    """Text that looks almost like a reference gives it back or raises ConfigError."""
    with contextlib.suppress(sr.ConfigError):
        assert parse_image(text) == text


# -- capabilities (the parser in _capabilities) --------------------------------


@PROPERTY
@given(ANYTHING)
def test_normalize_capability_returns_known_name_or_raises_config_error(value):
    """Whatever it is given, normalize_capability returns a known name or raises ConfigError."""
    try:
        result = normalize_capability(value)
    except sr.ConfigError:
        return
    assert result in {*ALL_CAPABILITIES, "ALL"}


@PROPERTY
@given(
    st.sampled_from([*ALL_CAPABILITIES, "ALL"]),
    st.sampled_from(["", "cap_", "CAP_", "Cap_"]),
    st.sampled_from([str.lower, str.upper, str.title, str.swapcase]),
    st.sampled_from(["", " ", "\t", "\n "]),
)
def test_normalize_capability_round_trip(name, prefix, case, space):
    """Any casing, ``cap_`` prefix and surrounding whitespace give back the canonical name."""
    assert normalize_capability(f"{space}{prefix}{case(name)}{space}") == name


# -- durations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        (0, 0),
        (2, 2_000_000_000),
        (1.5, 1_500_000_000),
        ("30", 30_000_000_000),
        ("1.5", 1_500_000_000),
        ("30s", 30_000_000_000),
        ("500ms", 500_000_000),
        ("10us", 10_000),
        ("7ns", 7),
        ("2m", 120_000_000_000),
        ("1h", 3_600_000_000_000),
        (" 5 s ", 5_000_000_000),
    ],
)
def test_parse_duration_gives_nanoseconds(given_value, expected):
    """Seconds as numbers, or text with ns/us/ms/s/m/h units, become whole nanoseconds."""
    assert parse_duration_ns(given_value, field="healthcheck.interval") == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "1d",
        "-1s",
        "1e3",
        "5 sec",
        "1" * 21,
        -1,
        -0.5,
        10**10,
        float("inf"),
        float("nan"),
        True,
        None,
        b"1s",
    ],
)
def test_parse_duration_refuses_a_bad_value_naming_the_field(bad):
    """Unknown units, negatives, huge or non-finite values and bools raise ConfigError."""
    with pytest.raises(sr.ConfigError) as excinfo:
        parse_duration_ns(bad, field="healthcheck.timeout")
    assert _only_problem(excinfo).field == "healthcheck.timeout"


@PROPERTY
@given(ANYTHING)
def test_parse_duration_returns_non_negative_int_or_raises_config_error(value):
    """Whatever it is given, parse_duration_ns returns an int >= 0 or raises ConfigError."""
    try:
        result = parse_duration_ns(value, field="stop")
    except sr.ConfigError:
        return
    assert isinstance(result, int)
    assert result >= 0


@PROPERTY
@given(st.integers(0, 10**6), st.sampled_from([("ns", 1), ("ms", 10**6), ("s", 10**9)]))
def test_parse_duration_units_round_trip(n, unit):
    """``n`` followed by a unit is exactly ``n`` times that unit in nanoseconds."""
    suffix, scale = unit
    assert parse_duration_ns(f"{n}{suffix}", field="d") == n * scale


@pytest.mark.parametrize("text", ["12.5", "lots", "1" * 31 + "m"])
def test_a_refused_size_is_refused_again_from_the_cache(text):
    """The size cache keeps verdicts too: the same bad text fails the same way twice."""
    messages = []
    for _ in range(2):
        with pytest.raises(sr.ConfigError) as info:
            parse_memory(text, field="tmpfs")
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "tmpfs" in messages[0]


def test_the_reference_cache_answers_per_text():
    """A valid image name cached does not let a different, invalid one through."""
    assert parse_image("busybox:1.36") == "busybox:1.36"
    with pytest.raises(sr.ConfigError, match="not a valid image reference"):
        parse_image("busybox:1.36:extra")

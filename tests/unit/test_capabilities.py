"""Capability names, masks, Docker's default set and the dangerous set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import secure_run as sr
from secure_run._config.capabilities import (
    ALL_CAPABILITIES,
    decode_mask,
    encode_mask,
    normalize_capability,
)

#: The capability mask of a default Docker container, as /proc/self/status prints it.
DOCKER_DEFAULT_MASK = 0xA80425FB


@pytest.mark.parametrize(
    ("given_name", "canonical"),
    [
        ("NET_BIND_SERVICE", "NET_BIND_SERVICE"),
        ("net_bind_service", "NET_BIND_SERVICE"),
        ("Net_Bind_Service", "NET_BIND_SERVICE"),
        ("CAP_NET_BIND_SERVICE", "NET_BIND_SERVICE"),
        ("cap_chown", "CHOWN"),
        ("  sys_admin\n", "SYS_ADMIN"),
        ("\tCAP_KILL ", "KILL"),
        ("all", "ALL"),
        ("cap_all", "ALL"),
    ],
)
def test_normalize_capability_gives_the_canonical_name(given_name, canonical):
    """Case, a ``cap_`` prefix and surrounding whitespace are ignored."""
    assert normalize_capability(given_name) == canonical


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("NET_BIND_SERVCE", "NET_BIND_SERVICE"),
        ("sys_admn", "SYS_ADMIN"),
        ("CAP_CHOWM", "CHOWN"),
    ],
)
def test_a_typo_gets_a_did_you_mean_fix(typo, suggestion):
    """An unknown name near a real one is refused, and the fix suggests the real one."""
    with pytest.raises(sr.ConfigError) as excinfo:
        normalize_capability(typo)
    (problem,) = excinfo.value.problems
    assert problem.message == "unknown capability"
    assert "did you mean" in problem.fix
    assert repr(suggestion) in problem.fix


def test_a_name_near_nothing_gets_a_pointer_to_the_man_page():
    """A name like no capability gets a fix naming capabilities(7), not a bogus suggestion."""
    with pytest.raises(sr.ConfigError) as excinfo:
        normalize_capability("xyzzy")
    (problem,) = excinfo.value.problems
    assert "did you mean" not in problem.fix
    assert "capabilities(7)" in problem.fix


@pytest.mark.parametrize("field", ["cap_add", "cap_drop"])
def test_an_unknown_capability_is_reported_against_the_given_field(field):
    """The problem names the builder field the capability was given to."""
    with pytest.raises(sr.ConfigError) as excinfo:
        normalize_capability("bogus", field=field)
    assert excinfo.value.problems[0].field == field


@pytest.mark.parametrize("value", [None, 21, b"SYS_ADMIN", ["CHOWN"]])
def test_a_non_string_capability_is_refused(value):
    """Only text names a capability."""
    with pytest.raises(sr.ConfigError):
        normalize_capability(value)


def test_there_are_41_capabilities():
    """The kernel's list runs from CHOWN (bit 0) to CHECKPOINT_RESTORE (bit 40), no repeats."""
    assert len(ALL_CAPABILITIES) == 41
    assert len(set(ALL_CAPABILITIES)) == 41
    assert ALL_CAPABILITIES[0] == "CHOWN"
    assert ALL_CAPABILITIES[40] == "CHECKPOINT_RESTORE"


@pytest.mark.parametrize(
    ("name", "bit"),
    [
        ("CHOWN", 0),
        ("NET_BIND_SERVICE", 10),
        ("NET_RAW", 13),
        ("SYS_ADMIN", 21),
        ("AUDIT_WRITE", 29),
        ("SETFCAP", 31),
        ("BPF", 39),
    ],
)
def test_capability_bits_match_the_kernel_header(name, bit):
    """Bit numbers are those of include/uapi/linux/capability.h."""
    assert encode_mask({name}) == 1 << bit


def test_docker_default_mask_decodes_to_the_14_defaults():
    """0xa80425fb, a default container's CapEff, is exactly Docker's 14 default capabilities."""
    decoded = decode_mask(DOCKER_DEFAULT_MASK)
    assert decoded == sr.DOCKER_DEFAULT_CAPABILITIES
    assert len(decoded) == 14


def test_docker_defaults_encode_to_the_default_mask():
    """Encoding Docker's 14 defaults gives 0xa80425fb."""
    assert encode_mask(sr.DOCKER_DEFAULT_CAPABILITIES) == DOCKER_DEFAULT_MASK


def test_decode_mask_reads_hex_text_as_proc_prints_it():
    """The 16-digit hex text from /proc/self/status decodes like the number."""
    assert decode_mask("00000000a80425fb") == decode_mask(DOCKER_DEFAULT_MASK)


def test_decode_mask_of_zero_is_empty():
    """No bits set means no capabilities."""
    assert decode_mask("0000000000000000") == frozenset()


def test_decode_mask_names_unknown_bits():
    """A bit above the last known capability is reported as ``BIT_<n>``, not dropped."""
    assert decode_mask((1 << 41) | 1) == {"CHOWN", "BIT_41"}


@settings(max_examples=200, deadline=None, database=None)
@given(st.frozensets(st.sampled_from(ALL_CAPABILITIES)))
def test_mask_round_trip(names):
    """Decoding the mask of any set of capabilities gives that set back."""
    assert decode_mask(encode_mask(names)) == names


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=(1 << 41) - 1))
def test_mask_round_trip_from_the_number(mask):
    """Encoding the names decoded from any mask of known bits gives that mask back."""
    assert encode_mask(decode_mask(mask)) == mask


def test_dangerous_capabilities_are_real_names():
    """Every dangerous capability is a kernel capability, or the magic ``ALL``."""
    assert sr.DANGEROUS_CAPABILITIES.issubset({*ALL_CAPABILITIES, "ALL"})


def test_no_docker_default_is_dangerous():
    """Docker's defaults and the dangerous set are disjoint."""
    assert not sr.DOCKER_DEFAULT_CAPABILITIES & sr.DANGEROUS_CAPABILITIES


@pytest.mark.parametrize(
    "name",
    [
        "SYS_ADMIN",
        "SYS_MODULE",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "DAC_READ_SEARCH",
        "NET_ADMIN",
        "BPF",
        "PERFMON",
        "SYS_BOOT",
        "SYS_TIME",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "SYSLOG",
        "ALL",
    ],
)
def test_escape_capabilities_are_dangerous(name):
    """Each capability known to break out of a container is in the dangerous set."""
    assert name in sr.DANGEROUS_CAPABILITIES

"""Seccomp profiles: read from a file or a mapping, checked before any daemon sees them."""

from __future__ import annotations

import json
import os

import pytest

import secure_run as sr
from secure_run._config.seccomp import (
    MAX_PROFILE_BYTES,
    is_allow_all,
    load_seccomp,
    profile_problems,
)

PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW"}],
}


def _refusal(profile: object) -> sr.ConfigError:
    with pytest.raises(sr.ConfigError) as caught:
        load_seccomp(profile)
    return caught.value


def test_a_file_is_read_with_its_key_order_and_source(tmp_path):
    """A profile file becomes a custom Seccomp: compact JSON in the file's key order, its path."""
    path = tmp_path / "profile.json"
    path.write_text('{"syscalls": [], "defaultAction": "SCMP_ACT_ERRNO"}', encoding="utf-8")
    seccomp = load_seccomp(str(path))
    assert seccomp.kind == "custom"
    assert seccomp.source == str(path)
    assert seccomp.profile_json == '{"syscalls":[],"defaultAction":"SCMP_ACT_ERRNO"}'
    assert load_seccomp(path) == seccomp  # a Path works as well as its text


def test_a_mapping_is_stored_with_sorted_keys_and_no_source():
    """A mapping becomes compact JSON with sorted keys, so its digest is stable."""
    seccomp = load_seccomp(PROFILE)
    assert seccomp.source is None
    assert json.loads(seccomp.profile_json or "") == PROFILE
    assert seccomp.profile_json == json.dumps(PROFILE, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("name", ["default", "unconfined"])
def test_the_named_profiles_need_no_file(name):
    """ "default" and "unconfined" are kinds of their own, with no profile text."""
    assert load_seccomp(name) == sr.Seccomp(kind=name)


def test_a_file_over_the_size_cap_is_refused(tmp_path):
    """A file larger than MAX_PROFILE_BYTES is refused, naming the limit."""
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * (MAX_PROFILE_BYTES + 1))
    (problem,) = _refusal(str(path)).problems
    assert problem.field == "seccomp"
    assert f"larger than {MAX_PROFILE_BYTES} bytes" in problem.message


def test_a_file_at_the_size_cap_is_read(tmp_path):
    """A valid profile padded to exactly MAX_PROFILE_BYTES is still read."""
    text = json.dumps(PROFILE)
    path = tmp_path / "full.json"
    path.write_text(text + " " * (MAX_PROFILE_BYTES - len(text)), encoding="utf-8")
    assert load_seccomp(str(path)).kind == "custom"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO (which would block a plain read for ever) is refused at once."""
    fifo = tmp_path / "profile.fifo"
    os.mkfifo(fifo)
    (problem,) = _refusal(str(fifo)).problems
    assert "not a regular file" in problem.message


def test_a_directory_is_refused(tmp_path):
    """A directory is no profile file: refused with the OS's reason."""
    (problem,) = _refusal(str(tmp_path)).problems
    assert problem.message == "cannot read the profile file (Is a directory)"


def test_text_that_is_not_utf8_is_refused(tmp_path):
    """A file that is not UTF-8 is refused with the decoder's reason."""
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"defaultAction": "\xff"}')
    (problem,) = _refusal(str(path)).problems
    assert problem.message.startswith("not UTF-8 text (")


def test_a_missing_file_is_refused_with_the_reason(tmp_path):
    """A path that does not exist is refused, with the OS's reason."""
    (problem,) = _refusal(str(tmp_path / "absent.json")).problems
    assert "cannot read the profile file (No such file or directory)" in problem.message


def test_json_constants_the_engine_cannot_read_are_refused(tmp_path):
    """NaN in a profile file is not JSON to the engine, so it is refused here."""
    path = tmp_path / "nan.json"
    path.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "x": NaN}', encoding="utf-8")
    (problem,) = _refusal(str(path)).problems
    assert problem.message.startswith("not valid JSON (NaN is not JSON the engine reads")


def test_each_problem_of_a_profile_is_listed():
    """A profile with several mistakes gets one problem for each."""
    profile = {"defaultAction": "ALLOW", "syscalls": [{"names": [], "action": "NOPE"}]}
    assert profile_problems(profile) == [
        "defaultAction 'ALLOW' is not a seccomp action",
        "syscalls[0] has no list of syscall names",
        "syscalls[0].action 'NOPE' is not a seccomp action",
    ]
    assert len(_refusal(profile).problems) == 3


@pytest.mark.parametrize(
    ("profile", "allows_all"),
    [
        ({"defaultAction": "SCMP_ACT_ALLOW"}, True),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"}]}, True),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}, False),
        (PROFILE, False),
    ],
)  # fmt: skip
def test_allow_all_is_a_default_allow_with_no_rule_that_denies(profile, allows_all):
    """A profile allows every syscall when its default and every rule are SCMP_ACT_ALLOW."""
    assert is_allow_all(profile) is allows_all


def test_an_allow_all_profile_needs_the_unconfined_opt_in():
    """An allow-all profile is refused like "unconfined", and built with its opt-in."""
    allow_all = {"defaultAction": "SCMP_ACT_ALLOW"}
    with pytest.raises(sr.ConfigError, match="allows every syscall"):
        sr.builder("busybox:1.36").seccomp(allow_all).build()
    cfg = sr.builder("busybox:1.36").seccomp(allow_all).opt_in("seccomp-unconfined").build()
    assert cfg.waivers() == (sr.OptIn.SECCOMP_UNCONFINED,)

"""The bugs the fuzz found, each kept as a test of the behaviour secure_run should have.

All found so far are fixed, so these are regression tests. A bug found and not yet fixed
is marked here with :func:`bug` (a strict xfail naming it) and listed in
``fuzzkit.KNOWN_BUGS``, the only failures the fuzz tests tolerate; when a fix makes its
test pass, strict xfail fails the run: remove the marker here and the bug's entry in
fuzzkit, and the fuzz checks those inputs in full.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import fuzzkit
import pytest

import secure_run as sr
from secure_run import ConfigError
from secure_run._cli import main

B = sr.builder(fuzzkit.IMAGE)
NET = B.network("bridge")
SHOWN: set[str] = set()
_DIGITS_LIMIT = getattr(sys, "get_int_max_str_digits", lambda: 0)()


def bug(key: str, reason: str, raises: Any = None) -> Callable[[Any], Any]:
    """Mark a test as showing the known bug ``key`` (strict xfail, reason "BUG: ...")."""
    assert key in fuzzkit.KNOWN_BUGS, key
    SHOWN.add(key)
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"BUG: {reason}")


def refused(make: Callable[[], object]) -> sr.ConfigError:
    """The ConfigError ``make()`` raises (it must raise one)."""
    with pytest.raises(ConfigError) as info:
        make()
    return info.value


# -- crashes: an exception other than ConfigError ----------------------------------------


def test_a_cpu_count_beyond_the_engine_is_refused_at_build():
    """cpus(1e300) is a ConfigError from build(), not an OverflowError later."""
    refused(lambda: B.cpus(1e300).build())


def test_the_command_line_refuses_a_huge_cpu_count_in_one_line(capsys):
    """``config --cpus 1e300 --format kwargs`` exits 2 with one line, no traceback."""
    assert main(["config", "--cpus", "1e300", "--format", "kwargs", "busybox"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.skipif(not _DIGITS_LIMIT, reason="this Python has no int_max_str_digits limit")
def test_an_int_too_long_to_print_is_a_config_error():
    """user(10**5000) is refused with a ConfigError, not a ValueError from the message."""
    refused(lambda: B.user(10**5000).build())


@pytest.mark.skipif(not _DIGITS_LIMIT, reason="this Python has no int_max_str_digits limit")
def test_an_int_too_long_to_print_is_refused_at_build():
    """pids_limit(10**5000) is refused by build(), not a ValueError from digest() later."""
    refused(lambda: B.pids_limit(10**5000).build())


def test_a_healthcheck_time_beyond_the_float_range_is_a_config_error():
    """healthcheck(interval=10**400) is a ConfigError, not an OverflowError."""
    refused(lambda: B.healthcheck("true", interval=10**400).build())


def _deep(depth: int) -> dict[str, Any]:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return {"defaultAction": "SCMP_ACT_ERRNO", "deep": value}


def test_a_deeply_nested_seccomp_mapping_is_a_config_error():
    """A mapping nested 5000 deep is refused with a ConfigError."""
    refused(lambda: B.seccomp(_deep(5000)).build())


def test_a_deeply_nested_seccomp_file_is_a_config_error(tmp_path: Path):
    """A profile file of 100000 nested brackets is refused with a ConfigError."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    refused(lambda: B.seccomp(str(path)).build())


# -- accepted although the engine (or an exec) cannot take it --------------------------


@pytest.mark.parametrize("special", [float("nan"), float("inf")], ids=["NaN", "Infinity"])
def test_a_seccomp_profile_with_nan_or_infinity_is_refused(special):
    """A profile holding NaN or Infinity is refused, since JSON has neither."""
    refused(lambda: B.seccomp({"defaultAction": "SCMP_ACT_ERRNO", "x": special}).build())


@pytest.mark.parametrize(
    "make",
    [
        lambda: B.memory(2**80, reservation=None),
        lambda: B.pids_limit(2**70),
        lambda: B.cpu_quota(2**70),
        lambda: B.ulimit("nofile", 2**70),
        lambda: B.tmpfs("/x", size=2**70),
        lambda: B.stop_timeout(2**70),
        lambda: B.healthcheck("true", interval="99999999999999999999h"),
        lambda: B.cpus(1e10),
    ],
    ids=["memory", "pids_limit", "cpu_quota", "ulimit", "tmpfs", "stop_timeout",
         "healthcheck-text", "cpus-1e10"],
)  # fmt: skip
def test_a_number_beyond_the_engines_int64_is_refused(make):
    """A value the engine cannot hold in an int64 is refused before it reaches the engine."""
    refused(lambda: make().build())


@pytest.mark.parametrize(
    "make",
    [
        lambda: B.workdir("/a\x00b"),
        lambda: B.labels({"team": "a\x00b"}),
        lambda: B.tmpfs("/a\x00b"),
        lambda: B.mount("/srv", "/a\x00b"),
        lambda: B.device("/dev/fuse\x00").opt_in("devices"),
        lambda: B.network("container:\x00"),
        lambda: B.healthcheck("true\x00"),
    ],
    ids=["workdir", "labels", "tmpfs", "mount", "device", "network", "healthcheck"],
)
def test_a_nul_byte_is_refused_in_every_field(make):
    """A NUL byte anywhere in the config is refused, as it is in command and env."""
    refused(lambda: make().build())


def test_tmpfs_exec_and_suid_must_be_bools():
    """tmpfs(exec="no", suid="false") is refused, not mounted exec and suid."""
    refused(lambda: B.tmpfs("/x", exec="no", suid="false").build())


@pytest.mark.parametrize("value", [None, b"1", 1.5, True, [1]], ids=repr)
def test_a_sysctl_value_must_be_text_or_an_int(value):
    """sysctl(name, value) refuses values that are neither text nor an int."""
    refused(lambda: B.sysctl("net.ipv4.tcp_syncookies", value).build())


# -- security: a weaker setting without its opt-in -----------------------------------------


@pytest.mark.parametrize("host_ip", ["::ffff:0.0.0.0", "::ffff:0:0", "0:0:0:0:0:ffff:0:0"])
def test_an_ipv4_mapped_any_address_needs_the_public_port_opt_in(host_ip):
    """Publishing on ``::ffff:0.0.0.0`` (every IPv4 interface) needs ``public-port``."""
    refused(lambda: NET.publish(8080, host_ip=host_ip).build())


def test_the_audit_warns_on_an_ipv4_mapped_any_binding():
    """5.14 warns for a port bound to ``::ffff:0.0.0.0``."""
    cfg = NET.publish(8080, host_ip="::ffff:0.0.0.0").opt_in("public-port").build()
    (finding,) = [f for f in sr.audit_config(cfg).findings if f.id == "5.14"]
    assert finding.status == "warn"


@pytest.mark.parametrize("source", ["/proc/self/root", "/proc/1/root", "/proc/thread-self/root"])
def test_a_bind_of_a_proc_root_link_needs_the_docker_socket_opt_in(source):
    """A bind mount of a /proc root link exposes the engine socket: it needs the opt-in."""
    refused(lambda: B.mount(source, "/host").build())


# -- the command line -------------------------------------------------------------------


def test_a_usage_error_returns_2(capsys):
    """``config --pids-limit x IMAGE`` returns 2 (one line on stderr) rather than raising."""
    assert main(["config", "--pids-limit", "x", "busybox"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_usage_error_is_one_line_whatever_the_token(capsys):
    """An unknown argument holding a newline still gives a one-line error, and exit 2."""
    assert main(["config", "--bogus\nflag", "busybox"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _argparse_drops_dashdash() -> bool:
    """Whether this Python's argparse gives ``[]`` for ``--flag=--`` (3.11 does)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--flag")
    return parser.parse_args(["--flag=--"]).flag == []


@pytest.mark.skipif(not _argparse_drops_dashdash(), reason="this argparse keeps '--' as a value")
@pytest.mark.parametrize(
    "flag",
    ["--preset", "--env", "--label", "--sysctl", "--ulimit", "--tmpfs", "--mount", "--publish"],
)
def test_a_flag_given_a_double_dash_is_a_one_line_error(capsys, flag):
    """``config --preset=-- IMAGE`` exits 2 with one line, not a traceback."""
    assert main(["config", f"{flag}=--", "busybox"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# -- audit: valid configs with warnings no waiver explains ---------------------------------


def _unexplained(builder: sr.RunBuilder) -> list[str]:
    cfg = builder.build()
    return fuzzkit.unexplained_warnings(cfg, sr.audit_config(cfg), tolerate_known=False)


@pytest.mark.parametrize(
    ("policy", "retries"),
    [("always", 0), ("unless-stopped", 0), ("on-failure", 0), ("on-failure", 6)],
)
def test_a_restart_policy_the_audit_warns_on_needs_an_opt_in(policy, retries):
    """A restart 5.15 warns on needs unbounded-restart, the waiver the warning names."""
    refused(lambda: B.restart(policy, retries).build())
    assert _unexplained(B.restart(policy, retries).opt_in("unbounded-restart")) == []


@pytest.mark.parametrize(
    ("preset", "cap"),
    [("restricted", "CHOWN"), ("sandbox", "SETUID"), ("service", "KILL"),
     ("restricted", "IPC_LOCK"), ("baseline", "NET_RAW"), ("baseline", "SYS_RESOURCE")],
)  # fmt: skip
def test_an_added_capability_the_audit_warns_on_needs_an_opt_in(preset, cap):
    """A capability beyond NET_BIND_SERVICE needs extra-capability, the waiver the audit names.

    baseline grants that opt-in itself (it adds Docker's defaults back), so there the
    capability builds as it is.
    """
    builder = sr.preset(preset, "busybox").cap_add(cap)
    if preset != "baseline":
        refused(builder.build)
    assert _unexplained(builder.opt_in("extra-capability")) == []


@pytest.mark.parametrize("target", ["/etc", "/usr", "/lib"])
def test_a_writable_mount_onto_a_system_directory_needs_an_opt_in(target):
    """A writable mount onto the container's /etc needs sensitive-mount, the waiver 5.6 names."""
    refused(lambda: B.mount("/srv/data", target, read_only=False).build())
    waived = B.mount("/srv/data", target, read_only=False).opt_in("sensitive-mount")
    assert _unexplained(waived) == []


@pytest.mark.parametrize(
    ("source", "target"), [("/srv/docker.sock.d", "/data"), ("/srv/data", "/docker.sock/x")]
)
def test_the_audit_and_validation_agree_on_engine_socket_paths(source, target):
    """A mount 5.32 warns on needs docker-socket, the waiver the warning names."""
    refused(lambda: B.mount(source, target).build())
    assert _unexplained(B.mount(source, target).opt_in("docker-socket")) == []


def test_every_known_bug_is_shown_here():
    """Each bug the fuzz tolerates has a strict xfail here, so none is tolerated silently."""
    assert set(fuzzkit.KNOWN_BUGS) == SHOWN

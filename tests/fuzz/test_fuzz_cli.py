"""The command line's ``config`` and ``presets``, given any flags: exit 0 or 2, one line, never a
traceback, never the daemon."""

from __future__ import annotations

import json
from typing import Any

import fuzzkit
import pytest
from fuzzkit import TEXT, example, fuzz_settings
from hypothesis import HealthCheck, event, given
from hypothesis import strategies as st

from secure_run._cli import main
from secure_run._config.capabilities import ALL_CAPABILITIES
from secure_run._config.presets import PRESETS
from secure_run._config.validation import SAFE_SYSCTLS, ULIMIT_NAMES

FORMATS = ["kwargs", "cli", "compose", "json", "explain"]
_CAPTURING = fuzz_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
_NUMBER = st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(
    ["", "1e300", "nan", "-1", "0x10", "1_000", "\u0661", "9" * 40, "1.5", " 7 "]))  # fmt: skip
_SIZE = st.one_of(st.integers(0, 4096).map(lambda n: f"{n}m"), _NUMBER, TEXT)


def _joined(*parts: st.SearchStrategy[str], sep: str) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(lambda p: sep.join(p))


#: Each settings flag of ``config`` with the values it is fuzzed with (None: no value).
FLAGS: dict[str, st.SearchStrategy[str] | None] = {
    "--preset": st.one_of(st.sampled_from(sorted(PRESETS)), TEXT),
    "--user": st.one_of(st.sampled_from(["0", "root", "1000:1000", "nobody", ":", "-1",
                                         "2147483648", "0:0"]), TEXT),
    "--cap-add": st.one_of(st.sampled_from([*ALL_CAPABILITIES, "ALL", "cap_net_raw"]), TEXT),
    "--cap-drop": st.one_of(st.sampled_from([*ALL_CAPABILITIES, "ALL"]), TEXT),
    "--memory": _SIZE,
    "--memory-reservation": _SIZE,
    "--memory-swap": st.one_of(_SIZE, st.just("-1")),
    "--cpus": st.one_of(st.floats().map(repr), _NUMBER),
    "--pids-limit": _NUMBER,
    "--ulimit": st.one_of(_joined(st.sampled_from(sorted(ULIMIT_NAMES)), _NUMBER, sep="="),
                          _joined(st.sampled_from(sorted(ULIMIT_NAMES)), _NUMBER, _NUMBER,
                                  sep=":").map(lambda t: t.replace(":", "=", 1)), TEXT),
    "--tmpfs": st.one_of(_joined(st.sampled_from(["/tmp", "/x", "tmp", "/"]), _SIZE, sep=":"),
                         TEXT),
    "--mount": st.one_of(_joined(st.sampled_from(["/srv", "/etc", "vol", "/", "/run"]),
                                 st.sampled_from(["/data", "data", "/etc"]),
                                 st.sampled_from(["ro", "rw", "x"]), sep=":"), TEXT),
    "--writable-root": None,
    "--network": st.one_of(st.sampled_from(["none", "bridge", "host", "container:x"]), TEXT),
    "--publish": st.one_of(st.sampled_from(["80", "8080:80", "127.0.0.1:8080:80", "[::1]:80:80",
                                            "0.0.0.0:80:80", "[::ffff:0.0.0.0]:8080:80",
                                            "53/udp", ":80", "[::1:80", "a:b:c:d"]),
                           _joined(_NUMBER, _NUMBER, sep=":"), TEXT),
    "--env": st.one_of(_joined(st.from_regex(r"\A[A-Z_]{0,5}\Z"), TEXT, sep="="), TEXT),
    "--label": st.one_of(_joined(TEXT, TEXT, sep="="), TEXT),
    "--workdir": TEXT,
    "--hostname": TEXT,
    "--name": TEXT,
    "--seccomp": st.one_of(st.sampled_from(["default", "unconfined", "/nonexistent.json",
                                            "/etc/hostname", "/"]), TEXT),
    "--apparmor": TEXT,
    "--runtime": TEXT,
    "--sysctl": st.one_of(_joined(st.sampled_from(sorted(SAFE_SYSCTLS)), TEXT, sep="="), TEXT),
    "--stop-timeout": _NUMBER,
    "--opt-in": st.one_of(st.sampled_from([o for o in ("root-user", "writable-root",
                                                       "public-port", "privileged-port",
                                                       "dangerous-capability", "x")]), TEXT),
}  # fmt: skip


def _help(token: str) -> bool:
    """Whether argparse would read ``token`` as a request for help (exit 0)."""
    flag = token.split("=", 1)[0]
    return token.startswith("-h") or (len(flag) >= 3 and "--help".startswith(flag))


@st.composite
def settings_flags(draw: st.DrawFn) -> list[str]:
    """Settings flags, each ``--flag=value`` (so a value may start with a dash)."""
    argv: list[str] = []
    for flag in draw(st.lists(st.sampled_from(sorted(FLAGS)), max_size=6)):
        values = FLAGS[flag]
        if values is None:
            argv.append(flag)
            continue
        value = draw(values)
        if flag == "--seccomp" and fuzzkit.unsafe_path(value):
            value = "default"
        argv.append(f"{flag}={value}")
    return argv


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], fmt: str | None) -> None:
    """main(argv): 0 with the output, or 2 with one line on stderr; nothing else."""
    capsys.readouterr()
    cpus = [a.partition("=")[2] for a in argv if a.startswith("--cpus=")]
    crashes: dict[str, tuple[type[BaseException], ...]] = {}
    if any(map(fuzzkit.cpus_overflow, cpus)):
        crashes["cpus-overflow"] = (OverflowError,)
    if any(a.startswith("--") and a.endswith("=--") for a in argv):
        crashes["cli-dashdash"] = (TypeError, AttributeError)
    exited = False
    try:
        code: Any = main(argv)
    except SystemExit as exc:
        code, exited = exc.code, True
    except Exception as exc:
        if not fuzzkit.tolerated(exc, crashes):
            raise
        return
    out, err = capsys.readouterr()
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    event("usage error (SystemExit)" if exited else f"exit {code}")
    if exited:
        assert code == 2, "argparse exited 0: a help flag slipped through"
        fuzzkit.hit("cli-systemexit")
    if code == 0:
        assert out, argv
        assert not err, (argv, err)
        if fmt in ("kwargs", "compose", "json"):
            json.loads(out)
    else:
        assert out == "", (argv, out)
        raw_newline = exited and any("\n" in a for a in argv)  # argparse prints tokens raw
        assert err.count("\n") == 1 or raw_newline, err
        assert err.endswith("\n"), err
        assert err.startswith(
            (
                "secure-run: error: ",
                "secure-run config: error: ",
                "secure-run presets: error: ",
                "secure-run: error: ",
            )
        )


@_CAPTURING
@given(
    flags=settings_flags(),
    fmt=st.one_of(st.sampled_from(FORMATS), st.sampled_from(FORMATS), TEXT),
    image=st.one_of(st.sampled_from(["busybox", "busybox:1.36", "Busybox", ""]), TEXT),
    command=st.lists(TEXT, max_size=3),
)
def test_config_with_any_flags_exits_0_or_2(capsys, flags, fmt, image, command):
    """``config`` with any settings and format: 0 and the config, or 2 and one line."""
    argv = ["config", *flags, f"--format={fmt}", "--", image, *command]
    with example():
        _run(capsys, argv, fmt)


@_CAPTURING
@given(tokens=st.lists(st.one_of(st.sampled_from(sorted(FLAGS)), st.sampled_from(
    ["--format", "--", "-e", "kwargs", "json", "busybox", "-x", "--unknown"]), TEXT),
    max_size=8).filter(lambda t: not any(map(_help, t))))  # fmt: skip
def test_config_with_any_tokens_exits_0_or_2(capsys, tokens):
    """Any argv after ``config`` (flags without values, stray dashes): 0 or 2, one line."""
    with example():
        _run(capsys, ["config", *tokens], None)


@_CAPTURING
@given(name=st.one_of(st.none(), st.sampled_from(sorted(PRESETS)), TEXT))
def test_presets_with_any_name_exits_0_or_2(capsys, name):
    """``presets [NAME]``: 0 and the table for a preset, 2 and one line for anything else."""
    with example():
        _run(capsys, ["presets"] if name is None else ["presets", "--", name], None)

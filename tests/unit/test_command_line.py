"""The ``secure-run`` command line without an engine: parsing, one-line errors, exit codes,
``presets`` and ``config`` output, what each command imports, and the plain probe's lifecycle.

(Named apart from tests/integration/test_cli.py, which runs it on the engine: pytest's
default import mode needs unique basenames.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from secure_run import _cli, _cli_commands, _cli_probe
from secure_run._config.presets import PRESETS
from secure_run._engine.live import LIVE
from secure_run._errors import SecureRunError


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(args)`` in this process: the exit code, standard output and standard error."""
    code = _cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands_and_examples(capsys) -> None:
    """--help exits 0 and names every subcommand, with examples."""
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert "examples:" in out
    for name in ("run", "config", "presets", "audit", "doctor", "probe", "cleanup"):
        assert name in out.split("examples:")[0]


@pytest.mark.parametrize("command", ["run", "config", "presets", "audit", "doctor", "probe",
                                     "cleanup"])  # fmt: skip
def test_each_command_has_help(capsys, command: str) -> None:
    """Each subcommand's --help exits 0 and shows its usage."""
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: secure-run {command}")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["config", "--memory", "12x", "img"], "memory='12x'"),
        (["config", "--cap-add", "net_admin", "img"], "--opt-in dangerous-capability"),
        (["config", "--user", "0", "img"], "root"),
        (["config", "--preset", "nope", "img"], "unknown preset"),
        (["config", "--publish", "1:2:3:4", "img"], "publish"),
        (["config", "--publish", "[::1:80", "img"], "IPv6"),
        (["config", "--env", "noequals", "img"], "not KEY=VALUE"),
        (["config", "--ulimit", "nofile=x", "img"], "not a whole number"),
        (["config", "--mount", "/a", "img"], "SRC:DST"),
        (["config", "--cap-add=--", "img"], "expected a value, not --"),
        (["config", "--format", "xml", "img"], "invalid choice"),
        (["config"], "required"),
        (["presets", "nope"], "unknown preset"),
        (["bogus"], "invalid choice"),
        ([], "required"),
        (["run", "--timeout", "soon", "img"], "invalid float"),
        (["audit"], "--all"),
        (["audit", "abc", "--all"], "not both"),
    ],
)
def test_a_users_mistake_is_one_line_and_exit_2(capsys, args: list[str], fragment: str) -> None:
    """A bad input prints exactly one line naming the problem, exits 2, no traceback."""
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err
    assert out == ""


def test_a_newline_in_a_token_stays_on_one_line(capsys) -> None:
    """A usage error about a token holding a newline still prints one line."""
    code, _, err = cli(capsys, "bogus\ncommand")
    assert code == 2
    assert err.count("\n") == 1
    assert "bogus\\ncommand" in err


def test_a_secure_run_error_not_the_users_is_one_line_and_exit_1(capsys, monkeypatch) -> None:
    """Any other secure_run error is one line (its whitespace folded) and exit 1."""

    def fails(args: Any, out: Any) -> int:
        raise SecureRunError("the engine\n  went away")

    monkeypatch.setitem(_cli_commands.COMMANDS, "presets", fails)
    code, _, err = cli(capsys, "presets")
    assert (code, err) == (1, "secure-run: the engine went away\n")


def test_ctrl_c_exits_130(capsys, monkeypatch) -> None:
    """A KeyboardInterrupt in a command exits 130, without a traceback."""

    def interrupted(args: Any, out: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(_cli_commands.COMMANDS, "presets", interrupted)
    code, _, err = cli(capsys, "presets")
    assert (code, err) == (130, "")


def test_presets_lists_each_with_its_description(capsys) -> None:
    """presets prints one row per preset: its name and its description."""
    code, out, _ = cli(capsys, "presets")
    assert code == 0
    rows = out.splitlines()[2:]
    assert [row.split()[0] for row in rows] == sorted(PRESETS)
    for row in rows:
        assert PRESETS[row.split()[0]].description in row


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_name_shows_every_line_with_its_reason(capsys, name: str) -> None:
    """presets NAME prints the description, then each setting of the preset with its reason."""
    code, out, _ = cli(capsys, "presets", name)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{name}: {PRESETS[name].description}"
    for line, row in zip(PRESETS[name].lines, lines[3:]):
        assert row.startswith(line.field)
        assert row.endswith(line.reason)
    assert len(lines[3:]) == len(PRESETS[name].lines)


def test_config_kwargs_are_the_configs_own(capsys) -> None:
    """config --format kwargs prints the same settings' ``to_docker_kwargs()``, as JSON."""
    import secure_run as sr

    code, out, _ = cli(capsys, "config", "--format", "kwargs", "--memory", "128m",
                       "--pids-limit", "9", "busybox", "--", "id", "-u")  # fmt: skip
    expected = sr.builder("busybox").memory("128m").pids_limit(9).command(["id", "-u"]).build()
    assert code == 0
    assert json.loads(out) == json.loads(
        json.dumps(expected.to_docker_kwargs(), sort_keys=True, default=str)
    )


def test_config_cli_is_a_docker_run_line(capsys) -> None:
    """config --format cli prints a ``docker run`` line with the hardening flags and command."""
    code, out, _ = cli(capsys, "config", "--format", "cli", "--pids-limit", "7", "busybox",
                       "--", "id")  # fmt: skip
    assert code == 0
    assert out.startswith("docker run ")
    assert "--cap-drop ALL" in out
    assert "--pids-limit 7" in out
    assert out.rstrip().endswith("busybox id")


def test_config_compose_and_json(capsys) -> None:
    """config --format compose is a compose service; --format json holds every field."""
    code, out, _ = cli(capsys, "config", "--format", "compose", "--label", "a=b", "busybox")
    assert code == 0
    service = json.loads(out)["services"]["app"]
    assert service["image"] == "busybox"
    assert service["cap_drop"] == ["ALL"]
    code, out, _ = cli(capsys, "config", "--format", "json", "--hostname", "h1", "busybox")
    assert code == 0
    fields = json.loads(out)
    assert (fields["image"], fields["hostname"], fields["read_only"]) == ("busybox", "h1", True)


def test_config_explain_names_controls(capsys) -> None:
    """config (explain) prints one row per setting, with the CIS controls it meets."""
    code, out, _ = cli(capsys, "config", "busybox")
    assert code == 0
    header = [cell.strip() for cell in out.splitlines()[0].split("|")]
    assert header == ["setting", "value", "why", "controls"]
    assert "CIS 5.29" in out


def test_settings_flags_reach_the_builder(capsys) -> None:
    """The repeatable flags (env, label, tmpfs, ulimit, publish, mount) all reach the config."""
    code, out, _ = cli(capsys, "config", "--format", "json", "--env", "A=1", "--label", "l=v",
                       "--tmpfs", "/scratch:8m", "--ulimit", "nofile=64:128", "--publish",
                       "8080:80", "--network", "bridge", "--mount", "/srv:/data",
                       "busybox")  # fmt: skip
    assert code == 0, out
    fields = json.loads(out)
    assert ["A", "1"] in fields["env"]
    assert ["l", "v"] in fields["labels"]
    assert any(t["path"] == "/scratch" for t in fields["tmpfs"])
    assert {"name": "nofile", "soft": 64, "hard": 128} in fields["ulimits"]
    assert any(p["host_port"] == 8080 and p["host_ip"] == "127.0.0.1" for p in fields["ports"])
    assert any(m["target"] == "/data" and m["read_only"] for m in fields["mounts"])


def _loaded_by(*args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after ``secure-run ARGS``."""
    script = (
        "import contextlib, io, json, sys\nfrom secure_run._cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    main({list(args)!r})\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    return set(json.loads(done.stdout))


def test_help_imports_nothing_of_the_library_or_docker() -> None:
    """--help loads the parser alone: no docker-py, no config layer, no command module."""
    loaded = _loaded_by("--help")
    assert {"docker", "requests", "attrs", "secure_run._config", "secure_run._cli_commands"} \
        .isdisjoint(loaded)  # fmt: skip


@pytest.mark.parametrize("args", [["presets"], ["presets", "sandbox"], ["config", "busybox"]])
def test_config_commands_import_no_engine_proof_or_audit(args: list[str]) -> None:
    """presets and config load neither the launcher, verify, the probe, audit nor doctor."""
    heavy = {
        "secure_run._engine.launch",
        "secure_run._proof.verify",
        "secure_run._proof.probe",
        "secure_run._audit.audit",
        "secure_run._audit.doctor",
        "secure_run._cli_probe",
    }
    assert heavy.isdisjoint(_loaded_by(*args))


class _FakeApi:
    """The low-level calls the plain probe makes, recorded; ``start`` may fail."""

    def __init__(self, *, start_fails: bool = False) -> None:
        self.calls: list[str] = []
        self.labels: dict[str, str] = {}
        self.tracked_while_running = False
        self.start_fails = start_fails
        self.base_url = "http://127.0.0.1:2375"  # what messages name; never contacted

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return {"NetworkMode": kwargs["network_mode"]}

    def create_container(self, image: str, command: list[str], **kwargs: Any) -> dict[str, str]:
        self.calls.append("create")
        self.labels = kwargs["labels"]
        assert kwargs["entrypoint"] == []
        return {"Id": "c0ffee" * 4}

    def start(self, container_id: str) -> None:
        self.calls.append("start")
        self.tracked_while_running = container_id in LIVE
        if self.start_fails:
            raise RuntimeError("start failed")

    def wait(self, container_id: str, timeout: float | None = None) -> dict[str, int]:
        self.calls.append("wait")
        return {"StatusCode": 0}

    def logs(self, container_id: str, **kwargs: Any) -> bytes:
        self.calls.append("logs")
        return b"probe output"

    def remove_container(self, container_id: str, **kwargs: Any) -> None:
        self.calls.append("remove")


class _FakeClient:
    def __init__(self, api: _FakeApi) -> None:
        self.api = api


def test_plain_probe_is_labelled_tracked_and_removed() -> None:
    """The plain container carries the managed labels, is tracked while it runs, and is removed."""
    api = _FakeApi()
    out = _cli_probe.plain_run_output(_FakeClient(api), "img", ["probe"],  # type: ignore[arg-type]
                                      labels={"secure-run.test": "1"}, network="none")  # fmt: skip
    assert out == b"probe output"
    assert api.calls == ["create", "start", "wait", "logs", "remove"]
    assert api.labels["io.secure-run.managed"] == "1"
    assert api.labels["io.secure-run.owner"].split(":")[1] == str(os.getpid())
    assert api.labels["secure-run.test"] == "1"
    assert api.tracked_while_running
    assert "c0ffee" * 4 not in LIVE


def test_plain_probe_is_removed_when_its_start_fails() -> None:
    """A plain probe container whose start fails is still removed and no longer tracked."""
    api = _FakeApi(start_fails=True)
    with pytest.raises(RuntimeError, match="start failed"):
        _cli_probe.plain_run_output(_FakeClient(api), "img", ["probe"],  # type: ignore[arg-type]
                                    labels={})  # fmt: skip
    assert api.calls == ["create", "start", "remove"]
    assert "c0ffee" * 4 not in LIVE

"""The ``secure-run`` command line (also ``python -m secure_run``).

A user's mistake prints one line naming the problem and the fix, and exits 2;
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, Callable, NoReturn, TextIO

import attrs
import docker

from ._config.builder import RunBuilder
from ._config.explain import render
from ._config.presets import PRESETS, preset, presets
from ._config.run_config import RunConfig
from ._engine.client import connect
from ._engine.errors import translated
from ._errors import (
    ConfigError,
    DaemonUnavailable,
    ImageNotFound,
    SecureRunError,
    UnsupportedFeature,
)
from ._proof.probe import Probe, parse_probe, probe_command

__all__ = ["main"]

#: Errors that are the user's to fix (exit 2); other secure_run errors exit 1.
_USER_ERRORS = (ConfigError, ImageNotFound, UnsupportedFeature, DaemonUnavailable)

_EXAMPLES = """\
examples:
  secure-run probe secure-run-test/busybox --vs-default
  secure-run run --memory 256m --timeout 10 busybox -- sh -c 'echo hi'
  secure-run config --preset sandbox --format cli busybox -- python3 job.py
  secure-run presets restricted
  secure-run audit --all --format json
  secure-run doctor
  secure-run cleanup
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        flat = message.replace("\r", "\\r").replace("\n", "\\n")  # a token may hold a newline
        self.exit(2, f"{self.prog}: error: {flat}; see {self.prog} --help\n")


# -- settings shared by run, config and probe ----------------------------------------


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each changes the preset)")
    group.add_argument("--preset", default="restricted", help="start from this preset")
    group.add_argument("--user", metavar="UID[:GID]")
    group.add_argument("--cap-add", action="append", default=[], metavar="CAP")
    group.add_argument("--cap-drop", action="append", default=[], metavar="CAP")
    group.add_argument("--memory", metavar="SIZE", help='e.g. "256m"')
    group.add_argument("--memory-reservation", metavar="SIZE")
    group.add_argument("--memory-swap", metavar="SIZE", help="memory plus swap")
    group.add_argument("--cpus", metavar="N")
    group.add_argument("--pids-limit", type=int, metavar="N")
    group.add_argument("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]")
    group.add_argument("--tmpfs", action="append", default=[], metavar="PATH[:SIZE]")
    group.add_argument("--mount", action="append", default=[], metavar="SRC:DST[:rw]")
    group.add_argument("--writable-root", action="store_true", help="needs --opt-in writable-root")
    group.add_argument("--network", metavar="NAME")
    group.add_argument("--publish", action="append", default=[], metavar="[IP:][HOST:]PORT")
    group.add_argument("--env", "-e", action="append", default=[], metavar="KEY=VALUE")
    group.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    group.add_argument("--workdir", metavar="PATH")
    group.add_argument("--hostname")
    group.add_argument("--name")
    group.add_argument("--seccomp", metavar="PROFILE", help="default, unconfined, or a JSON file")
    group.add_argument("--apparmor", metavar="PROFILE")
    group.add_argument("--runtime")
    group.add_argument("--sysctl", action="append", default=[], metavar="NAME=VALUE")
    group.add_argument("--stop-timeout", type=int, metavar="SECONDS")
    group.add_argument("--opt-in", action="append", default=[], metavar="NAME",
                       help="waive one secure default, e.g. root-user")  # fmt: skip
    parser.add_argument("image", help="the image (never pulled unless --pull says so)")
    parser.add_argument("command", nargs="*", help="the command, after --")


def _pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError.single(what, text, "not KEY=VALUE", f"write e.g. --{what} NAME=value")
    return key, value


def _builder(args: argparse.Namespace) -> RunBuilder:
    """The builder the command line describes; problems are reported by build()."""
    b = preset(args.preset, args.image)
    steps: list[tuple[object, Callable[[RunBuilder], RunBuilder]]] = [
        (args.user, lambda b: b.user(args.user)),
        (args.cap_add, lambda b: b.cap_add(*args.cap_add)),
        (args.cap_drop, lambda b: b.cap_drop(*args.cap_drop)),
        (args.cpus, lambda b: b.cpus(args.cpus)),
        (args.pids_limit, lambda b: b.pids_limit(args.pids_limit)),
        (args.writable_root, lambda b: b.read_only(False)),
        (args.network, lambda b: b.network(args.network)),
        (args.workdir, lambda b: b.workdir(args.workdir)),
        (args.hostname, lambda b: b.hostname(args.hostname)),
        (args.name, lambda b: b.name(args.name)),
        (args.seccomp, lambda b: b.seccomp(args.seccomp)),
        (args.apparmor, lambda b: b.apparmor(args.apparmor)),
        (args.runtime, lambda b: b.runtime(args.runtime)),
        (args.stop_timeout, lambda b: b.stop_timeout(args.stop_timeout)),
        (args.opt_in, lambda b: b.opt_in(*args.opt_in)),
        (args.command, lambda b: b.command(args.command)),
    ]
    for value, step in steps:
        if value not in (None, [], False):
            b = step(b)
    if args.memory or args.memory_reservation or args.memory_swap:
        extra: dict[str, Any] = {}
        if args.memory_reservation:
            extra["reservation"] = args.memory_reservation
        if args.memory_swap:
            extra["swap"] = args.memory_swap
        b = b.memory(args.memory or PRESETS[args.preset].values().get("memory"), **extra)
    for text in args.env:
        b = b.env(dict([_pair(text, "env")]))
    for text in args.label:
        b = b.labels(dict([_pair(text, "label")]))
    for text in args.sysctl:
        b = b.sysctl(*_pair(text, "sysctl"))
    for text in args.ulimit:
        name, limits = _pair(text, "ulimit")
        soft, _, hard = limits.partition(":")
        b = b.ulimit(name, _int(soft, "ulimit"), _int(hard, "ulimit") if hard else None)
    for text in args.tmpfs:
        path, _, size = text.partition(":")
        b = b.tmpfs(path, size or "64m")
    for text in args.mount:
        parts = text.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise ConfigError.single("mount", text, "not SRC:DST[:ro|rw]", "write e.g. /srv:/data")
        b = b.mount(parts[0], parts[1], read_only=len(parts) == 2 or parts[2] == "ro")
    for text in args.publish:
        ip, host_port, port = _publish(text)
        b = b.publish(port, _int(host_port, "publish") if host_port else None, ip)
    return b


def _publish(text: str) -> tuple[str, str, str]:
    """``PORT``, ``HOST:PORT``, ``IP:HOST:PORT`` or ``[IPv6]:HOST:PORT`` (PORT may end /udp)."""
    ip, rest = "127.0.0.1", text
    if rest.startswith("["):
        end = rest.find("]:")
        if end < 0:
            raise ConfigError.single("publish", text, "an IPv6 address needs ]:",
                                     "write e.g. [::1]:8080:80")  # fmt: skip
        ip, rest = rest[1:end], rest[end + 2 :]
        parts = ["", *rest.split(":")]
    else:
        parts = rest.split(":")
    if len(parts) == 1:
        return ip, "", parts[0]
    if len(parts) == 2:
        return ip, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0] or ip, parts[1], parts[2]
    raise ConfigError.single("publish", text, "not [IP:][HOST:]PORT", "write e.g. 8080:80")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError.single(what, text, "not a whole number", "give e.g. 1024") from None


def _config(args: argparse.Namespace) -> RunConfig:
    return _builder(args).build()


# -- the subcommands -----------------------------------------------------------------


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from ._engine.launch import run

    cfg = _config(args)
    streams = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    def forward(stream: str, chunk: bytes) -> None:
        streams[stream].write(chunk)
        streams[stream].flush()

    result = run(cfg, timeout=args.timeout, verify=args.verify, max_output=0,
                 on_output=forward, pull=args.pull)  # fmt: skip
    if result.timed_out:
        print(f"secure-run: killed after the {args.timeout:g} s timeout", file=sys.stderr)
    if result.oom_killed:
        print("secure-run: the kernel's OOM killer ended a process", file=sys.stderr)
    return result.exit_code


def _cmd_config(args: argparse.Namespace, out: TextIO) -> int:
    cfg = _config(args)
    if args.format == "kwargs":
        print(json.dumps(cfg.to_docker_kwargs(), indent=2, sort_keys=True, default=str), file=out)
    elif args.format == "cli":
        import shlex

        print(shlex.join(cfg.to_cli()), file=out)
    elif args.format == "compose":
        print(json.dumps({"services": {"app": cfg.to_compose()}}, indent=2), file=out)
    elif args.format == "json":
        print(json.dumps(attrs.asdict(cfg, filter=lambda a, _: a.init), indent=2, default=str,
                         sort_keys=True), file=out)  # fmt: skip
    else:
        _table([(e.setting, e.value, e.why, ", ".join(e.controls)) for e in cfg.explain()],
               ("setting", "value", "why", "controls"), out)  # fmt: skip
    return 0


def _cmd_presets(args: argparse.Namespace, out: TextIO) -> int:
    if args.name is None:
        _table(sorted(presets().items()), ("preset", "description"), out)
        return 0
    if args.name not in PRESETS:
        raise ConfigError.single("preset", args.name, "unknown preset",
                                 f"use one of {sorted(PRESETS)}")  # fmt: skip
    chosen = PRESETS[args.name]
    print(f"{chosen.name}: {chosen.description}", file=out)
    _table([(line.field, render(line.field, line.value), line.reason) for line in chosen.lines],
           ("setting", "value", "why"), out)  # fmt: skip
    return 0


def _report(report: Any, args: argparse.Namespace, out: TextIO) -> int:
    print(report.to_json() if args.format == "json" else str(report), file=out)
    return 0 if report.ok else 1


def _cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    if args.all == bool(args.containers):
        raise ConfigError.single(
            "audit", " ".join(args.containers) or "(nothing)",
            "name containers or --all, not both or neither",
            "write e.g. secure-run audit web-1, or secure-run audit --all",
        )  # fmt: skip
    from ._audit.audit import audit, audit_all

    if args.all:
        return _report(audit_all(exec_checks=args.exec_checks), args, out)
    client = connect(None)
    codes = [
        _report(audit(target, client=client, exec_checks=args.exec_checks), args, out)
        for target in args.containers
    ]
    return max(codes)


def _cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from ._audit.doctor import doctor

    return _report(doctor(), args, out)


def _cmd_cleanup(args: argparse.Namespace, out: TextIO) -> int:
    from ._engine.cleanup import cleanup

    reaped = cleanup(older_than=args.older_than)
    for r in reaped:
        print(f"removed {r.container_id[:12]} {r.name}: {r.reason}", file=out)
    print(f"{len(reaped)} container(s) removed", file=out)
    return 0


_PROBE_ROWS = (
    ("user", "user"), ("capabilities", "capabilities"), ("no_new_privs", "no-new-privileges"),
    ("seccomp", "seccomp"), ("memory", "memory"), ("cpu", "cpu"), ("pids", "pids limit"),
    ("ulimits", "ulimits"), ("root", "root filesystem"), ("tmpfs", "writable tmpfs"),
    ("network", "network"), ("processes", "processes seen"), ("hostname", "hostname"),
)  # fmt: skip


def _probe_default(client: docker.DockerClient, image: str, network: str | None) -> Probe:
    """The probe in a plain ``docker run`` of the image: Docker's defaults, nothing else."""
    from ._engine.launch import MANAGED_LABEL, OWNER_LABEL, _remove, owner_id

    labels = {MANAGED_LABEL: "1", OWNER_LABEL: owner_id(), "secure-run.probe": "default"}
    with translated("run the default probe", image=image, client=client):
        host_config = client.api.create_host_config(network_mode=network) if network else None
        container = client.api.create_container(image, probe_command(), labels=labels,
                                                entrypoint=[], host_config=host_config)  # fmt: skip
    try:
        with translated("run the default probe", client=client):
            client.api.start(container["Id"])
            client.api.wait(container["Id"], timeout=60)
            output = client.api.logs(container["Id"], stdout=True, stderr=False)
    finally:
        _remove(client, container["Id"])
    return parse_probe(output)


def _cmd_probe(args: argparse.Namespace, out: TextIO) -> int:
    from ._engine.launch import run

    args.command = []
    client = connect(None)
    cfg = _builder(args).entrypoint([]).command(probe_command()).build()
    result = run(cfg, client=client, timeout=60, verify=True)
    if result.exit_code != 0:
        raise SecureRunError(f"the probe failed in the container: {result.stderr[-300:]!r}")
    hardened = parse_probe(result.stdout).summary()
    title = f"secure_run {args.preset}"
    if not args.vs_default:
        _table([(label, hardened[key]) for key, label in _PROBE_ROWS], ("", title), out)
        return 0
    default = _probe_default(client, cfg.image, args.default_network).summary()
    rows = [(label, hardened[key], default[key]) for key, label in _PROBE_ROWS]
    _table(rows, ("", title, "plain docker run"), out)
    return 0


def _table(rows: Sequence[Sequence[str]], header: Sequence[str], out: TextIO) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths)]
        print("  ".join(cells).rstrip(), file=out)


# -- entry point ---------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="secure-run",
        description="Launch hardened Docker containers, audit them, and check the daemon.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a hardened container; exit with its exit code")
    _add_settings(run)
    run.add_argument("--timeout", type=float, help="kill the container after this many seconds")
    run.add_argument("--verify", action="store_true", help="also verify the kernel's state")
    run.add_argument("--pull", choices=("never", "missing", "always"), default="never")
    run.set_defaults(handler=_cmd_run)

    config = sub.add_parser("config", help="print a configuration without launching it")
    _add_settings(config)
    config.add_argument("--format", choices=("kwargs", "cli", "compose", "json", "explain"),
                        default="explain")  # fmt: skip
    config.set_defaults(handler=_cmd_config)

    listing = sub.add_parser("presets", help="list the presets, or show one with its reasons")
    listing.add_argument("name", nargs="?")
    listing.set_defaults(handler=_cmd_presets)

    audit = sub.add_parser("audit", help="CIS Docker Benchmark section 5; exit 1 on a warning")
    audit.add_argument("containers", nargs="*", metavar="ID")
    audit.add_argument("--all", action="store_true", help="every running container")
    audit.add_argument("--exec-checks", action="store_true", help="also checks that exec (5.7)")
    audit.add_argument("--format", choices=("table", "json"), default="table")
    audit.set_defaults(handler=_cmd_audit)

    doctor = sub.add_parser("doctor", help="check the daemon's hygiene; exit 1 on a failure")
    doctor.add_argument("--format", choices=("table", "json"), default="table")
    doctor.set_defaults(handler=_cmd_doctor)

    probe = sub.add_parser("probe", help="show what a container really gets")
    _add_settings(probe)
    probe.add_argument("--vs-default", action="store_true", help="next to a plain docker run")
    probe.add_argument("--default-network", metavar="NAME",
                       help="the plain run's network (default: Docker's, bridge)")  # fmt: skip
    probe.set_defaults(handler=_cmd_probe)

    cleanup = sub.add_parser("cleanup", help="remove containers whose launcher died")
    cleanup.add_argument("--older-than", type=float, metavar="SECONDS")
    cleanup.set_defaults(handler=_cmd_cleanup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check_values(parser, args)
    except SystemExit as exc:  # --help, --version and usage errors: return, don't exit
        return exc.code if isinstance(exc.code, int) else 2
    handler: Callable[[argparse.Namespace, TextIO], int] = args.handler
    try:
        return handler(args, sys.stdout)
    except _USER_ERRORS as exc:
        print(f"secure-run: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SecureRunError as exc:
        print(f"secure-run: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing more to say
        sys.stderr.close()
        return 0


def _check_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what argparse lets through but no flag means: ``--flag=--`` gives a list."""
    for name, value in vars(args).items():
        if name in ("command", "containers", "handler"):
            continue
        items = value if isinstance(value, list) else [value]
        if (isinstance(value, list) and name in _SINGLE_VALUED) or any(
            isinstance(item, list) for item in items
        ):
            parser.error(f"argument --{name.replace('_', '-')}: expected a value, not --")


_SINGLE_VALUED = frozenset({"preset", "user", "memory", "memory_reservation", "memory_swap",
                            "cpus", "network", "workdir", "hostname", "name", "seccomp",
                            "apparmor", "runtime", "image"})  # fmt: skip


def _one_line(exc: BaseException) -> str:
    """The error on one line, with the builder's fixes spelt as command-line flags."""
    problems = getattr(exc, "problems", None)
    text = "; ".join(str(p) for p in problems) if problems else " ".join(str(exc).split())
    return re.sub(r"\.opt_in\('([a-z-]+)'\)", r"--opt-in \1", text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``secure-run`` command line (also ``python -m secure_run``).

A user's mistake prints one line naming the problem and the fix, and exits 2;
never a traceback.

This module holds only the parser and the entry point, and imports nothing of the
library at start-up: each command loads what it needs (``_cli_commands``,
``_cli_probe``) once the arguments are parsed, so ``secure-run --help`` never
imports docker-py and ``secure-run presets`` only the config layer.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable, NoReturn, TextIO

if TYPE_CHECKING:
    from ._errors import SecureRunError

__all__ = ["main"]

#: A command: the parsed arguments and the stream to print to; returns the exit code.
Command = Callable[[argparse.Namespace, TextIO], int]

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


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """The settings shared by run, config and probe; each changes the preset."""
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

    config = sub.add_parser("config", help="print a configuration without launching it")
    _add_settings(config)
    config.add_argument("--format", default="explain",
                        choices=("kwargs", "cli", "compose", "kubernetes", "json", "explain"))
    config.add_argument("--kind", choices=("Pod", "Job", "Deployment"), default="Pod",
                        help="the workload of --format kubernetes")  # fmt: skip
    config.add_argument("--namespace", help="the namespace of --format kubernetes")

    listing = sub.add_parser("presets", help="list the presets, or show one with its reasons")
    listing.add_argument("name", nargs="?")

    audit = sub.add_parser("audit", help="CIS Docker Benchmark section 5; exit 1 on a warning")
    audit.add_argument("containers", nargs="*", metavar="ID")
    audit.add_argument("--all", action="store_true", help="every running container")
    audit.add_argument("--exec-checks", action="store_true", help="also checks that exec (5.7)")
    audit.add_argument("--format", choices=("table", "json"), default="table")

    doctor = sub.add_parser("doctor", help="check the daemon's hygiene; exit 1 on a failure")
    doctor.add_argument("--format", choices=("table", "json"), default="table")

    probe = sub.add_parser("probe", help="show what a container really gets")
    _add_settings(probe)
    probe.add_argument("--vs-default", action="store_true", help="next to a plain docker run")
    probe.add_argument("--default-network", metavar="NAME",
                       help="the plain run's network (default: Docker's, bridge)")  # fmt: skip

    cleanup = sub.add_parser("cleanup", help="remove containers whose launcher died")
    cleanup.add_argument("--older-than", type=float, metavar="SECONDS")
    return parser


def _command(name: str) -> Command:
    """The function behind a subcommand, imported only now that it is wanted."""
    if name == "probe":
        from ._cli_probe import cmd_probe

        return cmd_probe
    from ._cli_commands import COMMANDS

    return COMMANDS[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check_values(parser, args)
    except SystemExit as exc:  # --help, --version and usage errors: return, don't exit
        return exc.code if isinstance(exc.code, int) else 2
    from ._errors import (
        ConfigError,
        DaemonUnavailable,
        ImageNotFound,
        SecureRunError,
        UnsupportedFeature,
    )

    # Errors that are the user's to fix (exit 2); other secure_run errors exit 1.
    users = (ConfigError, ImageNotFound, UnsupportedFeature, DaemonUnavailable)
    try:
        return _command(args.cmd)(args, sys.stdout)
    except users as exc:
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
        if name in ("command", "containers", "cmd"):
            continue
        items = value if isinstance(value, list) else [value]
        if (isinstance(value, list) and name in _SINGLE_VALUED) or any(
            isinstance(item, list) for item in items
        ):
            parser.error(f"argument --{name.replace('_', '-')}: expected a value, not --")


_SINGLE_VALUED = frozenset({"preset", "user", "memory", "memory_reservation", "memory_swap",
                            "cpus", "network", "workdir", "hostname", "name", "seccomp",
                            "apparmor", "runtime", "image"})  # fmt: skip


def _one_line(exc: SecureRunError) -> str:
    """The error on one line, with the builder's fixes spelt as command-line flags."""
    problems = getattr(exc, "problems", None)
    text = "; ".join(str(p) for p in problems) if problems else " ".join(str(exc).split())
    return re.sub(r"\.opt_in\('([a-z-]+)'\)", r"--opt-in \1", text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

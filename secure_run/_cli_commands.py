"""The ``secure-run`` commands but ``probe``: run, config, presets, audit, doctor, cleanup.

Imported by :func:`secure_run._cli.main` only once the arguments are parsed. Only
the config layer is imported here; the engine, audit and doctor are imported by
the command that uses them, so ``secure-run presets`` or ``config`` never pays for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Callable, TextIO

from ._config.builder import RunBuilder
from ._config.presets import PRESETS, preset, presets
from ._config.run_config import RunConfig
from ._errors import ConfigError
from ._report import table as report_table

__all__ = ["COMMANDS", "builder_from", "table"]


# -- the settings flags, as a builder ------------------------------------------------


def _pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError.single(what, text, "not KEY=VALUE", f"write e.g. --{what} NAME=value")
    return key, value


def builder_from(args: argparse.Namespace) -> RunBuilder:
    """The builder the command line's settings describe; problems are reported by build()."""
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
    return _lists(b, args)


def _lists(b: RunBuilder, args: argparse.Namespace) -> RunBuilder:
    """The repeatable flags: --env, --label, --sysctl, --ulimit, --tmpfs, --mount, --publish."""
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
    return builder_from(args).build()


def table(rows: Sequence[Sequence[str]], header: Sequence[str], out: TextIO) -> None:
    """Print ``rows`` under ``header``, drawn as every report is (:func:`_report.table`)."""
    for line in report_table(header, rows):
        print(line, file=out)


# -- the commands --------------------------------------------------------------------


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
    elif args.format == "kubernetes":
        from ._export.yaml import dump_all

        objects = cfg.to_kubernetes(kind=args.kind, namespace=args.namespace)
        print(dump_all(objects), end="", file=out)
    elif args.format == "json":
        import attrs

        print(json.dumps(attrs.asdict(cfg, filter=lambda a, _: a.init), indent=2, default=str,
                         sort_keys=True), file=out)  # fmt: skip
    else:
        table([(e.setting, e.value, e.why, ", ".join(e.controls)) for e in cfg.explain()],
              ("setting", "value", "why", "controls"), out)  # fmt: skip
    return 0


def _cmd_presets(args: argparse.Namespace, out: TextIO) -> int:
    if args.name is None:
        table(sorted(presets().items()), ("preset", "description"), out)
        return 0
    if args.name not in PRESETS:
        raise ConfigError.single("preset", args.name, "unknown preset",
                                 f"use one of {sorted(PRESETS)}")  # fmt: skip
    from ._config.explain import render

    chosen = PRESETS[args.name]
    print(f"{chosen.name}: {chosen.description}", file=out)
    table([(line.field, render(line.field, line.value), line.reason) for line in chosen.lines],
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
    from ._engine.client import session

    if args.all:
        return _report(audit_all(exec_checks=args.exec_checks), args, out)
    with session() as client:  # one client for every container named, closed at the end
        codes = [
            _report(audit(target, client=client, exec_checks=args.exec_checks), args, out)
            for target in args.containers
        ]
    return max(codes)


def _cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from ._audit.doctor import doctor

    return _report(doctor(), args, out)


def _cmd_cleanup(args: argparse.Namespace, out: TextIO) -> int:
    from ._engine.cleanup import REAPED_KINDS, cleanup

    reaped = cleanup(older_than=args.older_than)
    for r in reaped:
        shown = r.name if r.kind == "volume" else f"{r.container_id[:12]} {r.name}"
        print(f"removed {r.kind} {shown}: {r.reason}", file=out)
    counts = {kind: sum(r.kind == kind for r in reaped) for kind in REAPED_KINDS}
    shown = ", ".join(f"{n} {kind}(s)" for kind, n in counts.items())
    print(f"removed {shown}", file=out)
    return 0


#: Each subcommand but ``probe`` (``_cli_probe``), by name.
COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "run": _cmd_run,
    "config": _cmd_config,
    "presets": _cmd_presets,
    "audit": _cmd_audit,
    "doctor": _cmd_doctor,
    "cleanup": _cmd_cleanup,
}

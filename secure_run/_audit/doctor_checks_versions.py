"""The doctor's version checks: the engine's release line, its API version, the kernel."""

from __future__ import annotations

import datetime
import functools
import re

from .._engine.facts import _older
from .doctor_report import DoctorFinding
from .engine_lines import (
    END_SOON,
    ENGINE_LINES,
    ENGINE_LINES_REVIEWED,
    KERNEL_MINIMUM,
    KERNEL_NO_NEW_PRIVS,
    KERNEL_OLDEST_LONGTERM,
    EngineLine,
)
from .observed import Observed

__all__ = ["check_api_version", "check_engine_version", "check_kernel", "upgrade_to"]


def _major_minor(text: str) -> tuple[int, int] | None:
    match = re.match(r"\s*v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _line_for(major: int) -> EngineLine | None:
    return next((line for line in ENGINE_LINES if line.major == major), None)


def _maintained_lines(today: datetime.date) -> list[EngineLine]:
    return [
        line
        for line in ENGINE_LINES
        if line.maintained and (line.end_of_life is None or line.end_of_life > today)
    ]


def upgrade_to(today: datetime.date) -> str:
    names = [line.name for line in _maintained_lines(today)]
    return (
        f"upgrade the engine to a maintained release line ({' or '.join(names[:2])} on "
        f"{ENGINE_LINES_REVIEWED}); see moby/moby project/BRANCHES-AND-TAGS.md"
    )


def check_engine_version(o: Observed) -> DoctorFinding:
    """engine-version: the engine's release line against :data:`ENGINE_LINES`."""
    title = "The engine is a release upstream still maintains"
    found = functools.partial(DoctorFinding, "engine-version", title)
    version = o.facts.server_version
    parsed = _major_minor(version)
    source = (
        f"Docker Engine {version or '(no version reported)'} (docker version); release "
        f"table reviewed {ENGINE_LINES_REVIEWED} (moby/moby project/BRANCHES-AND-TAGS.md)"
    )
    if "+dfsg" in version or "~" in version:
        source += (
            "; this is a distribution's build, which may carry the distribution's own "
            "backported fixes, but upstream no longer fixes the line"
        )
    if parsed is None:
        return found("info", f"{source}: not a version")
    major = parsed[0]
    line = _line_for(major)
    newest, oldest = ENGINE_LINES[0], ENGINE_LINES[-1]
    if line is None and major > newest.major:
        return found(
            "info",
            f"{source}: newer than every line in the table (newest: {newest.name}); "
            "check upstream's status of this line",
        )
    if line is None and major < oldest.major:
        return found(
            "warn",
            f"{source}: older than {oldest.name}, itself end-of-life since "
            f"{oldest.end_of_life}: no security fixes",
            upgrade_to(o.today),
        )
    if line is None:
        return found("info", f"{source}: no such release line is known")
    end = line.end_of_life
    note = f" ({line.note})" if line.note else ""
    if not line.maintained or (end is not None and end <= o.today):
        since = f"since {end}" if end is not None else "(no end date published)"
        return found(
            "warn",
            f"{source}: the {line.name} line is end-of-life {since}{note}: no security fixes",
            upgrade_to(o.today),
        )
    if end is not None and end - o.today <= END_SOON:
        return found(
            "info",
            f"{source}: the {line.name} line is maintained until {end}, "
            f"{(end - o.today).days} days from {o.today}{note}",
            "plan the upgrade: " + upgrade_to(o.today),
        )
    until = f" until {end}" if end is not None else ""
    return found(
        "pass",
        f"{source}: the {line.name} line is maintained{until}{note}",
    )


def check_api_version(o: Observed) -> DoctorFinding:
    """api-version: the engine's newest API against those maintained lines speak."""
    title = "The engine speaks an API version a maintained release speaks"
    found = functools.partial(DoctorFinding, "api-version", title)
    newest = o.facts.max_api_version
    top = ENGINE_LINES[0]
    maintained = _maintained_lines(o.today) or [top]
    floor = min(maintained, key=lambda line: tuple(map(int, line.api.split("."))))
    source = (
        f"engine API {newest or '(not reported)'} (oldest accepted "
        f"{o.facts.min_api_version or '?'}, docker version); the client speaks "
        f"{o.facts.api_version}; the oldest maintained line, {floor.name}, speaks {floor.api}"
    )
    if not newest or _major_minor(newest) is None:
        return found("info", f"{source}: not a version")
    if _older(top.api, newest):
        return found(
            "info",
            f"{source}: newer than every API in the table (newest: {top.api}, {top.name})",
        )
    if _older(newest, floor.api):
        return found(
            "warn",
            f"{source}: API {newest} is spoken only by end-of-life engines",
            upgrade_to(o.today),
        )
    return found("pass", source)


def check_kernel(o: Observed) -> DoctorFinding:
    """kernel: the host kernel against Docker's minimum and the longterm kernels."""
    title = "The host kernel is recent enough"
    found = functools.partial(DoctorFinding, "kernel", title)
    version = o.facts.kernel_version
    parsed = _major_minor(version)
    source = f"kernel {version or '(not reported)'} (docker info KernelVersion)"
    patch = (
        "; the patch level is not judged: keep the kernel updated from your distribution "
        "(every container shares it, OWASP #0)"
    )
    if parsed is None:
        return found("info", f"{source}: not a version")
    shown = ".".join(map(str, parsed))
    if parsed < KERNEL_MINIMUM:
        return found(
            "warn",
            f"{source}: {shown} is below Docker's minimum, 3.10",
            "upgrade the host kernel",
        )
    if parsed < KERNEL_NO_NEW_PRIVS:
        return found(
            "warn",
            f"{source}: {shown} is older than 4.10, which first shows NoNewPrivs in "
            "/proc/<pid>/status (no-new-privileges cannot be verified), and than every "
            "maintained longterm kernel",
            "upgrade the host kernel",
        )
    if parsed < KERNEL_OLDEST_LONGTERM:
        return found(
            "info",
            f"{source}: {shown} is older than 5.10, the oldest longterm kernel kernel.org "
            f"maintained on {ENGINE_LINES_REVIEWED}; it is safe only if your distribution "
            "maintains it (as RHEL 8 does 4.18)" + patch,
            "check that the distribution still ships fixes for this kernel",
        )
    return found("pass", f"{source}: at least 5.10{patch}")

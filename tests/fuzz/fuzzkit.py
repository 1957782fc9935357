"""What the fuzz tests share: the input strategies, the daemon tripwire, the example counter,
the invariants every config must meet, and the register of known bugs.

The invariant (issue 5, "Bad input"): every input either builds a valid config or raises
:class:`secure_run.ConfigError`; nothing else escapes, and the daemon is never contacted.
A config that builds must translate (docker-py kwargs, ``docker run`` argv, compose,
explain) and audit (:func:`secure_run.audit_config`) without touching the daemon either.

Known bugs: where the fuzz found a real bug, the bug is listed in :data:`KNOWN_BUGS` with
a predicate that recognises the inputs it affects. The fuzz tests tolerate exactly that
failure (that exception type, on those inputs) and count the hits; ``test_fuzz_findings.py``
shows each bug with a strict xfail. When a bug is fixed its xfail passes, strict xfail
turns that into a failure, and its entry here is removed, so the fuzz checks those inputs
in full again.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import json
import math
import os
import posixpath
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Callable

import attrs
from hypothesis import settings
from hypothesis import strategies as st

import secure_run as sr
from secure_run import ConfigError, OptIn, RunConfig
from secure_run._config.capabilities import ALL_CAPABILITIES
from secure_run._config.presets import PRESETS
from secure_run._config.validation import SAFE_SYSCTLS, ULIMIT_NAMES

PROFILE_ENV = "HYPOTHESIS_PROFILE"
RECORD_DIR_ENV = "SECURE_RUN_RELIABILITY_RECORD_DIR"
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
IMAGE = "busybox:1.36"


def fuzz_settings(**overrides: Any) -> settings:
    """The active profile's settings (``HYPOTHESIS_PROFILE``, default ``ci``), overridden."""
    return settings(settings.get_profile(os.environ.get(PROFILE_ENV, "ci")), **overrides)


# -- the daemon tripwire ----------------------------------------------------------------


class DaemonTouched(BaseException):
    """Raised by the client double; a BaseException so no ``except Exception`` can hide it."""


class Tripwire:
    """Stands in for every way to make a docker client; counts each attempt and refuses it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def refuse(self, what: str) -> Callable[..., Any]:
        def refused(*args: object, **kwargs: object) -> Any:
            self.calls.append(what)
            raise DaemonTouched(f"{what} was called: the daemon must never be contacted here")

        return refused


#: The tripwire the fuzz conftest installs for every test in tests/fuzz.
TRIPWIRE = Tripwire()

#: Examples run, by test id ("test_fuzz_builder.py::test_x[param]").
EXAMPLES: collections.Counter[str] = collections.Counter()
#: Known-bug hits, by bug key.
KNOWN_HITS: collections.Counter[str] = collections.Counter()


def current_test() -> str:
    """The running test's id, relative to tests/fuzz, from ``PYTEST_CURRENT_TEST``."""
    node = os.environ.get("PYTEST_CURRENT_TEST", "unknown").rsplit(" (", 1)[0]
    return node.split("tests/fuzz/", 1)[-1]


@contextlib.contextmanager
def example() -> Iterator[None]:
    """One fuzz example: counted, and failed if the daemon was asked for anything during it."""
    EXAMPLES[current_test()] += 1
    before = len(TRIPWIRE.calls)
    yield
    assert TRIPWIRE.calls[before:] == [], f"the daemon was contacted: {TRIPWIRE.calls[before:]}"
    assert TRIPWIRE.calls == [], "the daemon was contacted earlier in this test"


# -- known bugs -------------------------------------------------------------------------


@attrs.frozen
class KnownBug:
    """A bug the fuzz found: what goes wrong and the fix; shown by a strict xfail."""

    key: str
    summary: str


#: None are open: the last one (a non-dangerous capability built without an opt-in, yet
#: audit_config warned on it) was fixed by the extra-capability opt-in.
KNOWN_BUGS: dict[str, KnownBug] = {}


def hit(key: str) -> None:
    """Count a tolerated known-bug hit."""
    assert key in KNOWN_BUGS, key
    KNOWN_HITS[key] += 1


def _walk(value: object) -> Iterator[object]:
    """Every scalar inside nested tuples, lists, dicts (keys too) and attrs instances.

    Iterative, so a deeply nested value cannot exhaust the stack here.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if attrs.has(type(item)):
            stack.extend(getattr(item, f.name) for f in attrs.fields(type(item)))
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        else:
            yield item


def _ints(value: object) -> Iterator[int]:
    return (v for v in _walk(value) if isinstance(v, int) and not isinstance(v, bool))


def too_many_digits(value: object) -> bool:
    """Whether ``value`` holds an int Python refuses to turn into text (int_max_str_digits)."""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return bool(limit) and any(_digits(i) > limit for i in _ints(value))


def _digits(number: int) -> int:
    """The decimal digits of ``number``, from its bits (str() of it may be refused)."""
    return int(abs(number).bit_length() * math.log10(2)) + 1


def cpus_overflow(cpus: object) -> bool:
    """Whether ``cpus`` is a finite number whose nano-CPUs count is infinite as a float."""
    try:
        value = float(cpus)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(value) and not math.isfinite(value * 1_000_000_000)


def _config_fields(cfg: RunConfig) -> dict[str, object]:
    return {f.name: getattr(cfg, f.name) for f in attrs.fields(RunConfig) if f.init}


def beyond_int64(cfg: RunConfig) -> bool:
    """Whether a number in ``cfg`` does not fit the engine's int64 (nano-CPUs included)."""
    if cfg.cpus is not None and not abs(cfg.cpus * 1_000_000_000) <= INT64_MAX:
        return True
    return any(not INT64_MIN <= i <= INT64_MAX for i in _ints(_config_fields(cfg)))


def _strings(value: object) -> Iterator[str]:
    return (v for v in _walk(value) if isinstance(v, str))


#: Fields whose text validation does not check for NUL bytes (command, entrypoint, env and
#: sysctl values are checked; image, name, hostname, apparmor, runtime, cpuset by a pattern).
_NUL_UNCHECKED = ("workdir", "labels", "tmpfs", "mounts", "devices", "network", "healthcheck")


_NONE = type(None)
_DECLARED: dict[str, tuple[type, ...]] = {
    "bool": (bool,), "int": (int,), "str": (str,), "int | None": (int, _NONE),
    "str | None": (str, _NONE), "tuple[str, ...]": (tuple,),
}  # fmt: skip


def type_errors(cfg: RunConfig) -> list[str]:
    """Values inside ``cfg``'s parts (Tmpfs, Mount, ...) that are not of their declared type."""
    errors = []
    parts = [v for f in attrs.fields(RunConfig) for v in _tuple(getattr(cfg, f.name))]
    for part in parts:
        if not attrs.has(type(part)):
            continue
        for field in attrs.fields(type(part)):
            value, allowed = getattr(part, field.name), _DECLARED.get(str(field.type))
            if allowed is None:
                continue
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                errors.append(f"{type(part).__name__}.{field.name}={value!r}")
    return errors


def _tuple(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else (value,)


def loose_tmpfs_flags(cfg: RunConfig) -> bool:
    """Whether a tmpfs has an exec or suid flag that is not a bool."""
    return any(not isinstance(t.exec, bool) or not isinstance(t.suid, bool) for t in cfg.tmpfs)


_PROC_ROOT = re.compile(r"/proc/[^/]+(/task/[^/]+)?/(root|cwd)(/.*)?")


def proc_root(cfg: RunConfig) -> bool:
    """Whether a bind mount's source is a /proc link to a process's root or working directory."""
    return any(m.kind == "bind" and _PROC_ROOT.fullmatch(posixpath.normpath(m.source))
               for m in cfg.mounts)  # fmt: skip


def unchecked_nul(cfg: RunConfig) -> bool:
    """Whether a field whose NUL bytes validation does not check holds one."""
    return any("\x00" in s for name in _NUL_UNCHECKED for s in _strings(getattr(cfg, name)))


def engine_unspecified(host_ip: str) -> bool:
    """Whether the engine (Go's net.IP.IsUnspecified) reads ``host_ip`` as every interface."""
    try:
        address = ipaddress.ip_address(host_ip)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_unspecified


def mapped_any(cfg: RunConfig) -> bool:
    """Whether a port is bound to an IPv4-mapped unspecified address (``::ffff:0.0.0.0``)."""
    return any(engine_unspecified(p.host_ip) and not ipaddress.ip_address(p.host_ip)
               .is_unspecified for p in cfg.ports)  # fmt: skip


def non_finite(value: object) -> bool:
    """Whether ``value`` holds a NaN or infinite float anywhere."""
    return any(isinstance(v, float) and not math.isfinite(v) for v in _walk(value))


def _text_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def nesting(value: object, limit: int = 400) -> bool:
    """Whether ``value`` nests more than ``limit`` levels deep, as data or as JSON text in it."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, (str, bytes)):
            text = item.decode("latin-1") if isinstance(item, bytes) else item
            if depth + _text_depth(text) > limit:
                return True
        elif isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
    return False


# -- audit: what explains a warning -----------------------------------------------------

#: The checks each opt-in can make warn (read from secure_run/_audit.py: the causes each
#: judge gives). A warning is explained by a waiver only when its evidence says
#: "waived by opt-in 'x'", x is one of the config's waivers, and the check is in x's row.
WAIVER_CHECKS: dict[OptIn, frozenset[str]] = {
    OptIn.ROOT_USER: frozenset({"PSS-restricted-runAsNonRoot"}),
    OptIn.UNBOUNDED_RESTART: frozenset({"5.15"}),
    OptIn.DANGEROUS_CAPABILITY: frozenset(
        {"5.4", "PSS-baseline-capabilities", "PSS-restricted-capabilities"}
    ),
    OptIn.EXTRA_CAPABILITY: frozenset(
        {"5.4", "PSS-baseline-capabilities", "PSS-restricted-capabilities"}
    ),
    OptIn.PRIVILEGED: frozenset(
        {
            "5.2",
            "5.3",
            "5.4",
            "5.5",
            "5.18",
            "5.22",
            "PSS-baseline-privileged",
            "PSS-baseline-appArmorProfile",
            "PSS-baseline-procMount",
            "PSS-baseline-seccompProfile",
            "PSS-restricted-seccompProfile",
        }
    ),
    OptIn.HOST_NAMESPACE: frozenset(
        {"5.10", "5.16", "5.17", "5.21", "5.31", "PSS-baseline-hostNamespaces"}
    ),
    OptIn.SECCOMP_UNCONFINED: frozenset(
        {"5.22", "PSS-baseline-seccompProfile", "PSS-restricted-seccompProfile"}
    ),
    OptIn.APPARMOR_UNCONFINED: frozenset({"5.2", "PSS-baseline-appArmorProfile"}),
    OptIn.DEVICES: frozenset({"5.18"}),
    OptIn.SENSITIVE_MOUNT: frozenset({"5.6", "PSS-baseline-hostPathVolumes"}),
    OptIn.DOCKER_SOCKET: frozenset({"5.32", "PSS-baseline-hostPathVolumes"}),
    OptIn.SHARED_PROPAGATION: frozenset({"5.20"}),
    OptIn.PUBLIC_PORT: frozenset({"5.14", "PSS-baseline-hostPorts"}),
    OptIn.PRIVILEGED_PORT: frozenset({"5.8", "PSS-baseline-hostPorts"}),
    OptIn.NEW_PRIVILEGES: frozenset({"5.26", "PSS-restricted-allowPrivilegeEscalation"}),
    OptIn.WRITABLE_ROOT: frozenset({"5.13"}),
    OptIn.UNLIMITED_MEMORY: frozenset({"5.11"}),
    OptIn.UNLIMITED_CPU: frozenset({"5.12"}),
    OptIn.UNLIMITED_PIDS: frozenset({"5.29"}),
    # Exporters' opt-ins: each records what a Swarm service or a Kubernetes manifest
    # cannot carry; the container itself is no weaker, so its audit waives nothing.
    OptIn.SWARM_DAEMON_NNP: frozenset(),
    OptIn.SWARM_DEFAULT_SWAP: frozenset(),
    OptIn.K8S_NODE_LIMITS: frozenset(),
    # An engine's opt-in (rootless without cgroups): the config's limits are unchanged,
    # so the audit of its record waives nothing.
    OptIn.UNENFORCED_LIMITS: frozenset(),
}

def _binds(cfg: RunConfig) -> bool:
    return any(m.kind == "bind" for m in cfg.mounts)


#: Warnings the audit gives, by design, on every use of a setting that needs no opt-in:
#: a prompt for a person to review, documented in secure_run/_audit.py. A published port
#: warns 5.9 ("only a person can tell which are needed", as docker-bench-security) and
#: PSS-baseline-hostPorts ("accept this control as waived for a service"); a bind mount
#: warns PSS-baseline-hostPathVolumes (Pod Security forbids hostPath volumes).
SETTING_ALLOWANCES: tuple[tuple[str, Callable[[RunConfig], bool], frozenset[str]], ...] = (
    ("published ports", lambda cfg: bool(cfg.ports),
     frozenset({"5.9", "PSS-baseline-hostPorts"})),
    ("bind mounts", _binds, frozenset({"PSS-baseline-hostPathVolumes"})),
)  # fmt: skip

#: Known audit findings: (bug key, check id, the configs it explains the warning for).
#: None are open.
AUDIT_FINDINGS: tuple[tuple[str, str, Callable[[RunConfig], bool]], ...] = ()

_WAIVED = re.compile(r"waived by opt-in ('[a-z-]+'(?:, '[a-z-]+')*)$")


def waived_by(evidence: str) -> set[str]:
    """The opt-ins a finding's evidence says waived it."""
    match = _WAIVED.search(evidence)
    return set(re.findall(r"'([a-z-]+)'", match[1])) if match else set()


def unexplained_warnings(
    cfg: RunConfig, report: sr.AuditReport, *, tolerate_known: bool = True
) -> list[str]:
    """The warnings of ``report`` that neither a waiver nor an allowance explains.

    With ``tolerate_known``, a warning a known audit finding explains is counted as a hit
    of that bug instead.
    """
    waivers = {w.value for w in cfg.waivers()}
    allowed: set[str] = set()
    for _, applies, checks in SETTING_ALLOWANCES:
        if applies(cfg):
            allowed |= checks
    left = []
    for finding in report.warnings:
        cited = waived_by(finding.evidence)
        if cited and cited <= waivers and any(finding.id in WAIVER_CHECKS[OptIn(w)] for w in cited):
            continue
        if finding.id in allowed:
            continue
        known = [key for key, check, applies in AUDIT_FINDINGS
                 if check == finding.id and applies(cfg)]  # fmt: skip
        if tolerate_known and known:
            hit(known[0])
            continue
        left.append(f"{finding.id}: {finding.evidence}")
    return left


def check_waivers_reported(cfg: RunConfig, report: sr.AuditReport) -> None:
    """The SR-waivers finding lists exactly the config's waivers."""
    (finding,) = [f for f in report.findings if f.id == "SR-waivers"]
    waivers = [w.value for w in cfg.waivers()]
    if waivers:
        assert finding.status == "note", finding
        assert finding.evidence.endswith("waivers " + ", ".join(waivers)), finding
    else:
        assert finding.status == "pass", finding


def check_audit(cfg: RunConfig, *, tolerate_known: bool = True) -> sr.AuditReport:
    """audit_config(cfg): no unexplained warning, and the waivers reported as such."""
    report = sr.audit_config(cfg)
    left = unexplained_warnings(cfg, report, tolerate_known=tolerate_known)
    assert not left, f"preset {cfg.preset!r}, waivers {cfg.waivers()}: {left}"
    check_waivers_reported(cfg, report)
    return report


# -- what a built config must do ------------------------------------------------------


def _fits_engine(kwargs: Mapping[str, Any]) -> None:
    for number in _ints(kwargs):
        assert INT64_MIN <= number <= INT64_MAX, f"{number} does not fit the engine's int64"
    for value in _walk(kwargs):
        assert not (isinstance(value, float) and not math.isfinite(value)), value


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _seccomp_json(kwargs: Mapping[str, Any]) -> None:
    for opt in kwargs["security_opt"]:
        if opt.startswith("seccomp=") and opt != "seccomp=unconfined":
            _strict_json(opt.partition("=")[2])


def known_crashes(*values: object) -> dict[str, tuple[type[BaseException], ...]]:
    """The known bugs that crash on inputs holding ``values``, with what each raises."""
    if nesting(values):  # checked first: walking a deeply nested value is what crashes
        return {"seccomp-depth": (RecursionError,)}
    crashes: dict[str, tuple[type[BaseException], ...]] = {}
    if too_many_digits(values):
        crashes["int-digits"] = (ValueError,)
    if any(abs(i).bit_length() > 1024 for i in _ints(values)):  # beyond the largest float
        crashes["duration-overflow"] = (OverflowError,)
    return crashes


def _config_crashes(cfg: RunConfig) -> dict[str, tuple[type[BaseException], ...]]:
    crashes = known_crashes(_config_fields(cfg))
    if cfg.cpus is not None and cpus_overflow(cfg.cpus):
        crashes["cpus-overflow"] = (OverflowError,)
    return crashes


class _Crashed:
    """What :func:`_output` returns when a known bug made the call crash."""


CRASHED = _Crashed()


def tolerated(exc: BaseException, crashes: Mapping[str, tuple[type[BaseException], ...]]) -> bool:
    """Whether ``exc`` is a crash a known bug explains (counted as a hit)."""
    for key, types in crashes.items():
        if isinstance(exc, types) and not isinstance(exc, ConfigError):
            hit(key)
            return True
    return False


def _output(
    make: Callable[[], Any],
    crashes: Mapping[str, tuple[type[BaseException], ...]],
    refusable: Callable[[ConfigError], bool] = lambda exc: False,
) -> Any:
    """``make()``: None for a ConfigError ``refusable`` allows, CRASHED for a known crash."""
    try:
        return make()
    except ConfigError as exc:
        if not refusable(exc):
            raise AssertionError(f"refused unexpectedly: {exc}") from exc
        return None
    except Exception as exc:
        if tolerated(exc, crashes):
            return CRASHED
        raise


def _fields_of(exc: ConfigError) -> set[str]:
    return {p.field for p in exc.problems}


def exercise(cfg: RunConfig, *, audit: bool = True) -> None:
    """Everything a user can do with a config short of launching it: none may fail.

    to_docker_kwargs() may refuse only ``stop_timeout``; to_cli() and to_compose() only
    what has no CLI/compose form (an inline seccomp mapping, an exec-form healthcheck).
    The results must fit the engine: 64-bit integers, strict JSON, a binding on every
    interface only with its waiver, argv strings without NUL bytes. With ``audit``,
    audit_config() has no unexplained warning (:func:`check_audit`).
    """
    assert isinstance(cfg, RunConfig)
    assert set(cfg.waivers()) <= set(cfg.opt_ins)
    wrong = type_errors(cfg)
    if wrong and loose_tmpfs_flags(cfg) and all(w.startswith("Tmpfs.") for w in wrong):
        hit("tmpfs-flags")
    else:
        assert not wrong, f"values of the wrong type inside the config: {wrong}"
    crashes = _config_crashes(cfg)
    _output(cfg.digest, crashes)
    _output(lambda: repr(cfg), crashes)
    kwargs = _output(cfg.to_docker_kwargs, crashes,
                     lambda exc: cfg.stop_timeout is not None
                     and _fields_of(exc) == {"stop_timeout"})  # fmt: skip
    if isinstance(kwargs, dict):
        if beyond_int64(cfg):
            hit("int64")
        else:
            _fits_engine(kwargs)
        profile = cfg.seccomp.profile_json
        if profile is not None and non_finite(json.loads(profile)):
            hit("seccomp-nan")
        else:
            _seccomp_json(kwargs)
        if mapped_any(cfg) and OptIn.PUBLIC_PORT not in cfg.waivers():
            hit("mapped-any")
        else:
            assert OptIn.PUBLIC_PORT in cfg.waivers() or not any(
                engine_unspecified(p.host_ip) for p in cfg.ports
            ), "a port on every interface without the public-port waiver"
    argv = _output(cfg.to_cli, crashes,
                   lambda exc: _fields_of(exc) <= {"healthcheck", "seccomp"})  # fmt: skip
    if isinstance(argv, list):
        assert all(isinstance(a, str) for a in argv)
        if any("\x00" in a for a in argv):
            assert unchecked_nul(cfg), "a NUL byte in the argv from a field validation checks"
            hit("nul")
    _output(cfg.to_compose, crashes, lambda exc: _fields_of(exc) == {"seccomp"})
    _output(cfg.explain, crashes)
    if audit:
        _output(lambda: check_audit(cfg), crashes)


def build_or_refuse(
    builder: sr.RunBuilder, *inputs: object, audit: bool = True
) -> RunConfig | None:
    """``builder.build()``: a config (then exercised), or None for a ConfigError.

    ``inputs`` are the values the builder was given, to recognise a known crash.
    """
    try:
        cfg = builder.build()
    except ConfigError as exc:
        check_refusal(exc)
        return None
    except Exception as exc:
        if tolerated(exc, known_crashes(*inputs)):
            return None
        raise
    exercise(cfg, audit=audit)
    return cfg


def check_refusal(error: ConfigError) -> None:
    """A ConfigError lists its problems as text, one line each."""
    assert error.problems
    for p in error.problems:
        assert all(isinstance(getattr(p, f), str) for f in ("field", "value", "message", "fix"))
    assert str(error).count("\n") == len(error.problems), "one line per problem"


def call(builder: sr.RunBuilder, method: str, *args: Any, **kwargs: Any) -> sr.RunBuilder | None:
    """A builder method's result; it records problems and never raises (None: a known crash)."""
    try:
        return getattr(builder, method)(*args, **kwargs)  # type: ignore[no-any-return]
    except Exception as exc:
        if tolerated(exc, known_crashes(args, kwargs)):
            return None
        raise


# -- strategies: anything, and well-shaped but wrong ---------------------------------------

WEIRD_TEXT = [
    "", " ", "\x00", "a\x00b", "\n", "\t", "-1", "0", "00", "+1", "1e309", "1e-400", "nan",
    "NaN", "inf", "-inf", "Infinity", "0x10", "1_000", "  256m  ", "256 m", "256MiB", "256mib",
    "256mb", "1.5g", "9" * 40 + "g", "../../etc/passwd", "/", "//", "/etc", "/etc/..",
    "/var/run/docker.sock", "ALL", "cap_sys_admin", "root", "0:0", ":", "65534:65534", "::",
    "0.0.0.0", "::ffff:0.0.0.0", "80/udp", "80/tcp/x", "host",  # noqa: S104
    "container:", "unconfined", "default", "-", "--", "a" * 300,
    # unicode digits and lookalikes: Arabic-Indic 123, superscript 2, fullwidth 80, roman 12
    "\u0661\u0662\u0663", "\u00b2", "\uff18\uff10", "\u216b",
    "\u202e", "\U0001f600", "\u0130", "\u00df", "\ud7ff", "\ufeff1",
]  # fmt: skip
HUGE_INTS = st.one_of(
    st.integers(min_value=2**31),
    st.integers(max_value=-(2**31)),
    st.sampled_from([2**31 - 1, 2**31, 2**32, INT64_MAX, INT64_MAX + 1, INT64_MIN - 1, 2**64,
                     10**30]),
    # more digits than Python turns into text; built lazily, as Hypothesis reprs its strategies
    st.sampled_from([4400, -4400]).map(lambda e: 10**e if e > 0 else -(10**-e)),
)  # fmt: skip
ODD_FLOATS = st.one_of(
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308,
                     1e300, 1e10, 0.009999, 0.01, 0.5, 1e-9]),
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=24), st.sampled_from(WEIRD_TEXT))
NESTED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        | st.tuples(inner, inner)
    ),
    max_leaves=8,
)
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE_INTS, ODD_FLOATS, TEXT,
    st.binary(max_size=10), st.just(b"\x00"), st.just(b"256m"), NESTED,
    st.builds(object), st.sampled_from(list(OptIn)), st.just(Path("/etc")),
    st.just(Path("/nonexistent/profile.json")), st.frozensets(st.integers(), max_size=2),
)  # fmt: skip


def hashable(value: object) -> bool:
    """Whether ``value`` can be a dict key."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


class PairsMapping(Mapping[Any, Any]):
    """A user's own Mapping over a list of pairs: its keys may be what no dict can hold."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self.pairs = pairs

    def __getitem__(self, key: object) -> Any:
        for k, v in self.pairs:
            if k is key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return iter([k for k, _ in self.pairs])

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        return f"PairsMapping({self.pairs!r})"


def _near(*values: object) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


_SIZES = st.one_of(
    _near("256m", "256M", "256 m", "256MB", "256MiB", "256mib", "1.5g", "0.5m", "6m", "5m", "-1",
          "-1m", "1e3m", "0x10m", "\u0661\u0662m", "256mm", "m", "", " ", "1k", "1b", "1B", "1kb",
          "1KiB",
          "9" * 31, "9" * 29 + "g", 6291455, 6291456, 0, -1, 1.5, "half", "1t", "1p"),
    st.from_regex(r"\A-?\d{0,12}(\.\d{0,3})?\s?[kmgtKMGT]?[iI]?[bB]?\Z"),
    HUGE_INTS,
)  # fmt: skip
_DURATIONS = st.one_of(
    _near("30s", "1ns", "999us", "0.5ms", "1ms", "-1s", "1e3s", "30 s", "٣s", "1d", "1h",
          "9" * 21 + "h", "9" * 20 + "h", "", "s", math.nan, math.inf, -1, 0, 1e9, 1e9 + 1,
          0.0009, 5e-324),
    st.from_regex(r"\A\d{0,22}(\.\d{0,4})?\s?(ns|us|ms|s|m|h|d)?\Z"),
)  # fmt: skip
_PATHS = st.one_of(
    _near("/", "//", "/tmp", "tmp", "/tmp/../", "/x\x00", "", "/etc", "//etc/", "/etc/../etc",
          "/usr/local", "/var/run/docker.sock", "/run", "/run/containerd/containerd.sock",
          "/srv/data", "/home/u/docker.sock", "/proc/1/root", "data", "vol-1", "vol:ro",
          "../x", "/a b", "/ünï", "C:\\x"),
    st.from_regex(r"\A/?([a-z.]{1,4}/){0,3}[a-z.]{0,4}\Z"),
)  # fmt: skip
_CAPS = st.one_of(
    st.sampled_from([*ALL_CAPABILITIES, "ALL"]),
    st.sampled_from(ALL_CAPABILITIES).map(lambda c: "cap_" + c.lower()),
    st.sampled_from(ALL_CAPABILITIES).map(lambda c: f" {c.title()} "),
    _near("CAP_CAP_CHOWN", "SYS_ADMİN", "NET_BIND_SERVCE", "all", "", "CAP_", "NET-RAW",
          "net_raw\x00", "NET_RAW,CHOWN"),
)  # fmt: skip
_USERS = st.one_of(
    _near("0", "root", "0:0", "root:root", ":", "1000:", ":1000", "-1", "2147483647",
          "2147483648", "٣", " 1000 ", "1000:1000:1000", "nobody", "1000:root", "00", "+1",
          "1_000", "99999999999", 0, -1, 2**31 - 1, 2**31, 1000),
    st.from_regex(r"\A-?\d{0,11}(:-?\d{0,11})?\Z"),
    st.integers(),
)  # fmt: skip
_PORTS = st.one_of(
    _near("80", "80/udp", "80/sctp", "80/TCP", "80/tcp/x", "0", "65535", "65536", "-1",
          "\uff18\uff10", "\u0663", "80/", "/udp", " 80", "1e2", 80.0, 0, 65536, -1, 2**16,
          "99999999999999999999"),
    st.integers(min_value=-5, max_value=70000),
    st.from_regex(r"\A\d{0,6}(/[a-z]{0,4})?\Z"),
)  # fmt: skip
_HOST_IPS = st.one_of(
    _near("0.0.0.0", "::", "::ffff:0.0.0.0", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:0", "127.1",  # noqa: S104
          "localhost", "[::1]", "fe80::1%eth0", "1.2.3.4 ", "127.0.0.1", "::1", "", "0",
          "10.0.0.1", "255.255.255.255"),
    st.ip_addresses().map(str),
)  # fmt: skip
_SECCOMP_ACTIONS = _near("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_LOG",
                         "scmp_act_allow", "SCMP_ACT_ERRNO(1)", "", None, 1)  # fmt: skip
SECCOMP_MAPPINGS = st.recursive(
    st.fixed_dictionaries(
        {"defaultAction": _SECCOMP_ACTIONS},
        optional={
            "syscalls": st.lists(
                st.fixed_dictionaries(
                    {"action": _SECCOMP_ACTIONS},
                    optional={"names": st.lists(st.text(max_size=8), max_size=3) | NESTED,
                              "name": TEXT, "args": NESTED},
                ) | NESTED,
                max_size=3,
            ) | NESTED,
            "architectures": st.lists(TEXT, max_size=2) | NESTED,
            "defaultErrnoRet": st.integers() | ODD_FLOATS,
            "extra": NESTED,
        },
    ),
    lambda inner: st.dictionaries(TEXT, inner | NESTED, max_size=3)
    | st.builds(lambda base, extra: {**base, "nested": extra}, inner, inner),
    max_leaves=6,
)  # fmt: skip

#: Well-shaped but wrong values, per builder method and parameter.
SHAPED: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "image": {"reference": st.one_of(
        _near("busybox", "Busybox", "busybox:", "busybox@sha256:abc", "a" * 5000,
              "registry:5000/x", "x/../y", "busybox:tag with space", "busybox:" + "t" * 129,
              "busybox@sha256:" + "0" * 64, "-busybox", "local host/x", "ünï"),
        st.from_regex(r"\A[a-zA-Z0-9._/:@-]{0,40}\Z"))},
    "command": {"argv": st.one_of(st.lists(TEXT, max_size=4), TEXT, st.binary(max_size=4),
                                  st.lists(ANYTHING, max_size=3), st.iterables(TEXT, max_size=3),
                                  _near([], ["a\x00"], ("id",), {"a": 1}))},
    # Keys must be hashable: a list key made st.dictionaries itself raise TypeError while
    # drawing (the chain test's one-off flake); such keys are fuzzed through a Mapping below.
    "env": {"mapping": st.one_of(st.dictionaries((TEXT | ANYTHING).filter(hashable),
                                                 TEXT | ANYTHING, max_size=3),
                                 st.lists(st.tuples(ANYTHING, TEXT | ANYTHING), max_size=3)
                                 .map(PairsMapping)),
            "values": TEXT | ANYTHING},
    "workdir": {"path": _PATHS},
    "hostname": {"name": st.one_of(_near("-a", "a-", "a" * 64, "a..b", "ünï", "a_b", "a.b.",
                                         ".a", "A" * 254), st.from_regex(r"\A[a-z0-9.-]{0,70}\Z"))},
    "name": {"name": st.one_of(_near("/x", ".x", "x y", "_x", "x/y", "x:y"),
                               st.from_regex(r"\A[a-zA-Z0-9_.\-/ ]{0,20}\Z"))},
    "user": {"uid": _USERS, "gid": _USERS | st.none()},
    "group_add": {"gids": st.one_of(st.integers(), HUGE_INTS, _near("1000", True, 1.0, -1))},
    "cap_add": {"names": _CAPS},
    "device": {"host_path": _PATHS, "container_path": _PATHS | st.none(),
               "permissions": st.one_of(_near("rwx", "", "RWM", "rw m", "rrr", "mwr"),
                                        st.text(alphabet="rwmx ", max_size=4))},
    "host_namespace": {"kinds": _near("net", "NETWORK", "host", "", "network ", "pid", "ipc",
                                      "uts", "userns", "cgroup", "mnt")},
    "opt_in": {"opt_ins": st.one_of(st.sampled_from(list(OptIn)),
                                    st.sampled_from([o.value.upper() for o in OptIn]),
                                    st.sampled_from([o.value.replace("-", "_") for o in OptIn]),
                                    st.sampled_from([o.value + " " for o in OptIn]),
                                    st.sampled_from([o.name for o in OptIn]))},
    "memory": {"limit": _SIZES | st.none(), "reservation": _SIZES | st.none(),
               "swap": _SIZES | st.none()},
    "cpus": {"cpus": st.one_of(_near("0.5", "1e-3", "nan", "inf", "1e309", "1e300", "0x1p-3",
                                     "1_000", " 2 ", "²", "-0", "0.00999", "\u0661"), ODD_FLOATS,
                               st.from_regex(r"\A-?\d{0,5}(\.\d{0,4})?(e-?\d{1,3})?\Z"))},
    "cpu_quota": {"quota_us": st.one_of(_near(999, 1000, 10**6 + 1, 1000.0, True),
                                        st.integers(), HUGE_INTS),
                  "period_us": _near(999, 1000, 10**6, 10**6 + 1, 0, -1, 100_000.0, 2**70)},
    "cpu_shares": {"shares": _near(1, 2, 262144, 262145, 0, -1, 1024.0, "1024", 2**70)},
    "cpuset": {"cpus": st.one_of(_near("0-1", "1-0", "0,,1", "-1", "0-", "٣", "0-1,", " 0"),
                                 st.from_regex(r"\A[0-9,\- ]{0,8}\Z"))},
    "pids_limit": {"limit": st.one_of(_near(0, -1, 1, 1.0, "128"), HUGE_INTS)},
    "ulimit": {"name": st.one_of(st.sampled_from(sorted(ULIMIT_NAMES)),
                                 _near("NOFILE", "no file", "", "nofile\x00", "RLIMIT_NOFILE")),
               "soft": st.one_of(_near(-2, -1, 0, 1.0), st.integers(), HUGE_INTS),
               "hard": st.one_of(_near(-2, -1, 0, None), st.integers(), HUGE_INTS)},
    "tmpfs": {"path": _PATHS, "size": _SIZES,
              "mode": _near(0o7777, 0o10000, -1, 0, 0o1777, 1777, "1777", 2**70),
              "exec": ANYTHING, "suid": ANYTHING},
    "workspace": {"path": _PATHS, "size": _SIZES, "exec": ANYTHING},
    "mount": {"source": _PATHS, "target": _PATHS, "read_only": ANYTHING,
              "propagation": _near("shared", "rshared", "SHARED", "private", "", "slave",
                                   "rslave", "rprivate", "shared,ro", None)},
    "network": {"name": st.one_of(_near("none", "host", "HOST", "container:x", "container:",
                                        "bridge", "a b", "container:\x00", "default"),
                                  st.from_regex(r"\A[a-z:]{0,12}\Z"))},
    "publish": {"container_port": _PORTS, "host_port": _PORTS | st.none(),
                "host_ip": _HOST_IPS},
    "seccomp": {"profile": st.one_of(_near("default", "Default", "unconfined", "/nonexistent",
                                           "/etc/passwd", "/", "\x00", "", Path("/etc/hosts")),
                                     SECCOMP_MAPPINGS)},
    "apparmor": {"profile": st.one_of(_near("unconfined", "Unconfined", "docker-default",
                                            "a b", "", "-x", "x:y/z"), TEXT)},
    "sysctl": {"name": st.one_of(st.sampled_from(sorted(SAFE_SYSCTLS)),
                                 _near("kernel.shmmax", "net.ipv4.ip_forward", "vm.swappiness",
                                       "NET.IPV4.TCP_SYNCOOKIES", "net/ipv4/tcp_syncookies",
                                       "")),
               "value": st.one_of(_near("1", "", "a\nb", "\x00", "1 2", 1, 0, -1, None, 1.5),
                                  TEXT)},
    "runtime": {"name": _near("runc", "runsc", "", "a/b", "io.containerd.runc.v2", "-x")},
    "restart": {"policy": _near("always", "on-failure", "no", "", "ALWAYS", "unless-stopped",
                                "on-failure:3"),
                "max_retries": st.one_of(_near(-1, 0, 5, 6, 1.0, "3"), HUGE_INTS)},
    "healthcheck": {"test": st.one_of(_near("", [], ["CMD"], ["CMD-SHELL"], ["NONE"], "x",
                                            ["CMD", "a\x00"], ("CMD-SHELL", "true"), b"true"),
                                      st.lists(TEXT, max_size=3)),
                    "interval": _DURATIONS, "timeout": _DURATIONS, "start_period": _DURATIONS,
                    "retries": st.one_of(_near(-1, 0, 3, 1.0), HUGE_INTS)},
    "stop_timeout": {"seconds": st.one_of(_near(-1, 0, 1.5, "5", True), HUGE_INTS)},
    "log_limits": {"max_size": _SIZES, "max_files": st.one_of(_near(0, -1, 1, 1.0), HUGE_INTS)},
}  # fmt: skip
SHAPED["entrypoint"] = SHAPED["command"]
SHAPED["labels"] = {
    "mapping": st.dictionaries(
        _near("io.secure-run.x", "io.secure-run.", "", "a=b", "k\x00", "k") | TEXT,
        TEXT | ANYTHING,
        max_size=3,
    ),
    "values": TEXT | ANYTHING,
}
SHAPED["cap_drop"] = SHAPED["cap_add"]
for _flag in ("privileged", "read_only", "no_new_privileges", "init"):
    SHAPED[_flag] = {"enabled": _near(True, False, 1, 0, "yes", "", None, [], "False")}


def unsafe_path(value: object) -> bool:
    """A path not to read as a profile: a device, /proc or /sys file (/dev/zero never ends)."""
    if not isinstance(value, (str, os.PathLike)) or "\x00" in str(value):
        return False
    text = str(os.fspath(value))
    if posixpath.normpath("/" + text.lstrip("/")).startswith(("/dev", "/proc", "/sys")):
        return True
    return os.path.exists(text) and not (os.path.isfile(text) or os.path.isdir(text))


def preset_builders() -> st.SearchStrategy[sr.RunBuilder]:
    """A builder from a random preset."""
    return st.sampled_from(sorted(PRESETS)).map(lambda name: sr.preset(name, IMAGE))

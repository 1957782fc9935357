"""Valid configs pass their preset's audit: audit_config warns only where a waiver says so.

Configs come from random sequences of valid builder calls on a random preset, with the
opt-ins they need granted (and a few more), so nearly every example is a valid config.
Each must translate, and ``audit_config(cfg)`` may warn only where

* a waiver explains it: the evidence says "waived by opt-in 'x'", ``x`` is one of
  ``cfg.waivers()`` and the check is one ``x`` can cause (``fuzzkit.WAIVER_CHECKS``);
* the audit asks a person to review a setting that needs no opt-in, as documented in
  ``secure_run/_audit.py`` (``fuzzkit.SETTING_ALLOWANCES``): a published port (5.9,
  PSS-baseline-hostPorts) and a bind mount (PSS-baseline-hostPathVolumes).

Everything else is a finding. Those found so far are ``fuzzkit.AUDIT_FINDINGS`` (each
shown by a strict xfail in ``test_fuzz_findings.py``); and the waivers must be listed
by the ``SR-waivers`` finding.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

import attrs
import fuzzkit
from fuzzkit import example, fuzz_settings
from hypothesis import event, given
from hypothesis import strategies as st

import secure_run as sr
from secure_run import ConfigError, OptIn
from secure_run._config.capabilities import ALL_CAPABILITIES
from secure_run._config.presets import PRESETS
from secure_run._config.validation import SAFE_SYSCTLS, ULIMIT_NAMES

Step = Callable[[sr.RunBuilder], sr.RunBuilder]
_MiB = 1 << 20
_NEEDS = re.compile(r"needs the opt-in '([a-z-]+)'")

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=12)  # fmt: skip
_NAME = st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,10}\Z")
_ABS = st.lists(_NAME, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
_SENSITIVE = st.sampled_from(["/etc", "/usr/lib", "/", "/proc", "/var/run/docker.sock", "/run",
                              "/boot", "/srv/data"])  # fmt: skip
_PROFILES = st.sampled_from([
    {"defaultAction": "SCMP_ACT_ERRNO",
     "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]},
    {"defaultAction": "SCMP_ACT_ALLOW",
     "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]},
    {"defaultAction": "SCMP_ACT_ALLOW"},
    {"defaultAction": "SCMP_ACT_KILL", "architectures": ["SCMP_ARCH_X86_64"]},
])  # fmt: skip


def _memory() -> st.SearchStrategy[Step]:
    def make(limit: int, reservation: Any, swap: Any) -> Step:
        return lambda b: b.memory(f"{limit}m", reservation=reservation, swap=swap)

    return st.integers(6, 8192).flatmap(
        lambda limit: st.builds(
            make,
            st.just(limit),
            st.one_of(st.none(), st.integers(6, limit).map(lambda r: f"{r}m")),
            st.one_of(
                st.none(), st.just(-1), st.integers(limit, 2 * limit).map(lambda s: s * _MiB)
            ),
        )
    )


@functools.cache
def steps(network: str) -> st.SearchStrategy[Step]:
    """Valid builder calls (some need an opt-in) on a config whose network is ``network``."""
    publishable = network in ("bridge", "appnet")
    sysctls = sorted(SAFE_SYSCTLS) if network != "host" else ["kernel.shm_rmid_forced"]
    options: list[st.SearchStrategy[Step]] = [
        st.lists(_TEXT, min_size=1, max_size=3).map(lambda a: lambda b: b.command(a)),
        st.one_of(st.none(), st.lists(_TEXT, max_size=2)).map(lambda a: lambda b: b.entrypoint(a)),
        st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,8}\Z"), _TEXT, max_size=2).map(
            lambda e: lambda b: b.env(e)),
        _ABS.map(lambda p: lambda b: b.workdir(p)),
        _NAME.filter(lambda n: n[-1].isalnum() and "_" not in n and ".." not in n).map(
            lambda n: lambda b: b.hostname(n)),
        _NAME.map(lambda n: lambda b: b.name(n)),
        st.dictionaries(_NAME, _TEXT, max_size=2).map(lambda lab: lambda b: b.labels(lab)),
        st.tuples(st.integers(0, 2**31 - 1), st.one_of(st.none(), st.integers(0, 2**31 - 1)))
        .map(lambda u: lambda b: b.user(*u)),
        st.lists(st.integers(0, 65535), max_size=3).map(lambda g: lambda b: b.group_add(*g)),
        st.lists(st.sampled_from([*ALL_CAPABILITIES, "ALL"]), min_size=1, max_size=3).map(
            lambda c: lambda b: b.cap_add(*c)),
        st.lists(st.sampled_from([*ALL_CAPABILITIES, "ALL"]), min_size=1, max_size=2).map(
            lambda c: lambda b: b.cap_drop(*c)),
        st.booleans().map(lambda v: lambda b: b.privileged(v)),
        st.tuples(st.sampled_from(["/dev/fuse", "/dev/null", "/dev/kvm"]),
                  st.sampled_from(["r", "rw", "rwm", "m"])).map(
            lambda d: lambda b: b.device(d[0], permissions=d[1])),
        st.lists(st.sampled_from(["pid", "ipc", "uts", "userns"]), min_size=1, max_size=2).map(
            lambda k: lambda b: b.host_namespace(*k)),
        _memory(),
        st.just(lambda b: b.memory(None)),
        st.floats(0.01, 64).map(lambda c: lambda b: b.cpus(c)),
        st.just(lambda b: b.cpus(None)),
        st.tuples(st.integers(1000, 10**6), st.integers(1000, 10**6)).map(
            lambda q: lambda b: b.cpu_quota(*q)),
        st.integers(2, 262144).map(lambda s: lambda b: b.cpu_shares(s)),
        st.sampled_from(["0", "0-1", "0,2"]).map(lambda c: lambda b: b.cpuset(c)),
        st.one_of(st.none(), st.integers(1, 10**6)).map(lambda p: lambda b: b.pids_limit(p)),
        st.tuples(st.sampled_from(sorted(ULIMIT_NAMES)), st.integers(-1, 10**6)).flatmap(
            lambda u: st.integers(max(u[1], 0), 10**6 + 1).map(
                lambda h, u=u: lambda b: b.ulimit(u[0], u[1], -1 if u[1] == -1 else h))),
        st.booleans().map(lambda v: lambda b: b.read_only(v)),
        st.tuples(_ABS, st.integers(1, 1 << 30), st.integers(0, 0o7777), st.booleans(),
                  st.booleans()).map(
            lambda t: lambda b: b.tmpfs(t[0], t[1], t[2], exec=t[3], suid=t[4])),
        st.tuples(st.one_of(_ABS.map(lambda p: "/srv" + p), _NAME, _SENSITIVE), _ABS,
                  st.booleans()).map(lambda m: lambda b: b.mount(m[0], "/mnt" + m[1], m[2])),
        st.tuples(_ABS.map(lambda p: "/srv" + p), _ABS,
                  st.sampled_from(["private", "rprivate", "slave", "rslave", "shared",
                                   "rshared"])).map(
            lambda m: lambda b: b.mount(m[0], "/mnt" + m[1], propagation=m[2])),
        st.sampled_from(["default", "unconfined"]).map(lambda s: lambda b: b.seccomp(s)),
        _PROFILES.map(lambda p: lambda b: b.seccomp(p)),
        st.sampled_from([None, "docker-default", "unconfined", "my-profile"]).map(
            lambda a: lambda b: b.apparmor(a)),
        st.booleans().map(lambda v: lambda b: b.no_new_privileges(v)),
        st.tuples(st.sampled_from(sysctls), st.one_of(st.integers(0, 65535), _TEXT.filter(
            lambda t: "\n" not in t))).map(lambda s: lambda b: b.sysctl(*s)),
        st.booleans().map(lambda v: lambda b: b.init(v)),
        st.sampled_from([None, "runc", "runsc"]).map(lambda r: lambda b: b.runtime(r)),
        st.one_of(st.tuples(st.sampled_from([None, "no", "always", "unless-stopped"]),
                            st.just(0)),
                  st.tuples(st.just("on-failure"), st.integers(0, 10))).map(
            lambda r: lambda b: b.restart(*r)),
        st.one_of(st.none(), _TEXT, st.lists(_TEXT, min_size=1, max_size=2)).map(
            lambda t: lambda b: b.healthcheck(t, interval="5s", retries=2)),
        st.one_of(st.none(), st.integers(0, 600)).map(lambda s: lambda b: b.stop_timeout(s)),
        st.tuples(st.integers(1, 1 << 30), st.integers(1, 10)).map(
            lambda lim: lambda b: b.log_limits(max(lim[0], 1024), lim[1])),
        st.lists(st.sampled_from(list(OptIn)), min_size=1, max_size=3).map(
            lambda o: lambda b: b.opt_in(*o)),
    ]  # fmt: skip
    if publishable:
        options.append(
            st.tuples(st.integers(1, 65535), st.sampled_from(["", "/udp", "/sctp"]),
                      st.one_of(st.none(), st.integers(1, 65535)),
                      st.sampled_from(["127.0.0.1", "::1", "0.0.0.0", "::", "10.0.0.1"]))  # noqa: S104
            .map(lambda p: lambda b: b.publish(f"{p[0]}{p[1]}", p[2], p[3]))
        )  # fmt: skip
    return st.one_of(options)


@st.composite
def valid_configs(draw: st.DrawFn) -> sr.RunConfig | None:
    """A config from random valid calls on a random preset, with the opt-ins it needs."""
    preset = draw(st.sampled_from(sorted(PRESETS)))
    image = draw(st.sampled_from(["busybox", "busybox:1.36", "registry:5000/team/app:1.2",
                                  "app@sha256:" + "a" * 64]))  # fmt: skip
    builder = sr.preset(preset, image)
    network = draw(st.sampled_from(["keep", "none", "bridge", "appnet", "host"]))
    if network != "keep":
        builder = builder.network(network)
    else:
        network = str(PRESETS[preset].values()["network"])
    for step in draw(st.lists(steps(network), max_size=10)):
        builder = step(builder)
    try:
        return builder.build()
    except ConfigError as exc:
        needed = {m for p in exc.problems for m in _NEEDS.findall(p.message)}
        if not all(_NEEDS.search(p.message) for p in exc.problems):
            event("refused: not fixable by an opt-in")
            return None
    return builder.opt_in(*needed).build()


@fuzz_settings()
@given(cfg=valid_configs())
def test_a_valid_config_passes_its_presets_audit(cfg):
    """Every warning of audit_config(cfg) is a waiver's or an allowance's; waivers listed."""
    with example():
        if cfg is None:
            return
        event(f"preset {cfg.preset}, {len(cfg.waivers())} waiver(s)")
        fuzzkit.exercise(cfg)  # translations, then fuzzkit.check_audit(cfg)


def test_every_opt_in_has_its_checks():
    """The waiver table names every opt-in, so a new opt-in's warnings are accounted for."""
    assert set(fuzzkit.WAIVER_CHECKS) == set(OptIn)
    ids = {c.id for c in sr.CHECKS}
    assert set().union(*fuzzkit.WAIVER_CHECKS.values()) <= ids
    assert {check for _, check, _ in fuzzkit.AUDIT_FINDINGS} <= ids


#: The checks each preset's own config warns on, each waived by one of its opt-ins.
PRESET_WARNINGS = {
    "restricted": set(),
    "sandbox": set(),
    "service": set(),
    "gvisor": set(),
    # Pod Security *baseline*: a writable root and Docker's defaults minus NET_RAW.
    "baseline": {"5.13", "PSS-restricted-capabilities"},
}


def test_each_presets_own_config_passes_its_audit():
    """Each preset as it is warns only where its own opt-ins say, and each is waived."""
    assert set(PRESET_WARNINGS) == set(PRESETS)
    for name in PRESETS:
        cfg = sr.preset(name, "busybox").build()
        report = fuzzkit.check_audit(cfg, tolerate_known=False)
        assert {f.id for f in report.warnings} == PRESET_WARNINGS[name], name


def test_the_audit_invariant_catches_an_unexplained_warning():
    """A warning no waiver or allowance explains fails the check (the check can fail)."""
    cfg = sr.builder("busybox").build()
    report = sr.audit_config(cfg)
    (finding,) = [f for f in report.findings if f.id == "5.4"]
    forged = attrs.evolve(finding, status="warn", evidence="CapAdd=['SYS_NICE']")
    tampered = attrs.evolve(report, findings=[*report.findings, forged])
    left = fuzzkit.unexplained_warnings(cfg, tampered, tolerate_known=False)
    assert left == ["5.4: CapAdd=['SYS_NICE']"]


def test_a_waiver_the_config_lacks_explains_nothing():
    """A warning citing an opt-in the config was not granted stays unexplained."""
    cfg = sr.builder("busybox").build()
    report = sr.audit_config(cfg)
    (finding,) = [f for f in report.findings if f.id == "5.4"]
    forged = attrs.evolve(
        finding, status="warn", evidence="CapAdd=['SYS_NICE']; waived by opt-in 'extra-capability'"
    )
    tampered = attrs.evolve(report, findings=[*report.findings, forged])
    left = fuzzkit.unexplained_warnings(cfg, tampered, tolerate_known=False)
    assert [w.split(":")[0] for w in left] == ["5.4"]

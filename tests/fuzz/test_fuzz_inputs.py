"""The user-data parsers, fuzzed against a model of what each must accept and refuse.

Sizes and CPU units, capability names, user strings, ports, mounts, seccomp profiles (as
mappings and as files of any content), sysctls and opt-ins. Each test checks the model's
verdict, then the invariants every config must meet (:func:`fuzzkit.exercise`).
"""

from __future__ import annotations

import ipaddress
import json
import math
import posixpath
from typing import Any

import fuzzkit
import pytest
from fuzzkit import ANYTHING, SECCOMP_MAPPINGS, TEXT, example, fuzz_settings
from hypothesis import example as explicit
from hypothesis import given
from hypothesis import strategies as st

import secure_run as sr
from secure_run import OptIn
from secure_run._config.capabilities import ALL_CAPABILITIES
from secure_run._config.hostpaths import SENSITIVE_PATHS
from secure_run._config.validation import MIN_MEMORY, SAFE_SYSCTLS

B = sr.builder(fuzzkit.IMAGE)
NET = B.network("bridge")
EVERY_OPT_IN = [o.value for o in OptIn]
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _refused(builder: sr.RunBuilder, *inputs: object) -> bool:
    """Whether ``builder`` is refused; a config it builds is exercised."""
    return fuzzkit.build_or_refuse(builder, *inputs) is None


# -- sizes and CPUs -------------------------------------------------------------------


@st.composite
def sizes(draw: st.DrawFn) -> tuple[str, int | None]:
    """A size as text, with the bytes it means (None: not a size)."""
    number = draw(st.one_of(st.integers(0, 10**6).map(str),
                            st.from_regex(r"\A\d{1,4}\.\d{1,3}\Z")))  # fmt: skip
    unit = draw(st.sampled_from(sorted(_UNITS)))
    suffix = draw(st.sampled_from(["", "b", "B"] + (["ib", "iB", "IB"] if unit else [])))
    space = draw(st.sampled_from(["", " ", "  "]))
    upper = draw(st.booleans())
    text = f"{number}{space}{unit.upper() if upper else unit}{suffix}"
    if "." in number and not unit:
        return text, None  # bytes must be whole
    value = float(number) if "." in number else int(number)
    return text, int(value * _UNITS[unit])


@fuzz_settings()
@given(size=sizes(), pad=st.sampled_from(["", " ", "\t"]))
def test_memory_sizes_mean_the_bytes_their_unit_says(size, pad):
    """``"<n>[kmg][i][b]"`` is n times 1024 to the unit's power; below 6 MiB is refused."""
    text, expected = size
    with example():
        builder = B.memory(pad + text + pad, reservation=None)
        cfg = fuzzkit.build_or_refuse(builder)
        if expected is None or expected < MIN_MEMORY:
            assert cfg is None
        else:
            assert cfg is not None
            assert (cfg.memory, cfg.memory_swap) == (expected, expected)


@fuzz_settings()
@given(size=st.one_of(sizes().map(lambda s: s[0]), TEXT, ANYTHING), what=st.sampled_from(
    ["memory", "reservation", "swap", "tmpfs", "log_limits"]))  # fmt: skip
def test_any_size_is_bytes_or_a_config_error(size, what):
    """Any value where a size goes: whole, non-negative bytes in the config, or a ConfigError."""
    make = {
        "memory": lambda: B.memory(size),
        "reservation": lambda: B.memory("1g", reservation=size),
        "swap": lambda: B.memory("64m", swap=size),
        "tmpfs": lambda: B.tmpfs("/scratch", size=size),
        "log_limits": lambda: B.log_limits(size),
    }[what]
    with example():
        try:
            built = make()
        except Exception as exc:
            if not fuzzkit.tolerated(exc, fuzzkit.known_crashes(size)):
                raise
            return
        cfg = fuzzkit.build_or_refuse(built.opt_in("unlimited-memory"), size)
        if cfg is not None:
            for value in (cfg.memory, cfg.memory_reservation, *(t.size for t in cfg.tmpfs)):
                assert value is None or (isinstance(value, int) and value >= 0)


@fuzz_settings()
@given(
    cpus=st.one_of(
        st.floats(),
        st.integers(),
        st.floats().map(repr),
        TEXT,
        st.from_regex(r"\A\s*-?\d{0,4}(\.\d{0,12})?([eE]-?\d{1,3})?\s*\Z"),
    )
)
@explicit(cpus=1e300)
@explicit(cpus="1e300")
def test_cpus_are_a_finite_positive_count_or_a_config_error(cpus):
    """cpus(x) keeps float(x) when it is finite and at least 0.01, else a ConfigError."""
    with example():
        cfg = fuzzkit.build_or_refuse(B.cpus(cpus), cpus)
        try:
            number = float(cpus)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        # the engine counts nano-CPUs in an int64
        valid = math.isfinite(number) and number >= 0.01 and number * 1e9 < 2**63
        if cfg is not None and not valid and math.isfinite(number) and number >= 0.01:
            fuzzkit.hit("int64")  # too large for the engine, yet built (see exercise())
            return
        assert (cfg is not None) == valid, (cpus, cfg)
        if cfg is not None:
            assert cfg.cpus == number


@fuzz_settings()
@given(quota=st.integers(-10, 2 * 10**6), period=st.integers(-10, 2 * 10**6))
def test_cpu_quota_within_the_cfs_bounds_builds(quota, period):
    """cpu_quota(q, p) builds exactly when q >= 1000 and 1000 <= p <= 1_000_000."""
    with example():
        cfg = fuzzkit.build_or_refuse(B.cpu_quota(quota, period))
        assert (cfg is not None) == (quota >= 1000 and 1000 <= period <= 1_000_000)


# -- capabilities and users -------------------------------------------------------------


def _spelling(draw: st.DrawFn, name: str) -> str:
    prefix = draw(st.sampled_from(["", "CAP_", "cap_", "Cap_"]))
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
    pad = draw(st.sampled_from(["", " ", "\t", " \n"]))
    return pad + prefix + cased + pad


@fuzz_settings()
@given(data=st.data(), names=st.lists(st.sampled_from(ALL_CAPABILITIES), max_size=4),
       junk=st.lists(TEXT, max_size=3))  # fmt: skip
def test_capability_names_in_any_spelling_normalise_and_each_typo_is_named(data, names, junk):
    """Any case, prefix or padding of a real name is that capability; each unknown is a problem."""
    spelled = [_spelling(data.draw, n) for n in names]
    unknown = [j for j in junk if j.strip().upper().removeprefix("CAP_") not in
               {*ALL_CAPABILITIES, "ALL"}]  # fmt: skip
    with example():
        builder = B.opt_in("dangerous-capability", "extra-capability").cap_add(*spelled, *junk)
        typos = [p for p in builder.problems if p.message == "unknown capability"]
        assert len(typos) == len(unknown)
        if not unknown:
            cfg = fuzzkit.build_or_refuse(builder)
            assert cfg is not None
            assert set(names) <= set(cfg.cap_add) <= {*names, *ALL_CAPABILITIES, "ALL"}


@fuzz_settings()
@given(
    uid=st.one_of(st.integers(-5, 2**31 + 5), st.from_regex(r"\A[0-9]{1,10}\Z")),
    gid=st.one_of(st.none(), st.integers(-5, 2**31 + 5), st.from_regex(r"\A[0-9]{1,10}\Z")),
    joined=st.booleans(),
    root=st.booleans(),
)
def test_user_ids_in_range_build_and_root_needs_its_opt_in(uid, gid, joined, root):
    """``user(u, g)`` and ``user("u:g")`` give that uid and gid (gid defaults to the uid)."""
    if joined:
        args: tuple[Any, ...] = (f"{uid}:{gid}" if gid is not None else str(uid),)
    else:
        args = (uid, gid)
    u = int(uid)
    g = u if gid is None else int(gid)
    valid = all(0 <= i <= 2**31 - 1 for i in (u, g)) and (u != 0 or root)
    with example():
        builder = B.user(*args).opt_in(*(["root-user"] if root else []))
        cfg = fuzzkit.build_or_refuse(builder)
        assert (cfg is not None) == valid, (args, cfg)
        if cfg is not None:
            assert (cfg.user.uid, cfg.user.gid) == (u, g)


@fuzz_settings()
@given(uid=st.one_of(TEXT, ANYTHING), gid=st.one_of(st.none(), TEXT, ANYTHING))
def test_any_user_value_is_numeric_ids_or_a_config_error(uid, gid):
    """Names other than root, signs, unicode digits and junk are refused; ids are numeric."""
    with example():
        builder = fuzzkit.call(B.opt_in("root-user"), "user", uid, gid)
        cfg = None if builder is None else fuzzkit.build_or_refuse(builder, uid, gid)
        if cfg is not None:
            assert isinstance(cfg.user.uid, int)
            assert isinstance(cfg.user.gid, int)


# -- ports ------------------------------------------------------------------------------


@fuzz_settings()
@given(
    port=st.integers(-2, 70000),
    protocol=st.sampled_from(["", "/tcp", "/udp", "/sctp", "/TCP", "/icmp", "/"]),
    host_port=st.one_of(st.none(), st.integers(-2, 70000)),
    host_ip=st.one_of(st.ip_addresses().map(str), st.sampled_from(
        ["0.0.0.0", "::", "::ffff:0.0.0.0", "127.0.0.1", "localhost", "", "[::1]"])),  # noqa: S104
    network=st.sampled_from(["bridge", "appnet", "none", "host", "container:web"]),
)  # fmt: skip
@explicit(port=8080, protocol="", host_port=None, host_ip="::ffff:0.0.0.0", network="bridge")
def test_publish_builds_exactly_the_binding_the_model_allows(
    port, protocol, host_port, host_ip, network
):
    """A valid port on a publishable network builds; any interface, a port < 1024 need opt-ins."""
    try:
        address: Any = ipaddress.ip_address(host_ip)
    except ValueError:
        address = None
    proto = protocol[1:] or "tcp"
    valid = (
        1 <= port <= 65535
        and proto in ("tcp", "udp", "sctp")
        and (host_port is None or 1 <= host_port <= 65535)
        and address is not None
        and network in ("bridge", "appnet")
        and not fuzzkit.engine_unspecified(host_ip)  # the engine's reading: ::ffff:0.0.0.0 too
        and not (host_port is not None and host_port < 1024)
    )
    with example():
        builder = B.network(network).publish(f"{port}{protocol}", host_port, host_ip)
        cfg = fuzzkit.build_or_refuse(builder)
        if cfg is not None and not valid and fuzzkit.mapped_any(cfg):
            fuzzkit.hit("mapped-any")
            return
        assert (cfg is not None) == valid, (port, protocol, host_port, host_ip, network)
        if cfg is not None:
            (binding,) = cfg.ports
            assert binding == sr.PortBinding(port, proto, host_ip, host_port)


@fuzz_settings()
@given(
    port=fuzzkit.SHAPED["publish"]["container_port"] | ANYTHING,
    host_port=fuzzkit.SHAPED["publish"]["host_port"] | ANYTHING,
    host_ip=fuzzkit.SHAPED["publish"]["host_ip"] | ANYTHING,
    grant=st.lists(st.sampled_from(["public-port", "privileged-port"]), max_size=2),
)
def test_any_publish_values_build_or_are_a_config_error(port, host_port, host_ip, grant):
    """Any values to publish(), opt-ins or not: a valid config or a ConfigError."""
    with example():
        builder = fuzzkit.call(NET.opt_in(*grant), "publish", port, host_port, host_ip)
        if builder is not None:
            fuzzkit.build_or_refuse(builder, port, host_port, host_ip)


# -- mounts -----------------------------------------------------------------------------

_SEGMENTS = ["etc", "usr", "lib", "boot", "dev", "proc", "sys", "run", "var", "srv", "data",
             "docker.sock", "containerd", "containerd.sock", "podman.sock", "..", ".", "",
             "self", "1", "root", "cwd", "home"]  # fmt: skip
_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock")


def _host_path(path: str) -> str:
    """The path the daemon mounts, with /proc/<pid>/root (and cwd) resolved to /."""
    clean = posixpath.normpath("/" + path.lstrip("/"))
    match = fuzzkit._PROC_ROOT.fullmatch(clean)
    return posixpath.normpath("/" + (match[3] or "")) if match else clean


@fuzz_settings()
@given(
    source=st.one_of(
        st.lists(st.sampled_from(_SEGMENTS), min_size=0, max_size=4).map(
            lambda parts: "/" + "/".join(parts)),
        st.sampled_from(["vol", "my-vol_1.x", "/", "//etc//", "", "../x", "vol/x"]),
    ),
    target=st.one_of(
        st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=3).map(
            lambda parts: "/" + "/".join(parts)),
        st.sampled_from(["data", "", "/"]),
    ),
    read_only=st.booleans(),
    propagation=st.sampled_from([None, "private", "rprivate", "slave", "rslave", "shared",
                                 "rshared", "SHARED", ""]),
)  # fmt: skip
@explicit(source="/proc/self/root", target="/host", read_only=True, propagation=None)
def test_a_mount_without_opt_ins_never_exposes_the_host(source, target, read_only, propagation):
    """Without opt-ins, no writable sensitive path, no engine socket, no shared propagation."""
    with example():
        cfg = fuzzkit.build_or_refuse(B.mount(source, target, read_only, propagation=propagation))
        if cfg is None:
            return
        (mount,) = cfg.mounts
        assert mount.target.startswith("/")
        assert propagation is None or "shared" not in propagation
        if mount.kind != "bind":
            return
        host = _host_path(mount.source)
        exposes = any(s == host or s.startswith(host.rstrip("/") + "/") for s in _SOCKETS)
        if exposes and fuzzkit.proc_root(cfg):
            fuzzkit.hit("proc-root")
            return
        assert not exposes, f"{source} exposes the engine socket without the opt-in"
        assert read_only or not any(
            host == s or (s != "/" and host.startswith(s + "/")) for s in SENSITIVE_PATHS
        ), f"{source} is writable and sensitive without the opt-in"


@fuzz_settings()
@given(source=fuzzkit.SHAPED["mount"]["source"] | ANYTHING,
       target=fuzzkit.SHAPED["mount"]["target"] | ANYTHING,
       read_only=st.booleans() | ANYTHING,
       propagation=fuzzkit.SHAPED["mount"]["propagation"] | ANYTHING)  # fmt: skip
def test_any_mount_values_with_every_opt_in_build_or_are_a_config_error(
    source, target, read_only, propagation
):
    """Any values to mount(), every opt-in granted: a valid config or a ConfigError."""
    with example():
        builder = fuzzkit.call(B.opt_in(*EVERY_OPT_IN), "mount", source, target, read_only,
                               propagation=propagation)  # fmt: skip
        if builder is not None:
            fuzzkit.build_or_refuse(builder, source, target)


# -- seccomp ----------------------------------------------------------------------------


def _json_equal(profile: object, built: str) -> bool:
    """Whether the profile, as JSON, is what the config holds (key order aside)."""
    return bool(json.loads(json.dumps(profile)) == json.loads(built))


@fuzz_settings()
@given(profile=SECCOMP_MAPPINGS, grant=st.booleans())
@explicit(profile={"defaultAction": "SCMP_ACT_ALLOW"}, grant=False)
def test_any_seccomp_mapping_is_a_checked_profile_or_a_config_error(profile, grant):
    """A mapping builds only as a valid profile, kept whole; allow-all needs its opt-in."""
    with example():
        builder = B.opt_in(*(["seccomp-unconfined"] if grant else []))
        built = fuzzkit.call(builder, "seccomp", profile)
        if built is None:
            return
        cfg = fuzzkit.build_or_refuse(built, profile)
        if cfg is None:
            return
        assert cfg.seccomp.kind == "custom"
        assert cfg.seccomp.profile_json is not None
        if not fuzzkit.non_finite(profile):
            assert _json_equal(profile, cfg.seccomp.profile_json)
        allow_all = profile.get("defaultAction") == "SCMP_ACT_ALLOW" and all(
            r.get("action") == "SCMP_ACT_ALLOW" for r in profile.get("syscalls", [])
        )
        assert allow_all == (OptIn.SECCOMP_UNCONFINED in cfg.waivers())


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A folder for the profile files the file fuzz writes (module-scoped, for Hypothesis)."""
    return tmp_path_factory.mktemp("seccomp-profiles")


@fuzz_settings()
@given(content=st.one_of(
    st.text(), st.binary(), SECCOMP_MAPPINGS.map(json.dumps),
    SECCOMP_MAPPINGS.map(lambda p: json.dumps(p, indent=2)).map(lambda t: t.encode("utf-16")),
    st.sampled_from(["", "{}", "[]", "null", '{"defaultAction": "SCMP_ACT_ERRNO"}\x00',
                     '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": NaN}',
                     '{"defaultAction": "SCMP_ACT_ERRNO", "x": Infinity}',
                     "\ufeff{\"defaultAction\": \"SCMP_ACT_ERRNO\"}",
                     '{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_ALLOW"}',
                     "[" * 100_000 + "]" * 100_000]),
))  # fmt: skip
def test_any_seccomp_file_is_a_checked_profile_or_a_config_error(profile_dir, content):
    """A file of any bytes: a valid profile (its JSON kept, source recorded) or a ConfigError."""
    path = profile_dir / "profile.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    with example():
        try:
            built = B.seccomp(str(path))
        except Exception as exc:
            if not fuzzkit.tolerated(exc, fuzzkit.known_crashes(content)):
                raise
            return
        cfg = fuzzkit.build_or_refuse(built, content)
        if cfg is None:
            return
        assert cfg.seccomp.kind == "custom"
        assert cfg.seccomp.source == str(path)
        assert cfg.seccomp.profile_json == json.dumps(
            json.loads(path.read_text(encoding="utf-8")), separators=(",", ":"),
            ensure_ascii=False,
        )  # fmt: skip


# -- sysctls and opt-ins ----------------------------------------------------------------


@fuzz_settings()
@given(
    name=st.one_of(st.sampled_from(sorted(SAFE_SYSCTLS)), fuzzkit.SHAPED["sysctl"]["name"],
                   TEXT),
    value=st.one_of(st.integers(), TEXT, fuzzkit.SHAPED["sysctl"]["value"], ANYTHING),
    network=st.sampled_from(["none", "bridge", "host"]),
)  # fmt: skip
def test_a_sysctl_builds_only_from_the_safe_list_with_a_one_line_value(name, value, network):
    """Only a safe, namespaced sysctl with a one-line text or int value; net.* not on host."""
    safe = name in SAFE_SYSCTLS and not (name.startswith("net.") and network == "host")
    well_typed = isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 64
    )
    with example():
        builder = fuzzkit.call(B.network(network).opt_in("host-namespace"), "sysctl", name, value)
        if builder is None:
            return
        cfg = fuzzkit.build_or_refuse(builder, value)
        if cfg is not None and not well_typed:
            assert safe
            fuzzkit.hit("sysctl-str")
            return
        text = str(value) if well_typed else ""
        assert (cfg is not None) == (safe and bool(text) and not {"\n", "\x00"} & set(text))
        if cfg is not None:
            assert cfg.sysctls == ((name, text),)


@fuzz_settings()
@given(names=st.lists(st.one_of(st.sampled_from(list(OptIn)), st.sampled_from(EVERY_OPT_IN),
                                fuzzkit.SHAPED["opt_in"]["opt_ins"], TEXT, ANYTHING),
                      max_size=5))  # fmt: skip
def test_only_known_opt_ins_are_granted_and_unused_ones_are_not_waivers(names):
    """opt_in() takes OptIn members or their exact names; a waiver is only a used grant."""
    known = all(isinstance(n, str) and n in EVERY_OPT_IN for n in names)
    with example():
        builder = fuzzkit.call(B, "opt_in", *names)
        if builder is None:
            return
        cfg = fuzzkit.build_or_refuse(builder, names)
        assert (cfg is not None) == known, names
        if cfg is not None:
            assert set(cfg.opt_ins) == {OptIn(n) for n in names}
            assert cfg.waivers() == ()  # the restricted preset relies on none

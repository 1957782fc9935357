"""The named presets: what each one sets, how they compare, and their reasons."""

from __future__ import annotations

import attrs
import pytest

import secure_run as sr
from secure_run import OptIn
from secure_run._config.presets import PRESETS

IMAGE = "busybox:1.36"
NAMES = ["restricted", "sandbox", "service", "baseline", "gvisor"]
THREAD_HINTS = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOMAXPROCS"}


def built(name: str) -> sr.RunConfig:
    return sr.preset(name, IMAGE).build()


def tmp_size(cfg: sr.RunConfig) -> int:
    (tmp,) = [t for t in cfg.tmpfs if t.path == "/tmp"]
    return tmp.size


def test_presets_lists_the_five_names():
    """sr.presets() names restricted, sandbox, service, baseline and gvisor, in that order."""
    assert list(sr.presets()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_has_a_one_line_description(name):
    """Each preset's description is one non-empty line."""
    description = sr.presets()[name]
    assert description.strip()
    assert "\n" not in description


def test_presets_returns_a_fresh_dict():
    """Changing the dict sr.presets() returns does not change the presets."""
    sr.presets().clear()
    assert list(sr.presets()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_builds_and_records_its_name(name):
    """Every preset builds with a valid image, and the config remembers the preset."""
    cfg = built(name)
    assert (cfg.image, cfg.preset) == (IMAGE, name)


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_is_hardened_the_same_way(name):
    """Every preset runs as nobody, drops ALL, forbids new privileges and uses default seccomp."""
    cfg = built(name)
    assert cfg.user == sr.User(65534, 65534)
    assert cfg.cap_drop == ("ALL",)
    assert cfg.no_new_privileges is True
    assert cfg.seccomp == sr.Seccomp("default")
    assert cfg.privileged is False
    assert cfg.init is True


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_limits_memory_cpu_and_processes(name):
    """Every preset sets memory with half reserved and no swap, CPUs, pids, core=0 and logs."""
    cfg = built(name)
    assert cfg.memory is not None
    assert cfg.memory_reservation == cfg.memory // 2
    assert cfg.memory_swap == cfg.memory
    assert cfg.cpus is not None
    assert cfg.cpus > 0
    assert cfg.pids_limit is not None
    assert cfg.pids_limit > 0
    assert sr.Ulimit("core", 0, 0) in cfg.ulimits
    assert cfg.log_limits is not None


def test_builder_is_the_restricted_preset():
    """sr.builder(img) is exactly sr.preset("restricted", img), and builds the same config."""
    assert sr.builder(IMAGE) == sr.preset("restricted", IMAGE)
    assert sr.builder(IMAGE).build() == built("restricted")


def test_restricted_facts():
    """restricted: nobody, no capabilities, read-only with a noexec /tmp, no network, limits."""
    cfg = built("restricted")
    assert cfg.cap_add == ()
    assert cfg.read_only is True
    assert cfg.network == "none"
    assert cfg.ports == ()
    assert cfg.tmpfs == (sr.Tmpfs("/tmp", 64 << 20, 0o1777),)
    assert (cfg.tmpfs[0].exec, cfg.tmpfs[0].suid) == (False, False)
    assert (cfg.memory, cfg.cpus, cfg.pids_limit) == (512 << 20, 1.0, 128)
    assert cfg.ulimits == (sr.Ulimit("core", 0, 0), sr.Ulimit("nofile", 1024, 1024))
    assert cfg.log_limits == sr.LogLimits(10 << 20, 3)
    assert cfg.restart is None
    assert cfg.waivers() == ()


def test_sandbox_is_tighter_than_restricted():
    """sandbox has less memory, fewer CPUs, fewer processes and a smaller /tmp than restricted."""
    sandbox, restricted = built("sandbox"), built("restricted")
    assert sandbox.memory < restricted.memory
    assert sandbox.cpus < restricted.cpus
    assert sandbox.pids_limit < restricted.pids_limit
    assert tmp_size(sandbox) < tmp_size(restricted)
    assert sandbox.network == "none"
    assert sandbox.waivers() == ()


def test_sandbox_sizes_thread_pools_to_one():
    """sandbox sets the common thread-count variables to 1, matching its CPU limit."""
    env = built("sandbox").environment
    assert THREAD_HINTS.issubset(env)
    assert all(env[name] == "1" for name in THREAD_HINTS)


def test_service_facts():
    """service: only NET_BIND_SERVICE, a network, on-failure restart with at most 5 retries."""
    cfg = built("service")
    assert cfg.cap_add == ("NET_BIND_SERVICE",)
    assert cfg.network != "none"
    assert cfg.restart == sr.RestartPolicy("on-failure", 5)
    assert cfg.read_only is True
    assert cfg.waivers() == ()


def test_service_publishes_on_loopback():
    """A port published from the service preset binds 127.0.0.1 and needs no opt-in."""
    cfg = sr.preset("service", IMAGE).publish(8080).build()
    assert [p.host_ip for p in cfg.ports] == ["127.0.0.1"]


def test_baseline_has_dockers_defaults_without_net_raw():
    """baseline adds back Docker's 14 default capabilities except NET_RAW."""
    assert set(built("baseline").cap_add) == sr.DOCKER_DEFAULT_CAPABILITIES - {"NET_RAW"}


def test_baseline_root_is_writable_and_recorded_as_a_waiver():
    """baseline's root is writable and it adds capabilities; both waivers are recorded."""
    cfg = built("baseline")
    assert cfg.read_only is False
    assert cfg.waivers() == (OptIn.EXTRA_CAPABILITY, OptIn.WRITABLE_ROOT)
    labels = cfg.to_docker_kwargs()["labels"]
    assert labels["io.secure-run.opt-ins"] == "extra-capability,writable-root"


def test_unknown_preset_is_refused_with_the_known_names():
    """An unknown preset name raises ConfigError whose fix lists every preset."""
    with pytest.raises(sr.ConfigError) as excinfo:
        sr.preset("hardened", IMAGE)
    (problem,) = excinfo.value.problems
    assert problem.field == "preset"
    assert all(name in problem.fix for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_line_names_a_real_field_with_a_reason(name):
    """Each line of each preset sets a RunConfig field, once, and says why."""
    fields = attrs.fields_dict(sr.RunConfig)
    lines = PRESETS[name].lines
    assert all(line.field in fields for line in lines)
    assert all(line.reason.strip() for line in lines)
    assert len({line.field for line in lines}) == len(lines)


@pytest.mark.parametrize("name", NAMES)
def test_preset_values_are_what_the_config_holds(name):
    """Each line's value is the value the built config holds for that field."""
    cfg = built(name)
    for line in PRESETS[name].lines:
        converter = attrs.fields_dict(sr.RunConfig)[line.field].converter
        value = converter(line.value) if callable(converter) else line.value
        assert getattr(cfg, line.field) == value, line.field


@pytest.mark.parametrize("name", NAMES)
def test_presets_are_immutable_values(name):
    """A preset is a frozen, hashable value all the way down, safe to share."""
    assert hash(PRESETS[name]) == hash(PRESETS[name])


def test_gvisor_is_sandbox_under_runsc_with_a_pids_limit_runsc_starts_with():
    """gvisor is sandbox's settings plus runtime runsc, with pids_limit raised to 128."""
    gvisor, sandbox = built("gvisor"), built("sandbox")
    assert gvisor.runtime == "runsc"
    assert gvisor.pids_limit == 128
    same = {"runtime", "pids_limit", "preset"}
    for field in attrs.fields(sr.RunConfig):
        if field.name not in same:
            assert getattr(gvisor, field.name) == getattr(sandbox, field.name), field.name

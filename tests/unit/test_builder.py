"""The immutable builder: every call returns a new builder; what each call records."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

import secure_run as sr
from secure_run import OptIn
from secure_run._config.presets import PRESETS

IMAGE = "busybox:1.36"
MiB = 1 << 20
ENV_VALUE = "hunter2-s3cr3t-value"
BASE = sr.builder(IMAGE).cap_add("NET_BIND_SERVICE")

#: One valid call of every public builder method, each changing something on BASE.
CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "apparmor": (("docker-default",), {}),
    "cap_add": (("CHOWN",), {}),
    "cap_drop": (("NET_BIND_SERVICE",), {}),
    "command": ((["id", "-u"],), {}),
    "cpu_quota": ((50_000,), {}),
    "cpu_shares": ((512,), {}),
    "cpus": ((0.5,), {}),
    "cpuset": (("0-1",), {}),
    "device": (("/dev/fuse",), {}),
    "entrypoint": ((["/bin/sh", "-c"],), {}),
    "env": ((), {"A": "1"}),
    "group_add": ((5,), {}),
    "healthcheck": (("true",), {"interval": 5}),
    "host_namespace": (("pid",), {}),
    "hostname": (("box",), {}),
    "image": (("alpine:3.19",), {}),
    "init": ((False,), {}),
    "labels": ((), {"team": "infra"}),
    "log_limits": (("1m", 1), {}),
    "memory": (("256m",), {}),
    "mount": (("/srv", "/srv"), {}),
    "name": (("job-1",), {}),
    "network": (("bridge",), {}),
    "no_new_privileges": ((False,), {}),
    "opt_in": (("root-user",), {}),
    "pids_limit": ((64,), {}),
    "privileged": ((), {}),
    "publish": ((8080,), {}),
    "read_only": ((False,), {}),
    "restart": (("on-failure", 2), {}),
    "runtime": (("runsc",), {}),
    "seccomp": (("unconfined",), {}),
    "stop_timeout": ((5,), {}),
    "sysctl": (("net.ipv4.tcp_syncookies", 1), {}),
    "tmpfs": (("/run",), {}),
    "workspace": (("/workspace",), {}),
    "ulimit": (("nproc", 10), {}),
    "user": ((1000,), {}),
    "workdir": (("/work",), {}),
}


def call(builder: sr.RunBuilder, name: str) -> sr.RunBuilder:
    args, kwargs = CALLS[name]
    result: sr.RunBuilder = getattr(builder, name)(*args, **kwargs)
    return result


def _problems(builder: sr.RunBuilder) -> tuple[sr.Problem, ...]:
    with pytest.raises(sr.ConfigError) as excinfo:
        builder.build()
    return excinfo.value.problems


# -- immutability --------------------------------------------------------------


def test_every_public_method_is_in_the_table():
    """The immutability tests below cover every public builder method."""
    public = {
        n
        for n in dir(sr.RunBuilder)
        if not n.startswith("_") and callable(getattr(sr.RunBuilder, n))
    }
    assert public - {"build"} == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_method_returns_a_new_different_builder(name):
    """Each method returns a new RunBuilder that differs from the one it was called on."""
    new = call(BASE, name)
    assert isinstance(new, sr.RunBuilder)
    assert new is not BASE
    assert new != BASE


@pytest.mark.parametrize("name", sorted(CALLS))
def test_method_leaves_the_original_unchanged(name):
    """After any method call, the original builder still builds the same config."""
    before = BASE.build()
    call(BASE, name)
    assert BASE.build() == before


def test_a_bad_value_is_recorded_on_the_new_builder_only():
    """A bad value does not raise at the call; the new builder carries the problem, not the old."""
    bad = BASE.memory("lots")
    assert [p.field for p in bad.problems] == ["memory"]
    assert BASE.problems == ()
    assert BASE.build() == sr.builder(IMAGE).cap_add("NET_BIND_SERVICE").build()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_extending_a_preset_does_not_change_it(name):
    """Extending a preset's builder in every way leaves the preset and its builds as they were."""
    before = sr.preset(name, IMAGE).build()
    lines_before = copy.deepcopy(PRESETS[name].lines)
    extended = sr.preset(name, IMAGE)
    for method in sorted(CALLS):
        extended = call(extended, method)
    extended = extended.env(OMP_NUM_THREADS="8").ulimit("nofile", 1).tmpfs("/tmp", "1m")
    assert extended != sr.preset(name, IMAGE)
    assert sr.preset(name, IMAGE).build() == before
    assert PRESETS[name].lines == lines_before


def test_build_twice_gives_equal_configs():
    """Building the same builder twice gives equal, equally hashed configs."""
    builder = sr.preset("service", IMAGE).env(A="1").publish(8080)
    first, second = builder.build(), builder.build()
    assert first == second
    assert hash(first) == hash(second)


def test_same_calls_give_equal_builders():
    """Two builders made by the same calls compare equal."""
    assert sr.builder(IMAGE).user(1000).memory("1g") == sr.builder(IMAGE).user(1000).memory("1g")


# -- secrets -------------------------------------------------------------------


def test_env_values_are_not_in_the_builder_repr():
    """``repr(builder)`` hides environment values."""
    assert ENV_VALUE not in repr(sr.builder(IMAGE).env(TOKEN=ENV_VALUE))


def test_env_values_are_not_in_the_config_repr():
    """``repr(config)`` shows environment names but hides their values."""
    text = repr(sr.builder(IMAGE).env(TOKEN=ENV_VALUE).build())
    assert ENV_VALUE not in text
    assert "TOKEN" in text


@pytest.mark.parametrize(
    "mapping",
    [
        {"BAD=KEY": ENV_VALUE},
        {"": ENV_VALUE},
        {"TOKEN": ENV_VALUE + "\x00"},
        {"TOKEN": ENV_VALUE, 5: ENV_VALUE},
    ],
    ids=["key-with-=", "empty-key", "NUL-in-value", "non-str-key"],
)
def test_env_values_are_not_in_the_error_for_a_bad_env(mapping):
    """A refused environment is reported by its key; the value appears nowhere in the error."""
    builder = sr.builder(IMAGE).env(mapping)
    with pytest.raises(sr.ConfigError) as excinfo:
        builder.build()
    assert ENV_VALUE not in str(excinfo.value)
    assert ENV_VALUE not in repr(excinfo.value.problems)
    assert ENV_VALUE not in repr(builder)


# -- what each call records ----------------------------------------------------


def test_cap_drop_removes_a_capability_from_the_added_set():
    """cap_drop(name) takes that capability back out of cap_add, whatever its spelling."""
    cfg = sr.builder(IMAGE).cap_add("CHOWN", "KILL").cap_drop("cap_chown")
    cfg = cfg.opt_in("extra-capability").build()
    assert cfg.cap_add == ("KILL",)


def test_cap_drop_all_clears_every_addition():
    """cap_drop("ALL") leaves nothing added."""
    cfg = sr.builder(IMAGE).cap_add("CHOWN", "KILL").cap_drop("ALL").build()
    assert cfg.cap_add == ()


def test_cap_drop_keeps_dropping_all():
    """However caps are dropped, the config still drops ALL first."""
    cfg = sr.builder(IMAGE).cap_add("CHOWN").cap_drop("CHOWN").build()
    assert cfg.cap_drop == ("ALL",)


def test_cap_add_is_sorted_and_deduplicated():
    """Adding capabilities over several calls gives each canonical name once, in order."""
    cfg = sr.builder(IMAGE).cap_add("kill").cap_add("CAP_CHOWN", "KILL")
    cfg = cfg.opt_in("extra-capability").build()
    assert cfg.cap_add == ("CHOWN", "KILL")


def test_cpus_clears_cpu_quota():
    """Setting cpus after cpu_quota leaves only cpus."""
    cfg = sr.builder(IMAGE).cpu_quota(50_000, 100_000).cpus(0.5).build()
    assert (cfg.cpus, cfg.cpu_quota, cfg.cpu_period) == (0.5, None, None)


def test_cpu_quota_clears_cpus():
    """Setting cpu_quota after cpus leaves only the quota and its period."""
    cfg = sr.builder(IMAGE).cpus(0.5).cpu_quota(50_000).build()
    assert (cfg.cpus, cfg.cpu_quota, cfg.cpu_period) == (None, 50_000, 100_000)


def test_memory_defaults_reservation_to_half_and_swap_to_the_limit():
    """memory(limit) alone sets the reservation to half the limit and no swap."""
    cfg = sr.builder(IMAGE).memory("256m").build()
    assert (cfg.memory, cfg.memory_reservation, cfg.memory_swap) == (
        256 * MiB,
        128 * MiB,
        256 * MiB,
    )


def test_memory_takes_an_explicit_reservation_and_swap():
    """Explicit reservation and swap are used as given."""
    cfg = sr.builder(IMAGE).memory("256m", reservation="64m", swap="512m").build()
    assert (cfg.memory_reservation, cfg.memory_swap) == (64 * MiB, 512 * MiB)


def test_memory_reservation_none_means_no_reservation():
    """reservation=None sets no soft limit."""
    assert sr.builder(IMAGE).memory("256m", reservation=None).build().memory_reservation is None


def test_memory_swap_none_means_no_swap():
    """swap=None keeps swap equal to the limit, i.e. no swap."""
    assert sr.builder(IMAGE).memory("256m", swap=None).build().memory_swap == 256 * MiB


def test_memory_swap_minus_one_is_unlimited_with_the_opt_in():
    """swap=-1 is stored as -1 (unlimited) once ``unlimited-memory`` is granted."""
    cfg = sr.builder(IMAGE).memory("256m", swap=-1).opt_in("unlimited-memory").build()
    assert cfg.memory_swap == -1


def test_memory_none_clears_all_three():
    """memory(None) clears the limit, the reservation and swap."""
    cfg = sr.builder(IMAGE).memory(None).opt_in("unlimited-memory").build()
    assert (cfg.memory, cfg.memory_reservation, cfg.memory_swap) == (None, None, None)


def test_memory_reports_each_bad_argument():
    """Bad limit and reservation are both recorded, each against its own field."""
    builder = sr.builder(IMAGE).memory("lots", reservation="some", swap="more")
    assert [p.field for p in builder.problems] == ["memory", "memory_reservation", "memory_swap"]


def test_tmpfs_at_the_same_path_replaces_the_earlier_one():
    """A second tmpfs at /tmp replaces the preset's, rather than mounting twice."""
    cfg = sr.builder(IMAGE).tmpfs("/tmp", "32m").build()
    assert cfg.tmpfs == (sr.Tmpfs("/tmp", 32 * MiB, 0o1777),)


def test_tmpfs_at_another_path_is_added():
    """A tmpfs at a new path is added after the existing ones."""
    cfg = sr.builder(IMAGE).tmpfs("/run", "8m").build()
    assert [t.path for t in cfg.tmpfs] == ["/tmp", "/run"]


def test_tmpfs_defaults_are_noexec_nosuid_and_world_writable():
    """By default a tmpfs is 64 MiB, mode 1777, without exec or suid."""
    (run,) = [t for t in sr.builder(IMAGE).tmpfs("/run").build().tmpfs if t.path == "/run"]
    assert (run.size, run.mode, run.exec, run.suid) == (64 * MiB, 0o1777, False, False)


def test_mount_at_the_same_target_replaces_the_earlier_one():
    """A second mount at a target replaces the first."""
    cfg = sr.builder(IMAGE).mount("/a", "/data").mount("/b", "/data").build()
    assert cfg.mounts == (sr.Mount("/b", "/data"),)


def test_mount_kind_follows_the_source():
    """An absolute source is a read-only bind mount; a bare name is a volume."""
    cfg = sr.builder(IMAGE).mount("/srv", "/srv").mount("cache", "/cache").build()
    assert [(m.kind, m.read_only) for m in cfg.mounts] == [("bind", True), ("volume", True)]


def test_ulimit_with_the_same_name_replaces_and_hard_defaults_to_soft():
    """ulimit("nofile", 100) replaces the preset's nofile with soft = hard = 100."""
    cfg = sr.builder(IMAGE).ulimit("NOFILE", 100).build()
    assert sr.Ulimit("nofile", 100, 100) in cfg.ulimits
    assert [u.name for u in cfg.ulimits].count("nofile") == 1


def test_env_calls_merge_and_later_values_win():
    """env() adds to earlier variables, and a later value for a name replaces the earlier."""
    cfg = sr.builder(IMAGE).env({"A": "1", "B": "1"}).env(B="2", C="3").build()
    assert cfg.environment == {"A": "1", "B": "2", "C": "3"}


def test_labels_calls_merge():
    """labels() adds to earlier labels."""
    cfg = sr.builder(IMAGE).labels(a="1").labels({"b": "2"}).build()
    assert cfg.labels == (("a", "1"), ("b", "2"))


def test_group_add_is_deduplicated_in_order():
    """Supplementary groups keep their first order, each once."""
    assert sr.builder(IMAGE).group_add(5, 7).group_add(5, 9).build().group_add == (5, 7, 9)


def test_opt_in_accepts_names_and_enum_members():
    """Opt-ins may be given by name or as OptIn members, over several calls."""
    cfg = sr.builder(IMAGE).opt_in("root-user").opt_in(OptIn.PRIVILEGED).build()
    assert set(cfg.opt_ins) == {OptIn.ROOT_USER, OptIn.PRIVILEGED}


def test_publish_binds_to_loopback_by_default():
    """publish(port) binds TCP on 127.0.0.1 with any free host port."""
    cfg = sr.builder(IMAGE).network("bridge").publish(8080).build()
    assert cfg.ports == (sr.PortBinding(8080, "tcp", "127.0.0.1", None),)


def test_publish_reads_the_protocol_from_the_port():
    """``"53/udp"`` publishes UDP port 53."""
    (port,) = sr.builder(IMAGE).network("bridge").publish("53/udp", 5353).build().ports
    assert (port.container_port, port.protocol, port.host_port) == (53, "udp", 5353)


def test_host_namespace_sets_each_kind():
    """host_namespace sets the matching mode field to "host" for each kind given."""
    cfg = (
        sr.builder(IMAGE)
        .host_namespace("network", "pid", "ipc", "uts", "userns")
        .opt_in("host-namespace")
        .build()
    )
    modes = (cfg.network, cfg.pid_mode, cfg.ipc_mode, cfg.uts_mode, cfg.userns_mode)
    assert modes == ("host",) * 5


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ("curl -f localhost", ("CMD-SHELL", "curl -f localhost")),
        (["curl", "-f", "localhost"], ("CMD", "curl", "-f", "localhost")),
        (["CMD", "true"], ("CMD", "true")),
        (["CMD-SHELL", "true"], ("CMD-SHELL", "true")),
    ],
)
def test_healthcheck_forms(test, expected):
    """A string runs in the image's shell; a list runs directly; an explicit kind is kept."""
    assert sr.builder(IMAGE).healthcheck(test).build().healthcheck.test == expected


def test_healthcheck_none_removes_it():
    """healthcheck(None) removes an earlier healthcheck."""
    assert sr.builder(IMAGE).healthcheck("true").healthcheck(None).build().healthcheck is None


def test_command_as_one_string_is_refused_with_a_list_in_the_fix():
    """command("echo hi") is refused: the message asks for a list and the fix shows one."""
    (problem,) = sr.builder(IMAGE).command("echo hi").problems
    assert problem.field == "command"
    assert "list" in problem.message
    assert '["sh", "-c"' in problem.fix
    assert "shlex.split" in problem.fix


@pytest.mark.parametrize("argv", [b"echo hi", 42, ["echo", None]])
def test_command_that_is_not_a_list_of_strings_is_refused(argv):
    """Bytes, numbers and non-string arguments are refused for the command."""
    assert [p.field for p in sr.builder(IMAGE).command(argv).problems] == ["command"]


def test_command_accepts_any_sequence_and_stores_a_tuple():
    """A tuple or a list both become a tuple argv."""
    assert sr.builder(IMAGE).command(("id", "-u")).build().command == ("id", "-u")


def test_command_none_uses_the_image_default():
    """command(None) clears an earlier command."""
    assert sr.builder(IMAGE).command(["id"]).command(None).build().command is None


def test_image_replaces_the_reference():
    """image() on a preset's builder sets the reference that is built."""
    assert sr.builder(IMAGE).image("alpine:3.19").build().image == "alpine:3.19"


def test_builder_has_exactly_the_fields_its_fast_step_sets():
    """RunBuilder._set fills _fields and _problems by hand; a new field would be missed."""
    assert [f.name for f in attrs.fields(sr.RunBuilder)] == ["_fields", "_problems"]


def test_a_step_leaves_the_builder_it_came_from_unchanged():
    """Each step returns a new builder with the change; the old one keeps its values."""
    base = sr.builder(IMAGE)
    changed = base.workdir("/srv")
    assert (base.build().workdir, changed.build().workdir) == (None, "/srv")
    assert changed.problems == base.problems == ()

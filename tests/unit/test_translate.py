"""Pure translation of a RunConfig: docker-py kwargs, a ``docker run`` argv, a compose service."""

from __future__ import annotations

import json
from typing import Any

import attrs
import docker.constants
import docker.types
import pytest
from docker.models.containers import _create_container_args

import secure_run as sr
from secure_run._config.presets import PRESETS

IMAGE = "busybox:1.36"
MiB = 1 << 20
B = sr.builder(IMAGE)
NET = B.network("bridge")
ENV_VALUE = "hunter2-s3cr3t-value"
PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}],
}
API_VERSION = docker.constants.DEFAULT_DOCKER_API_VERSION
MISSING = object()

#: A config with (nearly) every setting, for the docker-py round trip.
FULL = (
    sr.preset("service", IMAGE)
    .command(["serve", "--port", "8080"])
    .entrypoint(["/bin/app"])
    .env(A="1")
    .workdir("/work")
    .hostname("box")
    .name("job-1")
    .labels(team="infra")
    .group_add(5)
    .device("/dev/fuse")
    .cpu_quota(50_000, 100_000)
    .cpu_shares(512)
    .cpuset("0")
    .ulimit("nproc", 100, 200)
    .tmpfs("/run", "8m")
    .mount("/srv/data", "/data", propagation="rslave")
    .mount("cache", "/cache", read_only=False)
    .publish(8080)
    .publish("53/udp", 5353, "::1")
    .host_namespace("pid")
    .seccomp(PROFILE)
    .apparmor("docker-default")
    .runtime("runc")
    .healthcheck(["true"], interval=5, start_period=0)
    .sysctl("net.ipv4.tcp_syncookies", 1)
    .opt_in("devices", "host-namespace")
    .build()
)


def host_config(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """docker-py's own split of ``containers.run()`` kwargs: (HostConfig, create kwargs)."""
    create = _create_container_args({**kwargs, "version": API_VERSION})
    return create.pop("host_config"), create


def values(argv: list[str], flag: str) -> list[str]:
    """The values given to ``flag`` in ``argv``, in order."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def _tmpfs_options(t: sr.Tmpfs) -> str:
    return f"size={t.size},mode=1777,noexec,nosuid,nodev"


# -- to_docker_kwargs ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_kwargs_are_exactly_the_hardened_settings(name):
    """Each preset's kwargs are exactly its settings in docker-py's names and forms."""
    cfg = sr.preset(name, IMAGE).build()
    assert cfg.memory is not None
    assert cfg.cpus is not None
    assert cfg.log_limits is not None
    restart = cfg.restart or sr.RestartPolicy("no")
    expected = {
        "image": IMAGE,
        "environment": dict(cfg.env),
        "labels": {
            "io.secure-run.config-digest": cfg.digest(),
            "io.secure-run.preset": name,
            "io.secure-run.opt-ins": ",".join(o.value for o in cfg.waivers()),
        },
        "cap_drop": ["ALL"],
        "cap_add": [f"CAP_{c}" for c in cfg.cap_add],
        "privileged": False,
        "read_only": cfg.read_only,
        "network_mode": cfg.network,
        "security_opt": ["no-new-privileges:true"],
        "init": True,
        "use_config_proxy": False,
        "user": "65534:65534",
        "mem_limit": cfg.memory,
        "mem_reservation": cfg.memory // 2,
        "memswap_limit": cfg.memory,
        "nano_cpus": round(cfg.cpus * 1e9),
        "pids_limit": cfg.pids_limit,
        "ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in cfg.ulimits],
        "restart_policy": {"Name": restart.name, "MaximumRetryCount": restart.max_retries},
        "log_config": {
            "Type": "json-file",
            "Config": {
                "max-size": str(cfg.log_limits.max_size),
                "max-file": str(cfg.log_limits.max_files),
            },
        },
    }
    if cfg.tmpfs:
        expected["tmpfs"] = {t.path: _tmpfs_options(t) for t in cfg.tmpfs}
    if cfg.runtime is not None:
        expected["runtime"] = cfg.runtime
    assert cfg.to_docker_kwargs() == expected


def test_restricted_kwargs_values():
    """The restricted preset gives 512 MiB, half reserved, no swap, 1 CPU, 128 pids, core=0."""
    kw = B.build().to_docker_kwargs()
    assert (kw["mem_limit"], kw["mem_reservation"], kw["memswap_limit"]) == (
        512 * MiB,
        256 * MiB,
        512 * MiB,
    )
    assert (kw["nano_cpus"], kw["pids_limit"]) == (1_000_000_000, 128)
    assert {"Name": "core", "Soft": 0, "Hard": 0} in kw["ulimits"]
    assert kw["tmpfs"] == {"/tmp": "size=67108864,mode=1777,noexec,nosuid,nodev"}


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        pytest.param(B.memory("256m"), {"mem_limit": 256 * MiB, "mem_reservation": 128 * MiB,
                                        "memswap_limit": 256 * MiB}, id="memory"),
        pytest.param(B.memory("256m", swap="1g"), {"memswap_limit": 1 << 30}, id="swap"),
        pytest.param(B.memory("256m", reservation=None), {"mem_reservation": MISSING},
                     id="no-reservation"),
        pytest.param(B.cpus(0.5), {"nano_cpus": 500_000_000, "cpu_quota": MISSING}, id="cpus"),
        pytest.param(B.cpus(1 / 3), {"nano_cpus": 333_333_333}, id="cpus-third"),
        pytest.param(B.cpu_quota(50_000, 200_000),
                     {"cpu_quota": 50_000, "cpu_period": 200_000, "nano_cpus": MISSING},
                     id="cpu_quota"),
        pytest.param(B.cpu_shares(512), {"cpu_shares": 512}, id="cpu_shares"),
        pytest.param(B.cpuset("0-1"), {"cpuset_cpus": "0-1"}, id="cpuset"),
        pytest.param(B.pids_limit(64), {"pids_limit": 64}, id="pids_limit"),
        pytest.param(B.user(1000, 2000), {"user": "1000:2000"}, id="user"),
        pytest.param(B.group_add(5, 6), {"group_add": ["5", "6"]}, id="group_add"),
        pytest.param(B.cap_add("NET_BIND_SERVICE", "CHOWN").opt_in("extra-capability"),
                     {"cap_add": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"], "cap_drop": ["ALL"]},
                     id="cap_add"),
        pytest.param(B.ulimit("nofile", 100, 200),
                     {"ulimits": [{"Name": "core", "Soft": 0, "Hard": 0},
                                  {"Name": "nofile", "Soft": 100, "Hard": 200}]}, id="ulimit"),
        pytest.param(B.tmpfs("/run", "8m"),
                     {"tmpfs": {"/tmp": "size=67108864,mode=1777,noexec,nosuid,nodev",
                                "/run": "size=8388608,mode=1777,noexec,nosuid,nodev"}},
                     id="tmpfs"),
        pytest.param(B.tmpfs("/tmp", "1m", 0o700, exec=True, suid=True),
                     {"tmpfs": {"/tmp": "size=1048576,mode=700,exec,suid,nodev"}},
                     id="tmpfs-exec-suid"),
        pytest.param(B.mount("/srv/data", "/data"),
                     {"mounts": [{"Target": "/data", "Source": "/srv/data", "Type": "bind",
                                  "ReadOnly": True}]}, id="bind-mount"),
        pytest.param(B.mount("/srv", "/srv", propagation="rslave"),
                     {"mounts": [{"Target": "/srv", "Source": "/srv", "Type": "bind",
                                  "ReadOnly": True,
                                  "BindOptions": {"Propagation": "rslave"}}]}, id="propagation"),
        pytest.param(B.mount("cache", "/cache", read_only=False),
                     {"mounts": [{"Target": "/cache", "Source": "cache", "Type": "volume",
                                  "ReadOnly": False}]}, id="volume"),
        pytest.param(NET, {"network_mode": "bridge", "ports": MISSING}, id="network"),
        pytest.param(B.command(["id", "-u"]), {"command": ["id", "-u"]}, id="command"),
        pytest.param(B.entrypoint(["/bin/sh", "-c"]), {"entrypoint": ["/bin/sh", "-c"]},
                     id="entrypoint"),
        pytest.param(B.env(A="1", B="2"), {"environment": {"A": "1", "B": "2"}}, id="env"),
        pytest.param(B.workdir("/work"), {"working_dir": "/work"}, id="workdir"),
        pytest.param(B.hostname("box"), {"hostname": "box"}, id="hostname"),
        pytest.param(B.name("job-1"), {"name": "job-1"}, id="name"),
        pytest.param(B.init(False), {"init": False}, id="init-false"),
        pytest.param(B.read_only(False).opt_in("writable-root"), {"read_only": False},
                     id="writable-root"),
        pytest.param(B.privileged().opt_in("privileged"), {"privileged": True}, id="privileged"),
        pytest.param(B.device("/dev/fuse").opt_in("devices"),
                     {"devices": ["/dev/fuse:/dev/fuse:rwm"]}, id="device"),
        pytest.param(B.host_namespace("pid", "ipc", "uts", "userns").opt_in("host-namespace"),
                     {"pid_mode": "host", "ipc_mode": "host", "uts_mode": "host",
                      "userns_mode": "host"}, id="host-namespaces"),
        pytest.param(B.host_namespace("network").opt_in("host-namespace"),
                     {"network_mode": "host"}, id="host-network"),
        pytest.param(B.seccomp("unconfined").opt_in("seccomp-unconfined"),
                     {"security_opt": ["no-new-privileges:true", "seccomp=unconfined"]},
                     id="seccomp-unconfined"),
        pytest.param(B.apparmor("docker-default"),
                     {"security_opt": ["no-new-privileges:true", "apparmor=docker-default"]},
                     id="apparmor"),
        pytest.param(B.no_new_privileges(False).opt_in("new-privileges"), {"security_opt": []},
                     id="new-privileges"),
        pytest.param(B.runtime("runsc"), {"runtime": "runsc"}, id="runtime"),
        pytest.param(B.restart("on-failure", 3),
                     {"restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3}},
                     id="restart"),
        pytest.param(B.restart("unless-stopped").opt_in("unbounded-restart"),
                     {"restart_policy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
                     id="restart-unless-stopped"),
        pytest.param(B.healthcheck(["true"], interval=5, timeout="2s", retries=2,
                                   start_period="500ms"),
                     {"healthcheck": {"test": ["CMD", "true"], "interval": 5_000_000_000,
                                      "timeout": 2_000_000_000, "retries": 2,
                                      "start_period": 500_000_000}}, id="healthcheck"),
        pytest.param(B.log_limits("5m", 2),
                     {"log_config": {"Type": "json-file",
                                     "Config": {"max-size": "5242880", "max-file": "2"}}},
                     id="log_limits"),
        pytest.param(B.sysctl("net.ipv4.tcp_syncookies", 1),
                     {"sysctls": {"net.ipv4.tcp_syncookies": "1"}}, id="sysctl"),
    ],
)  # fmt: skip
def test_setting_becomes_the_docker_py_kwarg(builder, expected):
    """Each builder setting lands in the docker-py kwarg of that name, in its exact form."""
    kw = builder.build().to_docker_kwargs()
    assert {k: kw.get(k, MISSING) for k in expected} == expected


def test_nano_cpus_is_an_int():
    """docker-py needs nano_cpus as an int, whatever the float CPU count."""
    assert type(B.cpus(0.3).build().to_docker_kwargs()["nano_cpus"]) is int


def test_custom_seccomp_is_inline_json():
    """A custom profile is sent inline as ``seccomp=<compact JSON>`` of that profile."""
    (opt,) = [
        o for o in B.seccomp(PROFILE).build().to_docker_kwargs()["security_opt"] if "seccomp" in o
    ]
    assert opt.startswith("seccomp=")
    assert json.loads(opt.removeprefix("seccomp=")) == PROFILE
    assert " " not in opt


def test_seccomp_file_is_inline_json_too(tmp_path):
    """A profile read from a file is also sent inline: the daemon cannot read client files."""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE, indent=2), encoding="utf-8")
    (opt,) = [o for o in B.seccomp(path).build().to_docker_kwargs()["security_opt"] if "sec" in o]
    assert json.loads(opt.removeprefix("seccomp=")) == PROFILE


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (B, ""),
        (B.user(0).opt_in("root-user"), "root-user"),
        (
            B.user(0).read_only(False).opt_in("writable-root", "root-user"),
            "root-user,writable-root",
        ),
        (B.opt_in("root-user"), ""),
    ],
    ids=["none", "one", "two-sorted", "granted-but-unused"],
)
def test_opt_ins_label_lists_the_waivers_used(builder, expected):
    """The opt-ins label lists the waivers the config relies on, comma-separated and sorted."""
    assert builder.build().to_docker_kwargs()["labels"]["io.secure-run.opt-ins"] == expected


def test_labels_keep_the_users_and_add_digest_and_preset():
    """User labels are kept, and the digest and preset labels describe the config."""
    cfg = sr.preset("sandbox", IMAGE).labels(team="infra").build()
    labels = cfg.to_docker_kwargs()["labels"]
    assert labels["team"] == "infra"
    assert labels["io.secure-run.config-digest"] == cfg.digest()
    assert labels["io.secure-run.preset"] == "sandbox"


def test_to_docker_kwargs_is_repeatable():
    """Two calls give equal kwargs and leave the config as it was."""
    digest = FULL.digest()
    assert FULL.to_docker_kwargs() == FULL.to_docker_kwargs()
    assert FULL.digest() == digest


def test_mutating_the_kwargs_does_not_change_the_next_call():
    """The kwargs are fresh objects: changing them does not leak into the config."""
    first = FULL.to_docker_kwargs()
    first["cap_drop"].append("X")
    first["labels"]["io.secure-run.preset"] = "tampered"
    first["environment"]["A"] = "tampered"
    second = FULL.to_docker_kwargs()
    assert second["cap_drop"] == ["ALL"]
    assert second["labels"]["io.secure-run.preset"] == "service"
    assert second["environment"] == {"A": "1"}


def test_stop_timeout_is_refused_by_to_docker_kwargs():
    """docker-py's run()/create() cannot carry stop_timeout, so the translation refuses it."""
    with pytest.raises(sr.ConfigError) as excinfo:
        B.stop_timeout(5).build().to_docker_kwargs()
    assert [p.field for p in excinfo.value.problems] == ["stop_timeout"]


# -- through docker-py's own argument handling ---------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_docker_py_builds_a_host_config_with_the_explicit_limits(name):
    """docker-py turns each preset's kwargs into a HostConfig with every limit set."""
    cfg = sr.preset(name, IMAGE).init(False).build()
    hc, _ = host_config(cfg.to_docker_kwargs())
    assert cfg.memory is not None
    assert cfg.cpus is not None
    assert {
        "Memory": hc.get("Memory"),
        "MemoryReservation": hc.get("MemoryReservation"),
        "MemorySwap": hc.get("MemorySwap"),
        "NanoCpus": hc.get("NanoCpus"),
        "PidsLimit": hc.get("PidsLimit"),
        "CapDrop": hc.get("CapDrop"),
        "ReadonlyRootfs": hc.get("ReadonlyRootfs"),
        "SecurityOpt": hc.get("SecurityOpt"),
        "Init": hc.get("Init"),
        "NetworkMode": hc.get("NetworkMode"),
    } == {
        "Memory": cfg.memory,
        "MemoryReservation": cfg.memory // 2,
        "MemorySwap": cfg.memory,
        "NanoCpus": round(cfg.cpus * 1e9),
        "PidsLimit": cfg.pids_limit,
        "CapDrop": ["ALL"],
        "ReadonlyRootfs": cfg.read_only,
        "SecurityOpt": ["no-new-privileges:true"],
        "Init": False,
        "NetworkMode": cfg.network,
    }


def test_docker_py_keeps_zero_and_false_values():
    """Init False, a writable root, core=0 and restart "no" are sent, not dropped as falsy."""
    cfg = sr.preset("baseline", IMAGE).init(False).build()
    hc, _ = host_config(cfg.to_docker_kwargs())
    assert hc["Init"] is False
    assert hc["ReadonlyRootfs"] is False
    assert {"Name": "core", "Soft": 0, "Hard": 0} in hc["Ulimits"]
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (NET.publish(8080), {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}),
        (NET.publish(80, 8080), {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}),
        (NET.publish("53/udp", 5353, "::1"), {"53/udp": [{"HostIp": "::1", "HostPort": "5353"}]}),
    ],
    ids=["any-host-port", "host-port", "udp-ipv6"],
)
def test_published_port_reaches_docker_py_with_its_host_address(builder, expected):
    """A published port becomes a PortBinding on the given host address (loopback by default)."""
    hc, create = host_config(builder.build().to_docker_kwargs())
    assert hc["PortBindings"] == expected
    assert create["ports"] == [tuple(key.split("/")) for key in expected]


def test_docker_py_accepts_every_setting():
    """A config using nearly every setting passes docker-py with no unexpected kwarg."""
    hc, create = host_config(FULL.to_docker_kwargs())
    assert hc["CapAdd"] == ["CAP_NET_BIND_SERVICE"]
    assert hc["Devices"][0]["PathOnHost"] == "/dev/fuse"
    assert hc["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "53/udp": [{"HostIp": "::1", "HostPort": "5353"}],
    }
    assert hc["PidMode"] == "host"
    assert [m["Target"] for m in hc["Mounts"]] == ["/data", "/cache"]
    assert create["use_config_proxy"] is False
    assert create["command"] == ["serve", "--port", "8080"]


def test_docker_py_container_config_takes_the_healthcheck():
    """The healthcheck kwarg becomes docker's Healthcheck with nanosecond timings."""
    hc, create = host_config(FULL.to_docker_kwargs())
    create.pop("use_config_proxy")  # consumed by APIClient.create_container, not the config
    create.pop("name")
    config = docker.types.ContainerConfig(API_VERSION, host_config=hc, **create)
    assert config["Healthcheck"] == {
        "Test": ["CMD", "true"],
        "Interval": 5_000_000_000,
        "Timeout": 10_000_000_000,
        "Retries": 3,
        "StartPeriod": 0,
    }


def test_two_bindings_of_one_container_port_both_reach_docker():
    """Publishing port 80 on IPv4 and IPv6 loopback sends both bindings, as the CLI does."""
    cfg = NET.publish(80, 8080).publish(80, 8080, "::1").build()
    hc, _ = host_config(cfg.to_docker_kwargs())
    assert hc["PortBindings"]["80/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": "8080"},
        {"HostIp": "::1", "HostPort": "8080"},
    ]


# -- to_cli --------------------------------------------------------------------


def test_cli_starts_with_docker_run_and_never_pulls():
    """The argv is ``docker run --pull never ...``: it runs exactly the image present."""
    argv = B.build().to_cli()
    assert argv[:2] == ["docker", "run"]
    assert values(argv, "--pull") == ["never"]


def test_cli_is_all_strings():
    """Every argv element is a string, ready for subprocess."""
    cfg = attrs.evolve(
        FULL, seccomp=sr.Seccomp(), healthcheck=sr.Healthcheck(("CMD-SHELL", "true"))
    )
    assert all(isinstance(a, str) for a in cfg.to_cli())


def test_cli_carries_the_restricted_settings():
    """The restricted preset's hardening appears as the matching docker run flags."""
    cfg = B.build()
    argv = cfg.to_cli()
    assert values(argv, "--cap-drop") == ["ALL"]
    assert values(argv, "--cap-add") == []
    assert "no-new-privileges:true" in values(argv, "--security-opt")
    assert "--read-only" in argv
    assert values(argv, "--memory") == [str(cfg.memory)]
    assert values(argv, "--memory-reservation") == [str(cfg.memory_reservation)]
    assert values(argv, "--memory-swap") == [str(cfg.memory)]
    assert values(argv, "--cpus") == ["1"]
    assert values(argv, "--pids-limit") == ["128"]
    assert values(argv, "--network") == ["none"]
    assert values(argv, "--user") == ["65534:65534"]
    assert values(argv, "--ulimit") == ["core=0:0", "nofile=1024:1024"]
    assert values(argv, "--tmpfs") == ["/tmp:size=67108864,mode=1777,noexec,nosuid,nodev"]
    assert "--init" in argv


@pytest.mark.parametrize(
    ("cpus", "text"), [(0.5, "0.5"), (2, "2"), (0.25, "0.25"), (1 / 3, "0.333333333")]
)
def test_cli_cpus_is_plain_decimal(cpus, text):
    """--cpus is written as a short decimal, equal to the nano_cpus sent by the SDK."""
    assert values(B.cpus(cpus).build().to_cli(), "--cpus") == [text]


def test_cli_puts_the_image_then_the_command_last():
    """The image is followed only by the command's arguments."""
    argv = B.command(["id", "-u"]).build().to_cli()
    assert argv[-3:] == [IMAGE, "id", "-u"]


def test_cli_splits_the_entrypoint_around_the_image():
    """The entrypoint's first word goes to --entrypoint, the rest before the command."""
    argv = B.entrypoint(["/bin/sh", "-c"]).command(["id"]).build().to_cli()
    assert values(argv, "--entrypoint") == ["/bin/sh"]
    assert argv[-3:] == [IMAGE, "-c", "id"]


def test_cli_writes_only_env_names_by_default():
    """By default env values stay out of the argv (and so out of process listings)."""
    argv = B.env(TOKEN=ENV_VALUE).build().to_cli()
    assert values(argv, "--env") == ["TOKEN"]
    assert not any(ENV_VALUE in a for a in argv)


def test_cli_writes_env_values_when_revealed():
    """reveal_env=True writes NAME=value."""
    assert values(B.env(TOKEN=ENV_VALUE).build().to_cli(reveal_env=True), "--env") == [
        f"TOKEN={ENV_VALUE}"
    ]


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (NET.publish(80, 8080, "::1"), "[::1]:8080:80/tcp"),
        (NET.publish(80, 8080), "127.0.0.1:8080:80/tcp"),
        (NET.publish("53/udp"), "127.0.0.1::53/udp"),
    ],
    ids=["ipv6", "ipv4", "any-host-port"],
)
def test_cli_publish_format(builder, expected):
    """--publish is ip:hostport:port/proto, with IPv6 in brackets and an empty host port = any."""
    assert values(builder.build().to_cli(), "--publish") == [expected]


def test_cli_refuses_an_inline_seccomp_profile():
    """An inline profile has no CLI form, so to_cli raises ConfigError on seccomp."""
    with pytest.raises(sr.ConfigError) as excinfo:
        B.seccomp(PROFILE).build().to_cli()
    assert [p.field for p in excinfo.value.problems] == ["seccomp"]


def test_cli_names_a_seccomp_file_by_path(tmp_path):
    """A profile from a file is passed as ``seccomp=<path>``."""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE), encoding="utf-8")
    assert f"seccomp={path}" in values(B.seccomp(path).build().to_cli(), "--security-opt")


def test_cli_refuses_an_exec_form_healthcheck():
    """The CLI only has --health-cmd (shell form), so an argv healthcheck raises ConfigError."""
    with pytest.raises(sr.ConfigError) as excinfo:
        B.healthcheck(["true"]).build().to_cli()
    assert [p.field for p in excinfo.value.problems] == ["healthcheck"]


def test_cli_writes_a_shell_form_healthcheck():
    """A shell-form healthcheck becomes --health-cmd and its timings in nanoseconds."""
    argv = B.healthcheck("wget -q localhost", interval="5s", retries=2).build().to_cli()
    assert values(argv, "--health-cmd") == ["wget -q localhost"]
    assert values(argv, "--health-interval") == ["5000000000ns"]
    assert values(argv, "--health-retries") == ["2"]


def test_cli_writes_init_false_explicitly():
    """init(False) is ``--init=false``, not just a missing flag."""
    argv = B.init(False).build().to_cli()
    assert "--init=false" in argv
    assert "--init" not in argv


def test_cli_writes_mounts_as_csv():
    """--mount is a CSV of type, source, target, readonly and propagation."""
    argv = B.mount("/srv/data", "/data", propagation="rslave").build().to_cli()
    assert values(argv, "--mount") == [
        "type=bind,source=/srv/data,target=/data,readonly,bind-propagation=rslave"
    ]


def test_cli_labels_carry_the_digest():
    """The digest label is on the CLI too, so both paths label the container alike."""
    cfg = B.build()
    assert f"io.secure-run.config-digest={cfg.digest()}" in values(cfg.to_cli(), "--label")


@pytest.mark.parametrize(
    ("builder", "flag", "expected"),
    [
        (sr.preset("service", IMAGE), "--restart", ["on-failure:5"]),
        (sr.preset("service", IMAGE), "--cap-add", ["CAP_NET_BIND_SERVICE"]),
        (B.stop_timeout(5), "--stop-timeout", ["5"]),
        (B.log_limits("5m", 2), "--log-opt", ["max-size=5242880", "max-file=2"]),
        (B.sysctl("net.ipv4.tcp_syncookies", 1), "--sysctl", ["net.ipv4.tcp_syncookies=1"]),
        (B.group_add(5, 6), "--group-add", ["5", "6"]),
        (B.cpu_quota(50_000), "--cpu-quota", ["50000"]),
        (B.workdir("/work"), "--workdir", ["/work"]),
    ],
    ids=[
        "restart",
        "cap-add",
        "stop-timeout",
        "log-opt",
        "sysctl",
        "group-add",
        "quota",
        "workdir",
    ],
)
def test_cli_flag_for_setting(builder, flag, expected):
    """Each setting appears as its docker run flag with the exact value."""
    assert values(builder.build().to_cli(), flag) == expected


# -- to_compose ----------------------------------------------------------------


def test_compose_carries_the_restricted_settings():
    """The restricted preset's hardening appears under compose's keys."""
    cfg = B.build()
    svc = cfg.to_compose()
    assert {k: svc.get(k) for k in (
        "image", "cap_drop", "read_only", "network_mode", "security_opt", "init", "pull_policy",
        "user", "mem_limit", "mem_reservation", "memswap_limit", "cpus", "pids_limit", "tmpfs",
        "ulimits", "logging",
    )} == {
        "image": IMAGE,
        "cap_drop": ["ALL"],
        "read_only": True,
        "network_mode": "none",
        "security_opt": ["no-new-privileges:true"],
        "init": True,
        "pull_policy": "never",
        "user": "65534:65534",
        "mem_limit": 512 * MiB,
        "mem_reservation": 256 * MiB,
        "memswap_limit": 512 * MiB,
        "cpus": 1.0,
        "pids_limit": 128,
        "tmpfs": ["/tmp:size=67108864,mode=1777,noexec,nosuid,nodev"],
        "ulimits": {"core": {"soft": 0, "hard": 0}, "nofile": {"soft": 1024, "hard": 1024}},
        "logging": {"driver": "json-file", "options": {"max-size": "10485760", "max-file": "3"}},
    }  # fmt: skip


def test_compose_leaves_out_unset_and_false_extras():
    """Unset settings and privileged=False are left out rather than written as null."""
    svc = B.build().to_compose()
    assert not {"command", "privileged", "cap_add", "ports", "volumes", "environment"} & set(svc)


def test_compose_lists_env_names_only_by_default():
    """Compose gets env names only by default, and the mapping with reveal_env."""
    cfg = B.env(TOKEN=ENV_VALUE).build()
    assert cfg.to_compose()["environment"] == ["TOKEN"]
    assert cfg.to_compose(reveal_env=True)["environment"] == {"TOKEN": ENV_VALUE}


def test_compose_ports_keep_the_host_ip():
    """Compose ports keep 127.0.0.1 and write the host port only when given."""
    svc = NET.publish(8080).publish("53/udp", 5353).build().to_compose()
    assert svc["ports"] == [
        {"target": 8080, "protocol": "tcp", "host_ip": "127.0.0.1"},
        {"target": 53, "protocol": "udp", "host_ip": "127.0.0.1", "published": "5353"},
    ]


@pytest.mark.parametrize(
    ("builder", "key", "expected"),
    [
        (sr.preset("service", IMAGE), "restart", "on-failure:5"),
        (sr.preset("service", IMAGE), "cap_add", ["CAP_NET_BIND_SERVICE"]),
        (B.stop_timeout(5), "stop_grace_period", "5s"),
        (B.privileged().opt_in("privileged"), "privileged", True),
        (B.name("job-1"), "container_name", "job-1"),
        (B.cpuset("0"), "cpuset", "0"),
        (B.mount("/srv", "/srv", propagation="rslave"), "volumes",
         [{"type": "bind", "source": "/srv", "target": "/srv", "read_only": True,
           "bind": {"propagation": "rslave"}}]),
        (B.healthcheck("true", interval=5), "healthcheck",
         {"test": ["CMD-SHELL", "true"], "interval": "5000000000ns", "timeout": "10000000000ns",
          "retries": 3, "start_period": "0ns"}),
    ],
    ids=["restart", "cap_add", "stop_grace_period", "privileged", "container_name", "cpuset",
         "volumes", "healthcheck"],
)  # fmt: skip
def test_compose_key_for_setting(builder, key, expected):
    """Each setting appears under its compose key with the exact value."""
    assert builder.build().to_compose()[key] == expected


def test_compose_refuses_an_inline_seccomp_profile():
    """Compose takes a profile only as a file, so an inline profile raises ConfigError."""
    with pytest.raises(sr.ConfigError):
        B.seccomp(PROFILE).build().to_compose()

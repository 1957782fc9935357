"""Privileged operations and privilege escalation, attempted from preset containers.

Each privileged call is made by the attack tool as the preset's user (65534), in one
container per preset. Three layers stand in the way, and each test names the one that
answers and asserts the state it relies on:

- **capabilities**: the kernel gives a non-root process no effective capability, and
  ``cap_drop ALL`` empties the bounding set so that none can be regained (a setuid-root
  binary run without no-new-privileges gets euid 0 but still no capability, see the
  escalation test). Such a test asserts the attacker's CapEff and CapBnd are 0, so a
  preset that added a capability back fails it;
- **seccomp**: Docker's default profile refuses some calls outright unless the
  capability is held (the test asserts the process runs under a seccomp filter);
- **the pid namespace**: host processes have no pid inside, so they can be neither
  signalled nor traced.

(A ``docker exec --user 0`` into such a container gets no effective capability either:
Docker gives the processes of a container whose user is not root none, whatever the
exec's user. That is the engine's doing, not the preset's, so it is not tested here.)
"""

from __future__ import annotations

import subprocess
import time
from typing import Any, Callable

import docker
import pytest

import secure_run as sr
from secure_run.testing import ATTACK_TOOL_PATH, SUID_PROBE_PATH, TEST_LABELS

from .support import Battery, parse_attack, preset_builder, under_gvisor

Outcomes = dict[str, Any]
Privileged = Callable[[str], Outcomes]

CAPABILITY = "capability"
SECCOMP = "seccomp"
PID_NAMESPACE = "pid namespace"


def _attacks(root_pid: int, host_pid: int) -> dict[str, list[str]]:
    """Each attack's arguments for the attack tool."""
    return {
        "chown": ["chown", "/tmp"],  # the tmpfs root, which belongs to root
        "mknod": ["mknod", "/tmp/sr-mem"],
        "mknod-open": ["read", "/tmp/sr-mem"],  # the node, if gVisor let it be made
        "mount": ["mount", "/tmp/sr-mnt"],
        "raw-socket": ["raw-socket"],
        "sethostname": ["sethostname"],
        "ptrace": ["ptrace", str(root_pid)],  # a process of another user, uid 0
        "ptrace-outside": ["ptrace", str(host_pid)],
        "kill-outside": ["kill", str(host_pid), "9"],
        "init-module": ["init-module"],
        "finit-module": ["finit-module"],
        "settime": ["settime"],
        "unshare-user": ["unshare-user"],
    }


def _pid_of(container: sr.SecureContainer, user: str, args: str) -> int:
    """The pid, inside the container, of the process of ``user`` running ``args``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listing = container.exec(["ps", "-o", "pid,user,args"]).stdout.decode()
        for line in listing.splitlines()[1:]:
            pid, owner, command = line.split(None, 2)
            if owner == user and command.strip() == args:
                return int(pid)
        time.sleep(0.1)
    raise AssertionError(f"no process of {user} running {args!r} appeared: {listing}")


def _attack_all(client: docker.DockerClient, image: str, preset: str) -> Outcomes:
    """Launch one container of the preset and make every privileged call in it."""
    host = subprocess.Popen(["sleep", "300"])
    try:
        cfg = preset_builder(preset, image).command(["sleep", "300"]).build()
        with sr.launch(cfg, client=client) as container:
            # a process of another user to trace: uid 0, through the engine's exec
            exec_id = client.api.exec_create(container.id, ["sleep", "299"], user="0")["Id"]
            client.api.exec_start(exec_id, detach=True)
            root_pid = _pid_of(container, "root", "sleep 299")
            if container.exec(["test", "-e", f"/proc/{host.pid}"]).exit_code == 0:
                pytest.skip(f"the host pid {host.pid} happens to exist inside the container too")
            status = container.exec(
                ["grep", "-E", "^(CapEff|CapBnd|NoNewPrivs|Seccomp):", "/proc/self/status"]
            ).stdout.decode()
            init_status = container.exec(["grep", "^Seccomp:", "/proc/1/status"]).stdout.decode()
            tmp_owner = container.exec(["stat", "-c", "%u", "/tmp"]).stdout.decode().strip()
            lines = {
                name: container.exec([ATTACK_TOOL_PATH, *argv]).stdout.decode().strip()
                for name, argv in _attacks(root_pid, host.pid).items()
            }
            own = container.exec([ATTACK_TOOL_PATH, "ptrace", "1"]).stdout.decode().strip()
        return {
            "lines": lines,
            "status": dict(line.split(":\t", 1) for line in status.splitlines()),
            "init_seccomp": init_status.partition(":")[2].strip(),
            "tmp_owner": tmp_owner,
            "user": str(cfg.user),
            "host_process_alive": host.poll() is None,
            "same_user_ptrace": parse_attack(own)[1],
        }
    finally:
        host.kill()
        host.wait()


@pytest.fixture(scope="module")
def privileged(docker_client: docker.DockerClient, attack_image: str) -> Privileged:
    """Every privileged call's outcome under a preset, made once per preset."""
    cache: dict[str, Outcomes] = {}

    def outcomes(preset: str) -> Outcomes:
        if preset not in cache:
            cache[preset] = _attack_all(docker_client, attack_image, preset)
        return cache[preset]

    return outcomes


def _check(
    privileged: Privileged,
    preset: str,
    battery: Battery,
    attack: str,
    *,
    errno: str,
    control: str,
    layers: tuple[str, ...],
    **figures: Any,
) -> Outcomes:
    """Record one attack; assert it failed with ``errno`` and the layers' state holds."""
    outcomes = privileged(preset)
    line = outcomes["lines"][attack]
    status = outcomes["status"]
    battery.record(
        attack,
        preset,
        control=control,
        errno=parse_attack(line)[1],
        output=line,
        user=outcomes["user"],
        cap_eff=status.get("CapEff"),
        cap_bnd=status.get("CapBnd"),
        seccomp_mode=status.get("Seccomp"),
        init_seccomp_mode=outcomes["init_seccomp"],
        **figures,
    )
    assert parse_attack(line)[1] == errno, f"{attack} as {outcomes['user']} under {preset}: {line}"
    if CAPABILITY in layers:
        assert int(status["CapEff"], 16) == 0, f"the attacker holds capabilities: {status}"
        assert int(status["CapBnd"], 16) == 0, f"capabilities could be regained: {status}"
    if SECCOMP in layers and under_gvisor():
        # runsc loads the profile into the workload (pid 1), not into a `docker exec`:
        # the sentry's own capability check answers the attack above.
        assert outcomes["init_seccomp"] == "2", f"no seccomp filter on the workload: {outcomes}"
    elif SECCOMP in layers:
        assert status["Seccomp"] == "2", f"no seccomp filter: {status}"
    return outcomes


def test_chown_of_another_users_file_fails(
    privileged: Privileged, preset: str, battery: Battery
) -> None:
    """chown of root's /tmp fails with EPERM: no CAP_CHOWN (non-root, empty bounding set)."""
    outcomes = _check(
        privileged,
        preset,
        battery,
        "chown",
        errno="EPERM",
        control="capability: no CAP_CHOWN (non-root user; cap_drop ALL)",
        layers=(CAPABILITY,),
    )
    assert outcomes["tmp_owner"] == "0", "the target must belong to another user (root)"


def test_mknod_fails(privileged: Privileged, preset: str, battery: Battery) -> None:
    """mknod of a character device fails with EPERM: no CAP_MKNOD (non-root, cap_drop ALL).

    Under gVisor the sentry makes the node in its own tmpfs, but opening it fails with
    ENXIO: the device (1,1, /dev/mem) is the sentry's, which has none; the host's is
    never reached.
    """
    gvisor = under_gvisor()
    outcomes = _check(
        privileged,
        preset,
        battery,
        "mknod",
        errno="ok" if gvisor else "EPERM",
        control="gVisor: the node is the sentry's, opening it fails ENXIO"
        if gvisor
        else "capability: no CAP_MKNOD (non-root user; cap_drop ALL)",
        layers=(CAPABILITY,),
        open_node=privileged(preset)["lines"]["mknod-open"],
    )
    if gvisor:
        assert "No such device or address" in outcomes["lines"]["mknod-open"]


def test_mount_fails(privileged: Privileged, preset: str, battery: Battery) -> None:
    """mount of a tmpfs fails with EPERM: seccomp refuses mount without CAP_SYS_ADMIN.

    Why: Docker's default seccomp profile allows mount only to a process holding
    CAP_SYS_ADMIN; behind it, the kernel's own check for that capability fails too.
    """
    _check(
        privileged,
        preset,
        battery,
        "mount",
        errno="EPERM",
        control="seccomp (mount needs CAP_SYS_ADMIN); no CAP_SYS_ADMIN",
        layers=(SECCOMP, CAPABILITY),
    )


def test_raw_socket_fails(privileged: Privileged, preset: str, battery: Battery) -> None:
    """A raw ICMP socket cannot be created (EPERM): no CAP_NET_RAW; no packet is sent."""
    _check(
        privileged,
        preset,
        battery,
        "raw-socket",
        errno="EPERM",
        control="capability: no CAP_NET_RAW (non-root user; cap_drop ALL)",
        layers=(CAPABILITY,),
    )


def test_sethostname_fails(privileged: Privileged, preset: str, battery: Battery) -> None:
    """sethostname fails with EPERM: no CAP_SYS_ADMIN (non-root user; cap_drop ALL)."""
    _check(
        privileged,
        preset,
        battery,
        "sethostname",
        errno="EPERM",
        control="capability: no CAP_SYS_ADMIN (non-root user; cap_drop ALL)",
        layers=(CAPABILITY,),
    )


def test_ptrace_of_another_users_process_fails(
    privileged: Privileged, preset: str, battery: Battery
) -> None:
    """PTRACE_ATTACH to another user's (uid 0) process fails with EPERM: no CAP_SYS_PTRACE.

    Why: tracing a process of another uid needs CAP_SYS_PTRACE. Tracing a process of the
    same user in the same container is ordinary Unix and is allowed (Docker's seccomp
    profile permits ptrace on kernels >= 4.8); the figure ``same_user_ptrace`` records it.
    """
    outcomes = privileged(preset)
    _check(
        privileged,
        preset,
        battery,
        "ptrace",
        errno="EPERM",
        control="capability: no CAP_SYS_PTRACE (non-root user; cap_drop ALL)",
        layers=(CAPABILITY,),
        same_user_ptrace=outcomes["same_user_ptrace"],
    )


def test_ptrace_of_a_host_process_fails(
    privileged: Privileged, preset: str, battery: Battery
) -> None:
    """PTRACE_ATTACH to a host process's pid fails with ESRCH: the pid namespace hides it."""
    _check(
        privileged,
        preset,
        battery,
        "ptrace-outside",
        errno="ESRCH",
        control="pid namespace: host processes have no pid inside",
        layers=(PID_NAMESPACE,),
    )


def test_kill_of_a_host_process_fails(
    privileged: Privileged, preset: str, battery: Battery
) -> None:
    """SIGKILL to a host process's pid fails with ESRCH and it lives on: pid namespace."""
    outcomes = _check(
        privileged,
        preset,
        battery,
        "kill-outside",
        errno="ESRCH",
        control="pid namespace: host processes have no pid inside",
        layers=(PID_NAMESPACE,),
    )
    assert outcomes["host_process_alive"], "the host process was killed from the container"


def test_loading_a_kernel_module_fails(
    privileged: Privileged, preset: str, battery: Battery
) -> None:
    """init_module fails with EPERM: seccomp refuses it without CAP_SYS_MODULE.

    Why: Docker's default seccomp profile allows init_module only with CAP_SYS_MODULE.
    Behind it, a kernel with module support checks the capability before it parses the
    (bogus) image; one without module support would answer ENOSYS, not EPERM.
    """
    _check(
        privileged,
        preset,
        battery,
        "init-module",
        errno="EPERM",
        control="seccomp (init_module needs CAP_SYS_MODULE); no CAP_SYS_MODULE",
        layers=(SECCOMP, CAPABILITY),
    )


def test_loading_a_kernel_module_from_a_file_fails(
    privileged: Privileged, preset: str, battery: Battery
) -> None:
    """finit_module fails with EPERM: seccomp refuses it without CAP_SYS_MODULE."""
    _check(
        privileged,
        preset,
        battery,
        "finit-module",
        errno="EPERM",
        control="seccomp (finit_module needs CAP_SYS_MODULE); no CAP_SYS_MODULE",
        layers=(SECCOMP, CAPABILITY),
    )


def test_setting_the_clock_fails(privileged: Privileged, preset: str, battery: Battery) -> None:
    """clock_settime(CLOCK_REALTIME) fails with EPERM: seccomp refuses it without CAP_SYS_TIME.

    Why: the system clock is not namespaced; Docker's default seccomp profile allows
    clock_settime only with CAP_SYS_TIME, and the kernel checks that capability too.
    """
    _check(
        privileged,
        preset,
        battery,
        "settime",
        errno="EPERM",
        control="seccomp (clock_settime needs CAP_SYS_TIME); no CAP_SYS_TIME",
        layers=(SECCOMP, CAPABILITY),
    )


def test_new_user_namespace_fails(
    privileged: Privileged,
    preset: str,
    battery: Battery,
    docker_client: docker.DockerClient,
    attack_image: str,
) -> None:
    """unshare(CLONE_NEWUSER), a way to regain capabilities, fails with EPERM: seccomp.

    Why: the kernel lets any user make a user namespace (holding every capability inside
    it); only Docker's default seccomp profile, which allows unshare only with
    CAP_SYS_ADMIN, stops it. Under gVisor a ``docker exec`` runs without the profile
    (runsc loads it into the workload only) and its unshare makes a namespace of the
    sentry's, nothing on the host; so the attack is made by the workload itself.
    """
    if under_gvisor():
        cfg = preset_builder(preset, attack_image).command([ATTACK_TOOL_PATH, "unshare-user"])
        line = sr.run(cfg.build(), client=docker_client, timeout=60).stdout.decode().strip()
        exec_line = privileged(preset)["lines"]["unshare-user"]
        battery.record(
            "unshare-user",
            preset,
            control="seccomp (unshare needs CAP_SYS_ADMIN)",
            errno=parse_attack(line)[1],
            output=line,
            exec_output=exec_line,
        )
        assert parse_attack(line) == ("unshare-user", "EPERM"), line
        return
    _check(
        privileged,
        preset,
        battery,
        "unshare-user",
        errno="EPERM",
        control="seccomp (unshare needs CAP_SYS_ADMIN)",
        layers=(SECCOMP,),
    )


def _probe_values(output: bytes) -> dict[str, str]:
    """``ruid=.. euid=..`` and ``CapPrm:``/``CapEff:`` lines of the setuid probe."""
    values: dict[str, str] = {}
    for line in output.decode().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            values[key] = value.strip()
        else:
            for pair in line.split():
                key, _, value = pair.partition("=")
                values[key] = value
    return values


def test_setuid_root_helper_gains_nothing(
    docker_client: docker.DockerClient, attack_image: str, preset: str, battery: Battery
) -> None:
    """The setuid-root helper keeps the preset's euid and CapEff 0; without NNP it gets euid 0.

    Why it fails: no-new-privileges (``no_new_privileges``) makes execve ignore the
    setuid bit. The control, the same image and user launched by hand without it (and
    once more with every capability dropped), shows the helper reaching euid 0, so
    this test would fail if the preset lost the setting. Under gVisor the control stays
    at the user's euid too: the sentry does not honour the setuid bit on its root.
    """
    cfg = preset_builder(preset, attack_image).command([SUID_PROBE_PATH]).build()
    assert cfg.user is not None
    result = sr.run(cfg, client=docker_client, timeout=60)
    values = _probe_values(result.stdout)
    control: dict[str, dict[str, str]] = {}
    for name, cap_drop in (("control", None), ("control_cap_drop_all", ["ALL"])):
        out = docker_client.containers.run(
            attack_image,
            [SUID_PROBE_PATH],
            user=str(cfg.user),
            cap_drop=cap_drop,
            network_mode="none",
            labels=TEST_LABELS,
            remove=True,
        )
        control[name] = _probe_values(out)

    battery.record(
        "setuid-escalation",
        preset,
        control="no-new-privileges",
        user=str(cfg.user),
        euid=values.get("euid"),
        cap_eff=values.get("CapEff"),
        control_euid=control["control"].get("euid"),
        control_cap_eff=control["control"].get("CapEff"),
        control_cap_drop_all_euid=control["control_cap_drop_all"].get("euid"),
    )
    if under_gvisor():
        assert control["control"]["euid"] == str(cfg.user.uid), f"the control: {control}"
    else:
        assert control["control"]["euid"] == "0", f"the control did not reach root: {control}"
        assert int(control["control"]["CapEff"], 16) != 0
        assert control["control_cap_drop_all"]["euid"] == "0", "without NNP the uid must change"
    assert values["ruid"] == str(cfg.user.uid)
    assert values["euid"] == str(cfg.user.uid), f"the helper raised its euid: {values}"
    assert int(values["CapEff"], 16) == 0
    assert int(values["CapPrm"], 16) == 0


def test_attack_tool_is_a_plain_binary(
    docker_client: docker.DockerClient, attack_image: str
) -> None:
    """The attack tool is root-owned mode 0755, not setuid: what it does, its caller does."""
    cfg = (
        preset_builder("restricted", attack_image)
        .command(["stat", "-c", "%a %u %A", ATTACK_TOOL_PATH])
        .build()
    )
    result = sr.run(cfg, client=docker_client, timeout=60)
    assert result.stdout.decode().split() == ["755", "0", "-rwxr-xr-x"]

"""Shared fixtures: a Docker client, the test image, a leak check for containers and volumes.

Tests that need a real engine use the ``docker_client`` fixture (directly or through
``test_image``) and get the ``docker`` marker automatically. Without an engine they
are skipped, unless ``SECURE_RUN_REQUIRE_DOCKER=1``, which makes that a failure.
Containers a test creates must carry the label ``secure-run.test=1`` (see
``TEST_LABELS``) and be gone when the test ends; so must volumes, and every
workspace volume secure_run makes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import time
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Callable, NoReturn

import attrs
import docker
import docker.errors
import pytest

from secure_run import RunBuilder, RunConfig, UnsupportedFeature
from secure_run._audit.daemon import locate_daemon
from secure_run._config import presets as _presets
from secure_run._engine.facts import EngineFacts, engine_facts
from secure_run._engine.labels import VOLUME_PREFIX as WORKSPACE_VOLUME_PREFIX
from secure_run._engine.userns import userns_problems
from secure_run.testing import TEST_LABELS, build_test_image

pytest_plugins = ["pytester"]

_PING_TIMEOUT = 5
_LEAK_GRACE = 3.0

#: ``SECURE_RUN_TEST_OPT_INS=unenforced-limits`` (``scripts/engines.sh env rootless``): the
#: opt-ins the engine under test needs, granted by every builder the suites start from a
#: preset (``sr.preset``, ``sr.builder``), as a user of that engine must grant them.
OPT_INS_ENV = "SECURE_RUN_TEST_OPT_INS"


def engine_opt_ins() -> tuple[str, ...]:
    """The opt-ins ``SECURE_RUN_TEST_OPT_INS`` names (comma-separated), or none."""
    return tuple(o.strip() for o in os.environ.get(OPT_INS_ENV, "").split(",") if o.strip())


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (default)"


def _no_engine(why: str) -> NoReturn:
    message = f"no Docker Engine answers at {_engine_address()}: {why}"
    if os.environ.get("SECURE_RUN_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{message} (SECURE_RUN_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(f"{message}; set SECURE_RUN_REQUIRE_DOCKER=1 to fail instead")


#: The rootless run's own --basetemp: the engine's user must reach the folders a test
#: binds, and /tmp/pytest-of-root, which every other session shares, is made 0700 again
#: by each of them (see _bind_sources_reachable).
ROOTLESS_BASETEMP = Path(tempfile.gettempdir()) / "secure-run-rootless-basetemp"


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "not_on_engine(fact, reason): skip, with the reason, on an engine whose "
        "EngineFacts.<fact> is true (e.g. 'userns')",
    )
    if os.environ.get("SECURE_RUN_ENGINE_NAME") == "rootless" and not config.option.basetemp:
        config.option.basetemp = str(ROOTLESS_BASETEMP)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "docker_client" in names or item.get_closest_marker("not_on_engine"):
            item.add_marker(pytest.mark.docker)


def _probe_engine() -> tuple[str | None, str]:
    """``(API version, "")`` when an engine answers a ping in time, else ``(None, why)``."""
    try:
        probe = docker.from_env(timeout=_PING_TIMEOUT)
    except docker.errors.DockerException as exc:
        return None, str(exc)
    try:
        probe.ping()
    except (docker.errors.DockerException, OSError) as exc:
        return None, str(exc)
    finally:
        probe.close()
    return probe.api.api_version, ""


@pytest.fixture(scope="session", autouse=True)
def _engine_opt_ins() -> Iterator[None]:
    """Every preset's builder grants the engine's opt-ins (:func:`engine_opt_ins`), if any,
    here and in every Python a test starts (``tests/engine_hook/sitecustomize.py``)."""
    granted = engine_opt_ins()
    if not granted:
        yield
        return
    hook = str(Path(__file__).resolve().parent / "engine_hook")  # its sitecustomize.py
    paths = [hook, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    with pytest.MonkeyPatch.context() as patch:
        for name, start in list(_presets._STARTS.items()):
            patch.setitem(_presets._STARTS, name, start.opt_in(*granted))
        patch.setenv("PYTHONPATH", os.pathsep.join(paths))  # the Pythons the tests start
        yield


@pytest.fixture(scope="session", autouse=True)
def _bind_sources_reachable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """On the rootless engine, the test folders a container binds are open to its daemon.

    That dockerd runs as an unprivileged user (sr-rootless), which cannot reach pytest's
    folders (mode 0700), so every bind of one would fail with "permission denied": each
    folder made is opened to others (0755, its parents 0711), under the run's own
    --basetemp (:data:`ROOTLESS_BASETEMP`).
    """
    if os.environ.get("SECURE_RUN_ENGINE_NAME") != "rootless":
        yield
        return
    made = pytest.TempPathFactory.mktemp
    base = tmp_path_factory.getbasetemp()
    for parent in (base.parent, base):
        parent.chmod(parent.stat().st_mode | 0o711)

    def mktemp(self: pytest.TempPathFactory, basename: str, numbered: bool = True) -> Path:
        path = made(self, basename, numbered)
        path.chmod(0o755)
        return path

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pytest.TempPathFactory, "mktemp", mktemp)
        yield


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the engine the environment names (DOCKER_HOST or the default socket)."""
    with warnings.catch_warnings():
        # The SDK leaks the socket of a connection that failed; collect it here, quietly,
        # rather than have it turn into an error (filterwarnings=error) in a later test.
        warnings.simplefilter("ignore", ResourceWarning)
        version, why = _probe_engine()
        gc.collect()
    if version is None:
        _no_engine(why)

    client = docker.from_env(version=version)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def engine(docker_client: docker.DockerClient) -> EngineFacts:
    """The facts of the engine under test (userns-remap, rootless, runtimes...)."""
    facts = engine_facts(docker_client)
    if facts.podman and not _PODMAN_SEEN:
        _PODMAN_SEEN.append(facts.server_version)
    return facts


@pytest.fixture(scope="session")
def unremapped(engine: EngineFacts) -> Callable[[RunBuilder], RunBuilder]:
    """``builder -> builder``: on a userns-remap engine, the config leaves the remap
    (``.host_namespace("userns")``) where the library refuses it otherwise (privileged,
    a host PID, network or IPC namespace, a renamed device), as its fix says; elsewhere
    the builder unchanged."""

    def apply(builder: RunBuilder) -> RunBuilder:
        if engine.userns and userns_problems(builder.build()):
            return builder.host_namespace("userns").opt_in("host-namespace")
        return builder

    return apply


@pytest.fixture(scope="session")
def runtime_present(engine: EngineFacts) -> Callable[[RunConfig], None]:
    """``cfg -> None``: skip, saying why, when the config's runtime is not on the engine."""

    def check(cfg: RunConfig) -> None:
        if cfg.runtime is not None and cfg.runtime not in engine.runtimes:
            pytest.skip(
                f"the config needs the {cfg.runtime!r} runtime; the engine has "
                f"{', '.join(engine.runtimes) or 'none'} (scripts/engines.sh up gvisor)"
            )

    return check


@pytest.fixture(scope="session")
def gvisor_default(engine: EngineFacts) -> bool:
    """Whether a config naming no runtime runs in gVisor (the engine's default is runsc)."""
    return engine.is_gvisor(None)


_NO_LIMIT = (
    "a rootless engine without cgroups (Cgroup Driver none, on this cgroup v1 host) applies "
    "no {}; the suites launch with 'unenforced-limits', and tests/integration/test_rootless.py "
    "proves the limit absent inside"
)
_NO_FREEZER = (
    "a rootless engine without cgroups has no cgroup listing the container's processes and "
    "no freezer to pause it, so an exec cannot be killed one by one: the library kills the "
    "container instead, as its fallback says"
)
_HOST_PROC = (
    "the test expects the host's /proc as verify's source; on a rootless engine without "
    "cgroups /proc/<pid>/cgroup cannot tell the container's process apart, so verify reads "
    "the kernel state by the exec probe"
)

#: On a rootless engine without cgroups: the tests that cannot apply, and why (by name,
#: or by name with its parameters).
ROOTLESS_SKIPS = {
    "test_pids_limit": _NO_LIMIT.format("pids limit"),
    "test_memory_limit_reservation_and_no_swap": _NO_LIMIT.format("memory limit"),
    "test_cpu_quota": _NO_LIMIT.format("CPU quota"),
    "test_memory_bomb_is_oom_killed_within_the_limit": _NO_LIMIT.format("memory limit"),
    "test_fork_bomb_is_bounded_by_the_pids_limit": _NO_LIMIT.format("pids limit"),
    "test_cpu_hog_is_held_to_the_quota": _NO_LIMIT.format("CPU quota"),
    "test_oom_is_reported_as_oom": _NO_LIMIT.format("memory limit, so nothing is OOM-killed"),
    "test_a_timed_out_exec_leaves_no_process_and_no_exec": _NO_FREEZER,
    "test_aclose_of_a_stream_kills_its_command": _NO_FREEZER,
    "test_breaking_out_of_a_stream_kills_the_command": _NO_FREEZER,
    "test_a_stream_past_its_deadline_is_killed": _NO_FREEZER,
    "test_another_running_exec_survives_a_timeout": _NO_FREEZER,
    "test_an_interrupted_exec_is_killed_before_the_interrupt_propagates": _NO_FREEZER,
    "test_the_session_stays_usable_after_a_timeout": _NO_FREEZER,
    "test_a_fork_bomb_under_a_timeout_is_killed_entirely": _NO_FREEZER,
    "test_agent_session_streams_and_survives_a_timeout": _NO_FREEZER + " (the example's "
    "session ends at its timed-out step)",
    "test_untrusted_code_is_contained": _NO_LIMIT.format(
        "memory or pids limit (the example's memory hog and fork loop are not stopped by one)"
    ),
    "test_run_verify": _NO_LIMIT.format("memory limit (the test reads 64 MiB inside)"),
    "test_restricted_literal_facts": _NO_LIMIT.format(
        "memory limit (the test reads the preset's 512 MiB and 256 MiB inside)"
    ),
    "test_setting_is_seen_inside[memory]": _NO_LIMIT.format("memory limit"),
    "test_setting_is_seen_inside[memory-swap]": _NO_LIMIT.format("memory or swap limit"),
    "test_setting_is_seen_inside[cpus]": _NO_LIMIT.format("CPU quota"),
    "test_setting_is_seen_inside[cpu_quota]": _NO_LIMIT.format("CPU quota"),
    "test_setting_is_seen_inside[cpu_shares]": _NO_LIMIT.format("CPU shares"),
    "test_setting_is_seen_inside[cpuset]": _NO_LIMIT.format("cpuset"),
    "test_setting_is_seen_inside[pids_limit]": _NO_LIMIT.format("pids limit"),
    "test_forced_exec_probe_passes_on_a_faithful_container": _NO_LIMIT.format(
        "pids limit, so verify notes cgroup pids.max as not enforced instead of checking it"
    ),
    "test_faithful_container_passes_on_both_sources": _HOST_PROC,
    "test_weaker_host_config_fails_with_a_precise_report": _HOST_PROC + "; and the doubled "
    "limits are notes there (test_rootless.py: a container weakened behind the library's "
    "back fails from the probe)",
    "test_init_process_without_no_new_privileges_fails_both_ways": _HOST_PROC,
}


@pytest.fixture(autouse=True)
def _not_on_rootless(request: pytest.FixtureRequest) -> None:
    """Skip, saying why, a test of ROOTLESS_SKIPS on a rootless engine without cgroups."""
    reason = ROOTLESS_SKIPS.get(request.node.name) or ROOTLESS_SKIPS.get(
        getattr(request.node, "originalname", request.node.name)
    )
    if reason is None or request.node.get_closest_marker("docker") is None:
        return
    facts: EngineFacts = request.getfixturevalue("engine")
    if facts.without_cgroups:
        pytest.skip(f"on the rootless engine: {reason}")


@pytest.fixture(autouse=True)
def _not_on_engine(request: pytest.FixtureRequest) -> None:
    """Skip a test marked ``not_on_engine(fact, reason)`` where the fact holds, saying why."""
    for marker in request.node.iter_markers("not_on_engine"):
        fact, reason = marker.args
        facts: EngineFacts = request.getfixturevalue("engine")
        if getattr(facts, fact):
            pytest.skip(f"not on this engine ({fact}): {reason}")


@attrs.frozen(kw_only=True)
class DaemonDefaults:
    """What the local daemon applies to every container unasked, read from its command line
    and ``daemon.json`` (the locator the audit and the doctor use), and where it runs.

    Attributes:
        no_new_privileges: ``--no-new-privileges`` (CIS 2.14): a container that asks
            nothing gets ``NoNewPrivs: 1``.
        default_ulimits: ``--default-ulimit`` (CIS 2.8), as given: a container that sets
            none gets them, in its inspect record too.
        cis_settings: ``--icc=false`` (2.2) or ``--live-restore`` (2.15) as well.
        own_network_namespace: dockerd runs in a network namespace other than this
            process's, so a port it publishes on 127.0.0.1 is not this host's loopback.
    """

    no_new_privileges: bool = False
    default_ulimits: tuple[str, ...] = ()
    cis_settings: bool = False
    own_network_namespace: bool = False

    @classmethod
    def read(cls, client: docker.DockerClient, engine: EngineFacts) -> DaemonDefaults:
        """The defaults of the daemon serving ``client``; none when it cannot be read."""
        daemon = locate_daemon(client, rootless=engine.rootless)
        if daemon is None or not daemon.known or daemon.pid is None:
            return cls()
        nnp, _ = daemon.setting_bool("no-new-privileges")
        icc, _ = daemon.setting_bool("icc")
        live, _ = daemon.setting_bool("live-restore")
        ulimits = daemon.flag_values("default-ulimit") or tuple(
            f"{name}={value}"
            for name, value in (daemon.config.get("default-ulimits") or {}).items()
        )
        try:
            netns = os.readlink(f"/proc/{daemon.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        except OSError:
            netns = False
        return cls(
            no_new_privileges=bool(nnp),
            default_ulimits=ulimits,
            cis_settings=bool(nnp) or icc is False or bool(live),
            own_network_namespace=netns,
        )


@pytest.fixture(scope="session")
def daemon_defaults(docker_client: docker.DockerClient, engine: EngineFacts) -> DaemonDefaults:
    """What the local daemon applies to every container unasked (the ``hardened`` engine)."""
    return DaemonDefaults.read(docker_client, engine)


#: Tests whose premise is a stock daemon's default, keyed by a node id fragment: the
#: daemon default that breaks the premise and why. On such a daemon (scripts/engines.sh
#: up hardened) they skip; tests/integration/test_hardened_daemon.py asserts what that
#: daemon does instead.
DAEMON_DEFAULT_SKIPS: dict[str, tuple[str, str]] = {
    "test_check_on_the_real_engine[5.26-plain]": ("no_new_privileges", "the plain container "
        "gets no-new-privileges from the daemon, so 5.26 passes it"),
    "[PSS-restricted-allowPrivilegeEscalation-plain]": ("no_new_privileges", "the plain "
        "container gets no-new-privileges from the daemon, so the PSS check passes it"),
    "test_check_on_the_real_engine[5.19-plain]": ("default_ulimits", "the daemon writes its "
        "default ulimits into the plain container's HostConfig.Ulimits, so 5.19 passes it"),
    "test_setting_is_seen_inside[no_new_privileges-off]": ("no_new_privileges", "a config "
        "that waives no-new-privileges asks nothing, so the daemon's default sets NoNewPrivs 1"),
    "test_no_new_privileges_stops_the_setuid_helper": ("no_new_privileges", "the waived "
        "config's container still gets NoNewPrivs 1 from the daemon; its helper keeps euid 1000"),
    "test_init_process_without_no_new_privileges_fails_both_ways": ("no_new_privileges", "a "
        "container made without the option gets NoNewPrivs 1 from the daemon: only the "
        "inspect record fails"),
    "test_exec_probe_sees_a_weaker_container_too": ("no_new_privileges", "a container made "
        "without the option gets NoNewPrivs 1 from the daemon, so the kernel check passes"),
    "test_setuid_root_helper_gains_nothing": ("no_new_privileges", "the control, run by hand "
        "without the option, gets NoNewPrivs 1 from the daemon and never reaches root"),
    "[index.md-1]": ("no_new_privileges", "the page's 'like docker run' column was recorded "
        "on a daemon without it (NoNewPrivs 0); here a plain run shows 1"),
    "[seccomp-lsm.md-3]": ("no_new_privileges", "the page's 'flag unset' row was recorded on a "
        "daemon without it (NoNewPrivs 0, euid 0); here the daemon sets it"),
    "[daemon.md-1]": ("cis_settings", "the page's doctor output was recorded on a stock "
        "daemon, where 2.2, 2.14 and 2.15 warn; here they pass"),
    "test_web_service_answers_on_loopback": ("own_network_namespace", "the port is published "
        "on 127.0.0.1 inside the daemon's network namespace, not on this host's loopback"),
    "test_migrating_after_snippets_run": ("own_network_namespace", "the testcontainers snippet "
        "publishes a port on 127.0.0.1 inside the daemon's network namespace, out of reach here"),
}  # fmt: skip

_DEFAULT_SHOWN = {
    "no_new_privileges": "dockerd --no-new-privileges",
    "default_ulimits": "dockerd --default-ulimit",
    "cis_settings": "dockerd --no-new-privileges --icc=false --live-restore",
    "own_network_namespace": "dockerd in a network namespace of its own",
}


@pytest.fixture(autouse=True)
def _daemon_default_skip(request: pytest.FixtureRequest) -> None:
    """Skip a test of :data:`DAEMON_DEFAULT_SKIPS` on a daemon whose default breaks its premise."""
    for fragment, (default, reason) in DAEMON_DEFAULT_SKIPS.items():
        if fragment in request.node.nodeid:
            defaults: DaemonDefaults = request.getfixturevalue("daemon_defaults")
            if getattr(defaults, default):
                pytest.skip(
                    f"on a hardened daemon ({_DEFAULT_SHOWN[default]}): {reason} "
                    "(asserted in tests/integration/test_hardened_daemon.py)"
                )


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient) -> str:
    """The tag of the busybox test image, built (without pulling) if needed."""
    return build_test_image(
        docker_client, allow_pull=os.environ.get("SECURE_RUN_ALLOW_PULL") == "1"
    )


def _test_container_ids(client: docker.DockerClient) -> set[str]:
    """The test-labelled containers, and every test-labelled or workspace volume."""
    labels: str | list[str] | bool = [f"{key}={value}" for key, value in TEST_LABELS.items()]
    filters = {"label": labels}
    # One list call; the high-level list inspects each container and races with removals.
    found = {c["Id"] for c in client.api.containers(all=True, filters=filters)}
    for volume in client.api.volumes().get("Volumes") or ():
        volume_labels = volume.get("Labels") or {}
        tagged = all(volume_labels.get(k) == v for k, v in TEST_LABELS.items())
        if tagged or volume["Name"].startswith(WORKSPACE_VOLUME_PREFIX):
            found.add(f"volume:{volume['Name']}")
    return found


def _remove(client: docker.DockerClient, leftover: str) -> None:
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        if leftover.startswith("volume:"):
            client.api.remove_volume(leftover.partition(":")[2], force=True)
        else:
            client.api.remove_container(leftover, force=True, v=True)


@pytest.fixture(autouse=True)
def leftover_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a ``docker`` test that leaves labelled containers or volumes behind (removing them)."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    client: docker.DockerClient = request.getfixturevalue("docker_client")
    before = _test_container_ids(client)
    yield
    left = _test_container_ids(client) - before
    # Another test session on the same engine may be mid-run with containers of its
    # own; those go away on their own, a leak does not. Give them a moment.
    deadline = time.monotonic() + _LEAK_GRACE
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left &= _test_container_ids(client)
    if not left:
        return
    containers = sorted(c for c in left if not c.startswith("volume:"))
    for leftover in [*containers, *sorted(left - set(containers))]:  # volumes last
        _remove(client, leftover)
    pytest.fail(
        f"the test left {len(left)} container(s) or volume(s) labelled "
        f"{TEST_LABELS} behind (now removed): {sorted(c[:24] for c in left)}",
        pytrace=False,
    )


#: Every problem the library raises for Podman names it so (secure_run/_engine/podman.py).
_ON_PODMAN = "the engine is Podman"

#: On Podman (scripts/engines.sh up podman, 4.3.1): the tests that cannot apply as written,
#: each with what Podman does instead.
PODMAN_SKIPS = {
    "test_audit_real.py": "audit() refuses a Podman container (UnsupportedFeature): it judges "
    "Docker's inspect shapes, and Podman's differ (an expanded CapDrop instead of ALL, IpcMode "
    "'shareable', RLIMIT_-named ulimits, a default pids limit of 2048, a 'localhost/' image "
    "name, its 'podman' network)",
    "test_daemon_default_for_new_privileges": "there is no dockerd behind Podman's API to "
    "read a daemon-wide default from",
    "test_oom_is_reported_as_oom": "Podman kills the hog (exit 137) but leaves "
    "State.OOMKilled false, so an OOM cannot be told from a SIGKILL",
    "test_restart_policy_changed_behind_the_librarys_back": "Podman 4.3.1's Docker API has no "
    "container update endpoint (404), so the policy cannot be changed behind the library",
    "test_strict_mode_raises_the_warnings_the_engine_returns_from_create": "Podman returns no "
    "create warning on this host to test with",
    "test_an_apparmor_profile_without_apparmor_is_refused": "Podman refuses the AppArmor "
    "profile at create itself instead of running the container unconfined, which the test's "
    "second half shows of Docker",
    "test_weaker_host_config_fails_with_a_precise_report": "Podman makes the SYS_ADMIN added "
    "behind the library's back effective for the non-root user, so verify() fails CapPrm and "
    "CapEff too: a stricter report than the exact one Docker gives",
    "test_many_settings_give_the_same_container": "its config asks cap_add for a non-root "
    "user and a healthcheck, which the library refuses on Podman, and docker-py and the "
    "docker CLI both send its seccomp profile inline, which Podman reads as a file path "
    "(podman#27710)",
    "cap_add-non-root-bounding-only": "Podman puts a capability added for a non-root user "
    "in its effective, permitted and ambient sets, not the bounding set alone (the library "
    "refuses cap_add for a non-root user on Podman)",
    "host_namespace-pid": "Podman cannot add its init as PID 1 in the host PID namespace "
    "and fails the create (the library refuses init with it on Podman)",
    "test_healthcheck_reports_healthy": "Podman runs healthchecks from systemd timers and "
    "this engine has no systemd, so the check never runs (the library refuses it there)",
    "test_settings_in_container.py::test_log_limits": "Podman's Docker-shaped record shows no "
    "log option (LogConfig.Config null); it keeps one log file truncated at max-size, which "
    "verify() reads from Podman's own record (LogConfig.Size)",
    "test_settings_in_container.py::test_runtime": "Podman's Docker-shaped record names every "
    "runtime 'oci'; verify() reads OCIRuntime from Podman's own record",
    "test_memory_bomb_is_oom_killed_within_the_limit": "Podman's OOM kill takes the bomb "
    "(stderr 'Killed') but leaves State.OOMKilled false, so the result cannot say OOM",
    "test_web_service_answers_on_loopback": "the example publishes a port (no portmap on "
    "this Podman engine) and asks cap_add NET_BIND_SERVICE for a non-root user and a "
    "healthcheck, which the library refuses on Podman",
    "test_migrating_after_snippets_run": "the example launches the service preset, whose "
    "cap_add for a non-root user the library refuses on Podman",
    "test_grader_grades_hostile_submissions_safely": "the example uses a workspace, which "
    "the library refuses on Podman (its volume driver refuses tmpfs size and uid options)",
    "test_agent_session_streams_and_survives_a_timeout": "the example uses a workspace, which "
    "the library refuses on Podman (its volume driver refuses tmpfs size and uid options)",
    "test_async_handler_serves_at_once_and_cancels": "the example uses a workspace, which "
    "the library refuses on Podman (its volume driver refuses tmpfs size and uid options)",
    "test_a_killed_owners_volume_is_reaped": "the killed process launches a workspace, which "
    "the library refuses on Podman (its volume driver refuses tmpfs size and uid options)",
    "test_audit_container_json": "audit() refuses a Podman container (UnsupportedFeature): "
    "it judges Docker's inspect shapes, and Podman's differ",
    "test_cancelling_a_run_with_a_workspace_removes_its_volume": "the run uses a workspace, "
    "which the library refuses on Podman before the cancellation can be tested",
    "read_only-off-as-root-writes": "Podman gives / the image's mode 0555 (Docker 0755), so "
    "root without CAP_DAC_OVERRIDE cannot create a file there even on a writable root",
}


_NOT_SHOWN = (
    "the sentry shows no {} inside; verify() checks {} instead (tests/integration/test_gvisor.py)"
)
_CGROUP_INSIDE = _NOT_SHOWN.format("cgroup files", "the sandbox's host cgroup")
_LIMITS_INSIDE = _NOT_SHOWN.format("/proc/self/limits", "HostConfig.Ulimits on the record")
_SANDBOX_PIDS = (
    "the example launches the sandbox preset, whose pids_limit 64 the library refuses under "
    "gVisor (runsc needs 128 or more: the 'gvisor' preset)"
)
_NO_NETWORK = (
    "the example publishes a port on a bridge network, which the library refuses under a "
    "runsc run with --network=none (this engine's runtimeArgs)"
)

#: Under gVisor (an engine whose default runtime is runsc: scripts/engines.sh up gvisor):
#: the tests that cannot apply as written, each with what gVisor does instead.
GVISOR_SKIPS = {
    "test_presets_in_container.py::test_memory_limit_reservation_and_no_swap": _CGROUP_INSIDE,
    "test_presets_in_container.py::test_cpu_quota": _CGROUP_INSIDE,
    "test_presets_in_container.py::test_pids_limit": _CGROUP_INSIDE,
    "test_presets_in_container.py::test_ulimits": _LIMITS_INSIDE,
    "test_restricted_literal_facts": "its literal facts are cgroup limits and rlimits, which "
    "the sentry does not show inside (no cgroup files, no /proc/self/limits); the uid and "
    "CapBnd are asserted by the per-preset tests of the same file",
    "test_setting_is_seen_inside[memory]": _CGROUP_INSIDE,
    "test_setting_is_seen_inside[memory-swap]": _CGROUP_INSIDE,
    "test_setting_is_seen_inside[cpus]": _CGROUP_INSIDE,
    "test_setting_is_seen_inside[cpu_quota]": _CGROUP_INSIDE,
    "test_setting_is_seen_inside[cpu_shares]": _CGROUP_INSIDE,
    "test_setting_is_seen_inside[cpuset]": _CGROUP_INSIDE,
    "test_setting_is_seen_inside[ulimit]": _LIMITS_INSIDE,
    "test_setting_is_seen_inside[tmpfs]": "the sentry shows no nosuid in a tmpfs's mountinfo "
    "(its size, mode and noexec are asserted by test_presets_in_container.py under gVisor)",
    "test_setting_is_seen_inside[no_new_privileges]": "the sentry's /proc/self/status has no "
    "NoNewPrivs line (verify() checks HostConfig.SecurityOpt on the record, with a note)",
    "test_no_new_privileges_stops_the_setuid_helper": "gVisor does not honour setuid bits on "
    "its gofer-served root, so the control run without no-new-privileges never reaches root "
    "either (tests/security asserts the helper gains nothing under gVisor)",
    "test_faithful_container_passes_on_both_sources": "the host's /proc/<pid> of a gVisor "
    "container is the sandbox, not the workload: verify() reads inside by the exec probe "
    "(tests/integration/test_gvisor.py::test_launch_under_gvisor_verifies_with_no_false_failure)",
    "test_exec_probe_sees_a_weaker_container_too": "the sentry's /proc/self/status has no "
    "NoNewPrivs line, so no probe sees the bit; the record's SecurityOpt check fails instead "
    "(test_init_process_without_no_new_privileges_fails_both_ways asserts it under gVisor)",
    "test_restart_policy_changed_behind_the_librarys_back_fails": "runsc has no 'update' "
    "command, so the engine cannot change the policy behind the library (docker update "
    "fails: 500 Cannot update container)",
    "test_the_kernel_shows_the_workspace_as_configured": "a workspace volume is a 9p mount "
    "inside gVisor, not the tmpfs the host mounted: verify() reads its size, mode, owner and "
    "noexec from the volume's record (test_gvisor.py, every preset with a workspace)",
    "test_the_keeper_holds_no_power": "the host's /proc/<pid> of the gVisor keeper is the "
    "sandbox process (SYS_ADMIN, SYS_CHROOT), not the keeper's own process",
    "test_untrusted_code_is_contained": _SANDBOX_PIDS,
    "test_orchestrator_collects_the_batch_in_order": _SANDBOX_PIDS,
    "test_pytest_harness_passes": _SANDBOX_PIDS,
    "test_grader_grades_hostile_submissions_safely": _SANDBOX_PIDS,
    "test_agent_session_streams_and_survives_a_timeout": _SANDBOX_PIDS,
    "test_async_handler_serves_at_once_and_cancels": _SANDBOX_PIDS,
    "test_web_service_answers_on_loopback": _NO_NETWORK,
    "test_migrating_after_snippets_run": _NO_NETWORK,
}


#: Each engine's skip table (keys are fragments of a test's node id), whether the engine
#: under test is that engine, and how the skip reason names it.
_ENGINE_SKIPS: tuple[tuple[dict[str, str], Callable[[EngineFacts], bool], str], ...] = (
    (GVISOR_SKIPS, lambda facts: facts.is_gvisor(None), "under gVisor"),  # default runtime
    (PODMAN_SKIPS, lambda facts: facts.podman, "under Podman"),
)


@pytest.fixture(autouse=True)
def _not_on_this_engine(request: pytest.FixtureRequest) -> None:
    """Skip, saying why, a test of GVISOR_SKIPS or PODMAN_SKIPS on that engine."""
    if request.node.get_closest_marker("docker") is None:
        return
    for table, is_that_engine, where in _ENGINE_SKIPS:
        reason = next((r for key, r in table.items() if key in request.node.nodeid), None)
        if reason is not None and is_that_engine(request.getfixturevalue("engine")):
            pytest.skip(f"{where}: {reason}")


#: Every problem the library raises for gVisor names it so (secure_run/_engine/runtimes.py).
_UNDER_GVISOR = "would run under gVisor (runtime"

#: Every start problem the library raises for a rootless engine names it so
#: (secure_run/_engine/rootless.py: the host PID or IPC namespace, a renamed device).
_ROOTLESS_ENGINE = "the engine runs rootless (docker info: name=rootless)"

#: Where each engine's refusals come from, what every problem of one names, and how the
#: skip reason says where the test ran.
_REFUSALS = (
    (_ON_PODMAN, "under Podman"),
    (_UNDER_GVISOR, "under gVisor"),
    (_ROOTLESS_ENGINE, "on the rootless engine"),
)


def _engine_refusal(exc: UnsupportedFeature) -> str | None:
    """The skip reason when every problem of ``exc`` is one the library raises for the
    engine under test (Podman, gVisor, rootless); ``None`` for any other refusal."""
    for marker, where in _REFUSALS:
        if exc.problems and all(marker in p.message for p in exc.problems):
            refused = "; ".join(f"{p.field}={p.value}: {p.message}" for p in exc.problems)
            return f"{where} the library refuses this test's config: {refused}"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A test whose config the library refuses on Podman, under gVisor or rootless skips,
    with each refusal as the reason (the setting, and why the engine would change it); any
    other refusal still fails."""
    try:
        return (yield)
    except UnsupportedFeature as exc:
        reason = _engine_refusal(exc)
        if reason is None:
            raise
    pytest.skip(reason)  # outside the except: no chained traceback to render


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """The same for a fixture whose config the library refuses on Podman, gVisor or rootless."""
    try:
        return (yield)
    except UnsupportedFeature as exc:
        reason = _engine_refusal(exc)
        if reason is None:
            raise
    pytest.skip(reason)  # outside the except: no chained traceback to render


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On Podman, a skip whose reason does not name the engine says it ran on Podman."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and _PODMAN_SEEN:
        path, line, reason = report.longrepr
        if "Podman" not in reason:
            report.longrepr = (path, line, f"{reason} (on Podman {_PODMAN_SEEN[0]})")
    return report


#: The Podman version, once the engine under test was found to be Podman.
_PODMAN_SEEN: list[str] = []

"""Every preset, launched through docker-py, proven from inside the container."""

from __future__ import annotations

from typing import Callable

import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts
from secure_run._engine.runtimes import GVISOR_MIN_PIDS
from secure_run._proof.probe import Probe

PRESETS = sorted(sr.presets())


def _builder(name: str, image: str, network: str, engine: EngineFacts) -> sr.RunBuilder:
    builder = sr.preset(name, image)
    cfg = builder.build()
    runtime = engine.runtime_of(cfg)
    if engine.is_gvisor(runtime):
        # What this gVisor cannot honour, the library refuses (tests/integration/
        # test_gvisor.py proves each refusal); the rest of the preset is proven here.
        if runtime in engine.networkless_runtimes:
            builder = builder.network("none")  # runsc --network=none: loopback only
        if cfg.pids_limit is not None and cfg.pids_limit < GVISOR_MIN_PIDS:
            builder = builder.pids_limit(GVISOR_MIN_PIDS)  # the sandbox's own threads
    # Presets with a network get an internal one here: tests never reach off the host.
    return builder if builder.build().network == "none" else builder.network(network)


@pytest.fixture(params=PRESETS)
def launched(
    request: pytest.FixtureRequest,
    test_image: str,
    internal_network: str,
    engine: EngineFacts,
    probe: Callable[[sr.RunBuilder], Probe],
    runtime_present: Callable[[sr.RunConfig], None],
) -> tuple[sr.RunConfig, Probe]:
    builder = _builder(request.param, test_image, internal_network, engine)
    runtime_present(builder.build())
    return builder.build(), probe(builder)


def test_user_is_the_presets_non_root_user(launched: tuple[sr.RunConfig, Probe]) -> None:
    """The process runs as the preset's uid and gid, never root."""
    cfg, got = launched
    assert cfg.user is not None
    assert (got.uid, got.gid) == (cfg.user.uid, cfg.user.gid)
    assert got.uid != 0


def test_capabilities_are_only_the_added_ones(launched: tuple[sr.RunConfig, Probe]) -> None:
    """CapBnd holds exactly cap_add (drop ALL), and a non-root process has no CapEff."""
    cfg, got = launched
    assert got.cap_bnd == frozenset(cfg.cap_add)
    assert got.cap_eff == frozenset()
    assert got.cap_prm == frozenset()
    assert got.cap_amb == frozenset()


@pytest.fixture
def sentry(launched: tuple[sr.RunConfig, Probe], engine: EngineFacts) -> bool:
    """Whether the launched container ran in gVisor, whose sentry shows less inside."""
    return engine.is_gvisor(launched[0].runtime)


def test_no_new_privileges_and_seccomp_filter(
    launched: tuple[sr.RunConfig, Probe], sentry: bool
) -> None:
    """NoNewPrivs is 1 and the default seccomp filter (mode 2) is attached.

    Under gVisor the status has no NoNewPrivs line (the sentry does not show the bit);
    runsc (--oci-seccomp) still loads the filter into the workload."""
    _, got = launched
    if sentry:
        assert "NoNewPrivs" not in got.raw
    else:
        assert got.no_new_privs is True
    assert got.seccomp_mode == 2


def test_root_filesystem_mode(launched: tuple[sr.RunConfig, Probe]) -> None:
    """The root mount is read-only exactly when the preset says so."""
    cfg, got = launched
    root = got.mount("/")
    assert root is not None
    assert root.read_only is cfg.read_only
    if cfg.read_only:
        assert got.root_writable is False


def test_tmpfs_size_mode_and_flags(launched: tuple[sr.RunConfig, Probe], sentry: bool) -> None:
    """Each tmpfs has the preset's size and mode, is noexec/nosuid/nodev, and is writable.

    Under gVisor the mountinfo shows noexec but never nosuid or nodev (verify() notes it)."""
    cfg, got = launched
    for tmpfs in cfg.tmpfs:
        mount = got.mount(tmpfs.path)
        assert mount is not None, tmpfs.path
        assert mount.fstype == "tmpfs"
        assert (mount.size_bytes, mount.mode) == (tmpfs.size, tmpfs.mode)
        shown = (True, False, False) if sentry else (True, True, True)
        assert (mount.noexec, mount.nosuid, mount.nodev) == shown
        assert got.tmpfs_writable[tmpfs.path] is True


def test_memory_limit_reservation_and_no_swap(launched: tuple[sr.RunConfig, Probe]) -> None:
    """The memory cgroup holds the hard limit, the reservation, and memory+swap = memory."""
    cfg, got = launched
    assert got.memory_limit == cfg.memory
    assert got.memory_reservation == cfg.memory_reservation
    assert got.memory_swap_limit == cfg.memory


def test_cpu_quota(launched: tuple[sr.RunConfig, Probe]) -> None:
    """The CFS quota over the period equals the preset's CPUs."""
    cfg, got = launched
    assert cfg.cpus is not None
    assert got.cpu_period_us == 100_000
    assert got.cpu_quota_us == round(cfg.cpus * 100_000)


def test_pids_limit(launched: tuple[sr.RunConfig, Probe]) -> None:
    """pids.max is the preset's limit."""
    cfg, got = launched
    assert got.pids_limit == cfg.pids_limit


def test_ulimits(launched: tuple[sr.RunConfig, Probe]) -> None:
    """Every preset ulimit (nofile, core=0) is the process's rlimit."""
    cfg, got = launched
    for ulimit in cfg.ulimits:
        assert (got.limits[ulimit.name].soft, got.limits[ulimit.name].hard) == (
            ulimit.soft,
            ulimit.hard,
        )


def test_network_interfaces(launched: tuple[sr.RunConfig, Probe]) -> None:
    """Network none leaves only lo and no route; a named network adds its interface."""
    cfg, got = launched
    if cfg.network == "none":
        assert got.interfaces == ("lo",)
        assert got.route_count == 0
    else:
        assert "eth0" in got.interfaces


def test_init_is_pid_1(launched: tuple[sr.RunConfig, Probe]) -> None:
    """With init, the probe's shell is not PID 1: the init is, and it is the only other."""
    _, got = launched
    assert got.pid != 1
    assert 1 in got.visible_pids


def test_restricted_literal_facts(restricted: sr.RunBuilder, probe: Callable) -> None:
    """The default preset gives these exact values, as documented in docs/presets.md."""
    got = probe(restricted)
    assert (got.uid, got.gid) == (65534, 65534)
    assert got.cap_bnd == frozenset()
    assert (got.memory_limit, got.memory_reservation) == (512 << 20, 256 << 20)
    assert got.memory_swap_limit == 512 << 20
    assert (got.cpu_quota_us, got.pids_limit) == (100_000, 128)
    assert (got.limits["core"].hard, got.limits["nofile"].hard) == (0, 1024)

"""Each preset's exported Kubernetes Pod, played by Podman (`podman kube play`), proven from inside.

Podman is the one engine on these machines that runs Pod YAML. Its documentation says it
applies runAsUser, runAsGroup, capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation
and resource limits, and ignores runAsNonRoot, seccompProfile, runtimeClassName and
automountServiceAccountToken. These tests find out what the installed Podman really does,
from the probe's output (the kernel's view inside the container), never from the manifest:
what it applied is asserted as applied, what it ignored is asserted as ignored, so a Podman
that changes either way fails here. docs/cluster.md ("Playing the exported Pods on
Podman") holds the table.

The engine is the project's own (``scripts/podman.sh up``, ``make podman-up``), reached
through its API socket in ``SECURE_RUN_PODMAN``; without it these tests skip, unless
``SECURE_RUN_REQUIRE_PODMAN=1``. Every pod is played with ``--network none`` and removed on
every path (``podman kube down``, then ``podman pod rm --force``); no pod, container or
volume is left.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

import secure_run as sr
from secure_run._proof.kernel import Limit
from secure_run._proof.probe import Probe, parse_probe, probe_command
from secure_run.testing import TEST_IMAGE

URL = os.environ.get("SECURE_RUN_PODMAN", "")
PRESETS = sorted(sr.presets())
_TIMEOUT = 120
_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # noqa: S105 (a path)


def _unavailable(why: str) -> None:
    if os.environ.get("SECURE_RUN_REQUIRE_PODMAN") == "1":
        pytest.fail(f"{why} (SECURE_RUN_REQUIRE_PODMAN=1)", pytrace=False)
    pytest.skip(f"{why}; run `make podman-up` and export what it prints to play pods on Podman")


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the podman client against the project's Podman service (never a local engine)."""
    return subprocess.run(
        ["podman", "--url", URL, *args],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=check,
    )


@pytest.fixture(scope="module", autouse=True)
def podman_engine() -> Iterator[str]:
    """The Podman version; fails the module at teardown if a pod, container or volume is left."""
    if not URL:
        _unavailable("SECURE_RUN_PODMAN is unset (no project Podman engine)")
    if shutil.which("podman") is None:
        _unavailable("no podman client on PATH")
    answer = _podman("version", "--format", "{{.Server.Version}}", check=False)
    if answer.returncode != 0:
        _unavailable(f"the Podman service at {URL} does not answer: {answer.stderr.strip()}")
    before = _leftovers()
    yield answer.stdout.strip()
    assert _leftovers() == before


def _leftovers() -> dict[str, list[str]]:
    return {
        what: sorted(_podman(*argv, "--quiet").stdout.split())
        for what, argv in {
            "pods": ("pod", "ps"),
            "containers": ("ps", "--all"),
            "volumes": ("volume", "ls"),
        }.items()
    }


def _pod_name(label: str) -> str:
    return f"sr-play-{label}-{os.getpid()}"


#: The opt-ins each preset needs before it exports as a Pod: the limits Kubernetes leaves to
#: the nodes, and for `service` a Pod's OnFailure, which restarts without its bound of 5.
_OPT_INS = {"service": ("kubernetes-node-limits", "unbounded-restart")}


def _config(preset: str, command: list[str]) -> sr.RunConfig:
    opt_ins = _OPT_INS.get(preset, ("kubernetes-node-limits",))
    return sr.preset(preset, TEST_IMAGE).opt_in(*opt_ins).command(command).build()


def _probe_command() -> list[str]:
    """The probe, its script without the leading line break Podman 4.3.1 cannot parse."""
    argv = probe_command()
    return [*argv[:-1], argv[-1].lstrip("\n")]


def _exported(cfg: sr.RunConfig, name: str) -> list[dict[str, Any]]:
    """The objects the project exports for ``cfg`` as a Pod, unchanged: the Pod first."""
    # reveal_env: the default reads each variable from a Secret the caller creates; the
    # presets' variables are thread counts, not secrets, so they are written inline.
    objects: list[dict[str, Any]] = cfg.to_kubernetes(kind="Pod", name=name, reveal_env=True)
    assert objects[0]["kind"] == "Pod"
    return objects


def _for_podman(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The export with the two changes Podman 4.3.1 here needs, and nothing else changed.

    Annotations longer than 63 characters go (Podman holds annotations to the label-value
    limit and refuses the Pod), and the pull policy becomes ``Never`` (the export says
    ``Always``; there is no registry here, the image is only local).
    """
    changed = copy.deepcopy(objects)
    for obj in changed:
        meta = obj["metadata"]
        meta["annotations"] = {
            key: value for key, value in meta.get("annotations", {}).items() if len(value) <= 63
        }
    for container in changed[0]["spec"]["containers"]:
        container["imagePullPolicy"] = "Never"
    return changed


def _write(objects: list[dict[str, Any]], directory: Path) -> Path:
    path = directory / f"{objects[0]['metadata']['name']}.yaml"
    # JSON is YAML: one document per object, no YAML library needed.
    path.write_text("".join(f"---\n{json.dumps(obj)}\n" for obj in objects))
    return path


@contextmanager
def _pod(objects: list[dict[str, Any]], directory: Path) -> Iterator[str]:
    """Play ``objects`` with ``--network none``; yield the container's name; always remove."""
    pod = objects[0]
    name = pod["metadata"]["name"]
    path = _write(objects, directory)
    try:
        _podman("kube", "play", "--network", "none", "--quiet", str(path))
        yield f"{name}-{pod['spec']['containers'][0]['name']}"
    finally:
        _podman("kube", "down", str(path), check=False)
        _podman("pod", "rm", "--force", "--ignore", name, check=False)


def _output(container: str) -> str:
    """The container's output once it has exited."""
    _podman("wait", container)
    return _podman("logs", container).stdout


@contextmanager
def _play(objects: list[dict[str, Any]], directory: Path) -> Iterator[tuple[Probe, dict[str, Any]]]:
    """Play a probe Pod; yield the probe's findings and Podman's inspect record."""
    with _pod(objects, directory) as container:
        output = _output(container)
        inspect = json.loads(_podman("container", "inspect", container).stdout)[0]
        yield parse_probe(output), inspect


@attrs.frozen
class Played:
    """What one played Pod gave: the config, the Pod, the probe, Podman's inspect record."""

    cfg: sr.RunConfig
    pod: dict[str, Any]
    probe: Probe
    inspect: dict[str, Any]


@pytest.fixture(scope="module", params=PRESETS)
def played(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Played:
    cfg = _config(request.param, _probe_command())
    objects = _for_podman(_exported(cfg, _pod_name(request.param)))
    with _play(objects, tmp_path_factory.mktemp("pods")) as (probe, inspect):
        return Played(cfg, objects[0], probe, inspect)


def _restricted_pod(label: str, command: list[str] | None = None) -> list[dict[str, Any]]:
    """The restricted preset's Pod alone, ready for Podman, to be changed by a test."""
    cfg = _config("restricted", command or _probe_command())
    return _for_podman(_exported(cfg, _pod_name(label)))[:1]


def _contexts(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's and its containers' securityContext objects, created if absent."""
    spec = pod["spec"]
    return [spec.setdefault("securityContext", {})] + [
        container.setdefault("securityContext", {}) for container in spec["containers"]
    ]


def _refusal(objects: list[dict[str, Any]], directory: Path) -> str:
    """Podman's error when it refuses to play ``objects`` (nothing is created)."""
    path = _write(objects, directory)
    try:
        answer = _podman(
            "kube", "play", "--network", "none", "--start=false", str(path), check=False
        )
    finally:
        _podman("kube", "down", str(path), check=False)
        _podman("pod", "rm", "--force", "--ignore", objects[0]["metadata"]["name"], check=False)
    assert answer.returncode != 0, answer.stdout
    return answer.stderr


# What Podman applied ------------------------------------------------------------------


def test_user_and_group_are_applied(played: Played) -> None:
    """runAsUser and runAsGroup land: the process runs as the preset's uid and gid."""
    assert played.cfg.user is not None
    assert (played.probe.uid, played.probe.gid) == (played.cfg.user.uid, played.cfg.user.gid)


def test_capability_bounding_set_is_applied(played: Played) -> None:
    """drop ALL plus add lands: CapBnd is exactly the preset's cap_add."""
    assert played.probe.cap_bnd == frozenset(played.cfg.cap_add)


def test_added_capabilities_are_effective_for_the_non_root_user(played: Played) -> None:
    """Unlike Docker, Podman raises the added capabilities for a non-root uid: CapEff = cap_add."""
    added = frozenset(played.cfg.cap_add)
    got = played.probe
    assert (got.cap_eff, got.cap_prm, got.cap_amb) == (added, added, added)


def test_no_privilege_escalation_is_applied(played: Played) -> None:
    """allowPrivilegeEscalation false lands as NoNewPrivs 1."""
    assert played.probe.no_new_privs is True


def test_read_only_root_is_applied(played: Played) -> None:
    """readOnlyRootFilesystem lands: / is mounted read-only exactly when the preset says so."""
    root = played.probe.mount("/")
    assert root is not None
    assert root.read_only is played.cfg.read_only
    assert played.probe.root_writable is not played.cfg.read_only


def test_memory_limit_and_request_are_applied(played: Played) -> None:
    """limits.memory is the cgroup's hard limit, requests.memory its soft limit."""
    got = played.probe
    assert got.memory_limit == played.cfg.memory
    assert got.memory_reservation == played.cfg.memory_reservation


def test_cpu_limit_is_applied(played: Played) -> None:
    """limits.cpu lands as the CFS quota over the period."""
    assert played.probe.cpus == played.cfg.cpus


def test_no_network_with_network_none(played: Played) -> None:
    """Played with --network none, the pod has only loopback and no route."""
    assert set(played.probe.interfaces) <= {"lo"}
    assert (played.probe.route_count, played.probe.has_default_route) == (0, False)


# What Podman ignored --------------------------------------------------------------------


def test_memory_empty_dir_is_a_disk_volume(played: Played) -> None:
    """emptyDir medium Memory is ignored: /tmp is a disk-backed volume, no tmpfs, no sizeLimit."""
    if not played.cfg.tmpfs:
        pytest.skip(f"the {played.cfg.preset} preset has no tmpfs, so its Pod has no emptyDir")
    for tmpfs in played.cfg.tmpfs:
        mount = played.probe.mount(tmpfs.path)
        assert mount is not None, tmpfs.path
        assert mount.fstype != "tmpfs"
        assert mount.size_bytes is None
        assert mount.noexec is False


def test_pids_limit_is_not_carried(played: Played) -> None:
    """A Pod has no pids limit field: the container's pids cgroup has no limit."""
    assert played.cfg.pids_limit is not None
    assert played.probe.pids_limit is None


def test_default_seccomp_profile_whatever_the_pod_says(tmp_path: Path) -> None:
    """seccompProfile is ignored: Unconfined still gets Podman's default filter (Seccomp 2)."""
    objects = _restricted_pod("seccomp")
    for context in _contexts(objects[0]):
        context["seccompProfile"] = {"type": "Unconfined"}
    with _play(objects, tmp_path) as (probe, _):
        assert probe.seccomp_mode == 2


def test_run_as_non_root_is_not_enforced(tmp_path: Path) -> None:
    """runAsNonRoot is ignored: runAsUser 0 with runAsNonRoot true runs as root, not refused."""
    objects = _restricted_pod("nonroot")
    for context in _contexts(objects[0]):
        context.update(runAsNonRoot=True, runAsUser=0, runAsGroup=0)
    with _play(objects, tmp_path) as (probe, _):
        assert (probe.uid, probe.gid) == (0, 0)


def test_runtime_class_is_ignored(tmp_path: Path) -> None:
    """runtimeClassName is ignored: a class no engine has still runs, on the default runtime."""
    objects = _restricted_pod("runtimeclass")
    objects[0]["spec"]["runtimeClassName"] = "secure-run-no-such-class"
    with _play(objects, tmp_path) as (probe, inspect):
        assert probe.uid == 65534
        assert inspect["OCIRuntime"] == "runc"


def test_no_service_account_token_either_way(tmp_path: Path) -> None:
    """automountServiceAccountToken is moot: even true mounts no token (Podman has none)."""
    objects = _restricted_pod("token")
    objects[0]["spec"]["automountServiceAccountToken"] = True
    with _play(objects, tmp_path) as (probe, _):
        assert not [m for m in probe.mounts if m.mount_point.startswith("/var/run/secrets")]
        assert probe.mount(_TOKEN_DIR) is None


def test_swap_limit_is_not_carried(played: Played) -> None:
    """A Pod has no swap field: memory+swap has no limit, where the preset sets it to memory."""
    assert played.cfg.memory_swap == played.cfg.memory
    assert played.probe.memory_swap_limit is None


def test_ulimits_are_the_engines_defaults(played: Played) -> None:
    """A Pod has no rlimits: nofile and nproc are the engine's default_ulimits, not the preset's."""
    assert played.probe.limits["nofile"] == Limit(soft=1024, hard=1024)
    assert played.probe.limits["nproc"] == Limit(soft=1024, hard=1024)


def test_memory_empty_dirs_of_two_pods_are_one_volume(tmp_path: Path) -> None:
    """An emptyDir is a volume named as in the Pod: a second Pod reads the first one's /tmp."""
    secret = f"left-by-{os.getpid()}"
    writer = _restricted_pod("writer", ["/bin/sh", "-c", f"echo {secret} > /tmp/mark; sleep 60"])
    reader = _restricted_pod("reader", ["/bin/sh", "-c", "cat /tmp/mark"])
    with _pod(writer, tmp_path) as first:
        _podman("exec", first, "/bin/sh", "-c", "until [ -s /tmp/mark ]; do sleep 0.1; done")
        with _pod(reader, tmp_path) as second:
            assert _output(second).strip() == secret


def test_long_annotations_are_refused(tmp_path: Path) -> None:
    """The unchanged export is refused: Podman 4.3.1 holds annotations to 63 characters."""
    objects = _exported(_config("restricted", ["true"]), _pod_name("annotations"))
    for container in objects[0]["spec"]["containers"]:
        container["imagePullPolicy"] = "Never"
    assert "value length exceeds Kubernetetes max 63" in _refusal(objects, tmp_path)


def test_argument_starting_with_a_line_break_is_refused(tmp_path: Path) -> None:
    """Podman 4.3.1 cannot parse a Pod whose argument starts with a line break (the raw probe)."""
    objects = _restricted_pod("linebreak", probe_command())
    assert "did not find expected '-' indicator" in _refusal(objects, tmp_path)

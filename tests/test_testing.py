"""secure_run.testing: the busybox test image, checked against a real engine."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

import docker
import docker.api.client
import docker.errors
import docker.models.images
import pytest

from secure_run import testing
from secure_run.testing import (
    IMAGE_LABEL,
    SUID_PROBE_PATH,
    TEST_LABELS,
    TestImageError,
    build_test_image,
    has_suid_probe,
)

NNP = ["no-new-privileges:true"]


def run(client: docker.DockerClient, image: str, command: list[str], **kwargs: Any) -> str:
    """Run ``command`` in a throwaway, network-less, labelled container; return stdout."""
    out = client.containers.run(
        image, command, network_mode="none", remove=True, labels=TEST_LABELS, **kwargs
    )
    assert isinstance(out, bytes)
    return out.decode()


def probe(client: docker.DockerClient, image: str, **kwargs: Any) -> dict[str, str]:
    """Run the setuid probe and parse its ``key=value`` and ``CapXxx:`` lines."""
    if not has_suid_probe(client, image):
        pytest.skip("the test image has no suid-probe (gcc was missing when it was built)")
    values: dict[str, str] = {}
    for line in run(client, image, [SUID_PROBE_PATH], **kwargs).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            values[key] = value.strip()
        else:
            for pair in line.split():
                key, value = pair.split("=", 1)
                values[key] = value
    return values


@pytest.mark.docker
def test_image_builds_without_pulling(
    docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forced rebuild pulls nothing: the SDK's pull is never called, the engine logs no pull."""

    def no_pull(*args: object, **kwargs: object) -> None:
        raise AssertionError("build_test_image tried to pull")

    monkeypatch.setattr(docker.models.images.ImageCollection, "pull", no_pull)
    monkeypatch.setattr(docker.api.client.APIClient, "pull", no_pull)
    tag = "secure-run-test/busybox:no-pull-check"
    since = int(time.time()) - 1
    try:
        assert build_test_image(docker_client, tag=tag, rebuild=True) == tag
        pulls = list(
            docker_client.events(
                since=since,
                until=int(time.time()) + 1,
                filters={"type": "image", "event": "pull"},
                decode=True,
            )
        )
        assert pulls == []
        assert docker_client.images.get(tag).labels[IMAGE_LABEL] == "1"
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag)


@pytest.mark.docker
def test_image_is_reused(docker_client: docker.DockerClient, test_image: str) -> None:
    """A second build of an up-to-date image returns at once and keeps the same image."""
    before = docker_client.images.get(test_image).id
    assert build_test_image(docker_client, tag=test_image) == test_image
    assert docker_client.images.get(test_image).id == before


@pytest.mark.docker
def test_id_as_uid_1000_is_app(docker_client: docker.DockerClient, test_image: str) -> None:
    """As uid 1000, ``id`` names the app user and group from the image's /etc files."""
    out = run(docker_client, test_image, ["id"], user="1000")
    assert "uid=1000(app)" in out
    assert "gid=1000(app)" in out


@pytest.mark.docker
def test_busybox_applets_work(docker_client: docker.DockerClient, test_image: str) -> None:
    """The busybox applet symlinks work: ``sh -c 'echo ok'`` prints ok."""
    assert run(docker_client, test_image, ["sh", "-c", "echo ok"]) == "ok\n"


@pytest.mark.docker
def test_suid_probe_is_setuid_root(docker_client: docker.DockerClient, test_image: str) -> None:
    """Inside the image, suid-probe is owned by root:root with mode 4755."""
    if not has_suid_probe(docker_client, test_image):
        pytest.skip("the test image has no suid-probe (gcc was missing when it was built)")
    out = run(docker_client, test_image, ["stat", "-c", "%a %u %g %A", SUID_PROBE_PATH])
    assert out.split() == ["4755", "0", "0", "-rwsr-xr-x"]


@pytest.mark.docker
def test_setuid_gains_root_without_no_new_privileges(
    docker_client: docker.DockerClient, test_image: str
) -> None:
    """With Docker's defaults, the setuid probe run by uid 1000 gets euid 0 and capabilities."""
    values = probe(docker_client, test_image, user="1000")
    assert values["ruid"] == "1000"
    assert values["euid"] == "0"
    assert int(values["CapEff"], 16) != 0


@pytest.mark.docker
def test_no_new_privileges_blocks_setuid(
    docker_client: docker.DockerClient, test_image: str
) -> None:
    """With no-new-privileges, the setuid probe run by uid 1000 stays euid 1000 with no caps."""
    values = probe(docker_client, test_image, user="1000", security_opt=NNP)
    assert values["ruid"] == "1000"
    assert values["euid"] == "1000"
    assert int(values["CapEff"], 16) == 0
    assert int(values["CapPrm"], 16) == 0


class _NoImages:
    """Stands in for ``client.images`` on an engine holding no image at all."""

    def get(self, name: str) -> None:
        raise docker.errors.ImageNotFound(name)

    def list(self, name: str | None = None) -> list[object]:
        return []


class _EmptyEngine:
    images = _NoImages()


def test_non_static_busybox_is_refused() -> None:
    """A busybox= that is not a static ELF binary is refused, naming busybox-static."""
    with pytest.raises(TestImageError, match="busybox-static"):
        build_test_image(_EmptyEngine(), busybox=sys.executable)  # type: ignore[arg-type]


def test_missing_busybox_without_pull_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """No static busybox and no local busybox image: a clear error, and nothing pulled."""
    monkeypatch.setattr(testing, "_BUSYBOX_CANDIDATES", ("/nonexistent/busybox",))
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(TestImageError, match=r"apt-get install busybox-static"):
        build_test_image(_EmptyEngine())  # type: ignore[arg-type]

"""The one home of sensitive host paths and engine sockets, shared by validation, audit, doctor."""

from __future__ import annotations

import pytest

from secure_run._config.hostpaths import exposes_socket, host_path, sensitive_root


@pytest.mark.parametrize(
    ("source", "target", "bind"),
    [
        ("/var/run/docker.sock", "/sock", True),
        ("/run/podman/podman.sock", "/x", True),
        ("/srv/other", "/run/containerd/containerd.sock", False),
        ("/var/run", "/hostrun", True),  # a folder above the socket
        ("/run/containerd", "/c", True),
        ("//var//run/", "/r", True),  # the daemon resolves // and trailing /
    ],
)
def test_socket_mounts_are_found_by_name_and_by_parent_folder(source, target, bind):
    """A mount naming any engine socket, or binding a folder above one, exposes it."""
    assert exposes_socket(source, target, bind=bind)


@pytest.mark.parametrize(
    ("source", "target", "bind"),
    [
        ("/srv/data", "/data", True),
        ("/var/run", "/hostrun", False),  # a volume's name, not a host folder
        ("/var/lib/app", "/app", True),
    ],
)
def test_other_mounts_do_not_expose_a_socket(source, target, bind):
    """A bind of an unrelated folder, or a volume named like a folder, is not a socket mount."""
    assert not exposes_socket(source, target, bind=bind)


def test_a_socket_the_daemon_really_listens_on_is_known_too():
    """The doctor's extra socket path counts, in both /run and /var/run spellings."""
    assert not exposes_socket("/srv/engine", "/e", bind=True)
    assert exposes_socket("/srv", "/e", bind=True, socket_paths=["/srv/engine/api"])
    assert exposes_socket("/var/run/custom", "/e", bind=True, socket_paths=["/run/custom/api"])


@pytest.mark.parametrize(
    ("path", "root"),
    [("/", "/"), ("/etc", "/etc"), ("/etc/ssl", "/etc"), ("/srv", None), ("/usrlocal", None)],
)
def test_sensitive_root_names_the_system_folder_a_path_lies_in(path, root):
    """/etc/ssl lies in /etc; /srv is below / but / counts only as itself."""
    assert sensitive_root(path) == root


def test_host_path_is_resolved_as_the_daemon_does():
    """Doubled and trailing slashes and dot segments are folded."""
    assert host_path("//etc/./ssl/") == "/etc/ssl"

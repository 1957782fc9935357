"""secure_run._engine.errors: each SDK, requests and socket error maps to its secure_run error.

The exceptions are built directly, as the SDK raises them; only the socket tests
touch the file system (a unix socket path that does not exist), never an engine.
"""

from __future__ import annotations

import gc
import warnings

import docker
import docker.errors
import pytest
import requests
import requests.exceptions
import urllib3.exceptions

from secure_run._engine.client import connect
from secure_run._engine.errors import base_url, translate, translated
from secure_run._errors import (
    ConfigError,
    DaemonUnavailable,
    ImageNotFound,
    LaunchError,
    RunTimeout,
    SecureRunError,
)

MISSING_SOCKET = "/tmp/secure-run-no-such-engine.sock"


def response(status: int, reason: str) -> requests.Response:
    """A bare HTTP response such as the engine sends with an error."""
    r = requests.Response()
    r.status_code = status
    r.reason = reason
    r.url = "http+docker://localhost/v1.41/containers/create"
    return r


def api_error(
    cls: type[docker.errors.APIError], status: int, explanation: str
) -> docker.errors.APIError:
    return cls("error", response=response(status, "Error"), explanation=explanation)


def raised(
    exc: BaseException,
    action: str = "create the container",
    *,
    image: str | None = None,
    client: docker.DockerClient | None = None,
) -> BaseException:
    """What leaves ``translated`` when its block raises ``exc``."""
    block = translated(action, image=image, client=client)
    with pytest.raises(BaseException) as excinfo, block:  # noqa: PT011
        raise exc
    return excinfo.value


SOCKET_GONE = requests.exceptions.ConnectionError(
    urllib3.exceptions.ProtocolError(
        "Connection aborted.", FileNotFoundError(2, "No such file or directory")
    )
)
REFUSED = requests.exceptions.ConnectionError(
    urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionRefusedError(111, "Connection refused")
    )
)
DENIED = requests.exceptions.ConnectionError(
    urllib3.exceptions.ProtocolError(
        "Connection aborted.", PermissionError(13, "Permission denied")
    )
)


def fetching_version_failed() -> docker.errors.DockerException:
    """What ``docker.from_env()`` raises when no engine answers: a cause chained."""
    try:
        try:
            raise SOCKET_GONE
        except requests.exceptions.ConnectionError as cause:
            raise docker.errors.DockerException(
                f"Error while fetching server API version: {cause}"
            ) from cause
    except docker.errors.DockerException as exc:
        return exc


MAPPINGS: list[tuple[str, BaseException, type[SecureRunError], str]] = [
    # id, raised by the SDK, expected type, a fragment of the message
    ("image-not-found", api_error(docker.errors.ImageNotFound, 404, "No such image: app:1"),
     ImageNotFound, "'app:1' is not on the engine"),
    ("container-not-found", api_error(docker.errors.NotFound, 404, "No such container: 4f2a"),
     LaunchError, "No such container: 4f2a (HTTP 404)"),
    ("conflict", api_error(docker.errors.APIError, 409,
                           'Conflict. The container name "/x" is already in use by container "1"'),
     LaunchError, "choose another name"),
    ("server-error", api_error(docker.errors.APIError, 500, "OCI runtime create failed"),
     LaunchError, "the engine refused to create the container: OCI runtime create failed"),
    ("too-many-cpus", api_error(docker.errors.APIError, 400,
                                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs"),
     LaunchError, "lower cpus"),
    ("socket-missing", SOCKET_GONE, DaemonUnavailable, "the socket does not exist"),
    ("refused", REFUSED, DaemonUnavailable, "connection refused"),
    ("permission", DENIED, DaemonUnavailable, "docker group"),
    ("connect-timeout", requests.exceptions.ConnectTimeout("timed out"), DaemonUnavailable,
     "the connection timed out"),
    ("read-timeout", requests.exceptions.ReadTimeout("read timed out"), RunTimeout,
     "did not answer in time while trying to create the container"),
    ("timeout", requests.exceptions.Timeout("timed out"), RunTimeout, "longer timeout"),
    ("urllib3-read-timeout", urllib3.exceptions.ReadTimeoutError(None, "/wait", "timed out"),  # type: ignore[arg-type]
     RunTimeout, "did not answer in time"),
    ("socket-timeout", TimeoutError("timed out"), RunTimeout, "did not answer in time"),
    ("urllib3-protocol", urllib3.exceptions.ProtocolError("Connection broken"),
     DaemonUnavailable, "no Docker Engine answers"),
    ("urllib3-new-connection", urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
     DaemonUnavailable, "no Docker Engine answers"),
    ("fetching-api-version", fetching_version_failed(), DaemonUnavailable,
     "the socket does not exist"),
    ("fetching-api-version-text-only",
     docker.errors.DockerException("Error while fetching server API version: boom"),
     DaemonUnavailable, "DOCKER_HOST"),
    ("other-sdk-error", docker.errors.TLSParameterError("bad TLS settings"), LaunchError,
     "the Docker SDK could not create the container: bad TLS settings"),
    ("socket-refused", ConnectionRefusedError(111, "Connection refused"), DaemonUnavailable,
     "connection refused"),
    ("socket-not-found", FileNotFoundError(2, "No such file or directory"), DaemonUnavailable,
     "the socket does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "expected", "fragment"), [m[1:] for m in MAPPINGS], ids=[m[0] for m in MAPPINGS]
)
def test_each_error_maps_to_its_secure_run_error_from_the_original(
    exc: BaseException, expected: type[SecureRunError], fragment: str
) -> None:
    """The mapped type is raised ``from`` the original, with a message that says what failed."""
    mapped = raised(exc)
    assert type(mapped) is expected
    assert mapped.__cause__ is exc
    assert fragment in str(mapped)


def test_an_unreachable_engine_says_where_and_how_to_fix() -> None:
    """DaemonUnavailable names the action, the address, dockerd and DOCKER_HOST."""
    client = docker.DockerClient(base_url=f"unix://{MISSING_SOCKET}", version="1.41")
    try:
        message = str(raised(SOCKET_GONE, "read the engine's facts", client=client))
    finally:
        client.close()
    assert f"no Docker Engine answers at unix://{MISSING_SOCKET}" in message
    assert "while trying to read the engine's facts" in message
    assert "Is dockerd running?" in message
    assert "DOCKER_HOST" in message


def test_an_unknown_address_is_described_as_docker_host() -> None:
    """Without a client, the message points at DOCKER_HOST and the default socket."""
    assert "the address DOCKER_HOST names (by default unix:///var/run/docker.sock)" in str(
        raised(REFUSED)
    )


def test_image_not_found_names_the_image_and_the_fixes() -> None:
    """ImageNotFound carries the image the caller named and says how to get it."""
    exc = api_error(docker.errors.ImageNotFound, 404, "No such image: app:1")
    mapped = raised(exc, image="registry.example/app:1")
    assert isinstance(mapped, ImageNotFound)
    assert mapped.image == "registry.example/app:1"
    for fix in ("docker build -t registry.example/app:1", "docker load", "'missing'"):
        assert fix in str(mapped)


@pytest.mark.parametrize(
    "explanation",
    [
        "manifest for app:2 not found: manifest unknown: manifest unknown",
        "pull access denied for app, repository does not exist",
        "reference app:2 not found",
    ],
)
def test_a_not_found_about_the_named_image_is_image_not_found(explanation: str) -> None:
    """A 404 whose text is about the image (manifest, repository, its name) is ImageNotFound."""
    mapped = raised(api_error(docker.errors.NotFound, 404, explanation), "pull", image="app:2")
    assert isinstance(mapped, ImageNotFound)
    assert mapped.image == "app:2"


def test_a_not_found_about_a_container_stays_a_launch_error_with_an_image() -> None:
    """Naming the image does not turn a missing container into ImageNotFound."""
    exc = api_error(docker.errors.NotFound, 404, "No such container: 4f2a")
    assert type(raised(exc, "start the container", image="app:2")) is LaunchError


@pytest.mark.parametrize(
    "error",
    [
        ConfigError.single("memory", 1, "too small", "give more"),
        DaemonUnavailable("down"),
        LaunchError("refused"),
    ],
)
def test_secure_run_errors_pass_through_untouched(error: SecureRunError) -> None:
    """A SecureRunError leaves the block as the same object, not wrapped again."""
    mapped = raised(error)
    assert mapped is error
    assert mapped.__cause__ is None


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        KeyboardInterrupt(),
        FileNotFoundError(2, "No such file or directory", "/proc/1/status"),
    ],
    ids=["value-error", "keyboard-interrupt", "file-with-a-name"],
)
def test_other_errors_pass_through_untouched(exc: BaseException) -> None:
    """Errors that are not the SDK's (nor a socket's) leave the block unchanged."""
    assert raised(exc) is exc
    assert translate(exc, "x") is exc


def test_a_failed_unix_socket_connection_leaks_no_socket() -> None:
    """The socket docker-py leaves open on a failed connect is closed; the path is named."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        client = docker.DockerClient(base_url=f"unix://{MISSING_SOCKET}", version="1.41")
        try:
            with pytest.raises(DaemonUnavailable) as excinfo, translated("ping the engine"):
                client.ping()
        finally:
            client.close()
        message = str(excinfo.value)
        del excinfo  # free the exception, its traceback and docker-py's frame
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert f"unix://{MISSING_SOCKET}" in message  # read from docker-py's frame


def test_connect_returns_the_given_client() -> None:
    """A client passed in is used as it is (and not contacted)."""
    client = docker.DockerClient(base_url=f"unix://{MISSING_SOCKET}", version="1.41")
    try:
        assert connect(client) is client
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"unix://{MISSING_SOCKET}", f"unix://{MISSING_SOCKET}"),
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("tcp://127.0.0.1:2375", "http://127.0.0.1:2375"),
    ],
)
def test_base_url_is_the_address_as_the_user_writes_it(url: str, expected: str) -> None:
    """A unix socket is shown as unix://<path>, not docker-py's http+docker://localhost."""
    client = docker.DockerClient(base_url=url, version="1.41")
    try:
        assert base_url(client) == expected
    finally:
        client.close()

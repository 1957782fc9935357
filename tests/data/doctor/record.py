"""Re-record the doctor fixtures from the real engine: ``python tests/data/doctor/record.py``.

Saves what :func:`secure_run._audit.doctor.observe` reads from the engine:

* ``info.json``: ``client.info()`` (proxy settings blanked);
* ``version.json``: ``client.version(api_version=False)``;
* ``bridge.json``: ``client.api.inspect_network("bridge")`` (container list emptied);
* ``socket_mounted.json``: ``client.api.inspect_container(id)`` of a running test-image
  container (``sleep 60``, no network, the test labels) with ``/var/run/docker.sock``
  bind-mounted read-only, which is always removed.

The host files the doctor reads (``/proc/<dockerd>/cmdline``, ``daemon.json``,
``/etc/group``, ``/etc/passwd``) are written by the unit tests into temporary trees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker

from secure_run.testing import TEST_LABELS, build_test_image

HERE = Path(__file__).parent
PROXY_KEYS = ("HttpProxy", "HttpsProxy", "NoProxy")


def _save(name: str, data: Any) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def main() -> None:
    client = docker.from_env()
    try:
        info = client.info()
        info.update(dict.fromkeys(PROXY_KEYS, ""))
        _save("info.json", info)
        _save("version.json", client.version(api_version=False))
        bridge = client.api.inspect_network("bridge")
        bridge["Containers"] = {}
        _save("bridge.json", bridge)
        image = build_test_image(client)
        container = client.containers.run(
            image,
            ["sleep", "60"],
            name="secure-run-doctor-record",
            network_mode="none",
            labels=TEST_LABELS,
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}},
            detach=True,
        )
        try:
            _save("socket_mounted.json", client.api.inspect_container(container.id))
        finally:
            container.remove(force=True)
    finally:
        client.close()
    print(f"recorded {HERE}")


if __name__ == "__main__":
    main()

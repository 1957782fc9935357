"""Re-record the audit fixtures from the real engine: ``python tests/data/audit/record.py``.

Starts two containers on the test image, both ``sleep 60`` with no network and the
test labels, and saves ``client.api.inspect_container(id)`` of each:

* ``restricted.json``: the restricted preset (``cfg.to_docker_kwargs()``);
* ``default.json``: a plain ``docker run`` with Docker's defaults (root, the default
  capabilities, a writable root, no limits).

It also saves the engine-level inputs the audit reads: ``info.json`` (the fields of
``client.api.info()`` it uses) and ``networks.json`` (``client.api.networks()`` for the
three built-in networks). Both containers are always removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker

import secure_run as sr
from secure_run.testing import TEST_LABELS, build_test_image

HERE = Path(__file__).parent
INFO_KEYS = ("Swarm", "SecurityOptions", "ServerVersion", "CgroupVersion", "OSType")


def restricted(image: str) -> sr.RunConfig:
    """The config ``restricted.json`` was recorded with."""
    return sr.builder(image).command(["sleep", "60"]).labels(TEST_LABELS).build()


def _save(name: str, data: Any) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def main() -> None:
    client = docker.from_env()
    image = build_test_image(client)
    made = []
    try:
        made.append(client.containers.run(**restricted(image).to_docker_kwargs(), detach=True))
        made.append(
            client.containers.run(
                image, ["sleep", "60"], network_mode="none", labels=TEST_LABELS, detach=True
            )
        )
        for name, container in zip(("restricted.json", "default.json"), made):
            _save(name, client.api.inspect_container(container.id))
        info = client.api.info()
        _save("info.json", {key: info.get(key) for key in INFO_KEYS})
        builtin = [n for n in client.api.networks() if n["Name"] in ("bridge", "host", "none")]
        _save("networks.json", sorted(builtin, key=lambda n: n["Name"]))
        print(f"recorded {', '.join(p.name for p in sorted(HERE.glob('*.json')))}")
    finally:
        for container in made:
            container.remove(force=True)
        client.close()


if __name__ == "__main__":
    main()

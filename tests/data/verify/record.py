"""Re-record the verify fixtures from the real engine: ``python tests/data/verify/record.py``.

Launches the restricted preset on the test image (``sleep 30``), then saves, under
``restricted_v1/`` (or ``_v2`` on a cgroup v2 host):

* ``inspect.json``: ``client.api.inspect_container(id)``;
* ``proc/<pid>/{status,cgroup,limits,mountinfo,uid_map,gid_map}``: the container's
  init process as the host sees it;
* ``cgroup/<controller>/<path>/<file>`` (v1) or ``cgroup/<path>/<file>`` (v2): the
  limit files of the one kernel reader's table (``secure_run._proof.kernel``);
* ``exec_probe.txt``: the output of the exec probe run in the same container.

The container is always removed. Needs root (or read access to /proc/<pid>).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import docker

import secure_run as sr
from secure_run._proof.host import cgroup_file_paths
from secure_run._proof.kernel import CGROUP_ROOT
from secure_run._proof.probe import probe_command
from secure_run.testing import TEST_LABELS, build_test_image

HERE = Path(__file__).parent
PROC_FILES = ("status", "cgroup", "limits", "mountinfo", "uid_map", "gid_map")


def config(image: str) -> sr.RunConfig:
    """The config the fixtures were recorded with (the unit tests build the same)."""
    return sr.builder(image).command(["sleep", "30"]).labels(TEST_LABELS).build()


def main() -> None:
    client = docker.from_env()
    image = build_test_image(client)
    container = client.containers.run(**config(image).to_docker_kwargs(), detach=True)
    try:
        info = client.api.inspect_container(container.id)
        pid = info["State"]["Pid"]
        cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        version, paths = cgroup_file_paths(cgroup)  # the files verify() reads, and where
        out = HERE / f"restricted_v{version}"
        shutil.rmtree(out, ignore_errors=True)
        (out / "proc" / str(pid)).mkdir(parents=True)
        (out / "inspect.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
        for name in PROC_FILES:
            (out / "proc" / str(pid) / name).write_text(Path(f"/proc/{pid}/{name}").read_text())
        for candidates in paths.values():
            source = next((Path(p) for p in candidates if Path(p).exists()), None)
            if source is not None:
                target = out / "cgroup" / source.relative_to(CGROUP_ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(source.read_text())
        exec_id = client.api.exec_create(container.id, probe_command(), user="")["Id"]
        (out / "exec_probe.txt").write_bytes(client.api.exec_start(exec_id))
        print(f"recorded {out.relative_to(HERE.parent.parent.parent)} (pid {pid})")
    finally:
        container.remove(force=True)
        client.close()


if __name__ == "__main__":
    os.umask(0o022)
    main()

"""Values from outside (environment, command, file paths) arrive literally, never as shell.

Every value carries shell metacharacters that would create a marker file if any
shell, on the host or in the container, interpreted them. secure_run hands them to
the engine's API as data (an argv list, an env list, a structured mount), so they
come out inside exactly as they went in and no marker appears.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import docker

import secure_run as sr

from .support import Battery, preset_builder

#: Prints its inputs between separators; the values come as $1, $2 and the environment,
#: which a shell never re-parses.
SHOW_INPUTS = r"""
ls -1 /data; echo "--"
cat -- "$1"; echo "--"
printf '%s\n' "$SR_INPUT"; echo "--"
printf '%s\n' "$2"
"""


def _nasty(marker: str) -> str:
    """A value that creates ``marker`` in five ways if a shell ever reads it as code."""
    return f"$(touch {marker}); `touch {marker}` | touch {marker} && touch {marker} ' \" \\ *"


def test_environment_command_and_paths_arrive_literally(
    docker_client: docker.DockerClient,
    attack_image: str,
    preset: str,
    battery: Battery,
    tmp_path: Path,
) -> None:
    """Env values, argv and a bind-mounted file named with metacharacters arrive verbatim.

    Why it fails: no shell is involved on the host; the command is an argv list and the
    environment and the mount are structured fields of the engine's API, so nothing
    is parsed, expanded or split on the way in.
    """
    tag = f"secure-run-pwned-{uuid.uuid4().hex[:8]}"
    absolute = f"/tmp/{tag}"  # what a shell would create; checked below
    value = _nasty(absolute)
    file_name = _nasty(tag)  # no slash can be in a file name: a relative marker
    host_dir = tmp_path / f"dir {_nasty(tag)}"
    host_dir.mkdir()
    (host_dir / file_name).write_text("payload\n")
    cfg = (
        preset_builder(preset, attack_image)
        .env({"SR_INPUT": value})
        .mount(str(host_dir), "/data")
        .command(["sh", "-c", SHOW_INPUTS, "sh", f"/data/{file_name}", value])
        .build()
    )
    result = sr.run(cfg, client=docker_client, timeout=60)
    parts = result.stdout.decode().split("--\n")
    places = [Path(absolute), Path(os.getcwd(), tag), tmp_path / tag, host_dir / tag]
    created = [str(p) for p in places if p.exists()]

    battery.record(
        "shell-injection",
        preset,
        control="argv, env and mounts passed as API data; no shell on the host",
        markers_created=created,
        arrived_literally=parts == [f"{file_name}\n", "payload\n", f"{value}\n", f"{value}\n"],
    )
    assert result.exit_code == 0, result.stderr.decode(errors="replace")
    assert parts[0] == f"{file_name}\n", "the file name changed on the way in"
    assert parts[1] == "payload\n", "the file could not be read by its literal name"
    assert parts[2] == f"{value}\n", "the environment value changed on the way in"
    assert parts[3] == f"{value}\n", "the command argument changed on the way in"
    assert created == [], f"a shell interpreted an input and created {created}"

"""Files and sessions: moving files, exec round trips, a 5-step session, asyncio, epicbox.

Every figure is measured on the default engine with the test image, each way against
a raw docker-py baseline doing the same work, interleaved round by round in a
rotating order; ratios are taken per round (ours over the baseline's time) and their
median reported.

- **files**: ``box.put`` / ``box.get`` / ``box.get_tree`` on a launched box (through its
  workspace keeper) against docker-py ``put_archive`` / ``get_archive`` on a plain
  running container of the same restricted settings (read-only root, user 65534)
  with the same kind of tmpfs volume mounted at ``/workspace``. The baseline builds
  its tar with ``tarfile`` (files owned by 65534) and, for a directory, extracts with
  ``tarfile``'s ``data`` filter. docker-py cannot write a ``HostConfig.Tmpfs`` of a
  read-only-root container at all (the engine answers "container rootfs is marked
  read-only"), so a volume is what works for both.
- **exec**: ``box.exec(["true"])``, with and without ``timeout=5``, against docker-py
  ``container.exec_run(["true"])`` on the same container.
- **session**: launch with a workspace, put a file, 5 execs each reading the
  previous step's file and writing the next, get the last, close; against 5
  separate ``sr.run(files=..., collect=...)`` calls doing the same steps.
- **aio**: ``benchmarks/aio_throughput.py`` (N concurrent ``sra.run`` vs ``run_many``).
- **epicbox**: ``epicbox.run`` with a file, if epicbox imports, against ``sr.run``
  with the same file on the same image.

Run alone: ``python3 benchmarks/sessions.py [--save]``; ``--save`` merges the figures
into ``benchmarks/results/results.json`` as its ``sessions`` section (the others are
kept) and rewrites ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import aio_throughput
import common
import docker
import docker.errors
from docker.models.containers import ContainerCollection

import secure_run as sr

WORKSPACE = "/workspace"
ONE_SIZE = 64 * 1024
MANY = 100
MANY_SIZE = 1024
STEPS = 5
NOBODY = 65534
Way = Callable[[], object]


def _ws_builder(image: str) -> sr.RunBuilder:
    return sr.builder(image).workspace(WORKSPACE, "64m").labels(common.BENCH_LABELS)


def _interleaved(ways: dict[str, Way], rounds: int, label: str) -> dict[str, list[float]]:
    """Seconds of each way per round, in an order rotated by one each round."""
    names = list(ways)
    for name in names:  # warm-up: connections, caches, the first exec of a container
        ways[name]()
    seconds: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds[name].append(common.timed(ways[name]))
    shown = ", ".join(f"{n} {common.summary(s)['median'] * 1000:.1f} ms"
                      for n, s in seconds.items())  # fmt: skip
    print(f"  {label}: {shown}", flush=True)
    return seconds


def _compared(seconds: dict[str, list[float]], ours: str, base: str) -> dict[str, Any]:
    """Both ways' summaries and the per-round ratio ours / base."""
    return {
        "ours_s": common.summary(seconds[ours]),
        "base_s": common.summary(seconds[base]),
        "ratio": common.summary([o / b for o, b in zip(seconds[ours], seconds[base])]),
    }


# -- the raw baseline: a plain running container with a tmpfs volume ----------


@contextlib.contextmanager
def raw_container(client: docker.DockerClient, image: str) -> Iterator[Any]:
    """A running restricted ``sleep`` container with a tmpfs volume at /workspace."""
    cfg = _ws_builder(image).command(["sleep", "600"]).build()
    kwargs = cfg.to_docker_kwargs()
    kwargs["tmpfs"] = {k: v for k, v in kwargs["tmpfs"].items() if k != WORKSPACE}
    name = "secure-run-bench-" + uuid.uuid4().hex[:12]
    opts = f"size=64m,uid={NOBODY},gid={NOBODY},mode=0700"
    driver_opts = {"type": "tmpfs", "device": "tmpfs", "o": opts}
    client.api.create_volume(name, driver="local", driver_opts=driver_opts,
                             labels=common.BENCH_LABELS)  # fmt: skip
    try:
        kwargs["volumes"] = {name: {"bind": WORKSPACE, "mode": "rw"}}
        container = client.containers.run(**kwargs, detach=True)
        try:
            yield container
        finally:
            container.remove(force=True)
    finally:
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_volume(name, force=True)


def raw_tar(files: dict[str, bytes]) -> bytes:
    """The tar a docker-py user would build: regular files (and their directories), 65534's."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = sorted({n.rsplit("/", 1)[0] for n in files if "/" in n})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            info.mtime, info.uid, info.gid = now, NOBODY, NOBODY
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.mtime, info.uid, info.gid = now, NOBODY, NOBODY
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def raw_get(client: docker.DockerClient, cid: str, name: str) -> bytes:
    stream, _ = client.api.get_archive(cid, f"{WORKSPACE}/{name}")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.next())  # type: ignore[arg-type]
        assert member is not None
        return member.read()


def raw_get_tree(client: docker.DockerClient, cid: str, name: str, into: Path) -> None:
    stream, _ = client.api.get_archive(cid, f"{WORKSPACE}/{name}")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - a Python without tarfile filters
            tar.extractall(into)  # noqa: S202 - the benchmark's own archive


# -- files and exec -----------------------------------------------------------


def files_and_exec(client: docker.DockerClient, image: str, rounds: int) -> dict[str, Any]:
    one = {"one.bin": os.urandom(ONE_SIZE)}
    many = {f"many/f{i:03d}.txt": os.urandom(MANY_SIZE) for i in range(MANY)}
    box_cfg = _ws_builder(image).command(["sleep", "600"]).build()
    scratch = Path(tempfile.mkdtemp(prefix="sr-bench-"))
    count = iter(range(10**9))

    def fresh() -> Path:
        into = scratch / str(next(count))
        into.mkdir()
        return into

    try:
        with sr.launch(box_cfg, client=client) as box, raw_container(client, image) as raw:
            cid = raw.id
            same = client.containers.get(box.id)
            out: dict[str, Any] = {}
            cases: list[tuple[str, dict[str, Way]]] = [
                ("put 1 file (64 KiB)", {"ours": lambda: box.put(one),
                 "base": lambda: client.api.put_archive(cid, WORKSPACE, raw_tar(one))}),
                (f"put {MANY} files (1 KiB each)", {"ours": lambda: box.put(many),
                 "base": lambda: client.api.put_archive(cid, WORKSPACE, raw_tar(many))}),
                ("get 1 file (64 KiB)", {"ours": lambda: box.get("one.bin"),
                 "base": lambda: raw_get(client, cid, "one.bin")}),
                (f"get {MANY} files (1 KiB each), as a tree", {
                 "ours": lambda: box.get_tree("many/", into=fresh()),
                 "base": lambda: raw_get_tree(client, cid, "many", fresh())}),
            ]  # fmt: skip
            for label, ways in cases:
                out[label] = _compared(_interleaved(ways, rounds, label), "ours", "base")
            assert box.get("one.bin") == raw_get(client, cid, "one.bin") == one["one.bin"]
            execs = _interleaved({"exec": lambda: box.exec(["true"]),
                                  "exec timeout=5": lambda: box.exec(["true"], timeout=5),
                                  "exec_run": lambda: same.exec_run(["true"])},
                                 rounds, "exec")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "rounds": rounds,
        "files": out,
        "exec": {
            "box.exec": _compared(execs, "exec", "exec_run"),
            "box.exec, timeout=5": _compared(execs, "exec timeout=5", "exec_run"),
        },
    }


# -- a 5-step session against 5 runs ------------------------------------------


def _step(i: int) -> str:
    return f"cat step{i - 1}.txt > step{i}.txt && echo {i} >> step{i}.txt"


SEED = b"seed\n"
EXPECTED = SEED + b"".join(f"{i}\n".encode() for i in range(1, STEPS + 1))


def one_session(client: docker.DockerClient, image: str) -> None:
    cfg = _ws_builder(image).command(["sleep", "600"]).build()
    with sr.launch(cfg, client=client) as box:
        box.put("step0.txt", SEED)
        for i in range(1, STEPS + 1):
            assert box.exec(["sh", "-c", _step(i)], timeout=10).exit_code == 0
        assert box.get(f"step{STEPS}.txt") == EXPECTED


def separate_runs(client: docker.DockerClient, image: str) -> None:
    data = SEED
    for i in range(1, STEPS + 1):
        cfg = _ws_builder(image).command(["sh", "-c", _step(i)]).build()
        res = sr.run(cfg, files={f"step{i - 1}.txt": data}, collect=[f"step{i}.txt"],
                     timeout=10, client=client)  # fmt: skip
        assert res.exit_code == 0, res
        data = res.files[f"step{i}.txt"]
    assert data == EXPECTED


def session(client: docker.DockerClient, image: str, rounds: int) -> dict[str, Any]:
    seconds = _interleaved({"session": lambda: one_session(client, image),
                            "runs": lambda: separate_runs(client, image)},
                           rounds, "5-step session")  # fmt: skip
    return {"steps": STEPS, "rounds": rounds, **_compared(seconds, "session", "runs")}


# -- epicbox, for context -----------------------------------------------------


EPICBOX_SCRIPT = b"echo hello from main.sh\n"


class _LabelledContainers(ContainerCollection):
    def create(self, image: str, command: Any = None, **kwargs: Any) -> Any:
        kwargs["labels"] = {**common.BENCH_LABELS, **(kwargs.get("labels") or {})}
        return super().create(image, command, **kwargs)


class _LabelledClient(docker.DockerClient):
    """docker-py's client whose containers carry the benchmark's labels."""

    @property
    def containers(self) -> ContainerCollection:  # type: ignore[override]
        return _LabelledContainers(client=self)


def _epicbox(image: str) -> tuple[Any, str | None]:
    """epicbox, configured for the test image, and the shim it needed (or None)."""
    import types

    import epicbox  # type: ignore[import-not-found]
    import epicbox.utils  # type: ignore[import-not-found]
    from urllib3.util.retry import Retry

    epicbox.configure(profiles=[epicbox.Profile("bench", image, user=f"{NOBODY}:{NOBODY}")])
    epicbox.utils.docker = types.SimpleNamespace(DockerClient=_LabelledClient)
    shim = None
    try:
        Retry(method_whitelist=False)
    except TypeError as exc:  # epicbox 1.1.0 predates urllib3 2, which renamed the argument

        class _Retry(Retry):
            def __init__(self, *args: Any, method_whitelist: Any = None, **kw: Any) -> None:
                super().__init__(*args, allowed_methods=method_whitelist, **kw)

        epicbox.utils.Retry = _Retry
        shim = f"{type(exc).__name__}: {exc}"
    return epicbox, shim


def epicbox_row(client: docker.DockerClient, image: str, rounds: int) -> dict[str, Any]:
    try:
        from importlib.metadata import version

        epicbox, shim = _epicbox(image)
        found = version("epicbox")
    except ImportError as exc:
        return {"error": f"epicbox does not import here ({type(exc).__name__}: {exc})"}
    cfg = _ws_builder(image).command(["sh", "main.sh"]).build()
    inline = common.restricted(image, ["sh", "-c", EPICBOX_SCRIPT.decode()])

    def ours() -> None:
        res = sr.run(cfg, files={"main.sh": EPICBOX_SCRIPT}, timeout=10, client=client)
        assert res.stdout == b"hello from main.sh\n", res

    def no_files() -> None:
        res = sr.run(inline, timeout=10, client=client)
        assert res.stdout == b"hello from main.sh\n", res

    def theirs() -> None:
        res = epicbox.run("bench", "sh main.sh",
                          files=[{"name": "main.sh", "content": EPICBOX_SCRIPT}])  # fmt: skip
        assert res["stdout"] == b"hello from main.sh\n", res

    seconds = _interleaved({"sr.run": ours, "epicbox": theirs, "sr.run, no files": no_files},
                           rounds, "epicbox")  # fmt: skip
    return {"version": found, "shim": shim, "rounds": rounds,
            **_compared(seconds, "sr.run", "epicbox"),
            "no_files_s": common.summary(seconds["sr.run, no files"])}  # fmt: skip


# -- the section ----------------------------------------------------------------


def _part(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One part's figures, or its error: one failure leaves the others."""
    print(f"  -- {name}", flush=True)
    try:
        return fn()
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def measure(client: docker.DockerClient, image: str) -> dict[str, Any]:
    """Every part of the section, sized for about two to three minutes (seconds with QUICK)."""
    quick = common.QUICK
    started = time.monotonic()
    res: dict[str, Any] = {"date": common.machine(client)["date"],
                           "load_before": common.load_average()}  # fmt: skip
    rounds = 5 if quick else 30
    res["files"] = _part("files and exec", lambda: files_and_exec(client, image, rounds))
    res["session"] = _part("session", lambda: session(client, image, 1 if quick else 5))
    aio = (8, 1) if quick else (24, 3)
    res["aio"] = _part("aio", lambda: aio_throughput.measure(client, image, *aio))
    res["epicbox"] = _part("epicbox", lambda: epicbox_row(client, image, 2 if quick else 10))
    res["load_after"] = common.load_average()
    res["run_s"] = time.monotonic() - started
    return res


def save(section: dict[str, Any]) -> None:
    """Merge the section into results.json (other sections untouched) and rewrite the page."""
    import render

    saved = json.loads(common.RESULTS.read_text(encoding="utf-8"))
    saved["sessions"] = section
    common.RESULTS.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    common.DOC.write_text(render.render(saved), encoding="utf-8")
    print(f"wrote {common.RESULTS.relative_to(common.ROOT)}, {common.DOC.relative_to(common.ROOT)}")


def remove_volumes(client: docker.DockerClient) -> int:
    """Remove the volumes carrying the bench label (a raw baseline's, if an error left it)."""
    found = client.api.volumes(filters={"label": "secure-run.bench=1"}).get("Volumes") or []
    for v in found:
        with contextlib.suppress(docker.errors.APIError):  # still in use: reported, not removed
            client.api.remove_volume(v["Name"], force=True)
    return len(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--save",
        action="store_true",
        help="merge into results.json (its sessions section); rewrite the page",
    )
    args = parser.parse_args(argv)
    client = docker.from_env()
    try:
        res = measure(client, common.image(client))
    finally:
        left = common.remove_leftovers(client)
        left_volumes = remove_volumes(client)
        client.close()
    res["leftover_containers"], res["leftover_volumes"] = left, left_volumes
    print(json.dumps(res, indent=1))
    if args.save and not common.QUICK:
        save(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An asyncio web handler that runs each posted script in a sandbox of its own.

Usage: python3 examples/async_handler.py [IMAGE]

A tiny HTTP/1.0 server (the standard library's ``asyncio.start_server``, on
127.0.0.1 at a free port) takes ``POST /run`` with a shell script as the body, runs
it with ``await sra.run(cfg, files={"main.sh": body}, collect=["out.txt"])`` in a
container of the ``sandbox`` preset with a workspace, and answers with JSON: the
exit code, the output, and the ``out.txt`` the script wrote. ``secure_run.aio``
runs the engine calls in threads, so the event loop keeps serving while sandboxes
run; the requests below run at the same time.

Then a client posts a script that would run for a minute and hangs up after two
seconds. The handler notices the disconnect and cancels the task awaiting
``sra.run``: the container and its workspace volume are removed before the
cancellation returns, and the script counts what is left of this server's runs
(nothing). Then the server shuts down.

The script exits 0 when every answer is the expected one and nothing is left, 1
otherwise. The image comes from the first argument, else ``$SECURE_RUN_IMAGE``,
else ``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import docker

import secure_run as sr
import secure_run.aio as sra

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
RUN_LABEL = "secure-run.example-run"  # this server's runs, to count what they leave
TIMEOUT = 3.0  # seconds a posted script may run
MAX_BODY = 64 * 1024  # bytes of script accepted

REQUESTS = (  # (script, what out.txt should hold)
    ("echo $((6 * 7)) > out.txt", "42\n"),
    ("id -un > out.txt; echo wrote out.txt", "nobody\n"),
    ("wc -c < main.sh > out.txt", "25\n"),  # its own size: the script is a file in the workspace
)
HOSTILE = "ln -s /etc/passwd out.txt"  # the answer: refused, never followed
SPINNER = "while :; do :; done"  # killed at the timeout
HANG_UP = "echo started; sleep 60"  # its client leaves after two seconds


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


class ScriptService:
    """The handler: one sandbox per request, cancelled if its client goes away."""

    def __init__(self, cfg: sr.RunConfig) -> None:
        self.cfg = cfg
        self.cancelled = asyncio.Event()  # set once a cancelled run has been cleaned up

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            body = await read_request(reader)
            if body is None:
                await respond(writer, 400, {"error": "send POST /run with a Content-Length"})
                return
            await self.run_script(body, reader, writer)
        finally:
            writer.close()

    async def run_script(
        self, body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        started = time.monotonic()
        run = asyncio.ensure_future(
            sra.run(self.cfg, files={"main.sh": body}, collect=["out.txt"], timeout=TIMEOUT)
        )
        hung_up = asyncio.ensure_future(reader.read(1))  # b"" once the client has gone
        await asyncio.wait({run, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():  # the client left first: nobody wants this run any more
            run.cancel()
            await asyncio.wait({run})  # returns once the container and volume are gone
            print(f"server: client hung up after {time.monotonic() - started:.1f} s; "
                  f"run cancelled: {run.cancelled()}")  # fmt: skip
            self.cancelled.set()
            return
        hung_up.cancel()
        try:
            result = run.result()
        except (sr.UnsafeArchive, sr.OutputTooLarge) as exc:  # the run is over; its file is not
            await respond(writer, 422, {"error": type(exc).__name__, "detail": str(exc)})
            return
        except sr.SecureRunError as exc:  # e.g. the engine went away: the sandbox is gone too
            await respond(writer, 500, {"error": type(exc).__name__, "detail": str(exc)})
            return
        await respond(writer, 200, {
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "stdout": result.stdout.decode(errors="replace"),
            "out.txt": result.files.get("out.txt", b"").decode(errors="replace"),
        })  # fmt: skip


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The body of a ``POST /run``, or None for anything else."""
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *headers = head.decode("latin-1").split("\r\n")
    if not request_line.startswith("POST /run "):
        return None
    fields = dict(h.split(":", 1) for h in headers if ":" in h)
    length = int({k.lower(): v for k, v in fields.items()}.get("content-length", -1))
    if not 0 <= length <= MAX_BODY:
        return None
    return await reader.readexactly(length)


async def respond(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    head = f"HTTP/1.0 {status} {'OK' if status == 200 else 'Error'}\r\n"
    writer.write(f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)  # fmt: skip
    await writer.drain()


async def post(port: int, script: str, *, hang_up_after: float | None = None) -> Any:
    """A client: POST the script; return the JSON answer (None if it hung up first)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = script.encode()
    writer.write(b"POST /run HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    if hang_up_after is not None:
        await asyncio.sleep(hang_up_after)
        writer.close()
        return None
    answer = await reader.read()  # HTTP/1.0: the server closes when it is done
    writer.close()
    status, _, body = answer.partition(b"\r\n\r\n")
    return {"status": int(status.split()[1]), **json.loads(body)}


def left_behind(run: str) -> tuple[int, int]:
    """Containers and volumes of this server's runs still on the engine."""
    client = docker.from_env()
    try:
        only: dict[str, str | list[str] | bool] = {"label": f"{RUN_LABEL}={run}"}
        containers = client.containers.list(all=True, filters=only)
        return len(containers), len(client.volumes.list(filters=only))
    finally:
        client.close()


async def main() -> int:
    run = uuid.uuid4().hex[:12]
    cfg = (
        sr.preset("sandbox", image_name())
        .workspace("/workspace", size="16m")  # main.sh goes in, out.txt comes out
        .command(["sh", "main.sh"])
        .labels({**EXAMPLE_LABELS, RUN_LABEL: run})
        .build()
    )
    service = ScriptService(cfg)
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"serving on 127.0.0.1:{port}")
    started = time.monotonic()
    scripts = [script for script, _ in REQUESTS] + [HOSTILE, SPINNER]
    answers = await asyncio.gather(*(post(port, script) for script in scripts))
    print(f"{len(scripts)} requests at once, answered in {time.monotonic() - started:.1f} s:")
    for script, answer in zip(scripts, answers):
        shown = {k: v for k, v in answer.items() if k != "detail"}
        print(f"  {script!r} -> {json.dumps(shown)}")
        if "detail" in answer:
            print(f"      {answer['detail'].splitlines()[-1].strip()}")
    ok = [a.get("out.txt") for a in answers[: len(REQUESTS)]] == [o for _, o in REQUESTS]
    ok = ok and answers[-2]["status"] == 422 and answers[-1]["timed_out"]
    await post(port, HANG_UP, hang_up_after=2.0)
    await asyncio.wait_for(service.cancelled.wait(), timeout=60)
    containers, volumes = await asyncio.get_running_loop().run_in_executor(None, left_behind, run)
    print(f"left behind by this server's runs: {containers} containers, {volumes} volumes")
    server.close()
    await server.wait_closed()
    print("server shut down")
    return 0 if ok and containers == volumes == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

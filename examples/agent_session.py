"""An LLM agent's tool loop over one sandbox: files and commands pass between its steps.

Usage: python3 examples/agent_session.py [IMAGE]

An agent works in steps: the model asks for a tool call, the program runs it and
hands the result back as the next observation. Here the "model" is a script of
tool calls written in advance (no LLM is needed to run this), and every call runs
in ONE container of the ``sandbox`` preset, launched with ``sr.launch()`` and kept
for the whole session, with a 16 MiB workspace at ``/workspace``:

- ``write_file`` puts a file into the workspace (``box.put``);
- ``run`` runs a shell command there (``box.exec_stream``), printing its output
  chunk by chunk as it arrives, with a deadline of its own;
- ``list_files`` runs ``ls`` (``box.exec``, output capped);
- ``read_file`` reads a file the commands wrote (``box.get``, size capped);
- ``download`` copies a directory out to the host (``box.get_tree``), refusing
  links, devices and names that point outside.

One step hangs: at its timeout the command, and everything it started, is killed,
the observation says so, and the session goes on; the next step's ``ps`` shows
nothing of it is left. The container and its workspace are removed when the
``with`` block ends.

The script exits 0 when the session did all of that, 1 otherwise. The image comes
from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
MAX_OBSERVATION = 4000  # bytes of a tool's output handed back to the model

SALES = b"region,amount\nnorth,120\nsouth,80\nnorth,30\neast,55\n"
SUMMARIZE = b"""awk -F, 'NR > 1 { total[$1] += $2 }
             END { for (r in total) print r, total[r] }' "$1" | sort
"""
PROGRESS = "for i in 1 2 3; do echo checking $i/3; sleep 0.3; done"
HANG = "echo fetching more data; exec sleep 600"  # never ends by itself
PACK = "mkdir -p results && cp report.txt results/ && wc -l < data/sales.csv > results/rows.txt"


class ToolCall(NamedTuple):
    tool: str
    args: dict[str, Any]


#: What the "model" asks for, one call per step (a real agent would ask an LLM).
SCRIPT = (
    ToolCall("write_file", {"path": "data/sales.csv", "content": SALES}),
    ToolCall("write_file", {"path": "summarize.sh", "content": SUMMARIZE}),
    ToolCall("run", {"command": "sh summarize.sh data/sales.csv > report.txt", "timeout": 10}),
    ToolCall("read_file", {"path": "report.txt"}),
    ToolCall("run", {"command": PROGRESS, "timeout": 10}),
    ToolCall("run", {"command": HANG, "timeout": 2}),
    ToolCall("run", {"command": "ps -o pid,args", "timeout": 5}),
    ToolCall("run", {"command": PACK, "timeout": 5}),
    ToolCall("list_files", {}),
    ToolCall("download", {"path": "results/"}),
)


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


class ScriptedAgent:
    """Stands in for the model: hands out the next tool call, keeps the transcript."""

    def __init__(self, script: tuple[ToolCall, ...]) -> None:
        self.pending = list(script)
        self.transcript: list[tuple[ToolCall, str]] = []

    def next_call(self) -> ToolCall | None:
        return self.pending.pop(0) if self.pending else None

    def observe(self, call: ToolCall, observation: str) -> None:
        self.transcript.append((call, observation))


def show_chunk(started: float, stream: str, chunk: bytes) -> None:
    """The streaming callback: print each chunk the moment it arrives."""
    for line in chunk.decode(errors="replace").splitlines():
        print(f"    [{time.monotonic() - started:5.2f} s] {stream}| {line}", flush=True)


class Tools:
    """The tools the agent may call, each acting on the one sandbox session."""

    def __init__(self, box: sr.SecureContainer, downloads: Path) -> None:
        self.box = box
        self.downloads = downloads

    def write_file(self, path: str, content: bytes) -> str:
        self.box.put(path, content)
        return f"wrote {len(content)} bytes to {path}"

    def run(self, command: str, timeout: float) -> str:
        started = time.monotonic()
        kept = b""
        with self.box.exec_stream(["sh", "-c", command], timeout=timeout) as stream:
            for name, chunk in stream:
                show_chunk(started, name, chunk)
                kept = (kept + chunk)[:MAX_OBSERVATION]
        result = stream.result
        assert result is not None  # set once the stream has ended
        if result.timed_out:
            return f"timed out after {timeout:g} s: the command and all it started were killed"
        return f"exit {result.exit_code}\n{kept.decode(errors='replace')}"

    def list_files(self) -> str:
        result = self.box.exec(["ls", "-R"], timeout=5, max_output=MAX_OBSERVATION)
        return result.stdout.decode(errors="replace")

    def read_file(self, path: str) -> str:
        return self.box.get(path, max_size=MAX_OBSERVATION).decode(errors="replace")

    def download(self, path: str) -> str:
        written = self.box.get_tree(path, into=self.downloads, max_entries=100)
        return "downloaded " + ", ".join(str(p.relative_to(self.downloads)) for p in written)


def call_tool(tools: Tools, call: ToolCall) -> str:
    """Run one tool call; an error becomes the observation, as an agent would see it."""
    try:
        result: str = getattr(tools, call.tool)(**call.args)
    except sr.SecureRunError as exc:  # e.g. SandboxFileNotFound, UnsafeArchive
        return f"error: {type(exc).__name__}: {exc}"
    return result


def session_config(image: str) -> sr.RunConfig:
    return (
        sr.preset("sandbox", image)
        .workspace("/workspace", size="16m")  # the session's files; the working directory
        .command(["sleep", "3600"])  # keeps the container up between tool calls
        .labels(EXAMPLE_LABELS)
        .build()
    )


def main() -> int:
    agent = ScriptedAgent(SCRIPT)
    with tempfile.TemporaryDirectory() as downloads, sr.launch(session_config(image_name())) as box:
        print(f"session {box.id[:12]}: one container for {len(SCRIPT)} steps")
        tools = Tools(box, Path(downloads))
        step = 0
        while (call := agent.next_call()) is not None:
            step += 1
            shown = {k: v if isinstance(v, (int, float)) else f"{str(v)[:60]!r}"
                     for k, v in call.args.items() if k != "content"}  # fmt: skip
            print(f"step {step}: {call.tool}({', '.join(f'{k}={v}' for k, v in shown.items())})")
            observation = call_tool(tools, call)
            agent.observe(call, observation)
            lines = observation.splitlines()
            for line in lines[:1] if call.tool == "run" else lines:  # run's output: shown above
                print(f"    -> {line}")
        report = (Path(downloads) / "results" / "report.txt").read_text()
    print(f"session over: {len(agent.transcript)} steps, container and workspace removed")
    return 0 if checks(agent, report) else 1


def checks(agent: ScriptedAgent, report: str) -> bool:
    """Print, and tell, whether the session did what this example says."""
    seen = {call.args.get("command", call.tool): obs for call, obs in agent.transcript}
    timed_out = any(obs.startswith("timed out") for obs in seen.values())
    processes = seen["ps -o pid,args"]
    results = {
        "the report came back through the workspace": report == "east 55\nnorth 150\nsouth 80\n",
        "a step timed out and the session went on": timed_out and "exit 0" in processes,
        "nothing of the timed-out step is left": "sleep 600" not in processes,
    }
    for what, ok in results.items():
        print(f"{'ok' if ok else 'FAILED'}: {what}")
    return all(results.values())


if __name__ == "__main__":
    sys.exit(main())

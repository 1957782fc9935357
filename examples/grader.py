"""Grade submitted shell scripts against test inputs, hostile submissions included.

Usage: python3 examples/grader.py [IMAGE]

The exercise: read ``input.txt`` and write it in capitals to ``output.txt``. Each
submission runs once per test input, each time in a fresh container of the
``sandbox`` preset (no network, nobody, no capabilities, a read-only root) with a
16 MiB workspace at ``/workspace``. ``sr.run(files=...)`` puts the submission and
the input there before the script starts; ``collect=["output.txt"]`` reads the
answer back after it ended; the container and its workspace are removed whatever
happens. The grader compares the answer with the expected one and prints a score.

What comes out of the sandbox was written by the submission, so it is read as
hostile: a symlink to ``/etc/passwd`` in place of the answer is refused
(``sr.UnsafeArchive``, never followed), an answer of megabytes stops at
``max_collect`` (``sr.OutputTooLarge``), a script that loops for ever is killed at
its timeout (``timed_out``), and an answer never written is ``missing``. Each is a
failed test with a reason, and the grader goes on with the next one.

The script exits 0 when every submission got the score it should, 1 otherwise.
The image comes from the first argument, else ``$SECURE_RUN_IMAGE``, else
``secure-run-test/busybox:latest``. Nothing is ever pulled.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import secure_run as sr

DEFAULT_IMAGE = "secure-run-test/busybox:latest"
EXAMPLE_LABELS = {"secure-run.example": "1"}  # lets a test count what an example leaves
TIMEOUT = 2.0  # seconds of wall clock for one test
MAX_ANSWER = 64 * 1024  # bytes read back of an answer, at most

TESTS = (  # (input.txt, the expected output.txt)
    (b"hello\n", b"HELLO\n"),
    (b"sandboxes are fun\n", b"SANDBOXES ARE FUN\n"),
    (b"a much longer line of text\n", b"A MUCH LONGER LINE OF TEXT\n"),
)


class Submission(NamedTuple):
    author: str
    script: str
    expected_score: int  # what the grader should give it


SUBMISSIONS = (
    Submission("careful", "tr a-z A-Z < input.txt > output.txt", 3),
    Submission("hasty", "head -c 18 input.txt | tr a-z A-Z > output.txt", 2),  # cuts long lines
    Submission("silent", "tr a-z A-Z < input.txt", 0),  # prints the answer, writes no file
    Submission("linker", "ln -s /etc/passwd output.txt", 0),  # hopes the grader follows it
    Submission("spinner", "while :; do :; done", 0),  # never ends
    Submission("flooder", "yes SPAM | head -c 3000000 > output.txt", 0),  # megabytes of answer
)


def image_name() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SECURE_RUN_IMAGE", DEFAULT_IMAGE)


def grader_config(image: str) -> sr.RunConfig:
    return (
        sr.preset("sandbox", image)
        .workspace("/workspace", size="16m")  # where the files go; the working directory
        .command(["sh", "submission.sh"])  # a noexec workspace: sh reads the script
        .labels(EXAMPLE_LABELS)
        .build()
    )


def grade_one(cfg: sr.RunConfig, script: str, given: bytes, expected: bytes) -> str:
    """Run one submission on one input; return ``"pass"`` or why it failed."""
    try:
        result = sr.run(
            cfg,
            files={"submission.sh": script.encode(), "input.txt": given},
            collect=["output.txt"],
            max_collect=MAX_ANSWER,
            timeout=TIMEOUT,
        )
    except sr.UnsafeArchive as exc:  # the run happened; its answer is not safe to read
        name, why = exc.entries[0]
        return f"refused {name}: {why}"
    except sr.OutputTooLarge as exc:
        return f"answer of more than {exc.limit} bytes, not read"
    if result.timed_out:
        return f"killed at the {TIMEOUT:g} s timeout"
    if result.missing:
        return f"no {', '.join(result.missing)} written (exit {result.exit_code})"
    answer = result.files["output.txt"]
    if answer != expected:
        return f"wrong answer {answer[:40]!r}, expected {expected!r}"
    return "pass"


def main() -> int:
    cfg = grader_config(image_name())
    right = 0
    for submission in SUBMISSIONS:
        verdicts = [grade_one(cfg, submission.script, given, want) for given, want in TESTS]
        score = verdicts.count("pass")
        right += score == submission.expected_score
        print(f"{submission.author}: {score}/{len(TESTS)}")
        for number, verdict in enumerate(verdicts, 1):
            print(f"    test {number}: {verdict}")
    print(f"graded {len(SUBMISSIONS)} submissions; {right} got the score they should")
    return 0 if right == len(SUBMISSIONS) else 1


if __name__ == "__main__":
    sys.exit(main())

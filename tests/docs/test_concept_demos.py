"""The concept pages' demonstrations run on the real engine and print what the pages say.

Each page in ``docs/concepts/`` teaches with at least one demonstration: a fenced
```` ```python ```` block holding a complete script that launches containers through
secure_run, followed at once by a fenced ```` ```text ```` block holding the output
the script printed when the page was written. Each block is its own test: it is
compiled and run with ``exec`` in a fresh namespace, its standard output captured,
and compared with the text block.

The comparison ignores trailing whitespace on each line and blank lines at the end.
Beyond that it is exact, except for one placeholder: ``…`` (U+2026, the ellipsis
character) in the expected text stands for any run of characters within one line,
including none. Pages use it only for what differs between runs, such as a container
id, a process id or a share of contended CPU time.

No container may outlive its demonstration. The demonstrations call
``sr.builder()`` and ``sr.preset()`` and nothing else to make a config; while one
runs, both are wrapped so that every builder they return carries ``TEST_LABELS``
and a label unique to that run. After the run, no container with that label may
remain, and the engine's events must show one ``destroy`` for every ``create``.
The page need not mention any of this.

The expected outputs were recorded on the engine the pages describe (rootful dockerd
with runc, cgroup v1, no AppArmor, no userns-remap); on an engine that differs there
(``make matrix`` runs them on each) the demonstrations are skipped, saying how.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, NamedTuple

import docker
import pytest

import secure_run as sr
from secure_run.testing import TEST_LABELS

CONCEPTS = Path(__file__).resolve().parents[2] / "docs" / "concepts"
PAGES = ("index", "namespaces", "cgroups", "capabilities", "users", "seccomp-lsm",
         "filesystem", "daemon")  # fmt: skip
PLACEHOLDER = "…"
DEMO_LABEL = "secure-run.docs-demo"
_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class Demo(NamedTuple):
    """One ```python block of a page and the ```text block after it ("" when missing)."""

    page: str
    line: int
    source: str
    expected: str | None


def _demos(page: str) -> list[Demo]:
    text = (CONCEPTS / f"{page}.md").read_text(encoding="utf-8")
    fences = list(_FENCE.finditer(text))
    demos = []
    for i, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        after = fences[i + 1] if i + 1 < len(fences) else None
        adjacent = after is not None and not text[fence.end() : after.start()].strip()
        expected = after.group(2) if after and adjacent and after.group(1) == "text" else None
        line = text.count("\n", 0, fence.start()) + 2
        demos.append(Demo(page, line, fence.group(2), expected))
    return demos


def _all_demos() -> list[Any]:
    return [
        pytest.param(demo, id=f"{page}.md-{n}")
        for page in PAGES
        if (CONCEPTS / f"{page}.md").exists()
        for n, demo in enumerate(_demos(page), start=1)
    ]


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def _pattern(expected: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in _normalised(expected).split(PLACEHOLDER))
    return re.compile("[^\n]*".join(parts))


@pytest.mark.parametrize("page", PAGES)
def test_page_has_a_demonstration(page):
    """Every concept page exists and holds at least one demonstration with its output."""
    demos = _demos(page)
    assert demos, f"docs/concepts/{page}.md has no ```python demonstration"
    for demo in demos:
        assert demo.expected is not None, (
            f"docs/concepts/{page}.md:{demo.line}: a ```python block must be followed "
            "by a ```text block with the output it prints"
        )
        assert "import secure_run as sr" in demo.source


def test_no_other_pages():
    """The pages this test knows are exactly the pages in docs/concepts/."""
    assert sorted(p.stem for p in CONCEPTS.glob("*.md")) == sorted(PAGES)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("id …\nlo", "id 4a13ab8bf44a\nlo", True),
        ("id …\nlo", "id 4a13ab8bf44a\neth0\nlo", False),  # … stays within a line
        ("a … b", "a  b", True),
        ("x 1", "x 1  \n\n", True),  # trailing whitespace and blank lines
        ("x 1", "x 10", False),
    ],
)
def test_placeholder(pattern, text, matches):
    """``…`` matches any text within one line; everything else is compared exactly."""
    assert bool(_pattern(pattern).fullmatch(_normalised(text))) is matches


@pytest.fixture(scope="module")
def recorded_engine(docker_client: docker.DockerClient, test_image: str) -> str:
    """The test image, on an engine like the one the pages' outputs were recorded on."""
    facts = sr.engine_facts(docker_client)
    differs = [
        shown
        for shown, differ in (
            (f"cgroup v{facts.cgroup_version}", facts.cgroup_version != 1),
            ("AppArmor", facts.apparmor),
            (f"userns-remap (root is host uid {facts.userns_root})", facts.userns),
            ("rootless", facts.rootless),
            ("Podman's Docker API", facts.podman),
            (f"default runtime {facts.default_runtime}", facts.default_runtime != "runc"),
        )
        if differ
    ]
    if differs:
        pytest.skip(
            "the outputs were recorded on rootful dockerd with runc, cgroup v1, no AppArmor "
            f"and no userns-remap; this engine has {', '.join(differs)}"
        )
    return test_image


@contextlib.contextmanager
def _labelled(monkeypatch: pytest.MonkeyPatch, run_label: str) -> Iterator[None]:
    """Every builder ``sr.builder()`` and ``sr.preset()`` return carries the test labels."""
    labels = {**TEST_LABELS, DEMO_LABEL: run_label}

    def wrap(make: Callable[..., sr.RunBuilder]) -> Callable[..., sr.RunBuilder]:
        def labelled(*args: Any, **kwargs: Any) -> sr.RunBuilder:
            return make(*args, **kwargs).labels(labels)

        return labelled

    with monkeypatch.context() as patch:
        patch.setattr(sr, "builder", wrap(sr.builder))
        patch.setattr(sr, "preset", wrap(sr.preset))
        yield


def _events(client: docker.DockerClient, label: str, since: float) -> list[str]:
    """The create and destroy events of containers carrying ``label``, since ``since``."""
    stream = client.events(
        since=since,
        until=time.time() + 0.5,
        decode=True,
        filters={"type": "container", "label": label, "event": ["create", "destroy"]},
    )
    return [event["Action"] for event in stream]


@pytest.mark.docker
@pytest.mark.parametrize("demo", _all_demos())
def test_demonstration_prints_what_the_page_shows(
    demo, recorded_engine, docker_client, monkeypatch
):
    """The block runs on the real engine, prints its text block, and leaves no container."""
    assert demo.expected is not None, "no ```text block follows this demonstration"
    run_label = uuid.uuid4().hex
    code = compile(demo.source, f"docs/concepts/{demo.page}.md:{demo.line}", "exec")
    out = io.StringIO()
    since = time.time() - 1
    with _labelled(monkeypatch, run_label), contextlib.redirect_stdout(out):
        exec(code, {"__name__": "__main__"})  # noqa: S102 - the page's own script

    printed = _normalised(out.getvalue())
    assert _pattern(demo.expected).fullmatch(printed), (
        f"docs/concepts/{demo.page}.md:{demo.line} printed:\n{printed}\n\n"
        f"the page shows:\n{_normalised(demo.expected)}"
    )
    label = f"{DEMO_LABEL}={run_label}"
    left = docker_client.api.containers(all=True, filters={"label": label})
    assert left == [], f"the demonstration left containers behind: {left}"
    actions = _events(docker_client, label, since)
    assert actions.count("create") == actions.count("destroy"), actions

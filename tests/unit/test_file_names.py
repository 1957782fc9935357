"""The rules for names put into a workspace or collected from it (secure_run._files.names)."""

from __future__ import annotations

import pytest

from secure_run import ConfigError
from secure_run._files.names import (
    MAX_NAME,
    MAX_PART,
    check_collect_names,
    check_input_names,
    name_problems,
)

GOOD = [
    "main.sh",
    "data/in.csv",
    "a/b/c/d.txt",
    ".hidden",
    "..dots",
    "a..b/c",
    "é/ünï.txt",
    "with space",
    "back\\slash",
    "x" * MAX_PART,
    "/".join(["y" * MAX_PART] * 4),
]

BAD = [
    (5, "must be text"),
    (b"main.sh", "must be text"),
    (None, "must be text"),
    ("", "must not be empty"),
    ("/etc/passwd", "absolute"),
    ("../x", "'..' component"),
    ("a/../../x", "'..' component"),
    ("..", "'..' component"),
    ("./a", "'.' component"),
    ("a/./b", "'.' component"),
    (".", "'.' component"),
    ("a//b", "empty component"),
    ("a\x00b", "NUL"),
    ("dir/", "ends with '/'"),
    ("a\nb", "control character"),
    ("a\rb", "control character"),
    ("a\tb", "control character"),
    ("a\x1bb", "control character"),
    ("a\x7fb", "control character"),
    ("a\ud800b", "lone surrogate"),
    ("x" * (MAX_PART + 1), f"over the limit of {MAX_PART} bytes per component"),
    ("é" * 128, f"over the limit of {MAX_PART} bytes per component"),
    ("/".join(["y" * 200] * 6), f"over the limit of {MAX_NAME} bytes"),
]


@pytest.mark.parametrize("name", GOOD)
def test_a_plain_relative_name_has_no_problem(name):
    """A relative name of plain components within the length limits is accepted as given."""
    assert name_problems(name, "files") == []
    assert check_input_names([name]) == [name]


@pytest.mark.parametrize(("name", "rule"), BAD, ids=[repr(b[0])[:30] for b in BAD])
def test_each_rule_refuses_its_names_with_a_fix(name, rule):
    """A name breaking one rule gets a problem naming that rule, with a fix."""
    problems = name_problems(name, "files")
    assert any(rule in p.message for p in problems), problems
    assert all(p.field == "files" and p.fix for p in problems)
    with pytest.raises(ConfigError):
        check_input_names([name])


def test_the_whole_name_limit_counts_bytes_of_utf8():
    """A name of exactly MAX_NAME bytes passes; one more byte (or a multi-byte char) fails."""
    part = "a" * 200 + "/"
    exact = (part * 6)[: MAX_NAME - 1] + "b"
    assert len(exact.encode()) == MAX_NAME
    assert name_problems(exact, "files") == []
    assert name_problems(exact[:-1] + "é", "files") != []


def test_every_problem_of_every_name_is_raised_at_once():
    """One ConfigError lists each problem of each bad name, in the order given."""
    with pytest.raises(ConfigError) as caught:
        check_input_names(["ok.txt", "/abs/../x", "a\x00", 7])
    values = [p.value for p in caught.value.problems]
    assert values == ["'/abs/../x'", "'/abs/../x'", "'a\\x00'", "7"]


def test_a_long_name_is_cut_in_the_message():
    """A 10 kB name is shown cut, with its length, not in full."""
    (problem, *_) = name_problems("z" * 10_000, "files")
    assert len(problem.value) < 200
    assert "10000 characters" in problem.value


def test_a_name_given_twice_is_refused():
    """Names are exact: the same name twice is refused."""
    with pytest.raises(ConfigError, match="given twice"):
        check_input_names(["a.txt", "b.txt", "a.txt"])


def test_names_are_not_normalised_so_near_twins_are_distinct():
    """'a.txt' and 'A.txt' are two names; neither is folded onto the other."""
    assert check_input_names(["a.txt", "A.txt"]) == ["a.txt", "A.txt"]


@pytest.mark.parametrize("names", [["a", "a/b"], ["a/b/c", "a/b"], ["x/y", "x", "x/z"]])
def test_a_file_that_is_also_a_parent_directory_is_refused(names):
    """A name that is a file and also the directory of another name is refused."""
    with pytest.raises(ConfigError, match="also a directory of"):
        check_input_names(names)


def test_a_bare_string_of_files_is_refused():
    """A single string is not taken as a list of its characters."""
    with pytest.raises(ConfigError, match="one name given as text"):
        check_input_names("main.sh")  # type: ignore[arg-type]


def test_collect_keeps_a_directory_name_with_its_slash():
    """In collect, a trailing '/' names a directory; it is accepted and kept."""
    names = ["results/", "out.txt", "a/b/"]
    assert check_collect_names(names) == names


def test_collect_refuses_a_bare_string_with_the_list_fix():
    """collect="out.txt" is refused; the fix is collect=["out.txt"]."""
    with pytest.raises(ConfigError) as caught:
        check_collect_names("out.txt")  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    assert problem.fix == 'collect=["out.txt"]'


def test_collect_refuses_what_isnt_a_list():
    """A value that is not iterable is refused as one problem."""
    with pytest.raises(ConfigError, match="must be a list of names"):
        check_collect_names(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("names", "rule"),
    [
        (["out", "out/"], "is a directory, but"),
        (["a", "a/b/"], "also a directory of"),
        (["r/", "r/"], "given twice"),
        (["r//"], "empty component"),
        (["/r/"], "absolute"),
        (["../r/"], "'..' component"),
    ],
)
def test_collect_refuses_clashes_and_bad_directory_names(names, rule):
    """A directory name follows the same rules, and may not also be given as a file."""
    with pytest.raises(ConfigError, match=rule):
        check_collect_names(names)


def test_collect_accepts_a_file_inside_a_collected_directory():
    """'results/' and 'results/a.txt' overlap but do not contradict: both are accepted."""
    assert check_collect_names(["results/", "results/a.txt"]) == ["results/", "results/a.txt"]


def test_the_field_is_named_in_each_problem():
    """The field given is the one each problem names."""
    with pytest.raises(ConfigError) as caught:
        check_collect_names(["/x"], field="box.get")
    assert [p.field for p in caught.value.problems] == ["box.get"]

"""The small YAML writer: what it writes reads back, with PyYAML, as the same data."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_run._export.yaml import dump, dump_all, scalar

yaml = pytest.importorskip("yaml")

TRICKY = ["", " ", "yes", "No", "ON", "off", "null", "~", "y", "true", "1", "0x10", "1e3",
          ".5", "-1", "+1", "2001-12-14", "1:20", "a: b", "a #b", "#c", "- x", "[x]", "{x}",
          "*ref", "&anchor", "!tag", "|", ">", "%dir", "@at", "`tick", "'q'", '"dq"',
          "line\nbreak", "tab\there", "trailing ", "café", "\x00nul", "\u2028", "sha256:ab",
          "busybox:1.36", "/tmp", "a/b", "io.secure-run.preset", "512Mi", "-", "?", ":",
          "<<"]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY, ids=repr)
def test_tricky_strings_read_back_as_strings(text):
    """A string that looks like another type or like syntax comes back as the same string."""
    assert yaml.safe_load(dump({text: text, "list": [text]})) == {text: text, "list": [text]}


def test_plain_strings_are_written_plain():
    """Simple names need no quotes, so the output reads like a hand-written manifest."""
    assert scalar("RuntimeDefault") == "RuntimeDefault"
    assert scalar("/tmp") == "/tmp"
    assert scalar("yes") == '"yes"'


def test_nested_manifest_shape_reads_back():
    """Mappings in lists in mappings, empty collections and every scalar type survive."""
    data = {"a": [{"b": 1, "c": [True, False, None]}, [1, [2]], {}], "d": {}, "e": [],
            "f": 1.5, "g": -0.0, "h": {"i": {"j": "k"}}}  # fmt: skip
    assert yaml.safe_load(dump(data)) == data


def test_several_documents():
    """dump_all writes one document per object, in order."""
    assert list(yaml.safe_load_all(dump_all([{"a": 1}, {"b": [2]}]))) == [{"a": 1}, {"b": [2]}]


def test_special_floats():
    """NaN and the infinities use YAML's own spellings."""
    back = yaml.safe_load(dump([math.inf, -math.inf, math.nan]))
    assert back[:2] == [math.inf, -math.inf]
    assert math.isnan(back[2])


@pytest.mark.parametrize("bad", [object(), {1: "a"}, b"bytes"], ids=repr)
def test_non_plain_data_is_refused(bad):
    """Anything but plain data (or a key that is not a string) is a TypeError, not a guess."""
    with pytest.raises(TypeError):
        dump(bad)


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(PLAIN)
def test_any_plain_data_round_trips(data):
    """Whatever plain data goes in, PyYAML reads the same data back."""
    assert yaml.safe_load(dump(data)) == data

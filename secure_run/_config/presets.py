"""The named presets: a secure starting point for a builder, each setting with its reason.

The tables themselves are in :mod:`preset_lines`, below the explanation, which quotes
their reasons. A preset is a shared value; its builder is immutable, so extending it
never changes the preset. The docs' preset reference is generated from these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import ConfigError
from .builder import RunBuilder
from .preset_lines import TABLES, PresetLine

__all__ = ["PRESETS", "Preset", "PresetLine", "builder", "preset", "presets"]


@attrs.frozen
class Preset:
    """A named starting point: a description and a table of settings with reasons.

    .. versionadded:: 0.1
    """

    name: str
    description: str
    lines: tuple[PresetLine, ...]

    def values(self) -> dict[str, Any]:
        """The preset's settings as RunConfig field values."""
        return {line.field: line.value for line in self.lines}

    def builder(self, image: str) -> RunBuilder:
        """A builder for ``image`` starting from this preset."""
        start = _STARTS.get(self.name) if PRESETS.get(self.name) is self else None
        if start is None:  # a preset of the caller's own: its values are checked now
            start = RunBuilder(fields={**self.values(), "preset": self.name})
        return start.image(image)


#: Every preset, by name.
PRESETS: Mapping[str, Preset] = {
    name: Preset(table.name, table.description, table.lines) for name, table in TABLES.items()
}


def _start(p: Preset) -> RunBuilder:
    """The builder every ``preset(p.name, ...)`` starts from, its values checked once."""
    start = RunBuilder(fields={**p.values(), "preset": p.name})
    if start.problems:  # a mistake in the tables: refuse to import rather than hide it
        raise ConfigError(start.problems)
    return start


# Builders are immutable, so one start per preset is shared by every builder made from it.
_STARTS: dict[str, RunBuilder] = {name: _start(p) for name, p in PRESETS.items()}


def _lookup(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError.single("preset", name, "unknown preset", f"use one of {sorted(PRESETS)}")
    return PRESETS[name]


def preset(name: str, image: str) -> RunBuilder:
    """A builder for ``image`` starting from the named preset.

    Raises:
        ConfigError: The preset name is unknown.

    .. versionadded:: 0.1
    """
    return _lookup(name).builder(image)


def builder(image: str) -> RunBuilder:
    """A builder for ``image`` starting from the ``restricted`` preset: secure by default.

    .. versionadded:: 0.1
    """
    return preset("restricted", image)


def presets() -> dict[str, str]:
    """The presets' names and one-line descriptions.

    .. versionadded:: 0.1
    """
    return {name: p.description for name, p in PRESETS.items()}

"""The exceptions secure_run raises.

The tree::

    SecureRunError
    └── ConfigError (also a ValueError)   a configuration was refused before the daemon saw it

Every ``ConfigError`` carries the full list of :class:`Problem` records found at once,
each naming the field, the value given and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["ConfigError", "Problem", "SecureRunError"]


class SecureRunError(Exception):
    """The base of every error secure_run raises.

    .. versionadded:: 0.1
    """


@attrs.frozen
class Problem:
    """One thing wrong with a configuration.

    Attributes:
        field: The setting that is wrong, as the builder names it (``"memory"``).
        value: The value given, as text. Secret values are never put here.
        message: What is wrong with it.
        fix: How to make it right.

    .. versionadded:: 0.1
    """

    field: str
    value: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}={self.value}: {self.message}; fix: {self.fix}"


class ConfigError(SecureRunError, ValueError):
    """A configuration was refused before it reached the daemon.

    Attributes:
        problems: Every problem found, in the order the settings were checked.

    .. versionadded:: 0.1
    """

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid run configuration ({head}):\n{lines}")

    @classmethod
    def single(cls, field: str, value: object, message: str, fix: str) -> ConfigError:
        """Build an error with one problem."""
        return cls([Problem(field, show(value), message, fix)])


def show(value: object) -> str:
    """Render a user's value for a message: repr for text, str for the rest."""
    return repr(value) if isinstance(value, str) else str(value)

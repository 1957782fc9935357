"""The exceptions secure_run raises.

The tree::

    SecureRunError
    ├── ConfigError (also a ValueError)   a configuration was refused before the daemon saw it
    ├── DaemonUnavailable                 no Docker Engine answers where the client points
    ├── ImageNotFound                     the image is not there and the pull policy forbids a pull
    ├── UnsupportedFeature                the engine cannot honour a setting; refused before create
    ├── LaunchError                       the engine refused to create or start the container
    ├── RunTimeout                        the engine did not answer in time
    ├── HardeningNotApplied               the container did not get what its config asked for
    ├── UnsafeArchive                     a sandbox's output holds an entry refused as unsafe
    ├── OutputTooLarge                    a sandbox's output passed a size or count cap
    ├── WorkspaceFull                     a put did not fit in the workspace (nothing reported done)
    └── SandboxFileNotFound (also a FileNotFoundError)  no such file in the workspace

Docker SDK and requests exceptions never escape the public API: they are
translated in one place, ``_docker_errors``, with the original as ``__cause__``.

Every ``ConfigError`` carries the full list of :class:`Problem` records found at once,
each naming the field, the value given and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = [
    "ConfigError",
    "DaemonUnavailable",
    "HardeningNotApplied",
    "ImageNotFound",
    "LaunchError",
    "OutputTooLarge",
    "Problem",
    "RunTimeout",
    "SandboxFileNotFound",
    "SecureRunError",
    "UnsafeArchive",
    "UnsupportedFeature",
    "WorkspaceFull",
]


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
    if isinstance(value, int) and value.bit_length() > 256:  # too long to print, or to read
        return f"<a {value.bit_length()}-bit integer>"
    return repr(value) if isinstance(value, str) else str(value)


class DaemonUnavailable(SecureRunError):
    """No Docker Engine answers at the address the client uses.

    .. versionadded:: 0.1
    """


class ImageNotFound(SecureRunError):
    """The image is not present and the pull policy does not allow pulling it.

    Attributes:
        image: The image reference that was not found.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str, *, image: str) -> None:
        super().__init__(message)
        self.image = image


class UnsupportedFeature(SecureRunError):
    """The engine cannot honour a setting; it is refused before the container is created.

    Attributes:
        problems: Each setting the engine cannot honour, with the reason and the fix.

    .. versionadded:: 0.1
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the engine cannot honour this configuration:\n{lines}")


class LaunchError(SecureRunError):
    """The engine refused to create or start the container (it has been removed).

    .. versionadded:: 0.1
    """


class RunTimeout(SecureRunError):
    """The engine did not answer within the time allowed.

    .. versionadded:: 0.1
    """


class HardeningNotApplied(SecureRunError):
    """A container did not get the hardening its config asked for.

    Attributes:
        report: The verification report, listing each property with the expected
            value, the actual one and where it was read.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str, *, report: object) -> None:
        super().__init__(message)
        self.report = report


class UnsafeArchive(SecureRunError):
    """What came out of a sandbox holds entries secure_run refuses to read or write.

    A link (symbolic or hard), a device file, a FIFO, an absolute name or a ``..``:
    each could make the host read or write outside what was asked for. Nothing is
    extracted when any entry is refused.

    Attributes:
        entries: Each refused entry's name, with the reason.
        result: When :func:`~secure_run.run` raised it while collecting, the run's
            ``RunResult`` (without files); else ``None``.

    .. versionadded:: 0.2
    """

    def __init__(self, entries: Iterable[tuple[str, str]]) -> None:
        self.result: object = None
        self.entries = tuple(entries)
        lines = "\n".join(f"  - {name!r}: {why}" for name, why in self.entries)
        super().__init__(
            f"refused {len(self.entries)} unsafe entr{'y' if len(self.entries) == 1 else 'ies'} "
            f"from the sandbox (nothing was extracted):\n{lines}"
        )


class OutputTooLarge(SecureRunError):
    """What came out of a sandbox passed a cap; reading stopped there.

    Attributes:
        what: The file or tree being read.
        cap: The cap that was passed (``"max_size"``, ``"max_total"`` or ``"max_entries"``).
        limit: The cap's value (bytes, or entries for ``max_entries``).
        result: When :func:`~secure_run.run` raised it while collecting, the run's
            ``RunResult`` (without files); else ``None``.

    .. versionadded:: 0.2
    """

    def __init__(self, what: str, cap: str, limit: int, detail: str = "") -> None:
        self.result: object = None
        self.detail = detail
        self.what = what
        self.cap = cap
        self.limit = limit
        unit = "entries" if cap == "max_entries" else "bytes"
        super().__init__(
            f"{what!r} is over {cap}={limit} {unit}{': ' + detail if detail else ''}; "
            f"reading stopped there. Raise {cap} if this much is expected"
        )


class WorkspaceFull(SecureRunError):
    """A put did not fit in the workspace; it is not reported as done.

    Files of the put may be partly written: overwrite or remove them before relying
    on the workspace's content.

    Attributes:
        names: The names the put was writing.

    .. versionadded:: 0.2
    """

    def __init__(self, message: str, *, names: Iterable[str]) -> None:
        super().__init__(message)
        self.names = tuple(names)


class SandboxFileNotFound(SecureRunError, FileNotFoundError):
    """No file or directory of that name is in the sandbox's workspace.

    Also a :class:`FileNotFoundError`, so ``except FileNotFoundError`` catches it.

    .. versionadded:: 0.2
    """

"""A griffe extension for the docs site: turn the docstrings' Sphinx markup into Markdown.

The docstrings are Google style with a few Sphinx habits: roles such as
``:class:`RunConfig``` and ``:func:`~secure_run.launch```, ``.. versionadded:: 0.1``
and a paragraph ending in ``::`` before an indented example. mkdocstrings renders
Markdown, so before rendering each docstring is rewritten:

* a role whose target is a public object with its own entry on the API page becomes
  a cross-reference, ``[`RunConfig`][secure_run.RunConfig]``; any other target
  (a private module, an undocumented constant) becomes plain code, so the strict
  build never meets a reference it cannot resolve;
* ``.. versionadded:: X`` becomes "*Added in version X.*";
* a closing ``::`` becomes ``:`` (the indented block after it is already code);
* an attribute with no docstring but a ``#:`` comment above it gets the comment.

Loaded by mkdocs.yml (``extensions: [scripts/griffe_sphinx_roles.py]``); the code
in ``secure_run/`` is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|exc|mod|obj):`(~?)([\w.]+)(?:\(\))?`")
_VERSION = re.compile(r"^(\s*)\.\. versionadded:: *(\S+)\s*$", re.MULTILINE)
_LITERAL = re.compile(r"(\S)::$", re.MULTILINE)
_PACKAGE = "secure_run"


def _public(path: str) -> bool:
    return not any(part.startswith("_") for part in path.split("."))


def _comment_docstring(obj: griffe.Object) -> None:
    """Give an attribute the ``#:`` comment above it as its docstring (Sphinx's habit)."""
    if obj.lineno is None or obj.filepath is None or isinstance(obj.filepath, list):
        return
    lines = obj.lines_collection[obj.filepath]
    found: list[str] = []
    index = obj.lineno - 2  # the line above, 0-based
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        found.insert(0, lines[index].lstrip()[2:].strip())
        index -= 1
    if found:
        obj.docstring = griffe.Docstring(
            "\n".join(found), lineno=index + 2, endlineno=obj.lineno - 1, parent=obj
        )


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles and directives in every docstring of the package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the docstrings once the whole package is loaded, so targets resolve."""
        if pkg.path != _PACKAGE:
            return
        self._pkg = pkg
        objects = self._walk(pkg, set())
        for obj in objects:  # first, so that references to these attributes resolve
            if obj.is_attribute and obj.docstring is None:
                _comment_docstring(obj)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = self._rewrite(obj, obj.docstring.value)

    def _walk(self, obj: griffe.Object, seen: set[str]) -> list[griffe.Object]:
        if obj.path in seen:
            return []
        seen.add(obj.path)
        found = [obj]
        for member in obj.members.values():
            if member.is_alias:
                continue
            found.extend(self._walk(member, seen))  # type: ignore[arg-type]
        return found

    def _documented(self, path: str) -> bool:
        """Whether ``path`` is public and has an entry of its own on the API page."""
        if not path.startswith(_PACKAGE + ".") or not _public(path):
            return False
        try:
            target = self._pkg[path[len(_PACKAGE) + 1 :]]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return False
        try:
            final = target.final_target if target.is_alias else target
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return False
        return final.docstring is not None or final.is_class or final.is_function

    def _resolve(self, obj: griffe.Object, target: str) -> str | None:
        """The public path ``target`` names, seen from ``obj``, or None."""
        scopes = []
        scope: griffe.Object | None = obj
        while scope is not None:
            scopes.append(scope.path)
            scope = scope.parent
        candidates = [target, *(f"{s}.{target}" for s in scopes), f"{_PACKAGE}.{target}"]
        # A name defined in a private module is documented under the package's name.
        public = [p for p in target.split(".") if p != _PACKAGE and not p.startswith("_")]
        candidates.append(".".join([_PACKAGE, *public]))
        for candidate in candidates:
            if self._documented(candidate):
                return candidate
        return None

    def _rewrite(self, obj: griffe.Object, text: str) -> str:
        def role(match: re.Match[str]) -> str:
            short, target = match[1], match[2]
            shown = target.rsplit(".", 1)[-1] if short else target
            path = self._resolve(obj, target)
            return f"[`{shown}`][{path}]" if path else f"`{shown}`"

        text = _ROLE.sub(role, text)
        text = _VERSION.sub(r"\1*Added in version \2.*", text)
        return _LITERAL.sub(r"\1:", text)

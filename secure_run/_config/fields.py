"""The per-field rules: each RunConfig field's declared type, NUL bytes, 64-bit numbers.

Each rule looks at one field's value alone. The builder runs them when a step sets a
field, so its ``build()`` keeps to the rules across fields; a :class:`RunConfig` made any
other way (``attrs.evolve``, the constructor) runs them on every field first.

The types come from the fields' annotations, resolved with :func:`typing.get_type_hints`
when :func:`register` learns the class. An annotation this module cannot check (anything
but a class, ``X | None``, ``tuple[X, ...]`` or ``tuple[X, Y]``) raises ``TypeError``
there, at import: no field is ever left unchecked.
"""

from __future__ import annotations

import ast
import sys
import types
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import attrs

from .._errors import Problem, show
from .checker import Checker

if TYPE_CHECKING:
    from .run_config import RunConfig

__all__ = [
    "FIELDS",
    "Shape",
    "check_fields",
    "checked_changes",
    "field_problems",
    "register",
    "shape_of",
]

_INT64 = (-(2**63), 2**63 - 1)
_NONE = type(None)
_SCALARS = (str, bool, int, float)

#: Fields whose text the scalar rule leaves to ``validation._identity``: env values must
#: not be shown in a message, and the argv is checked element by element there.
_CHECKED_ELSEWHERE = frozenset({"env", "command", "entrypoint"})


@attrs.frozen
class Shape:
    """What a value may hold, compiled from an annotation.

    Attributes:
        types: The classes the value may be an instance of (``int`` is no ``bool``;
            a ``float`` may be an ``int``).
        items: For ``tuple[X, ...]``, the shape of every item.
        parts: For ``tuple[X, Y]``, the shape of each position; for an attrs value
            class, of each field, in order.
        optional: ``None`` is allowed.
        fields: For an attrs value class, its field names, in order.
    """

    types: tuple[type, ...]
    items: Shape | None = None
    parts: tuple[Shape, ...] = ()
    optional: bool = False
    fields: tuple[str, ...] = ()

    def _values(self, value: object) -> tuple[Any, ...]:
        """The parts of a value of this shape: a value class's fields, or the tuple."""
        if self.fields:
            return tuple(getattr(value, n) for n in self.fields)
        return cast("tuple[Any, ...]", value)

    def names(self) -> str:
        """The allowed types in words: ``int or None``."""
        names = sorted({t.__name__ for t in self.types})
        return " or ".join([*names, *(["None"] if self.optional else [])])

    def admits(self, value: object) -> bool:
        """Whether ``value`` is an instance of one of the types (the shape of its class)."""
        if value is None:
            return self.optional
        if isinstance(value, bool) and bool not in self.types:
            return False
        return isinstance(value, self.types)

    def misfits(self, value: object) -> Iterator[tuple[object, Shape]]:
        """Each part of ``value`` that is not of its declared type, with the shape it missed."""
        if self.items is not None and not (value is None and self.optional):
            # a tuple's items are checked; something else is one wrong item
            for item in value if isinstance(value, tuple) else (value,):
                yield from self.items.misfits(item)
        elif not self.admits(value):
            yield value, self
        elif value is not None and self.parts:
            yield from self._part_misfits(value)

    def _part_misfits(self, value: object) -> Iterator[tuple[object, Shape]]:
        values = self._values(value)
        if len(values) != len(self.parts):  # a fixed-length tuple of another length
            yield value, self
            return
        for part, item in zip(self.parts, values):
            yield from part.misfits(item)

    def scalars(self, value: object) -> Iterator[object]:
        """The text and numbers in ``value``, which fits this shape."""
        if value is None:
            return
        if self.items is not None:
            for item in value:  # type: ignore[attr-defined]
                yield from self.items.scalars(item)
        elif self.parts:
            for part, item in zip(self.parts, self._values(value)):
                yield from part.scalars(item)
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            yield value


class _FastTest:
    """Writes a shape's :func:`fast_test` as one Python expression, compiled once.

    The way attrs writes its ``__init__``: a nested test of ``__class__``, NUL and range
    compiles to straight-line code with no call per part, which matters on every
    builder step.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, object] = {"_LOW": _INT64[0], "_HIGH": _INT64[1]}
        self.depth = 0

    def _name(self, cls: type) -> str:
        name = f"_{cls.__name__}_{id(cls)}"
        self.namespace[name] = cls
        return name

    def scalar(self, shape: Shape, v: str) -> str:
        tests = []
        for cls in shape.types:
            if cls is str:
                tests.append(f'({v}.__class__ is str and "\\x00" not in {v})')
            elif cls is int:
                tests.append(f"({v}.__class__ is int and _LOW <= {v} <= _HIGH)")
            else:
                tests.append(f"{v}.__class__ is {self._name(cls)}")
        return "(" + " or ".join(tests) + ")"

    def expression(self, shape: Shape, v: str) -> str:
        if shape.items is not None:
            self.depth += 1
            item = f"x{self.depth}"
            inner = self.expression(shape.items, item)
            test = f"({v}.__class__ is tuple and all([{inner} for {item} in {v}]))"
        elif shape.fields:  # an attrs value class: each field by name
            cls = shape.types[0]
            parts = [self.expression(p, f"{v}.{n}") for p, n in zip(shape.parts, shape.fields)]
            test = "(" + " and ".join([f"{v}.__class__ is {self._name(cls)}", *parts]) + ")"
        elif shape.parts:  # a fixed-length tuple
            parts = [self.expression(p, f"{v}[{i}]") for i, p in enumerate(shape.parts)]
            head = [f"{v}.__class__ is tuple", f"len({v}) == {len(parts)}"]
            test = "(" + " and ".join([*head, *parts]) + ")"
        else:
            test = self.scalar(shape, v)
        return f"({v} is None or {test})" if shape.optional else test


def fast_test(shape: Shape) -> Callable[[object], bool]:
    """A quick test that a value passes both per-field rules, for the common case.

    True means it does; False means "maybe not": :func:`field_problems` then runs the
    rules themselves, which say what is wrong, if anything. Exact classes only, so a
    subclass (``bool`` for ``int``) always takes the rules' way.
    """
    writer = _FastTest()
    source = f"lambda v: bool({writer.expression(shape, 'v')})"
    return cast("Callable[[object], bool]", eval(source, writer.namespace))  # noqa: S307


_UNION_TYPES = (typing.Union, getattr(types, "UnionType", typing.Union))


class _PEP604(ast.NodeTransformer):
    """``X | Y`` in an annotation as ``Union[X, Y]``, for Pythons before 3.10."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.op, ast.BitOr):
            return node
        union = ast.Attribute(ast.Name("__typing__", ast.Load()), "Union", ast.Load())
        return ast.Subscript(union, ast.Tuple([node.left, node.right], ast.Load()), ast.Load())


def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, also where ``X | None`` needs Python 3.10 to evaluate."""
    try:
        return typing.get_type_hints(cls)
    except TypeError:  # Python 3.9: "unsupported operand type(s) for |"
        pass
    namespace = {**vars(sys.modules[cls.__module__]), "__typing__": typing}
    hints = {}
    for klass in reversed(cls.__mro__):
        for name, text in getattr(klass, "__annotations__", {}).items():
            if not isinstance(text, str):
                hints[name] = text
                continue
            tree = ast.fix_missing_locations(_PEP604().visit(ast.parse(text, mode="eval")))
            hints[name] = eval(compile(tree, "<annotation>", "eval"), namespace)  # noqa: S307
    return hints


def _value_class_shape(cls: type) -> Shape:
    """The shape of an attrs value class: an instance of it, with each field's shape."""
    hints = type_hints(cls)
    names = tuple(f.name for f in attrs.fields(cls))
    parts = tuple(shape_of(hints[n], f"{cls.__name__}.{n}") for n in names)
    return Shape((cls,), parts=parts, fields=names)


def shape_of(hint: object, where: str) -> Shape:
    """The :class:`Shape` of a resolved annotation.

    Raises:
        TypeError: The annotation is not one the type rule can check.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_TYPES and _NONE in args:
        rest = [a for a in args if a is not _NONE]
        inner = shape_of(rest[0] if len(rest) == 1 else typing.Union[tuple(rest)], where)
        return attrs.evolve(inner, optional=True)
    if origin in _UNION_TYPES:
        shapes = [shape_of(a, where) for a in args]
        if any(s.items or s.parts for s in shapes):
            raise TypeError(f"{where}: the type rule cannot check the union {hint!r}")
        return Shape(tuple(t for s in shapes for t in s.types))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return Shape((tuple,), items=shape_of(args[0], where))
    if origin is tuple and args and Ellipsis not in args:
        return Shape((tuple,), parts=tuple(shape_of(a, where) for a in args))
    if hint is float:
        return Shape((int, float))
    if hint in _SCALARS:
        return Shape((cast(type, hint),))
    if isinstance(hint, type) and attrs.has(hint):
        return _value_class_shape(hint)
    if isinstance(hint, type) and issubclass(hint, str):  # a str enum such as OptIn
        return Shape((hint,))
    raise TypeError(f"{where}: the type rule cannot check the annotation {hint!r}")


#: Each init field of the RunConfig class: its name and shape, in field order.
FIELDS: dict[str, Shape] = {}
#: Each field's :func:`fast_test`.
FIELD_TESTS: dict[str, Callable[[object], bool]] = {}
#: The converter of each field that has one (a tuple from a list, sorted pairs from a dict).
_CONVERTERS: dict[str, Callable[[Any], Any]] = {}
#: The fields the scalar rule looks into (all but those checked elsewhere).
_limited: tuple[str, ...] = ()


def register(cls: type[RunConfig]) -> None:
    """Learn the fields of the :class:`RunConfig` class, once it is defined.

    ``run_config`` calls this right after the class statement: the rules take a
    ``RunConfig`` but do not import it, so the import graph has no circle.

    Raises:
        TypeError: A field's annotation is not one the type rule can check.
    """
    global _limited
    hints = type_hints(cls)
    FIELDS.clear()
    for field in attrs.fields(cls):
        if field.init:  # the others are derived from these, after the checks
            FIELDS[field.name] = shape_of(hints[field.name], f"{cls.__name__}.{field.name}")
    FIELD_TESTS.clear()
    FIELD_TESTS.update((name, fast_test(shape)) for name, shape in FIELDS.items())
    _CONVERTERS.clear()
    _CONVERTERS.update((a.name, a.converter) for a in attrs.fields(cls) if callable(a.converter))
    _limited = tuple(name for name in FIELDS if name not in _CHECKED_ELSEWHERE)


def _types(c: Checker, name: str, value: object) -> None:
    """Every field holds a value of its declared type (``attrs.evolve`` can set anything)."""
    for item, shape in FIELDS[name].misfits(value):
        names = shape.names()
        c.bad(
            name,
            item,
            f"must be {names}, not {type(item).__name__}",
            f"give {names}; the builder methods convert text such as '256m'",
        )


def _scalar_limits(c: Checker, name: str, value: object) -> None:
    """No text holds a NUL byte and no number is beyond the engine's 64-bit integers.

    Looks inside tuples and the config's value classes; runs only on a value of the
    right type. The argv and the environment are checked by :func:`validation._identity`.
    """
    if name not in _limited:
        return
    low, high = _INT64
    for item in FIELDS[name].scalars(value):
        if isinstance(item, str):
            if "\x00" in item:
                c.bad(name, item, "holds a NUL byte", "remove the NUL byte")
        elif not low <= item <= high:  # type: ignore[operator]
            c.bad(name, item, "beyond the engine's 64-bit integers", "give a smaller number")


def check_field(c: Checker, name: str, value: object) -> None:
    """Run the per-field rules on one field's value."""
    before = len(c.problems)
    _types(c, name, value)
    if len(c.problems) == before:  # the scalar rule trusts the types
        _scalar_limits(c, name, value)


def check_fields(c: Checker, cfg: RunConfig) -> None:
    """Run the per-field rules on every field of ``cfg``."""
    for name in FIELDS:
        check_field(c, name, getattr(cfg, name))


def field_problems(name: str, value: object) -> list[Problem]:
    """The per-field problems of ``value`` as the field ``name`` (empty when it is fine)."""
    if FIELD_TESTS[name](value):
        return []
    c = Checker()
    check_field(c, name, value)
    return c.problems


def checked_changes(changes: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The changes in their final form (converted in place) and their per-field problems.

    What the builder runs when a step sets fields, so that it holds only values that
    passed: the form a RunConfig stores, its converters already applied.
    """
    problems: list[Problem] = []
    for name, value in changes.items():
        test = FIELD_TESTS.get(name)
        if test is None:
            problems.append(Problem(name, show(value), "not a setting of a RunConfig",
                                    "use the builder's methods"))  # fmt: skip
            continue
        converter = _CONVERTERS.get(name)
        if converter is not None:
            changes[name] = value = converter(value)
        if not test(value):
            problems.extend(field_problems(name, value))
    return changes, problems

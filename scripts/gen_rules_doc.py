"""Generate docs/rules.md from the validation code, so the page cannot drift from it.

Nothing here lists rules or opt-ins by hand; everything is read from the code:

* the rules are the ``c.bad(field, value, message, fix)`` and ``c.needs(opt_in,
  field, value, message, fix)`` calls in the rule modules (:data:`_RULE_MODULES`:
  ``secure_run/_config/fields.py``, ``validation.py``, ``host_rules.py``, and the
  Swarm and Kubernetes exporters ``_export/swarm.py`` and ``kubernetes.py``, and the
  rootless engine's ``_engine/rootless.py``, in the order their rules run), read from
  their syntax trees, grouped by the rule function they are in. A field held in a loop
  variable is resolved from the literal or module constant the loop runs over; a
  part of a message computed from module constants is computed; anything else is
  shown as ``<name>``;
* the opt-ins are the members of :class:`secure_run.OptIn`, in order, each with the
  docstring under it in ``secure_run/_config/values.py`` (what it costs);
* what an opt-in permits is every ``c.needs()`` call that names it;
* the controls it weakens are the audit checks (the modules of ``secure_run/_audit/``) that name
  it as a cause, with their titles from :data:`secure_run.CHECKS`;
* the mistakes the builder methods refuse at once are the ``ConfigError.single()``
  calls in the parsing modules.

``tests/unit/test_rules_doc.py`` fails when the committed file differs from what this
script writes.

Usage::

    python3 scripts/gen_rules_doc.py          # write docs/rules.md
    python3 scripts/gen_rules_doc.py --check  # exit 1 if docs/rules.md is stale
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "rules.md"
COMMAND = "python3 scripts/gen_rules_doc.py"
PACKAGE = ROOT / "secure_run"

# Generate from this checkout's code, not from whatever copy happens to be installed.
for _path in (ROOT, ROOT / "scripts"):  # this checkout's package, and docgen beside this file
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from secure_run import CHECKS, OptIn  # noqa: E402

#: The modules of the validation rules, in the order the rules run.
_RULE_MODULES = (
    "_config.fields",
    "_config.validation",
    "_config.host_rules",
    "_export.swarm",
    "_export.kubernetes",
    "_engine.rootless",
)
#: The modules whose ``ConfigError.single()`` calls refuse a builder method's argument.
_INPUT_MODULES = (
    "_config.arguments",
    "_config.builder",
    "_config.parse",
    "_config.capabilities",
    "_config.seccomp",
)


@attrs.frozen
class Rule:
    """One refusal in the validation code."""

    section: str
    field: str
    value: str
    message: str
    fix: str
    opt_in: OptIn | None = None
    where: str = ""


# -- reading the code ------------------------------------------------------------------


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8"))


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"secure_run.{name}")


def _shown(value: object) -> str:
    """A computed value as text; a set sorted, so the page is the same on every run."""
    return str(sorted(value)) if isinstance(value, (set, frozenset)) else str(value)


def _placeholder(node: ast.expr) -> str:
    """``<name>`` for a value known only at run time; ``<...>`` for a longer expression."""
    if isinstance(node, ast.Name):
        return f"<{node.id}>"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"<{node.attr}>"
    return "<...>"


class _Renderer:
    """Turns an argument of a call in one module into text for the page."""

    def __init__(self, module: ModuleType) -> None:
        self.namespace = vars(module)

    def value(self, node: ast.expr) -> object:
        """The value of an expression that needs only the module's globals; else raise."""
        bound = {
            n.id
            for c in ast.walk(node)
            if isinstance(c, ast.comprehension)
            for n in ast.walk(c.target)
            if isinstance(n, ast.Name)
        }
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - bound
        builtins = {"sorted", "list", "str", "repr", "len", "map"}
        if not names <= set(self.namespace) | builtins:
            raise LookupError(names)
        code = compile(ast.Expression(body=node), "<doc>", "eval")
        return eval(code, {"__builtins__": __builtins__, **self.namespace})  # noqa: S307

    def text(self, node: ast.expr) -> str:
        """A message or fix: literal text, with computed parts filled in or named."""
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    parts.append(str(part.value))
                elif isinstance(part, ast.FormattedValue):
                    parts.append(self._formatted(part))
            return "".join(parts)
        try:
            return _shown(self.value(node))
        except Exception:
            return _placeholder(node)

    def _formatted(self, part: ast.FormattedValue) -> str:
        try:
            value = self.value(part.value)
        except Exception:
            return _placeholder(part.value)
        if isinstance(value, (set, frozenset)):
            value = sorted(value)
        return repr(value) if part.conversion == ord("r") else str(value)

    def shown(self, node: ast.expr) -> str:
        """A value as an error shows it, if it is a literal; else ``<expr>``."""
        if isinstance(node, ast.Constant):
            return repr(node.value)
        return f"<{ast.unparse(node)}>"


def _literal_items(node: ast.expr, renderer: _Renderer) -> list[Any] | None:
    """The items of a literal tuple or list, or of a module constant; None otherwise."""
    if isinstance(node, (ast.Tuple, ast.List)):
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Constant):
                items.append(element.value)
            elif isinstance(element, ast.Tuple):  # only the constant parts are needed
                items.append(tuple(e.value if isinstance(e, ast.Constant) else None
                                   for e in element.elts))  # fmt: skip
            else:
                return None
        return items
    if isinstance(node, ast.Name):
        try:
            value = renderer.value(node)
        except Exception:
            return None
        return list(value) if isinstance(value, (tuple, list)) else None
    return None


def _loop_values(loops: list[ast.For], name: str, renderer: _Renderer) -> list[str] | None:
    """What a loop variable ``name`` takes, if the loop runs over literal or constant tuples."""
    for loop in reversed(loops):
        targets = loop.target.elts if isinstance(loop.target, ast.Tuple) else [loop.target]
        positions = [i for i, t in enumerate(targets) if isinstance(t, ast.Name) and t.id == name]
        if not positions:
            continue
        items = _literal_items(loop.iter, renderer)
        if items is None:
            return None
        values = []
        for item in items:
            value = item[positions[0]] if isinstance(loop.target, ast.Tuple) else item
            if not isinstance(value, str):
                return None
            values.append(value)
        return values
    return None


def _fields(node: ast.expr, scope: _Scope, renderer: _Renderer, unknown: str) -> list[str]:
    """The field names an argument can be: a literal, a loop over literals, or ``unknown``."""
    if isinstance(node, ast.Constant):
        return [str(node.value)]
    if isinstance(node, ast.Name):
        required = _required(scope.tests, node.id)
        values = _loop_values(list(scope.loops), node.id, renderer)
        if values is not None:
            return [v for v in values if required is None or v == required]
        if required is not None:
            return [required]
        default = _default(scope.function, node.id)
        if default is not None:
            return [f"{default} (or the method's field)"]
    return [unknown]


def _default(function: ast.FunctionDef | None, name: str) -> str | None:
    """The literal default of the function's parameter ``name``, if it has one."""
    if function is None:
        return None
    args = function.args
    pairs = [
        *zip(args.kwonlyargs, args.kw_defaults),
        *zip(args.args[len(args.args) - len(args.defaults):], args.defaults),
    ]
    for arg, default in pairs:
        if arg.arg == name and isinstance(default, ast.Constant):
            return str(default.value)
    return None


def _local(function: ast.FunctionDef | None, node: ast.expr) -> ast.expr:
    """A name assigned once in the function from a literal: that literal; else ``node``."""
    if function is None or not isinstance(node, ast.Name):
        return node
    values = [
        statement.value
        for statement in ast.walk(function)
        if isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == node.id
    ]
    if len(values) == 1 and isinstance(values[0], (ast.Constant, ast.JoinedStr)):
        return values[0]
    return node


@attrs.frozen
class _Scope:
    """Where a call sits: the loops around it, the ``if`` tests it is under, its function."""

    loops: tuple[ast.For, ...] = ()
    tests: tuple[ast.expr, ...] = ()
    function: ast.FunctionDef | None = None


def _calls(node: ast.AST, scope: _Scope) -> Iterator[tuple[ast.Call, _Scope]]:
    """Every call below ``node``, with its scope."""
    if isinstance(node, ast.Call):
        yield node, scope
    if isinstance(node, ast.FunctionDef):
        scope = _Scope(function=node)
    elif isinstance(node, ast.For):
        scope = attrs.evolve(scope, loops=(*scope.loops, node))
    elif isinstance(node, ast.If):  # the body runs only when the test holds
        yield from _calls(node.test, scope)
        for child in node.body:
            yield from _calls(child, attrs.evolve(scope, tests=(*scope.tests, node.test)))
        for child in node.orelse:
            yield from _calls(child, scope)
        return
    for child in ast.iter_child_nodes(node):
        yield from _calls(child, scope)


def _required(tests: tuple[ast.expr, ...], name: str) -> str | None:
    """The literal an ``if name == "x"`` (or ``... and name == "x"``) around a call requires."""
    for test in tests:
        parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) \
            else [test]  # fmt: skip
        for part in parts:
            if (
                isinstance(part, ast.Compare)
                and isinstance(part.left, ast.Name)
                and part.left.id == name
                and len(part.ops) == 1
                and isinstance(part.ops[0], ast.Eq)
                and isinstance(part.comparators[0], ast.Constant)
            ):
                return str(part.comparators[0].value)
    return None


#: Words a function name spells in lower case that the page spells otherwise.
_WORDS = {"cpu": "CPU", "pids": "PIDs", "ulimits": "ulimits", "sysctls": "sysctls"}


def _title(function: ast.FunctionDef) -> str:
    """The section heading for a rule function: its name in words."""
    words = [_WORDS.get(w, w) for w in function.name.strip("_").split("_")]
    return " ".join([words[0][0].upper() + words[0][1:], *words[1:]])


def _summary(function: ast.FunctionDef) -> str | None:
    """The first line of the function's docstring, as Markdown."""
    doc = ast.get_docstring(function)
    return doc.splitlines()[0].replace("``", "`") if doc else None


def _opt_in(node: ast.expr) -> OptIn:
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
        raise ValueError(f"needs() with an opt-in that is not OptIn.NAME: {ast.unparse(node)}")
    return OptIn[node.attr]


def validation_rules() -> list[Rule]:
    """Every ``bad()`` and ``needs()`` call of the rule functions, in source order."""
    rules = []
    for module in _RULE_MODULES:
        rules += _module_rules(module)
    return _unique(rules)


def _module_rules(module: str) -> list[Rule]:
    """The ``bad()`` and ``needs()`` calls of one rule module's functions."""
    renderer = _Renderer(_module(module))
    rules = []
    for function in _tree(module).body:
        if not isinstance(function, ast.FunctionDef):
            continue  # a class (a shape, the checker) holds machinery, not rules
        for call, scope in _calls(function, _Scope()):
            method = call.func.attr if isinstance(call.func, ast.Attribute) else None
            args = call.args
            if method == "bad" and len(args) == 4:
                opt_in, (field, value, message, fix) = None, args
            elif method == "needs" and len(args) == 5:
                opt_in, (field, value, message, fix) = _opt_in(args[0]), args[1:]
            else:
                continue
            fix_text = renderer.text(fix)
            if opt_in is not None:  # as Checker.needs() words it
                fix_text += f", or accept the risk with .opt_in({opt_in.value!r})"
            for name in _fields(field, scope, renderer, "any field"):
                rules.append(
                    Rule(
                        section=_title(function),
                        where=function.name,
                        field=name,
                        value=renderer.shown(value),
                        message=renderer.text(message),
                        fix=fix_text,
                        opt_in=opt_in,
                    )
                )
    return rules


def input_rules() -> list[Rule]:
    """The ``ConfigError.single()`` calls that refuse a builder method's argument."""
    rules = []
    for name in _INPUT_MODULES:
        renderer = _Renderer(_module(name))
        for call, scope in _calls(_tree(name), _Scope()):
            func = call.func
            if not (
                isinstance(func, ast.Attribute)
                and func.attr == "single"
                and isinstance(func.value, ast.Name)
                and func.value.id == "ConfigError"
                and len(call.args) == 4
            ):
                continue
            field, value, message, fix = call.args
            function = scope.function
            where = f"{name}.{function.name}()" if function else name
            for field_name in _fields(field, scope, renderer, "the method's field"):
                rules.append(
                    Rule(
                        section=where,
                        field=field_name,
                        value=renderer.shown(value),
                        message=renderer.text(_local(function, message)),
                        fix=renderer.text(_local(function, fix)),
                    )
                )
    return _unique(rules)


def _unique(rules: list[Rule]) -> list[Rule]:
    seen: set[tuple[str, str, str, str]] = set()
    out = []
    for rule in rules:
        key = (rule.section, rule.field, rule.message, rule.fix)
        if key not in seen:
            seen.add(key)
            out.append(rule)
    return out


def opt_in_docs() -> dict[OptIn, str]:
    """The docstring under each ``OptIn`` member in ``_config/values.py``, as Markdown."""
    docs: dict[OptIn, str] = {}
    for node in ast.walk(_tree("_config.values")):
        if isinstance(node, ast.ClassDef) and node.name == "OptIn":
            body = node.body
            for statement, following in zip(body, body[1:]):
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(statement.targets[0], ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                ):
                    paragraphs = inspect.cleandoc(following.value.value).split("\n\n")
                    text = "\n\n".join(" ".join(p.split()) for p in paragraphs)
                    docs[OptIn[statement.targets[0].id]] = text.replace("``", "`")
    return docs


def audit_checks() -> dict[OptIn, list[str]]:
    """For each opt-in, the ids of the audit checks that name it as a cause, in order."""
    trees = [
        _tree(f"_audit.{path.stem}")
        for path in sorted((PACKAGE / "_audit").glob("*.py"))
        if path.stem != "__init__"
    ]
    # Functions by name across the package: a check may judge through a helper elsewhere.
    functions = {f.name: f for t in trees for f in t.body if isinstance(f, ast.FunctionDef)}

    def opt_ins(name: str, seen: set[str]) -> set[OptIn]:
        """The OptIn members a function names, itself or through the functions it calls."""
        if name in seen or name not in functions:
            return set()
        seen.add(name)
        found = set()
        for node in ast.walk(functions[name]):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "OptIn"
            ):
                found.add(OptIn[node.attr])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                found |= opt_ins(node.func.id, seen)
        return found

    def check_id(call: ast.expr) -> str | None:
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "_check"
            and call.args
            and isinstance(call.args[0], ast.Constant)
        ):
            return str(call.args[0].value)
        return None

    by_check: dict[str, set[OptIn]] = {}
    for node in (n for t in trees for n in t.body):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                found = check_id(decorator)
                if found:
                    by_check[found] = opt_ins(node.name, set())
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            found = check_id(node.value.func)
            judge = node.value.args[0] if node.value.args else None
            if found and isinstance(judge, ast.Call) and isinstance(judge.func, ast.Name):
                by_check[found] = opt_ins(judge.func.id, set())
    result: dict[OptIn, list[str]] = {o: [] for o in OptIn}
    for spec in CHECKS:  # the audit's own order
        for opt_in in sorted(by_check.get(spec.id, ()), key=list(OptIn).index):
            result[opt_in].append(spec.id)
    return result


# -- writing the page ------------------------------------------------------------------


def _cell(text: str) -> str:
    """Make text safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _escape(text: str) -> str:
    """Keep ``<name>`` and other markup-like text literal in Markdown."""
    return (
        text.replace("\\", "\\\\")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("*", "\\*")
    )


def _check_label(check_id: str) -> str:
    title = {c.id: c.title for c in CHECKS}[check_id]
    source = "CIS" if check_id[0].isdigit() else ""
    return f"{source} {check_id}".strip() + f" ({title})"


def _opt_in_section(
    opt_in: OptIn, rules: list[Rule], costs: str | None, checks: list[str]
) -> list[str]:
    permits = [r for r in rules if r.opt_in is opt_in]
    lines = [f"### `{opt_in.value}`", ""]
    if costs:
        lines += [costs, ""]
    lines.append("**The rules it waives:**")
    lines.append("")
    if permits:
        lines += [f"- `{r.field}`: {_escape(r.message)}" for r in permits]
    else:
        lines.append("- nothing yet: no validation rule names it")
    lines.append("")
    if checks:
        labels = "; ".join(_escape(_check_label(c)) for c in checks)
        lines.append(f"**Audit checks that flag it:** {labels}.")
        lines.append("")
    lines += [
        "**Grant it:** "
        f'`.opt_in("{opt_in.value}")` or `.opt_in(sr.OptIn.{opt_in.name})` on a builder; '
        f"`--opt-in {opt_in.value}` on the [command line](reference/cli.md).",
        "",
    ]
    return lines


def _rules_table(rules: list[Rule]) -> list[str]:
    lines = ["| field | refused | fix | opt-in |", "|---|---|---|---|"]
    for r in rules:
        opt_in = f"[`{r.opt_in.value}`](#{r.opt_in.value})" if r.opt_in else "none: a mistake"
        lines.append(
            f"| `{_cell(r.field)}` | {_cell(_escape(r.message))} | {_cell(_escape(r.fix))} "
            f"| {opt_in} |"
        )
    return lines


def generate() -> str:
    """The full text of docs/rules.md, from the code."""
    rules = validation_rules()
    costs = opt_in_docs()
    checks = audit_checks()
    lines = [
        "# Validation rules and opt-ins",
        "",
        "*Generated from the rule modules `secure_run/_config/fields.py`, `validation.py` and "
        "`host_rules.py`, from `secure_run/_config/values.py` and from the audit by "
        f"`{COMMAND}`; do not edit by hand.*",
        "",
        "`.build()` (and `attrs.evolve()` on a `RunConfig`) runs every rule below at",
        "once and raises one `ConfigError` that lists every problem, each as",
        "`field=value: what is wrong; fix: what to do`. `err.problems` holds them as",
        "`Problem(field, value, message, fix)` records. A rule is one of two kinds:",
        "",
        "- a **weaker setting**: refused unless you grant its opt-in by name. The",
        "  opt-ins a config relies on are listed by `cfg.waivers()` and put on the",
        "  container as the `io.secure-run.opt-ins` label, where `secure-run audit`",
        "  reads them;",
        "- a **mistake**: refused always, since no workload needs it (a `cap_drop`",
        "  without `ALL`, a reservation above the limit, a relative path).",
        "",
        "## Opt-ins",
        "",
        "| opt-in | permits | audit checks that flag it |",
        "|---|---|---|",
    ]
    for opt_in in OptIn:
        permits = sorted({r.field for r in rules if r.opt_in is opt_in})
        lines.append(
            f"| [`{opt_in.value}`](#{opt_in.value}) | "
            f"{_cell(', '.join(f'`{f}`' for f in permits) or 'nothing yet')} | "
            f"{_cell(', '.join(checks[opt_in]) or 'none')} |"
        )
    lines += [
        "",
        "An opt-in granted but not needed is harmless: it is left out of",
        "`cfg.waivers()` and of the label. The audit checks are described in",
        "[audit](audit.md#checks); the CIS ids are CIS Docker Benchmark v1.6",
        "section 5, the `PSS-` ids the Kubernetes Pod Security Standards.",
        "",
    ]
    for opt_in in OptIn:
        lines += _opt_in_section(opt_in, rules, costs.get(opt_in), checks[opt_in])
    lines += [
        "## Every rule",
        "",
        "Grouped by the function in `secure_run/_config/` that checks them, in the",
        "order they run. The per-field rules (types, NUL bytes, 64-bit numbers) run",
        "first, and the builder runs them as each method sets a field; when one fails,",
        "the others are skipped, since they trust the types. `<name>` stands for a",
        "value known only when the rule runs.",
        "",
    ]
    summaries = {
        f.name: _summary(f)
        for module in _RULE_MODULES
        for f in _tree(module).body
        if isinstance(f, ast.FunctionDef)
    }
    sections: dict[str, list[Rule]] = {}
    for rule in rules:
        sections.setdefault(rule.section, []).append(rule)
    for section, members in sections.items():
        where = members[0].where
        summary = summaries.get(where)
        intro = f"{summary.rstrip('.')}. " if summary else ""
        lines += [f"### {section}", "", f"{intro}Checked by `{where}()`.", ""]
        lines += [*_rules_table(members), ""]
    lines += [
        "## Refused when a builder method is called",
        "",
        "A builder method that cannot make sense of its argument (a size, a user,",
        "a duration, a capability name, a seccomp file) records the problem at",
        "once; `builder.problems` lists them, and `.build()` raises them with the",
        "rest. No opt-in applies to these.",
        "",
        "| checked by | field | refused | fix |",
        "|---|---|---|---|",
    ]
    for rule in input_rules():
        lines.append(
            f"| `{rule.section}` | {_cell(_escape(rule.field))} | {_cell(_escape(rule.message))} "
            f"| {_cell(_escape(rule.fix))} |"
        )
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/rules.md, or with ``--check`` report whether it is up to date."""
    from docgen import write_or_check

    return write_or_check(
        argv,
        description=(__doc__ or "").splitlines()[0],
        output=OUTPUT,
        root=ROOT,
        command=COMMAND,
        generate=generate,
    )


if __name__ == "__main__":
    sys.exit(main())


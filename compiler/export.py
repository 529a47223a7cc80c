"""A decorated function's gradient as a standalone module: NumPy (and math, and the modules the
user's own code imports) is all it needs at run time, never sourcead.

    df = grad(loss, wrt=("W", "b"))
    df.export("loss_grad.py")                 # the generic version
    df.export("loss_grad.py", args=(W, x, b)) # and the version specialised to these arguments
    python -m compiler export model.py:loss -o loss_grad.py --wrt W,b --shapes W=3,2 x=2 b=3

The module holds the generated code exactly as the decorator runs it: each version is its factory
(`make_..._grad(np, unbroadcast, ...)`) called with the objects the decorator would bind. What those
objects are decides what the module says: NumPy, math and builtins by name; our own helpers
(compiler/support.py, the library's adjoints) copied in as source; a function with a rule of the
user's (compiler.register) and any other library function imported from its module (refused,
clearly, when it cannot be imported: a lambda, a local function); the globals and closure values
the gradient reads copied in as literals, as they are when the file is written.
"""
from __future__ import annotations

import ast
import builtins
import datetime
import functools
import inspect
import math
import os
import sys
import textwrap
import types

import numpy as np

from .errors import GradError
from .loader import origin
from .primitives import numpy_path

_MAX_ELEMENTS = 100_000  # a larger array read by the gradient is refused (make it an argument)


def export(compiled, path, args=None):
    """Write the module for `compiled` (an api.Compiled) to `path`; returns the path written."""
    if getattr(compiled, "materialize", None) is not None:
        compiled.materialize()  # read from the on-disk cache: its graphs are needed here
    _supported(compiled)
    writer = _Writer(compiled, os.path.splitext(os.path.basename(os.fspath(path)))[0])
    text = writer.module(args)
    try:
        compile(text, str(path), "exec")
    except SyntaxError as exc:  # ours to fix, never the user's
        raise GradError(f"internal compiler error: the module exported for {compiled.fn.__name__} "
                        f"is not valid Python ({exc}). This is a bug in sourcead; please report "
                        "it with the function.") from None
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return os.fspath(path)


def _where(fn):
    code = fn.__code__
    return f'File "{code.co_filename}", line {code.co_firstlineno}, in {fn.__name__}'


def _supported(compiled):
    fn = compiled.fn
    if compiled.mode != "grad" or compiled.flat or compiled.extra_names:
        raise GradError(f"{_where(fn)}\nexport writes the gradient of grad(f) or "
                        "value_and_grad(f) of a function of numbers and arrays; this one (taken "
                        "apart as containers, or a jvp/vjp/higher derivative) cannot be exported "
                        "yet.")


class _Writer:
    """The exported module's parts, named so that nothing in it hides anything else."""

    def __init__(self, compiled, stem):
        self.compiled = compiled
        self.stem = stem
        self.fn = compiled.fn
        self.imports = {}      # module name -> the import line
        self.helpers = {}      # name -> source (ours, copied)
        self.helper_of = {}    # id(object) -> the name it was copied as
        self.values = []       # (name, expression, comment): what the gradient reads
        self.value_of = {}     # id(object) -> name
        self.taken = set()     # every module-level name so far
        self.reads = {}        # the user's global name -> value (the generated code reads them)
        self.copying = set()   # helpers being copied (their dependencies first)

    # -- the module --

    def module(self, args):
        c = self.compiled
        base = c.func_name
        _, generic = c.emit(c.grad_graph, kinds=None)
        versions = [(f"{base}_generic", generic, "any arguments: shapes and kinds are worked out "
                                                  "as it runs")]
        if c.scalar_version is not None:
            versions.append((f"{base}_float", c.function,
                             f"Python floats (the decorator's own); other arguments go to "
                             f"{base}_generic"))
        special = None
        if args is not None:
            values = c.arguments(tuple(args), {})
            _, version = c.version(values)
            if version is not c.function:
                special = (values, c.describe(values))
                versions.append((f"{base}_specialised", version,
                                 f"{special[1]} (other arguments go to "
                                 f"{base}_float if they are floats, else {base}_generic)"
                                 if c.scalar_version is not None else
                                 f"{special[1]} (other arguments go to {base}_generic)"))
        for _, fn, _ in versions:
            self._read_globals(fn)
        self.taken |= set(self.reads) | {base, "np", "math"} | {n for n, _, _ in versions}
        bodies = [self._version(name, fn, versions[0][0]) for name, fn, _ in versions]
        main = self._main(base, versions, special)
        return self._assemble(base, versions, bodies, main, args is not None)

    def _assemble(self, base, versions, bodies, main, specialised):
        self._import("numpy", "np")
        parts = [self._header(base, versions, specialised)]
        lines = sorted(self.imports)
        parts.append("\n".join(lines) + "\n")
        if self.helpers:
            parts.append("# --- helpers of sourcead's that the generated code calls (copied from "
                         "its source) ---\n\n" + "\n\n".join(h.strip("\n") + "\n"
                                                             for h in self.helpers.values()))
        if self.values:
            rows = ["# --- what your function reads, copied as it was when this file was "
                    "written ---", "# (the decorator reads these at each call: assign new values "
                    "here to change them)"]
            for name, expression, comment in self.values:
                rows.append(f"{name} = {expression}  # {comment}" if len(expression) < 60
                            else f"# {comment}\n{name} = {expression}")
            parts.append("\n".join(rows) + "\n")
        parts.append("# --- the generated code, exactly as the decorator runs it ---")
        parts.extend(bodies)
        parts.append(main)
        parts.append(f'__all__ = ["{base}"]\n')
        return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"

    def _header(self, base, versions, specialised):
        c, fn = self.compiled, self.fn
        code = fn.__code__
        names = [c.names[i] for i in c.wrt]
        wrt = tuple(names) if c.wrt_is_tuple else names[0]
        grads = ", ".join(f"d{fn.__name__}/d{n}" for n in names)
        grads = f"({grads})" if c.wrt_is_tuple else grads
        value = f"{fn.__name__}({', '.join(c.names)})"
        if c.has_aux:
            returns = f"(({value}'s loss, aux), {grads})" if c.with_value else f"({grads}, aux)"
        else:
            returns = f"({value}, {grads})" if c.with_value else grads
        made = "value_and_grad" if c.with_value else "grad"
        options = f", wrt={wrt!r}" + (", has_aux=True" if c.has_aux else "") + \
            (f", simplify={c.simplify!r}" if c.simplify else "")
        listing = "\n".join(f"    {n:<{max(len(v[0]) for v in versions)}}  {what}"
                            for n, _, what in versions)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        example = ", ".join(c.positional)
        text = f'''"""The {'value and ' if c.with_value else ''}gradient of `{fn.__name__}`, written by {_package()}
on {stamp}.

Generated from {code.co_filename}, function {fn.__qualname__} (line {code.co_firstlineno}),
as {made}({fn.__name__}{options}).

    {base}({', '.join(c.names)}) -> {returns}

Call it as you would call the decorated function:

    from {self.stem} import {base}
    result = {base}({example})

It needs NumPy{self._needs()} only: nothing here imports sourcead. Below is the code the
decorator runs, one function per version:

{listing}

{base} is {"the dispatch below" if specialised else versions[-1][0]}.
Globals and closure values your function reads are copied near the top as they were when this file
was written; the decorator reads them at each call, so assign them there to change them.
"""'''
        return text

    def _needs(self):
        others = sorted(m.split(".")[0] for m in self.imports.values() if m.split(".")[0] not in (
            "numpy", "math", "builtins") and m.split(".")[0] not in sys.stdlib_module_names)
        return "".join(f", {m}" for m in dict.fromkeys(others))

    def _main(self, base, versions, special):
        names = [n for n, _, _ in versions]
        fallback = f"{base}_float" if f"{base}_float" in names else f"{base}_generic"
        if special is None:
            return f"{base} = {fallback}\n"
        self._import("numpy", "np")
        values, signature = special
        c = self.compiled
        params = list(c.positional)
        tests = []
        for name, value in zip(c.names, values):
            tests.append(_test(name, value, c.by_value))
        self.helper(_support("Deopt"))
        call = ", ".join(params + [f"{k}={k}" for k in c.kwonly])
        signature_text = ", ".join(params + (["*"] + list(c.kwonly) if c.kwonly else []))
        condition = " and\n            ".join(t for t in tests if t) or "True"
        return (f"def {base}({signature_text}):\n"
                f'    """{signature} -> {base}_specialised; anything else -> {fallback}."""\n'
                f"    if ({condition}):\n"
                f"        try:\n"
                f"            return {base}_specialised({call})\n"
                f"        except Deopt:\n"
                f"            pass  # a branch that version never saw: {fallback} takes it\n"
                f"    return {fallback}({call})\n") + self._defaults(base)

    def _defaults(self, name):
        fn, lines = self.fn, ""
        if fn.__defaults__:
            lines += f"{name}.__defaults__ = {_literal(tuple(fn.__defaults__), fn, 'a default')}\n"
        if fn.__kwdefaults__:
            lines += f"{name}.__kwdefaults__ = {_literal(dict(fn.__kwdefaults__), fn, 'a default')}\n"
        return lines

    # -- one version --

    def _version(self, name, fn, generic):
        made = origin(fn)
        tree = ast.parse(made.source)
        factory = tree.body[0]
        inner = next(n for n in factory.body if isinstance(n, ast.FunctionDef))
        params = [a.arg for a in factory.args.args]
        arguments = []
        for param in params:
            held = made.cells.get(param, made.bindings.get(param))
            arguments.append(f"{param}={self._bound(param, held, param in made.cells, inner, generic)}")
        maker = self._fresh(f"make_{name}")
        lines = made.source.splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith(f"def {made.factory_name}("))
        lines[first] = lines[first].replace(f"def {made.factory_name}(", f"def {maker}(", 1)
        source = "\n".join(line for line in lines).strip("\n") + "\n"
        call = f"{name} = {maker}({', '.join(arguments)})"
        if len(call) > 99:
            call = f"{name} = {maker}(\n" + "".join(f"    {a},\n" for a in arguments) + ")"
        return source + "\n\n" + call + "\n" + self._defaults(name)

    def _read_globals(self, fn):
        """The user's globals a version reads by name (numbers and arrays, read live)."""
        tree = ast.parse(origin(fn).source)
        factory = tree.body[0]
        inner = next(n for n in factory.body if isinstance(n, ast.FunctionDef))
        local = {a.arg for a in factory.args.args} | {a.arg for a in inner.args.args} | \
            {a.arg for a in inner.args.kwonlyargs}
        loads = []
        for node in ast.walk(inner):
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    loads.append(node.id)
                else:
                    local.add(node.id)
        namespace = self.fn.__globals__
        for name in loads:
            if name in local or name in self.reads:
                continue
            if name in namespace:
                self.reads[name] = namespace[name]
                label = _module_label(namespace)
                self.values.append((name, _literal(namespace[name], self.fn, f"`{name}`"),
                                    f"{name} in {label}" if label.endswith(".py") else
                                    f"{label}.{name}"))
            elif not hasattr(builtins, name):
                raise GradError(f"{_where(self.fn)}\ncannot export: the gradient reads `{name}`, "
                                "which is not defined now. Define it, then export again.")

    def _bound(self, param, held, is_cell, inner, generic):
        """The expression, in the exported module, for what a factory parameter holds."""
        if is_cell:
            try:
                value = held.cell_contents
            except ValueError:
                raise GradError(f"{_where(self.fn)}\ncannot export: the closure variable "
                                f"`{param}` is not bound yet.") from None
            return self._value(param, value, f"the closure variable `{param}` of "
                                             f"{self.fn.__qualname__}")
        if isinstance(held, types.MethodType) and held.__self__ is self.compiled and \
                held.__func__.__name__ == "respecialize":
            return generic
        if isinstance(held, dict) or type(held).__name__ == "_Items":
            keys = _subscripts(inner, param)
            if keys is None:
                raise GradError(f"{_where(self.fn)}\ncannot export: the gradient uses the "
                                f"namespace `{param}` other than by name.")
            content = {k: held[k] for k in keys}
            owner = _module_label(held) if isinstance(held, dict) and "__name__" in held \
                else "an object of yours"
            return self._value(param, content, f"what the gradient reads of {owner}")
        return self.reference(held, param)

    def _value(self, param, value, comment):
        key = id(value)
        if key not in self.value_of:
            name = self._fresh(param if param not in self.taken else f"{param}_value")
            self.values.append((name, _literal(value, self.fn, f"`{param}`"), comment))
            self.value_of[key] = name
        return self.value_of[key]

    def _fresh(self, name):
        base, n = name, 0
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    # -- objects by name --

    def reference(self, obj, label):
        """An expression for a function, class, module or constant the generated code uses."""
        from .aliasing import WriteCheck  # noqa: PLC0415
        from .custom import USER_RESOLVE  # noqa: PLC0415
        from .rules import TABLE  # noqa: PLC0415
        if obj is None or isinstance(obj, (bool, int, float, str)) or \
                isinstance(obj, (tuple, np.dtype)):
            return _literal(obj, self.fn, f"`{label}`")
        if isinstance(obj, types.ModuleType):
            return self._import(obj.__name__)
        if obj is np.float64 or obj is np.ndarray:
            return f"{self._import('numpy', 'np')}.{obj.__name__}"
        if isinstance(obj, WriteCheck):
            return self._write_check(obj, label)
        user = next((name for f, name in USER_RESOLVE.items() if f is obj), None)
        vjp = next((name for name, rule in TABLE.items()
                    if getattr(rule, "user_vjp", None) is obj), None)
        if user is not None or vjp is not None:
            return self._importable(obj, "the function registered with compiler.register" if user
                                    else "the rule (vjp) registered with compiler.register")
        if _ours(obj):
            return self.helper(obj, label)
        if getattr(obj, "__module__", None) == "builtins" and getattr(builtins, getattr(
                obj, "__name__", ""), None) is obj:
            name = obj.__name__
            return name if name not in self.taken else f"{self._import('builtins')}.{name}"
        path = numpy_path(obj) if callable(obj) else None
        if path is not None:
            return f"{self._import('numpy', 'np')}.{path}"
        if getattr(obj, "__module__", None) == "math":
            return f"{self._import('math')}.{obj.__name__}"
        return self._importable(obj, "a function your code calls")

    def _importable(self, obj, what):
        found = _find_import(obj)
        if found is None:
            module = getattr(obj, "__module__", None)
            name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
            code = getattr(obj, "__code__", None)
            where = f" (defined at {code.co_filename}, line {code.co_firstlineno})" if code else ""
            why = (" (it is a lambda)" if name == "<lambda>" else
                   " (it is defined inside a function)" if "<locals>" in name else
                   " (it is defined in the script being run)" if module == "__main__" else "")
            raise GradError(
                f"{_where(self.fn)}\ncannot export: the gradient calls {what}, `{name}`{where}, "
                f"which the exported module could not import{why}. Define it at the top level of "
                "a module that can be imported (not the script you run), then export again.")
        module, name = found
        return f"{self._import(module)}.{name}"

    def _import(self, module, alias=None):
        """Import `module` (as `alias`) in the exported module; the name to reach it by."""
        if module == "numpy" and alias is None:
            alias = "np"
        top = alias or module.split(".")[0]
        line = f"import {module} as {alias}" if alias and alias != module else f"import {module}"
        if line not in self.imports.values():
            if top in self.reads or top in self.helpers:
                raise GradError(f"{_where(self.fn)}\ncannot export: the name `{top}` is both a "
                                "global your function reads and a module the gradient needs. "
                                "Rename the global, then export again.")
            self.imports[line] = module
            self.taken.add(top)
        return alias or module

    # -- our own helpers, copied --

    def helper(self, obj, label=None):
        """Copy a function or class of ours (and what it uses, first) into the module; its name
        there (its own, or a fresh one where another helper or a global of yours has it)."""
        if id(obj) in self.helper_of:
            return self.helper_of[id(obj)]
        name = obj.__name__ if obj.__name__ != "<lambda>" else (label or "helper")
        if name in self.reads or name in self.helpers or name in self.copying or \
                name in self.taken:
            name = self._fresh(name)
        self.helper_of[id(obj)] = name
        self.copying.add(name)
        self.taken.add(name)
        copy = _HelperSource(obj)
        for base in getattr(obj, "__bases__", ()):
            if _ours(base):
                copy.rename(base.__name__, self.helper(base))
        for dependency in copy.loads:
            if dependency in copy.namespace:
                copy.rename(dependency, self._dependency(dependency, copy.namespace[dependency]))
        copy.rename(copy.name, name)
        self.helpers[name] = copy.text()
        return name

    def _dependency(self, name, value):
        """Make what a helper reads by `name` exist in the module; the name it has there."""
        if isinstance(value, types.ModuleType):
            if _ours(value):
                raise GradError(f"{_where(self.fn)}\ninternal compiler error while exporting: a "
                                f"helper reads the module {value.__name__}. This is a bug in "
                                "sourcead; please report it with the function.")
            if value.__name__ == "numpy":
                return self._import("numpy", name)
            return self._import(value.__name__, name if name != value.__name__ else None)
        if _ours(value) and isinstance(value, (types.FunctionType, type)):
            return self.helper(value)
        if isinstance(value, (bool, int, float, str, tuple, frozenset)) or value is None:
            return self._constant(name, repr(value), value)
        path = numpy_path(value) if callable(value) else None
        if path is not None:
            return self._constant(name, f"{self._import('numpy', 'np')}.{path}", value)
        if getattr(value, "__module__", None) == "math":
            return self._constant(name, f"{self._import('math')}.{value.__name__}", value)
        raise GradError(f"{_where(self.fn)}\ninternal compiler error while exporting: the helper "
                        f"{name} ({type(value).__name__}) cannot be written out. This is a bug in "
                        "sourcead; please report it with the function.")

    def _constant(self, name, expression, value):
        key = ("constant", id(value))
        if key in self.helper_of:
            return self.helper_of[key]
        fresh = self._fresh(name) if name in self.taken else name
        self.taken.add(fresh)
        self.helper_of[key] = fresh
        self.helpers[fresh] = f"{fresh} = {expression}\n"
        return fresh

    def _write_check(self, check, label):
        """The check before an in-place write (aliasing.WriteCheck), with its messages written
        out: a ValueError where the decorator raises its GradError."""
        from .aliasing import _argument_reason  # noqa: PLC0415
        from .errors import error_at  # noqa: PLC0415
        name = self._fresh(label)
        table = self._fresh(f"{name}_messages")
        rows = []
        for other in check.others:
            reason = _argument_reason if other in check.arguments else check.reason
            text = str(error_at(check.location, reason(check.target, other)))
            pieces = "\n".join(f"        {line!r}" for line in text.splitlines(keepends=True))
            rows.append(f"    {other!r}: (\n{pieces}),\n")
        self.helpers[name] = (
            f"def {name}(value, *others):\n"
            f'    """Before `{check.target}` is written in place: refuse if it shares memory with '
            f"another\n    name's array (the decorator raises the same message as a GradError)."
            f'"""\n'
            f"    if not isinstance(value, np.ndarray):\n"
            f"        return\n"
            f"    for name, other in zip({tuple(check.others)!r}, others):\n"
            f"        if isinstance(other, np.ndarray) and np.shares_memory(value, other):\n"
            f"            raise ValueError({table}[name])\n\n\n"
            f"{table} = {{\n{''.join(rows)}}}\n")
        self._import("numpy", "np")
        return name


_imports_found = {}


def _find_import(obj):
    """(module, qualified name) by which `obj` can be imported: its own module's, else the
    shortest public module that holds it (scipy.special for its ufuncs); None if there is none."""
    known = _imports_found.get(id(obj))
    if known is not None and known[0] is obj:
        return known[1]
    found = _search_import(obj)
    _imports_found[id(obj)] = (obj, found)
    return found


def _search_import(obj):
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(name, str) or "<" in name:
        return None

    def importable(module_name):
        return module_name != "__main__" and not module_name.startswith("_sourcead_") and \
            not any(part.startswith("_") for part in module_name.split(".")) and \
            module_name.split(".")[0] not in ("compiler", "runtime")

    if isinstance(module, str) and importable(module):
        found = sys.modules.get(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        if found is obj:
            return module, name
    short = getattr(obj, "__name__", None)
    if not isinstance(short, str) or (isinstance(module, str) and
                                      (module == "__main__" or module.startswith("_sourcead_"))):
        return None
    if isinstance(obj, types.FunctionType) and "." in name:
        return None  # a method: found by its class, or not at all
    candidates = sorted((m for m in list(sys.modules) if importable(m)),
                        key=lambda m: (m.count("."), len(m), m))
    for candidate in candidates:
        if getattr(sys.modules.get(candidate), short, None) is obj:
            return candidate, short
    return None


def _module_label(namespace):
    """How a comment names a module: by its name, or by its file when the command line loaded it
    under a name of ours."""
    name = namespace.get("__name__") or "your module"
    if name.startswith("_sourcead_") and namespace.get("__file__"):
        return os.path.basename(namespace["__file__"])
    return name


def _test(name, value, by_value):
    """The condition under which an argument fits the specialised version (its signature key)."""
    if type(value) is np.float64:
        return f"type({name}) is np.float64"
    if type(value) is float or isinstance(value, np.floating):
        return f"type({name}) is float"
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        kind = f"isinstance({name}, (int, np.integer))"
        return f"{kind} and {name} == {int(value)}" if by_value else kind
    if isinstance(value, np.ndarray):
        return (f"type({name}) is np.ndarray and {name}.shape == {tuple(value.shape)!r} and "
                f"{name}.dtype.str == {value.dtype.str!r}")
    if value is None:
        return f"{name} is None"
    if type(value) in (str, bytes, tuple, list, dict):
        return f"type({name}) is {type(value).__name__}"
    return ""


def _subscripts(inner, name):
    """The constant keys a function reads from `name` (name["k"]), or None if it uses it
    otherwise."""
    keys, uses = [], 0
    for node in ast.walk(inner):
        if isinstance(node, ast.Name) and node.id == name:
            uses += 1
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and \
                node.value.id == name and isinstance(node.slice, ast.Constant) and \
                isinstance(node.slice.value, str):
            if node.slice.value not in keys:
                keys.append(node.slice.value)
            uses -= 1
    return keys if uses == 0 else None


def _ours(obj):
    module = getattr(obj, "__module__", None) if not isinstance(obj, types.ModuleType) \
        else obj.__name__
    return isinstance(module, str) and module.split(".")[0] == "compiler"


def _support(name):
    from . import support  # noqa: PLC0415
    return getattr(support, name)


class _HelperSource:
    """One of our functions or classes, to be written as a top-level definition: decorators left
    out (they register it with the compiler), a lambda written as a def, `support.helper` written
    `helper`; the global names it reads (`loads`), from `namespace`. Its text keeps its comments
    unless a name in it must change."""

    def __init__(self, obj):
        self.source, self.name, self.loads, extra = _analysis(obj)
        self.namespace = obj.__globals__ if isinstance(obj, types.FunctionType) else \
            vars(sys.modules[obj.__module__])
        if extra:
            self.namespace = {**self.namespace, **extra}
        self.renames = {}

    def rename(self, old, new):
        if old != new:
            self.renames[old] = new

    def text(self):
        if not self.renames:
            return self.source
        tree = ast.parse(self.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in self.renames:
                node.id = self.renames[node.id]
        if self.name in self.renames:
            tree.body[0].name = self.renames[self.name]
        return ast.unparse(tree) + "\n"


_analyses = {}


def _analysis(obj):
    """(source, name, the global names it reads, {name: object} for `module.helper` rewritten
    as `helper`) of one of our functions or classes, worked out once."""
    found = _analyses.get(obj)
    if found is not None:
        return found
    namespace = obj.__globals__ if isinstance(obj, types.FunctionType) else \
        vars(sys.modules[obj.__module__])
    source = _source_of(obj)
    tree = ast.parse(source)
    definition = tree.body[0]
    decorated = bool(definition.decorator_list)
    definition.decorator_list = []
    rewritten = {}

    class Rewrite(ast.NodeTransformer):
        def visit_Attribute(self, node):
            self.generic_visit(node)
            if isinstance(node.value, ast.Name):
                module = namespace.get(node.value.id)
                if isinstance(module, types.ModuleType) and _ours(module):
                    rewritten[node.attr] = getattr(module, node.attr)
                    return ast.copy_location(ast.Name(node.attr, ast.Load()), node)
            return node

    tree = ast.fix_missing_locations(Rewrite().visit(tree))
    stored, loads = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else stored).add(n.id)
        elif isinstance(n, ast.arguments):
            stored |= {a.arg for a in n.posonlyargs + n.args + n.kwonlyargs + [n.vararg, n.kwarg]
                       if a}
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n is not definition:
            stored.add(n.name)
    if rewritten:
        text = ast.unparse(tree) + "\n"
    else:
        lines = source.splitlines(keepends=True)
        text = "".join(lines[definition.lineno - 1 if decorated else 0:])  # comments kept
    found = (text, definition.name, sorted(loads - stored), rewritten)
    _analyses[obj] = found
    return found


_sources = {}


def _source_of(obj):
    """The source text of one of our functions or classes (a lambda: as `def helper`), read once."""
    found = _sources.get(obj)
    if found is None:
        if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
            node = _lambda_node(obj)
            definition = ast.FunctionDef("helper", node.args, [ast.Return(node.body)], [], None,
                                         None)
            module = ast.fix_missing_locations(ast.Module([definition], []))
            found = ast.unparse(module) + "\n"
        else:
            found = textwrap.dedent(inspect.getsource(obj))
        _sources[obj] = found
    return found


def _lambda_node(fn):
    """The syntax of a lambda of ours, found in its source lines by its place and parameters."""
    lines, start = inspect.getsourcelines(fn)
    text = textwrap.dedent("".join(lines))
    tree = ast.parse(text)
    code = fn.__code__
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) and node.lineno + start - 1 == code.co_firstlineno:
            args = node.args
            if [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs] == names:
                return node
    raise GradError(f"internal compiler error: the source of a helper ({code.co_filename}, line "
                    f"{code.co_firstlineno}) cannot be found to export it. This is a bug in "
                    "sourcead; please report it.")


def _literal(value, fn, what):
    """Python source that makes `value` again: numbers, strings, None, tuples, lists, dicts and
    NumPy arrays of numbers (written out in full)."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if type(value) is int:
        return repr(value)
    if type(value) is float:
        return _float(value)
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return f"np.{type(value).__name__}({_literal(value.item(), fn, what)})"
    if isinstance(value, np.dtype):
        return f"np.dtype({value.str!r})"
    if type(value) in (tuple, list):
        items = [_literal(v, fn, what) for v in value]
        if type(value) is tuple:
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    if type(value) is dict:
        return "{" + ", ".join(f"{_literal(k, fn, what)}: {_literal(v, fn, what)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        if value.size > _MAX_ELEMENTS:
            raise GradError(f"{_where(fn)}\ncannot export: {what} is an array of {value.size} "
                            f"values (more than {_MAX_ELEMENTS} are not written into the module). "
                            "Pass it as an argument instead, then export again.")
        return f"np.array({_nested(value.tolist())}, dtype=np.{value.dtype.name})"
    raise GradError(f"{_where(fn)}\ncannot export: {what} holds a {type(value).__name__}, which "
                    "cannot be written into the module as a value. Pass it as an argument, or "
                    "make it a number or an array, then export again.")


def _nested(items):
    if isinstance(items, list):
        return "[" + ", ".join(_nested(i) for i in items) + "]"
    if isinstance(items, float):
        return _float(items)
    return repr(items)


def _float(x):
    if math.isfinite(x):
        return repr(x)
    return "float('nan')" if x != x else ("float('inf')" if x > 0 else "-float('inf')")


@functools.lru_cache(maxsize=None)
def _package():
    try:
        from importlib.metadata import version  # noqa: PLC0415
        number = version("sourcead")
    except Exception:  # noqa: BLE001 -- not installed: the source tree's own
        number = "(source tree)"
    try:
        from .cache_key import package_digest  # noqa: PLC0415
        return f"sourcead {number} (compiler {package_digest()[:12]})"
    except Exception:  # noqa: BLE001
        return f"sourcead {number}"

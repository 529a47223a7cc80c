"""Checks on generated code that can fail after `grad()` returns (shared by the compiler and
reliability suites; tests/ is on sys.path through tests/conftest.py).

- `run_traced`: call a compiled gradient and record every generated function that ran (its code
  object and its closure), seen by a profiler, not by asking the compiler.
- `assert_compiled_from`: a code object that ran is the function of the same name in a source text
  compiled by the test itself (same bytecode, constants, names, line table), and `linecache` holds
  exactly that text under the code object's filename (what tracebacks show).
- `user_names`: the identifiers of the user's function and of the user functions it calls, split
  into the names it binds (its locals) and the names it reads from its environment.
- `assert_names_hygienic`: every name the generated source binds is either not one of the user's
  identifiers, or is one of the user's own locals, or is a helper whose value is the very object the
  user's name refers to (`np` bound to the NumPy the user calls `np`). So a name the user's code
  reads from its globals, closure or builtins never means something else in the generated code.
- `globals_snapshot` / `assert_unchanged`: the user's module globals and argument arrays are not
  touched by a call.
- `numeric_globals_read`: the module-level numbers the user's code reads, to change them
  (sentinels) and check that the gradient reads them live, from the user's module.
"""
import __future__
import ast
import builtins
import dis
import inspect
import linecache
import os
import sys
import textwrap
import types

import numpy as np

GENERATED_PREFIX = "<sourcead:"
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


# --- what runs ---------------------------------------------------------------------------------

class Ran:
    """One generated function that ran: its code object and its free variables' values."""

    def __init__(self, code, cells):
        self.code = code
        self.cells = cells

    @property
    def text(self):
        return "".join(linecache.getlines(self.code.co_filename))


def run_traced(call):
    """(call(), [Ran...]): every generated function that ran during the call, in order of first
    call, seen by a profile hook."""
    seen = {}

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(GENERATED_PREFIX) \
                and frame.f_code not in seen:
            f_locals = frame.f_locals  # includes free variables (helpers and the user's cells)
            seen[frame.f_code] = Ran(frame.f_code, {n: f_locals.get(n) for n in frame.f_code.co_freevars})

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = call()
    finally:
        sys.setprofile(previous)
    return result, list(seen.values())


def _nested_code(code, name):
    found = [c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == name]
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and not found:
            found = _nested_code(c, name)
    return found


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def assert_compiled_from(code, source):
    """`code` ran, and it is the function of its name in `source` as the test compiles it."""
    lines = linecache.getlines(code.co_filename)
    assert lines == source.splitlines(keepends=True), (
        f"linecache holds another text under {code.co_filename} than the source shown:\n"
        + "".join(lines))
    # compiled with the same __future__ flags (the loader's module has `annotations`, which
    # compile() passes on; it changes nothing in code without annotations)
    future = code.co_flags & _FUTURE_FLAGS
    ours = _nested_code(compile(source, "<compiled by the test>", "exec", flags=future,
                                dont_inherit=True), code.co_name)
    assert len(ours) == 1, f"the source has {len(ours)} functions named {code.co_name}"
    (ours,) = ours
    assert ours.co_code == code.co_code, f"{code.co_name}: other bytecode than the source compiles to"
    assert ours.co_consts == code.co_consts, f"{code.co_name}: other constants than the source's"
    assert ours.co_names == code.co_names, f"{code.co_name}: other global/attribute names"
    assert ours.co_varnames == code.co_varnames and ours.co_freevars == code.co_freevars
    assert ours == code, f"{code.co_name}: other line numbers or exception table than the source's"


def assert_runs_source(g, args, source):
    """Calling g(*args) runs a generated function compiled from exactly `source` (and, for the
    float-specialised scalar path, nothing else). Returns (result, the Ran compiled from source)."""
    result, ran = run_traced(lambda: g(*args))
    assert ran, "no generated code ran"
    lines = source.splitlines(keepends=True)
    matching = [r for r in ran if linecache.getlines(r.code.co_filename) == lines]
    assert matching, ("no generated function that ran was compiled from this source; ran: "
                      + ", ".join(f"{r.code.co_name} from {r.code.co_filename}" for r in ran))
    for r in matching:
        assert_compiled_from(r.code, source)
    return result, matching[-1]


# --- the user's identifiers ----------------------------------------------------------------------

def _function_tree(fn):
    text = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(text)
    node = tree.body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)), text
    return node


def _is_users(obj):
    code = getattr(obj, "__code__", None)
    return isinstance(obj, types.FunctionType) and code is not None and \
        os.path.abspath(code.co_filename).startswith(TESTS_DIR + os.sep)


def user_value(fn, name):
    """What `name` refers to inside fn (a closure cell, a global, a builtin), or a marker."""
    if fn.__closure__:
        for n, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            if n == name:
                try:
                    return cell.cell_contents
                except ValueError:
                    return _MISSING
    if name in fn.__globals__:
        return fn.__globals__[name]
    return getattr(builtins, name, _MISSING)


_MISSING = object()


class UserNames:
    def __init__(self):
        self.bound = set()     # parameters, assignment targets, loop targets, defs: the user's locals
        self.read = {}         # name -> [functions that read it from their environment]
        self.functions = []

    @property
    def all(self):
        return self.bound | set(self.read)


def user_names(fn, names=None):
    """The identifiers of fn and of every user function it calls (transitively, the ones defined
    in the test suite's files, which the compiler inlines)."""
    names = names if names is not None else UserNames()
    if any(f is fn for f in names.functions):
        return names
    names.functions.append(fn)
    node = _function_tree(fn)
    bound = set()
    for n in ast.walk(node):
        if isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            bound.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and n is not node:
            if not isinstance(n, ast.Lambda):
                bound.add(n.name)
    names.bound |= bound
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in bound:
            names.read.setdefault(n.id, []).append(fn)
            callee = user_value(fn, n.id)
            if _is_users(callee):
                user_names(callee, names)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id not in bound:
            base = user_value(fn, n.value.id)
            if isinstance(base, types.ModuleType) and _is_users(getattr(base, n.attr, None)):
                user_names(getattr(base, n.attr), names)
    return names


def generated_bindings(source):
    """Every name the generated source binds: the factory and its parameters (helpers), the
    gradient function and its parameters, assignment and loop targets. name -> kind."""
    tree = ast.parse(source)
    out = {}
    (factory,) = tree.body
    out[factory.name] = "factory"
    for a in factory.args.args:
        out[a.arg] = "helper"
    for n in ast.walk(factory):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not factory:
            out.setdefault(n.name, "function")
            for a in n.args.args + n.args.kwonlyargs:
                out.setdefault(a.arg, "local")
        elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.setdefault(n.id, "local")
    return out


def assert_names_hygienic(fn, source, ran):
    """No name the generated source binds means something else than the same name in the user's
    code: a collision is allowed with the user's own locals, and for a helper whose value is the
    object the user's name refers to. `ran` (from run_traced) gives the helpers' values."""
    user = user_names(fn)
    cells = ran.cells
    bad = []
    for name, kind in sorted(generated_bindings(source).items()):
        if name not in user.read or name in user.bound:
            continue  # not the user's, or one of the user's own locals
        if kind == "helper" and name in cells and all(
                cells[name] is user_value(f, name) for f in user.read[name]):
            continue  # the user's own object under the user's own name
        bad.append(f"{name} ({kind}) hides the user's {name!r}, which the user's code reads")
    assert not bad, "\n".join(bad) + "\n" + source


# --- the user's environment is left alone --------------------------------------------------------

def globals_snapshot(fn):
    """The module globals of fn and of the user functions it calls: name -> object, per module."""
    dicts = {id(f.__globals__): f.__globals__ for f in user_names(fn).functions}
    return {key: (d, dict(d)) for key, d in dicts.items()}


def assert_globals_unchanged(snapshot):
    for d, before in snapshot.values():
        assert d.keys() == before.keys(), (set(d) ^ set(before))
        changed = [k for k in before if d[k] is not before[k]]
        assert not changed, f"module globals rebound: {changed}"


def copy_args(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def assert_args_unchanged(args, copies):
    for i, (a, c) in enumerate(zip(args, copies)):
        if isinstance(a, np.ndarray):
            assert a.dtype == c.dtype and a.shape == c.shape, i
            assert np.array_equal(a, c, equal_nan=True), f"argument {i} was written into"
        else:
            assert a is c or a == c, i


def numeric_globals_read(fn):
    """[(module dict, name)] for every module-level float the user's code reads by name."""
    out = []
    for f in user_names(fn).functions:
        loads = set()
        codes = [f.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            loads |= {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
        for name in sorted(loads):
            value = f.__globals__.get(name)
            if type(value) is float and not any(d is f.__globals__ and n == name for d, n in out):
                out.append((f.__globals__, name))
    return out

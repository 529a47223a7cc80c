"""Generated source -> a live Python function, with tracebacks and `inspect` showing that source.

The source is compiled under a unique, deterministic filename and registered in `linecache`, so an
error raised inside generated code shows the generated line. The factory in the source is never
called: its inner function's code object is rebuilt into a function whose globals are the user's
module (globals are read live, as plain Python would) and whose closure cells hold the helpers and
the user's own cells.

Every loaded function remembers what it was made of (`origin`): the on-disk cache (cache.py) saves
that, and `load_code` makes the same function again from a saved code object in another process.
"""
from __future__ import annotations

import itertools
import linecache
import types

from .buildlog import stage

_counter = itertools.count(1)


class Origin:
    """What a generated function was loaded from: its source, the factory's name, and the values
    of the factory's parameters (`bindings`) and the user's cells among them (`cells`)."""

    __slots__ = ("source", "factory_name", "bindings", "cells")

    def __init__(self, source, factory_name, bindings, cells):
        self.source, self.factory_name = source, factory_name
        self.bindings, self.cells = bindings, cells


def origin(fn):
    """The Origin of a function `load` or `load_code` made (None for any other function)."""
    return getattr(fn, "_sourcead_origin", None)


@stage("compile")
def load(source, factory_name, func_name, bindings, cells, user_globals, defaults=None,
         kwdefaults=None):
    filename = _filename(func_name)
    try:
        code = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        from .errors import GradError
        nesting = isinstance(exc, (RecursionError, MemoryError)) or "too many statically nested" \
            in str(exc) or "too many levels of indentation" in str(exc)
        if not nesting:  # code we generated that Python rejects: our bug, never the user's
            raise GradError(
                f"internal compiler error: the generated gradient of "
                f"{func_name.rsplit('_', 1)[0]} is not valid Python ({type(exc).__name__}: "
                f"{exc}). This is a bug in sourcead, not in your code; please report it with the "
                "function.") from None
        raise GradError(
            f"the gradient of {func_name.rsplit('_', 1)[0]} nests deeper than Python can compile "
            f"({type(exc).__name__}: {exc}). Python allows about 100 levels of indentation: split "
            "long chains of elif or nested conditional expressions into a lookup, or into helper "
            "functions that return early.") from None
    factory_code = _const_code(code, factory_name)
    inner_code = _const_code(factory_code, func_name)
    return _function(inner_code, filename, source, factory_name, func_name, bindings, cells,
                     user_globals, defaults, kwdefaults)


def load_code(inner_code, source, factory_name, func_name, bindings, cells, user_globals,
              defaults=None, kwdefaults=None):
    """The function `load` would make, from its inner code object as compiled before (by another
    process: the cache), moved to a filename of this process's own."""
    filename = _filename(func_name)
    return _function(_moved(inner_code, filename), filename, source, factory_name, func_name,
                     bindings, cells, user_globals, defaults, kwdefaults)


def _filename(func_name):
    return f"<sourcead:{func_name}:{next(_counter)}>"


def _moved(code, filename):
    """`code` and the code objects nested in it, their filename replaced."""
    consts = tuple(_moved(c, filename) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _function(inner_code, filename, source, factory_name, func_name, bindings, cells,
              user_globals, defaults, kwdefaults):
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    closure = tuple(cells[n] if n in cells else types.CellType(bindings[n])
                    for n in inner_code.co_freevars)
    fn = types.FunctionType(inner_code, user_globals, func_name, defaults, closure)
    if kwdefaults:
        fn.__kwdefaults__ = dict(kwdefaults)
    fn._sourcead_origin = Origin(source, factory_name, bindings, cells)
    return fn


def _const_code(code, name):
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == name:
            return const
    raise LookupError(f"generated code has no function {name}")  # a compiler bug, not the user's

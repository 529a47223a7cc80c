"""What decides a gradient's generated code, as a key another process can compute and compare
(compiler/cache.py keeps code under it).

`function_key` hashes: the source file of the decorated function and of every function of the
user's it may inline, a hash of each one's code, what each name those functions use refers to as
the frontend would resolve it (frontend/lowering.py `name` and `attribute`, frontend/calls.py) --
a module and the attributes read from it, a function of the user's (followed into its own file and
names), a library's function by identity, a class and the members read, an object of the user's
and its attributes by kind; numbers and arrays read live only by kind, numbers folded in (a module's
constant, a default) by value --, wrt, with_value, simplify (and SymPy's version and the pass's
settings), has_aux, the rules registered with compiler.register, the library boundary
(treat_as_library), this package's own source, and the Python, NumPy and astor versions. What it
cannot describe raises Uncacheable: the function is then built as if there were no cache.
"""
from __future__ import annotations

import builtins
import functools
import hashlib
import inspect
import json
import linecache
import os
import sys
import types
import warnings

import numpy as np

FORMAT = 1
_NUMBERS = (bool, int, float, np.number)


class Uncacheable(Exception):
    """Something that decides the code (or that the code uses) has no description that another
    process could check or find again: the function is built as if there were no cache."""


_package_digest = None


def package_digest():
    """A hash of this package's own source (compiler/**/*.py): a change to the compiler is a new
    cache."""
    global _package_digest
    if _package_digest is None:
        root = os.path.dirname(os.path.abspath(__file__))
        digest = hashlib.sha256()
        for dirpath, dirnames, files in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(dirpath, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as fh:
                    digest.update(fh.read())
                digest.update(b"\0")
        _package_digest = digest.hexdigest()
    return _package_digest


def _versions(simplify):
    import astor  # noqa: PLC0415
    found = {"python": sys.version, "tag": sys.implementation.cache_tag,
             "optimize": sys.flags.optimize,
             "numpy": np.__version__, "astor": getattr(astor, "__version__", "?")}
    if simplify:
        try:
            from importlib.metadata import version  # noqa: PLC0415
            found["sympy"] = version("sympy")
        except Exception:  # noqa: BLE001 -- no version to read: no cache for it
            raise Uncacheable("sympy's version") from None
        from . import symbolic  # noqa: PLC0415  (its settings: bounds and budgets)
        found["settings"] = sorted([k, repr(v)] for k, v in vars(symbolic).items()
                                   if k.lstrip("_").isupper() and isinstance(v, (int, float)))
    return found


def function_key(fn, wrt, with_value, simplify, has_aux):
    """The key of `grad(fn, wrt, ...)`: a hash of everything that decides its code."""
    from .custom import USER_RESOLVE  # noqa: PLC0415
    from .frontend.calls import EXTRA_LIBRARIES, YOUR_CODE  # noqa: PLC0415
    from .rules import TABLE  # noqa: PLC0415

    describer = _Describer()
    rules = [[name, _identity(f), _identity(getattr(TABLE.get(name), "user_vjp", None))]
             for f, name in USER_RESOLVE.items()]
    parts = {
        "format": FORMAT, "package": package_digest(), "versions": _versions(simplify),
        "function": describer.function(fn), "wrt": _jsonable(wrt), "with_value": with_value,
        "simplify": simplify, "has_aux": has_aux, "rules": rules,
        "libraries": [sorted(EXTRA_LIBRARIES), sorted(YOUR_CODE)],
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return ["seq", [_jsonable(v) for v in value]]
    return [type(value).__name__, value if isinstance(value, (int, str, type(None))) else repr(value)]


_file_digests = {}


def _file_digest(filename):
    """The hash of a source file as the frontend reads it (linecache, refreshed when it changed)."""
    linecache.checkcache(filename)
    lines = linecache.getlines(filename)
    if not lines:
        raise Uncacheable(f"no source for {filename}")
    known = _file_digests.get(filename)
    if known is not None and known[0] is lines:
        return known[1]
    digest = hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
    _file_digests[filename] = (lines, digest)
    return digest


_code_names_memo = {}


def _code_names(code):
    """Every name a code object and the code nested in it use: globals, attributes, locals, cells."""
    found = _code_names_memo.get(code)
    if found is None:
        found = set(code.co_names) | set(code.co_varnames) | set(code.co_freevars) | \
            set(code.co_cellvars)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found |= _code_names(const)
        found = frozenset(found)
        if len(_code_names_memo) > 4096:
            _code_names_memo.clear()
        _code_names_memo[code] = found
    return found


_code_digests = {}


def _code_digest(code):
    """A hash of what a code object is made of (two lambdas on one line differ in it)."""
    found = _code_digests.get(code)
    if found is None:
        digest = hashlib.sha256(code.co_code)
        digest.update(repr((code.co_name, code.co_names, code.co_varnames, code.co_freevars,
                            code.co_argcount, code.co_kwonlyargcount)).encode())
        for const in code.co_consts:
            digest.update((_code_digest(const) if isinstance(const, types.CodeType) else
                           f"{type(const).__name__}:{const!r}").encode("utf-8", "replace"))
        found = digest.hexdigest()
        if len(_code_digests) > 4096:
            _code_digests.clear()
        _code_digests[code] = found
    return found


def _identity(obj):
    """`module:qualname` of a function, class or other named object (None for None)."""
    if obj is None:
        return None
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}:{name}"
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _safe_repr(value):
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 -- a repr that fails: described by its type alone
        return "?"
    return text if len(text) <= 200 else hashlib.sha256(text.encode()).hexdigest()


class _Describer:
    """What the frontend would see when it lowers a function: each name the function's code uses,
    as the lowering resolves it (frontend/lowering.py `name`, `attribute`; calls.py)."""

    def __init__(self):
        self.memo = {}
        self.active = set()

    def function(self, fn):
        """A function of the user's (inlined): its file, place, defaults and names."""
        if id(fn) in self.memo:
            return self.memo[id(fn)]
        if id(fn) in self.active:
            return ["recursive", _identity(fn)]
        self.active.add(id(fn))
        try:
            code = fn.__code__
            names = _code_names(code)
            cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
            described = ["function", _identity(fn), code.co_filename,
                         _file_digest(code.co_filename), code.co_firstlineno, _code_digest(code),
                         [self.constant(v) for v in fn.__defaults__ or ()],
                         [[k, self.constant(v)] for k, v in sorted((fn.__kwdefaults__ or {}).items())],
                         [[n, self.name(n, fn, cells, names)] for n in sorted(names)]]
        finally:
            self.active.discard(id(fn))
        self.memo[id(fn)] = described
        return described

    def name(self, ident, fn, cells, names):
        if ident in cells:
            try:
                value = cells[ident].cell_contents
            except ValueError:
                return ["empty cell"]
            return ["cell", self.environment(value, names, 0)]
        namespace = fn.__globals__
        if ident in namespace:
            return ["global", self.environment(namespace[ident], names, 0)]
        if hasattr(builtins, ident):
            return ["builtin"]
        return ["absent"]

    def environment(self, value, names, depth):
        """A global's or a cell's value: numbers and arrays are read live (their kind decides the
        code, not their value), a tuple of numbers is folded in."""
        if isinstance(value, _NUMBERS):
            return ["live", "number"]
        if isinstance(value, complex):
            return ["complex"]
        if isinstance(value, np.ndarray):
            return ["live", "array"] if value.dtype.kind in "biuf" else ["array", value.dtype.str]
        if isinstance(value, tuple) and value and all(isinstance(v, _NUMBERS) for v in value):
            return ["tuple", [self.constant(v) for v in value]]
        return self.object(value, names, depth)

    def constant(self, value, depth=0):
        """A value folded into the code (a default, a module's number); a value the frontend
        cannot fold in (it refuses it) is described by its type alone."""
        if value is None or isinstance(value, (bool, int, str)):
            return [type(value).__name__, value]
        if isinstance(value, (float, np.number)):
            return [type(value).__name__, _safe_repr(value)]
        if isinstance(value, (tuple, list)) and len(value) <= 64:
            return [type(value).__name__, [self.constant(v, depth + 1) for v in value]]
        if isinstance(value, np.ndarray):
            return ["ndarray", value.dtype.str, list(value.shape)]
        if callable(value) or isinstance(value, types.ModuleType):
            return self.object(value, frozenset(), depth + 1)
        return ["other", _identity(type(value))]

    def attribute(self, value, names, depth):
        """An attribute of a module or class, as the lowering reads it: numbers folded in."""
        if value is None or isinstance(value, (str,) + _NUMBERS):
            return self.constant(value)
        if isinstance(value, np.ndarray):
            return ["ndarray"]
        return self.object(value, names, depth)

    def object(self, value, names, depth):
        from .custom import USER_RESOLVE  # noqa: PLC0415
        from .frontend.calls import is_library  # noqa: PLC0415
        from .trees import is_plain_object  # noqa: PLC0415
        if depth > 8:
            raise Uncacheable("too deep")
        try:
            rule = USER_RESOLVE.get(value)
        except TypeError:
            rule = None
        if rule is not None:
            return ["rule", rule, _identity(value)]
        if isinstance(value, types.ModuleType):
            return self.module(value, names, depth)
        if isinstance(value, types.FunctionType):
            if is_library(value) or _ours(value):
                return ["library", _identity(value)]
            return self.function(value)
        if isinstance(value, type):
            return self.cls(value, names, depth)
        if isinstance(value, functools.partial):
            return ["partial", self.object(value.func, names, depth + 1),
                    [self.constant(a) for a in value.args],
                    [[k, self.constant(v)] for k, v in sorted(value.keywords.items())]]
        if isinstance(value, types.MethodType):
            return ["method", self.object(value.__func__, names, depth + 1),
                    self.object(value.__self__, names, depth + 1)]
        if is_plain_object(value):
            return self.instance(value, names, depth)
        if callable(value):
            return ["callable", _identity(value)]
        return ["other", _identity(type(value))]  # refused by the frontend if it is read

    def module(self, module, names, depth):
        key = (id(module), "module")
        if key in self.active:
            return ["module", module.__name__]
        self.active.add(key)
        try:
            attributes = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for n in sorted(names):
                    try:
                        value = getattr(module, n)
                    except Exception:  # noqa: BLE001 -- absent (or refusing): the frontend fails too
                        continue
                    attributes.append([n, self.attribute(value, names, depth + 1)])
        finally:
            self.active.discard(key)
        return ["module", module.__name__, attributes]

    def cls(self, cls, names, depth):
        import dataclasses  # noqa: PLC0415
        if _library_class(cls):
            return ["class", _identity(cls)]
        key = (id(cls), "class")
        if key in self.active:
            return ["class", _identity(cls)]
        self.active.add(key)
        try:
            members = []
            for n in sorted(set(names) | {"__call__", "__init__"}):
                try:
                    found = inspect.getattr_static(cls, n)
                except AttributeError:
                    continue
                if isinstance(found, (staticmethod, classmethod)):
                    members.append([n, type(found).__name__,
                                    self.object(found.__func__, names, depth + 1)])
                elif isinstance(found, property):
                    members.append([n, "property", self.object(found.fget, names, depth + 1)
                                    if found.fget is not None else None])
                elif isinstance(found, types.FunctionType):
                    members.append([n, "function", self.object(found, names, depth + 1)])
                elif n not in ("__call__", "__init__"):
                    members.append([n, "value", self.attribute(found, names, depth + 1)])
            fields = []
            if dataclasses.is_dataclass(cls):
                fields = [[f.name, f.init, self.constant(f.default, depth + 1)]
                          for f in dataclasses.fields(cls)]
            elif hasattr(cls, "_fields"):
                fields = [list(cls._fields), [[k, self.constant(v, depth + 1)] for k, v in
                                              getattr(cls, "_field_defaults", {}).items()]]
            bases = [_identity(b) for b in cls.__mro__[1:]]
        finally:
            self.active.discard(key)
        return ["class", _identity(cls), bases, members, fields]

    def instance(self, obj, names, depth):
        """An object of the user's (calls.object_value): its attributes by kind, in order."""
        from .trees import is_plain_object  # noqa: PLC0415

        def held(value, level):
            if value is None or isinstance(value, str):
                return self.constant(value)
            if isinstance(value, _NUMBERS) or isinstance(value, np.ndarray) and \
                    value.dtype.kind in "biuf":
                return ["live", "array" if isinstance(value, np.ndarray) else "number"]
            if isinstance(value, (list, tuple)) and not hasattr(type(value), "_fields"):
                if len(value) > 1000:
                    raise Uncacheable("a long list in an object")
                return [type(value).__name__, [held(v, level) for v in value]]
            if is_plain_object(value):
                if level > 8:
                    raise Uncacheable("objects nested too deep")
                return ["object", self.cls(type(value), names, depth + 1),
                        [[k, held(v, level + 1)] for k, v in vars(value).items()]]
            if callable(value):
                return self.object(value, names, depth + 1)
            return ["skipped", _identity(type(value))]

        return held(obj, 0)


def _ours(fn):
    """A function of this package or of the tape's (known by its identity: our source is in
    the key as a whole)."""
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] in ("compiler", "runtime")


def _library_class(cls):
    """A class of Python's, NumPy's, another installed library's or ours: known by identity."""
    root = (cls.__module__ or "").split(".")[0]
    if root in ("builtins", "numpy", "compiler", "runtime") or root in sys.stdlib_module_names:
        return True
    from .frontend.calls import EXTRA_LIBRARIES, YOUR_CODE, _LIBRARY_ROOTS  # noqa: PLC0415
    if root in YOUR_CODE:
        return False
    if root in _LIBRARY_ROOTS or root in EXTRA_LIBRARIES:
        return True
    filename = str(getattr(sys.modules.get(cls.__module__), "__file__", "") or "")
    return "site-packages" in filename or "dist-packages" in filename



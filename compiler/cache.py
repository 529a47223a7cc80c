"""The on-disk cache of generated code: a second process decorating the same function loads the
code the first one generated instead of lowering, differentiating and optimising it again.

Where: `$SOURCEAD_CACHE_DIR`, else `$XDG_CACHE_HOME/sourcead`, else `~/.cache/sourcead`. Off with
`SOURCEAD_CACHE=off` (or `grad(f, cache=False)`).

What is cached, per decorated function (`grad` / `value_and_grad` of a plain function):
- the code decoration makes: the float version of scalar code (and its guards), or the entry and
  the generic source of array code;
- each version a call signature builds later: np.float64 scalars, arrays of given shapes and
  dtypes (one file per signature, written when it is first built).
Not cached (built as before): functions taken apart as containers (api.Structured), functions
whose graph depends on a value (api.ByValue), `simplify="sympy"` versions built after decoration,
the generic version a specialised one falls back to (after a Deopt), jvp/vjp/hessian and higher
derivatives, and any decoration that warned (the warning is shown each time instead).

The key is everything that decides the code (`function_key`): the source file of the function and
of every function of the user's it may inline, what each name those functions read refers to
(a module and the attributes read from it, a function -- followed into its own source and names --,
a class, an object and its attributes; numbers and arrays only by kind, since the generated code
reads them live), wrt, with_value, simplify, has_aux, the rules registered with compiler.register,
the library boundary (treat_as_library), this package's own source, and the Python, NumPy and astor
versions. What it cannot describe makes the function uncacheable, never a guess.

An entry names the objects its code uses (NumPy, a helper of ours, the user's globals dict or a
closure cell, found again from the function by the path that reached it); an entry whose objects
cannot all be found again, or whose checksum fails (truncated, corrupt), is ignored and rebuilt.
Writes go to a temporary file renamed into place, so concurrent processes never see half an entry.

A function loaded from the cache (`Loaded`) has everything a call needs; its graphs and lowering
(`.graph`, `.ir_for` of the float version, a signature never built before, `.export`) are built
again when first needed, from the functions its names refer to then.
"""
from __future__ import annotations

import base64
import builtins
import functools
import hashlib
import inspect
import json
import linecache
import marshal
import os
import sys
import tempfile
import threading
import types
import warnings

import numpy as np

from . import api
from .api import Compiled
from .ir import Graph
from .loader import load_code, origin
from .specialize import all_eqns, signature_key

FORMAT = 1
_MAGIC = b"sourcead-cache %d " % FORMAT
_OFF = ("off", "0", "false", "no")
_NUMBERS = (bool, int, float, np.number)


class Uncacheable(Exception):
    """Something that decides the code (or that the code uses) has no description that another
    process could check or find again: the function is built as if there were no cache."""


class Unresolved(Exception):
    """An entry names an object this process does not have: the entry is not used."""


class StaleWarning(UserWarning):
    """A function loaded from the cache is built again (to make a new version, or its graphs)
    after a name it reads was rebound: the new build uses what the names refer to now."""


# --- where --------------------------------------------------------------------------------------

def cache_dir():
    """The directory entries live in (it need not exist yet)."""
    explicit = os.environ.get("SOURCEAD_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sourcead")


def enabled():
    return os.environ.get("SOURCEAD_CACHE", "").strip().lower() not in _OFF


def clear():
    """Remove every entry of the cache; returns how many files went."""
    folder = os.path.join(cache_dir(), f"v{FORMAT}")
    removed = 0
    for dirpath, _, files in os.walk(folder, topdown=False):
        for name in files:
            try:
                os.remove(os.path.join(dirpath, name))
                removed += 1
            except OSError:
                pass
        try:
            os.rmdir(dirpath)
        except OSError:
            pass
    return removed


class Store:
    """Entries on disk, one file each: a header line with the checksum of what follows, then
    JSON. A file that fails its checksum or names another key is treated as absent."""

    def __init__(self, folder):
        self.folder = os.path.join(folder, f"v{FORMAT}")

    def path(self, key, version=None):
        name = key if version is None else f"{key}-{version}"
        return os.path.join(self.folder, key[:2], name + ".entry")

    def read(self, key, version=None):
        try:
            with open(self.path(key, version), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        head, _, body = data.partition(b"\n")
        if not head.startswith(_MAGIC) or head[len(_MAGIC):].decode("ascii", "replace") != \
                hashlib.sha256(body).hexdigest():
            return None  # truncated or corrupt: rebuilt and written again
        try:
            entry = json.loads(body.decode("utf-8"))
        except ValueError:
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or \
                entry.get("version") != version:
            return None
        return entry

    def write(self, key, version, entry):
        """Atomically: written beside its place under a temporary name, then renamed onto it."""
        entry = dict(entry, key=key, version=version)
        body = json.dumps(entry, separators=(",", ":")).encode("utf-8")
        data = _MAGIC + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body
        final = self.path(key, version)
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as fh:
                fh.write(data)
            os.replace(temporary, final)
        except BaseException:
            try:
                os.remove(temporary)
            except OSError:
                pass
            raise


# --- the key ------------------------------------------------------------------------------------

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


# --- naming the objects the generated code uses ---------------------------------------------------

_prim_index = None


def _prims():
    """id(callable) -> (primitive, library key) for every primitive's implementation."""
    global _prim_index
    if _prim_index is None:
        from .primitives import PRIMS  # noqa: PLC0415
        _prim_index = {}
        for name, p in PRIMS.items():
            for lib, fn in p.funcs.items():
                _prim_index.setdefault(id(fn), (name, lib))
    return _prim_index


def _import_path(obj):
    """(module, qualname) by which `obj` is found again, if it is (its module already loaded)."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str) or "<" in name:
        return None
    found = sys.modules.get(module)
    for part in name.split("."):
        found = getattr(found, part, None)
    return (module, name) if found is obj and found is not None else None


def _imported(module, name):
    found = sys.modules.get(module)
    if found is None:
        raise Unresolved(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


class _Children:
    """The steps from one object to the objects it holds, and back: how a closure cell, a module's
    globals or an object of the user's is found again from the decorated function."""

    @staticmethod
    def expandable(obj):
        from .frontend.calls import is_library  # noqa: PLC0415
        from .trees import is_plain_object  # noqa: PLC0415
        if isinstance(obj, types.FunctionType):
            return not is_library(obj)
        if isinstance(obj, types.ModuleType):
            root = obj.__name__.split(".")[0]
            return root not in sys.stdlib_module_names and root not in (
                "numpy", "scipy", "compiler", "runtime") and "site-packages" not in str(
                getattr(obj, "__file__", "") or "")
        if isinstance(obj, type):
            return obj.__module__ != "builtins" and not is_library(obj)
        return isinstance(obj, (types.CellType, dict, types.MappingProxyType, list, tuple,
                                functools.partial, staticmethod, classmethod, property,
                                types.MethodType)) or is_plain_object(obj)

    @staticmethod
    def steps(obj):
        if isinstance(obj, types.FunctionType):
            yield ["globals"], obj.__globals__
            for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
                yield ["closure", name], cell
        elif isinstance(obj, types.CellType):
            try:
                yield ["contents"], obj.cell_contents
            except ValueError:
                return
        elif isinstance(obj, (dict, types.MappingProxyType)):
            for k, v in list(obj.items()):
                if isinstance(k, str):
                    yield ["item", k], v
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj[:256]):
                yield ["index", i], v
        elif isinstance(obj, functools.partial):
            yield ["partial"], obj.func
        elif isinstance(obj, (staticmethod, classmethod)):
            yield ["func"], obj.__func__
        elif isinstance(obj, property):
            yield ["fget"], obj.fget
        elif isinstance(obj, types.MethodType):
            yield ["func"], obj.__func__
            yield ["self"], obj.__self__
        else:
            try:
                yield ["vars"], vars(obj)
            except TypeError:
                return

    @staticmethod
    def follow(obj, step):
        kind = step[0]
        if kind == "globals" and isinstance(obj, types.FunctionType):
            return obj.__globals__
        if kind == "closure" and isinstance(obj, types.FunctionType):
            cells = dict(zip(obj.__code__.co_freevars, obj.__closure__ or ()))
            return cells[step[1]]
        if kind == "contents" and isinstance(obj, types.CellType):
            return obj.cell_contents
        if kind == "item" and isinstance(obj, (dict, types.MappingProxyType)):
            return obj[step[1]]
        if kind == "index" and isinstance(obj, (list, tuple)):
            return obj[step[1]]
        if kind == "partial" and isinstance(obj, functools.partial):
            return obj.func
        if kind == "func" and isinstance(obj, (staticmethod, classmethod, types.MethodType)):
            return obj.__func__
        if kind == "fget" and isinstance(obj, property):
            return obj.fget
        if kind == "self" and isinstance(obj, types.MethodType):
            return obj.__self__
        if kind == "vars":
            return vars(obj)
        raise Unresolved(step)


def _paths(root, targets, limit=20000, depth=6):
    """Shortest paths (lists of steps) from `root` to each object in `targets` (id -> object)."""
    found, seen = {}, {id(root)}
    frontier = [(root, [])]
    for _ in range(depth):
        following = []
        for obj, path in frontier:
            for step, child in _Children.steps(obj):
                here = path + [step]
                if id(child) in targets and id(child) not in found:
                    found[id(child)] = here
                if id(child) not in seen and _Children.expandable(child):
                    seen.add(id(child))
                    following.append((child, here))
            if len(found) == len(targets) or len(seen) > limit:
                return found
        frontier = following
    return found


class Naming:
    """Describes the objects generated code uses (save) and finds them again (load), relative to
    the decorated function `root` and the Compiled `owner` (whose respecialize they may call)."""

    def __init__(self, root, owner):
        self.root, self.owner = root, owner
        self._paths = None

    # -- describing --

    def describe_all(self, objects):
        """Descriptions of several objects, paths searched once for all that need one."""
        pending = {}
        for obj in objects:
            self._collect(obj, pending)
        if pending:
            self._paths = _paths(self.root, pending)
        return [self.describe(obj) for obj in objects]

    def _collect(self, obj, pending, depth=0):
        if depth > 6 or isinstance(obj, types.MethodType) and obj.__self__ is self.owner:
            return
        if isinstance(obj, (types.CellType, dict)) or self._needs_path(obj):
            pending[id(obj)] = obj
        elif isinstance(obj, (tuple, list, set, frozenset)):
            for v in obj:
                self._collect(v, pending, depth + 1)
        elif _compiler_object(obj):
            for _, v in _attributes(obj):
                self._collect(v, pending, depth + 1)

    def _needs_path(self, obj):
        return not isinstance(obj, (types.ModuleType, type(None), bool, int, float, str, tuple,
                                    list, set, frozenset, np.dtype)) and \
            _import_path(obj) is None and id(obj) not in _prims() and not _compiler_object(obj)

    def describe(self, obj, depth=0):
        from .rules import TABLE  # noqa: PLC0415
        if depth > 6:
            raise Uncacheable("nested too deep")
        if obj is None:
            return ["none"]
        if isinstance(obj, types.MethodType) and obj.__self__ is self.owner and \
                obj.__func__ is type(self.owner).respecialize:
            return ["respecialize"]
        if isinstance(obj, types.CellType):
            return ["cell", self._path(obj)]
        if isinstance(obj, types.ModuleType):
            if sys.modules.get(obj.__name__) is not obj:
                raise Uncacheable(f"module {obj.__name__} is not imported by its name")
            return ["module", obj.__name__]
        if isinstance(obj, dict):
            path = (self._paths or {}).get(id(obj))
            if path is not None:
                return ["dict", path]
            module = sys.modules.get(obj.get("__name__")) if isinstance(obj.get("__name__"), str) \
                else None
            if module is not None and vars(module) is obj:
                return ["globals", module.__name__]
            raise Uncacheable("a namespace the generated code reads")
        if isinstance(obj, bool) or obj is Ellipsis:
            return ["const", repr(obj)]
        if type(obj) in (int, str):
            return ["const", repr(obj)]
        if type(obj) is float:
            return ["float", float.hex(obj)]
        if isinstance(obj, np.dtype):
            if np.dtype(obj.str) != obj:
                raise Uncacheable("a dtype")
            return ["dtype", obj.str]
        if type(obj) in (tuple, list, set, frozenset):
            return [type(obj).__name__, [self.describe(v, depth + 1) for v in obj]]
        prim = _prims().get(id(obj))
        if prim is not None:
            return ["prim", prim[0], prim[1]]
        for name, rule in list(TABLE.items()):
            if getattr(rule, "user_vjp", None) is obj:
                return ["vjp", name]
        found = _import_path(obj)
        if found is not None:
            return ["import", found[0], found[1]]
        if _compiler_object(obj):
            cls = _import_path(type(obj))
            if cls is None:
                raise Uncacheable(f"{type(obj).__qualname__} of ours")
            return ["object", cls[0], cls[1],
                    [[k, self.describe(v, depth + 1)] for k, v in _attributes(obj)]]
        return ["path", self._path(obj), _identity(type(obj))]

    def _path(self, obj):
        if self._paths is None:
            self._paths = _paths(self.root, {id(obj): obj})
        path = self._paths.get(id(obj))
        if path is None:
            self._paths.update(_paths(self.root, {id(obj): obj}))
            path = self._paths.get(id(obj))
        if path is None:
            raise Uncacheable(f"a {type(obj).__name__} the code uses, not reachable from "
                              f"{getattr(self.root, '__qualname__', self.root)}")
        return path

    # -- finding again --

    def resolve(self, desc):
        from .primitives import PRIMS  # noqa: PLC0415
        from .rules import TABLE  # noqa: PLC0415
        try:
            kind = desc[0]
            if kind == "none":
                return None
            if kind == "respecialize":
                return self.owner.respecialize
            if kind == "cell":
                found = self._walk(desc[1])
                if not isinstance(found, types.CellType):
                    raise Unresolved("not a cell")
                return found
            if kind == "module":
                found = sys.modules.get(desc[1])
                if found is None:
                    raise Unresolved(desc[1])
                return found
            if kind == "dict":
                found = self._walk(desc[1])
                if not isinstance(found, dict):
                    raise Unresolved("not a dict")
                return found
            if kind == "globals":
                return vars(sys.modules[desc[1]])
            if kind == "const":
                import ast  # noqa: PLC0415
                return ast.literal_eval(desc[1])
            if kind == "float":
                return float.fromhex(desc[1])
            if kind == "dtype":
                return np.dtype(desc[1])
            if kind in ("tuple", "list", "set", "frozenset"):
                return {"tuple": tuple, "list": list, "set": set,
                        "frozenset": frozenset}[kind](self.resolve(d) for d in desc[1])
            if kind == "prim":
                return PRIMS[desc[1]].funcs[desc[2]]
            if kind == "vjp":
                return TABLE[desc[1]].user_vjp
            if kind == "import":
                return _imported(desc[1], desc[2])
            if kind == "object":
                obj = object.__new__(_imported(desc[1], desc[2]))
                for name, value in desc[3]:
                    object.__setattr__(obj, name, self.resolve(value))
                return obj
            if kind == "path":
                found = self._walk(desc[1])
                if _identity(type(found)) != desc[2]:
                    raise Unresolved("another kind of object")
                return found
        except Unresolved:
            raise
        except Exception as exc:  # noqa: BLE001 -- anything amiss: the entry is not used
            raise Unresolved(f"{desc!r}: {exc}") from None
        raise Unresolved(f"unknown {desc!r}")

    def _walk(self, path):
        obj = self.root
        for step in path:
            obj = _Children.follow(obj, step)
        return obj


def _compiler_object(obj):
    module = type(obj).__module__ or ""
    return (module == "compiler" or module.startswith("compiler.")) and \
        not isinstance(obj, (type, types.FunctionType, types.ModuleType))


def _attributes(obj):
    names = []
    for cls in type(obj).__mro__:
        names += [s for s in getattr(cls, "__slots__", ()) if s not in names]
    found = [(n, getattr(obj, n)) for n in names if hasattr(obj, n)]
    found += list(getattr(obj, "__dict__", {}).items())
    return found


# --- entries --------------------------------------------------------------------------------------

def _product(fn, naming):
    """A generated function as an entry stores it: its code (compiled), source, and what each of
    its free names holds."""
    made = origin(fn)
    if made is None:
        raise Uncacheable("a function not made by the loader")
    names = list(fn.__code__.co_freevars)
    objects = [made.cells[n] if n in made.cells else made.bindings[n] for n in names]
    descriptions = naming.describe_all(objects)
    return {"source": made.source, "factory": made.factory_name, "func_name": fn.__code__.co_name,
            "code": base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii"),
            "free": [[n, d] for n, d in zip(names, descriptions)]}


def _function(product, naming, compiled):
    code = marshal.loads(base64.b64decode(product["code"]))
    if not isinstance(code, types.CodeType):
        raise Unresolved("not code")
    free = dict((n, d) for n, d in product["free"])
    if list(code.co_freevars) != [n for n, _ in product["free"]]:
        raise Unresolved("free names differ")
    bindings, cells = {}, {}
    for name in code.co_freevars:
        desc = free[name]
        value = naming.resolve(desc)
        (cells if desc[0] == "cell" else bindings)[name] = value
    fn = compiled.fn
    return load_code(code, product["source"], product["factory"], product["func_name"], bindings,
                     cells, fn.__globals__, fn.__defaults__, fn.__kwdefaults__)


def _environment(compiled):
    """The globals and cells the gradient reads live, in the order `specialize.environment` lists
    them (their values are part of a version's signature)."""
    found, seen = [], set()
    for eqn in all_eqns(compiled.grad_graph):
        if eqn.prim == "global":
            key = (id(eqn.params["_ns"]), eqn.params["name"])
            item = ("global", eqn.params["_ns"], eqn.params["name"])
        elif eqn.prim == "cell":
            key = id(eqn.params["_cell"])
            item = ("cell", eqn.params["_cell"], None)
        else:
            continue
        if key not in seen:
            seen.add(key)
            found.append(item)
    return found


def _version_key(key):
    """A stable text for a signature key (specialize.signature_key holds Python types)."""
    def part(p):
        if isinstance(p, type):
            return ["type", _identity(p)]
        if isinstance(p, tuple):
            return [part(q) for q in p]
        return p
    text = json.dumps([part(p) for p in key], separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Handle:
    """One decorated function's place in the store: its key, and the versions read from disk
    (never written back)."""

    def __init__(self, store, key):
        self.store, self.key = store, key
        self.loaded = set()

    def save(self, compiled):
        """The decoration's product, and what a Loaded needs besides it."""
        naming = Naming(compiled.fn, compiled)
        environment = _environment(compiled)
        described = naming.describe_all([held for _, held, _ in environment])
        env = [[kind, d, name] for (kind, _, name), d in zip(environment, described)]
        meta = {"func_name": compiled.func_name, "names": list(compiled.names),
                "positional": list(compiled.positional), "kwonly": list(compiled.kwonly),
                "wrt": list(compiled.wrt), "wrt_is_tuple": compiled.wrt_is_tuple,
                "by_value": compiled.by_value, "scalar": compiled.scalar_version is not None,
                "ir": compiled.function.ir, "env": env}
        entry = {"meta": meta, "source": compiled.source,
                 "function": _product(compiled.function, naming)}
        self.store.write(self.key, None, entry)

    def save_version(self, compiled, key, values, found):
        version = _version_key(key)
        if found[1] is compiled.function or version in self.loaded or compiled.simplify:
            return
        try:
            entry = {"function": _product(found[1], Naming(compiled.fn, compiled)),
                     "typed": compiled.last_typed, "signature": compiled.describe(values)}
            self.store.write(self.key, version, entry)
        except (Uncacheable, OSError, ValueError, TypeError):
            pass  # built, just not kept

    def load_version(self, compiled, key):
        version = _version_key(key)
        entry = self.store.read(self.key, version)
        if entry is None:
            return None
        try:
            fn = _function(entry["function"], Naming(compiled.fn, compiled), compiled)
        except (Unresolved, KeyError, TypeError, ValueError, EOFError):
            return None
        self.loaded.add(version)
        compiled.last_typed = entry.get("typed")
        return entry["function"]["source"], fn


# --- a function loaded from the cache -------------------------------------------------------------

class LazyGraph(Graph):
    """`f.graph` / `f.grad_graph` of a function loaded from the cache: the graph, built the first
    time anything of it is read."""

    def __init__(self, owner, attribute):  # noqa: super().__init__ is what reading it does
        self.__dict__["_source"] = (owner, attribute)

    def __getattr__(self, name):
        if name not in Graph.__slots__:
            raise AttributeError(name)
        owner, attribute = self.__dict__["_source"]
        graph = getattr(owner, attribute)
        for slot in Graph.__slots__:
            object.__setattr__(self, slot, getattr(graph, slot))
        return getattr(graph, name)


# What a Loaded keeps of its own when the pipeline is run again for it.
_OWN = {"function", "source", "versions", "typed_graphs", "cache", "fast", "lock",
        "scalar_version", "last_typed", "store", "structured", "_structured", "wrt_spec",
        "_materialized", "_building", "env_spec"}


class Loaded(Compiled):
    """A decorated function whose generated code was read from the cache. What a call needs is
    here; anything else (the graphs, the lowering, a new version) runs the pipeline first."""

    def __init__(self, fn, wrt, with_value, simplify, has_aux, meta, handle):
        self.__dict__["_materialized"] = False
        self.fn, self.wrt_spec, self.mode, self.scalar_output = fn, wrt, "grad", False
        self.simplify, self.with_value, self.has_aux = simplify, with_value, has_aux
        self.user_call = fn
        self.wrt, self.wrt_is_tuple = list(meta["wrt"]), meta["wrt_is_tuple"]
        self.names, self.positional = list(meta["names"]), list(meta["positional"])
        self.kwonly = list(meta["kwonly"])
        self.signature = inspect.signature(fn)
        self.leaf_owner, self.flat, self.extra_names = {}, False, []
        self.user_count = len(self.names)
        self.func_name, self.by_value = meta["func_name"], meta["by_value"]
        self.cache, self.fast = {}, {}
        self.npos = len(self.positional) if not self.kwonly else -1
        self.lock = threading.RLock()
        self.versions, self.typed_graphs, self.last_typed = {}, {}, None
        self.store = handle
        self.env_spec = meta["env"]

    def finish(self, function, source, scalar, ir):
        self.function, self.source = function, source
        self.scalar_version = function if scalar else None
        self.expose(self.wrt_spec, LazyGraph(self, "primal"), LazyGraph(self, "grad_graph"), ir)

    @property
    def structured(self):
        """Calls with containers (api.Structured): made when first asked for."""
        found = self.__dict__.get("_structured", _MISSING)
        if found is _MISSING:
            found = api.Structured(self.fn, self.wrt_spec, self.with_value, self.simplify, self,
                                   None, has_aux=self.has_aux)
            self.__dict__["_structured"] = found
        return found

    @structured.setter
    def structured(self, value):
        self.__dict__["_structured"] = value

    def build_version(self, values):
        key = signature_key(list(values) + [get() for get in self.env], self.by_value)
        found = self.store.load_version(self, key) if self.store is not None else None
        if found is not None:
            return found
        return super().build_version(values)

    def __getattr__(self, name):
        if name.startswith("__") or "_materialized" not in self.__dict__:
            raise AttributeError(name)
        if name == "src" and not self.__dict__["_materialized"]:
            from .frontend import parse_function  # noqa: PLC0415  (a message about an argument)
            self.src = parse_function(self.fn)
            return self.src
        self.materialize()  # (another thread building it: waited for)
        return object.__getattribute__(self, name)

    def materialize(self):
        """Run the pipeline for this function (as decorating it without the cache would have)."""
        if self.__dict__["_materialized"]:
            return
        with api._build_lock, api._deep_recursion():
            if self.__dict__["_materialized"] or self.__dict__.get("_building"):
                return
            self.__dict__["_building"] = True
            try:
                self._build()
                self.__dict__["_materialized"] = True
            finally:
                self.__dict__["_building"] = False

    def _build(self):
        try:
            key_now = function_key(self.fn, self.wrt_spec, self.with_value, self.simplify,
                                   self.has_aux)
        except Uncacheable:
            key_now = None
        if self.store is not None and key_now != self.store.key:
            warnings.warn(StaleWarning(
                f"{self.fn.__qualname__} was loaded from the cache of generated code, and a "
                "name it reads (a function it calls, a module's constant) has been rebound "
                "since: versions built from now on use what the names refer to now. Decorate "
                f"{self.fn.__name__} again to use them everywhere."), stacklevel=5)
        collecting = api.gc.isenabled()
        api.gc.disable()
        try:
            real = Compiled(self.fn, self.wrt_spec, self.with_value, self.simplify,
                            has_aux=self.has_aux)
        finally:
            if collecting:
                api.gc.enable()
        for name, value in vars(real).items():
            if name not in _OWN:
                self.__dict__[name] = value
        self.function.graph, self.function.grad_graph = real.primal, real.grad_graph


_MISSING = object()


# --- decorating through the cache -----------------------------------------------------------------

def compile_through(fn, wrt, with_value, simplify, has_aux, build):
    """`build(fn, ...)` (api._compile), or its product read from the cache."""
    if not enabled():
        return build(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
    store = Store(cache_dir())
    try:
        key = function_key(fn, wrt, with_value, simplify, has_aux)
    except (Uncacheable, OSError, RecursionError, ValueError, TypeError):
        return build(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
    with api._build_lock:
        found = _load(store, key, fn, wrt, with_value, simplify, has_aux)
        if found is not None:
            return found
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                made = build(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
        finally:
            _warn_again(caught, fn)
        compiled = getattr(made, "_sourcead", None)
        if not caught and type(compiled) is Compiled and compiled.fn is fn:
            handle = Handle(store, key)
            try:
                handle.save(compiled)
            except (Uncacheable, OSError, ValueError, TypeError):
                return made  # built, just not kept
            compiled.store = handle
        return made


def _load(store, key, fn, wrt, with_value, simplify, has_aux):
    entry = store.read(key)
    if entry is None:
        return None
    handle = Handle(store, key)
    try:
        meta = entry["meta"]
        compiled = Loaded(fn, wrt, with_value, simplify, has_aux, meta, handle)
        naming = Naming(fn, compiled)
        compiled.env = []
        for kind, desc, name in meta["env"]:
            held = naming.resolve(desc)
            if kind == "global":
                compiled.env.append(lambda ns=held, name=name: ns.get(name))
            else:
                compiled.env.append(lambda cell=held: cell.cell_contents)
        function = _function(entry["function"], naming, compiled)
        compiled.finish(function, entry["source"], meta["scalar"], meta["ir"])
    except (Unresolved, KeyError, TypeError, ValueError, EOFError):
        return None  # named something this process does not have: built (and written) again
    return function


def _warn_again(caught, fn):
    """Warnings recorded while building, issued again as they were (the user must see them)."""
    registry = fn.__globals__.setdefault("__warningregistry__", {}) if caught else None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                               registry=registry)

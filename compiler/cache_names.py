"""The objects generated code uses, named so that another process can find them again: NumPy, a
helper of ours (by its primitive or its import path), a rule the user registered, and the user's own
globals dict, closure cell or object -- by the path that reaches it from the decorated function
(its globals, a closure cell, an item, an attribute...). What has no such name raises Uncacheable;
what cannot be found again raises Unresolved (compiler/cache.py then builds afresh).
"""
from __future__ import annotations

import ast
import functools
import sys
import types

import numpy as np

from .cache_key import Uncacheable, _identity


class Unresolved(Exception):
    """An entry names an object this process does not have: the entry is not used."""


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



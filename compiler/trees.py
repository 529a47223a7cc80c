"""Containers as data (pytrees): an argument that is a dict, list, tuple, namedtuple or dataclass of
numbers and arrays, flattened into leaves and built back.

A structure (`treedef`) is a hashable description: what each container is, its keys or fields, and
its constants (None, strings: carried as they are). The gradient of a container argument has the same
structure as the argument, a `None` where a leaf is a constant. The compiler specialises a function
per structure of its arguments, as it does per shape (api.py), and the frontend binds a container
argument's name to its structure with one parameter per leaf (frontend/lowering.py).
"""
from __future__ import annotations

import dataclasses
import functools
import re
import types

import numpy as np

LEAF = ("leaf",)
_LEAF_TYPES = (float, int, bool, np.number, np.ndarray)


def is_namedtuple(value):
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def is_container(value):
    return isinstance(value, (dict, list, tuple)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type))


_LIBRARY_ROOTS = {"numpy", "scipy", "builtins", "torch", "jax", "pandas", "sklearn", "functools"}


def is_plain_object(value):
    """An instance of the user's own class holding its attributes in `vars(obj)` (a model held
    in a class): taken apart like a dataclass when it is a method's `self`."""
    if isinstance(value, (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.ModuleType, functools.partial)):
        return False
    if type(value).__module__.split(".")[0] in _LIBRARY_ROOTS:
        return False
    return isinstance(getattr(value, "__dict__", None), dict)


def flatten(value, objects=False):
    """(treedef, leaves) of a value. `objects`: plain objects (is_plain_object) are taken apart
    by their attributes too, and their integers, bools and strings are constants of the
    structure (configuration: a layer count, a flag), not leaves."""
    leaves = []
    return _flatten(value, leaves, objects), leaves


def _flatten(value, leaves, objects=False):
    if objects and isinstance(value, (bool, int, np.integer, np.bool_)):
        return ("const", value)
    if isinstance(value, _LEAF_TYPES):
        leaves.append(value)
        return LEAF
    if is_namedtuple(value):
        return ("namedtuple", type(value), tuple(_flatten(v, leaves, objects) for v in value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_flatten(v, leaves, objects) for v in value))
    if isinstance(value, dict):
        keys = tuple(value)
        for k in keys:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"dict key {k!r}: keys of a container argument must be strings or "
                                "integers")
        return ("dict", keys, tuple(_flatten(value[k], leaves, objects) for k in keys))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
        return ("dataclass", type(value), names,
                tuple(_flatten(getattr(value, n), leaves, objects) for n in names))
    if objects and is_plain_object(value):
        attrs = vars(value)
        names = tuple(attrs)
        return ("object", type(value), names,
                tuple(_flatten(attrs[n], leaves, objects) for n in names))
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"a {type(value).__name__} inside a container argument: only numbers, "
                        "arrays, strings, None and nested dicts, lists, tuples, namedtuples and "
                        "dataclasses can be passed") from None
    return ("const", value)


def unflatten(treedef, leaves):
    """The value of `treedef` with its leaves taken in order from `leaves`."""
    it = iter(leaves)
    return _build(treedef, it)


def _build(treedef, it):
    kind = treedef[0]
    if kind == "leaf":
        return next(it)
    if kind == "const":
        return treedef[1]
    if kind == "namedtuple":
        return treedef[1](*(_build(c, it) for c in treedef[2]))
    if kind in ("list", "tuple"):
        items = [_build(c, it) for c in treedef[1]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _build(c, it) for k, c in zip(treedef[1], treedef[2])}
    if kind in ("dataclass", "object"):
        cls, names, children = treedef[1], treedef[2], treedef[3]
        values = {n: _build(c, it) for n, c in zip(names, children)}
        obj = object.__new__(cls)
        for n, v in values.items():
            object.__setattr__(obj, n, v)  # frozen dataclasses too, without running __init__
        return obj
    raise ValueError(f"unknown structure {kind!r}")


def gradient_structure(treedef, grads):
    """The gradient of an argument of structure `treedef`: `grads` for its leaves in order, None
    where the argument holds a constant."""
    it = iter(grads)

    def build(t):
        kind = t[0]
        if kind == "leaf":
            return next(it)
        if kind == "const":
            return None
        if kind == "namedtuple":
            return t[1](*(build(c) for c in t[2]))
        if kind in ("list", "tuple"):
            items = [build(c) for c in t[1]]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return {k: build(c) for k, c in zip(t[1], t[2])}
        if kind == "object":  # a method's self: the gradients of its attributes, by name
            out = {}
            for n, c in zip(t[2], t[3]):
                g = build(c)
                if g is not None and not (isinstance(g, dict) and not g):
                    out[n] = g
            return out
        if kind == "dataclass":
            cls, names, children = t[1], t[2], t[3]
            obj = object.__new__(cls)
            for n, c in zip(names, children):
                object.__setattr__(obj, n, build(c))
            return obj
        raise ValueError(kind)

    return build(treedef)


def leaf_paths(treedef):
    """A readable path per leaf (`W`, `0_W`, `layers_1_b`), in flattening order."""
    out = []

    def walk(t, path):
        kind = t[0]
        if kind == "leaf":
            out.append(path)
        elif kind == "namedtuple":
            for f, c in zip(t[1]._fields, t[2]):
                walk(c, path + (f,))
        elif kind in ("list", "tuple"):
            for k, c in enumerate(t[1]):
                walk(c, path + (str(k),))
        elif kind == "dict":
            for k, c in zip(t[1], t[2]):
                walk(c, path + (str(k),))
        elif kind in ("dataclass", "object"):
            for n, c in zip(t[2], t[3]):
                walk(c, path + (n,))

    walk(treedef, ())
    return out


def identifier(parts):
    """A Python identifier made of path parts: ("params", "W") -> params_W."""
    text = "_".join(re.sub(r"\W", "_", p) for p in parts if p != "")
    if not text or text[0].isdigit():
        text = "_" + text
    return text

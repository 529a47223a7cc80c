"""Index expressions (`x[i]`, `x[:, 0]`, `x[1:-1, None]`, `x[idx]`, `x[mask]`) as IR parameters.

The static structure of a subscript is a template, a tuple kept in the equation's params; the parts
that are values (an integer variable, an index array, a mask, slice bounds) are the equation's inputs.
A template is one of:
    ("atom",)                       one input: an int, an integer array or a boolean mask
    ("slice", lower, upper, step)   each a bool: whether that bound is an input
    ("none",) / ("ellipsis",)       np.newaxis and ...
    ("tuple", (template, ...))
"""
from __future__ import annotations

import ast


def count(template):
    kind = template[0]
    if kind == "atom":
        return 1
    if kind == "slice":
        return sum(template[1:])
    if kind == "tuple":
        return sum(count(t) for t in template[1])
    return 0


def build_index(template, parts):
    """The Python index object for `template`, taking values from `parts` in order."""
    it = iter(parts)
    return _build(template, it)


def _build(template, it):
    kind = template[0]
    if kind == "atom":
        return next(it)
    if kind == "slice":
        lower = next(it) if template[1] else None
        upper = next(it) if template[2] else None
        step = next(it) if template[3] else None
        return slice(lower, upper, step)
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    return tuple(_build(t, it) for t in template[1])


def to_ast(template, atoms):
    """The subscript AST (what goes between the brackets) for emitted code."""
    it = iter(atoms)
    return _to_ast(template, it)


def _to_ast(template, it):
    kind = template[0]
    if kind == "atom":
        return next(it)
    if kind == "slice":
        lower = next(it) if template[1] else None
        upper = next(it) if template[2] else None
        step = next(it) if template[3] else None
        return ast.Slice(lower, upper, step)
    if kind == "none":
        return ast.Constant(None)
    if kind == "ellipsis":
        return ast.Constant(Ellipsis)
    return ast.Tuple([_to_ast(t, it) for t in template[1]], ast.Load())


def to_value_ast(template, atoms, slice_name):
    """The index as an ordinary expression (for passing to a helper): `(slice(None, 3), i)`."""
    it = iter(atoms)
    return _to_value(template, it, slice_name)


def _to_value(template, it, slice_name):
    kind = template[0]
    if kind == "slice":
        parts = [next(it) if template[k] else ast.Constant(None) for k in (1, 2, 3)]
        return ast.Call(ast.Name(slice_name, ast.Load()), parts, [])
    if kind == "tuple":
        return ast.Tuple([_to_value(t, it, slice_name) for t in template[1]], ast.Load())
    return _to_ast(template, it)


def is_basic(template, kinds_of_atoms):
    """True when no part is an array (so an index never repeats: `out[index] += g` is exact)."""
    return all(k == "scalar" for k in kinds_of_atoms)


def describe(template):
    kind = template[0]
    if kind == "atom":
        return "i"
    if kind == "slice":
        return ":".join(("a" if template[k] else "") for k in (1, 2, 3) if k < 3 or template[3])
    if kind == "none":
        return "None"
    if kind == "ellipsis":
        return "..."
    return ", ".join(describe(t) for t in template[1])

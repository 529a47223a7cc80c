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


def _walk(template, it, atom, make_slice, none, ellipsis, make_tuple):
    """One walk over a template for every spelling of an index (values or AST)."""
    kind = template[0]
    if kind == "atom":
        return atom(next(it))
    if kind == "slice":
        return make_slice(*(next(it) if template[k] else None for k in (1, 2, 3)))
    if kind == "none":
        return none
    if kind == "ellipsis":
        return ellipsis
    return make_tuple([_walk(t, it, atom, make_slice, none, ellipsis, make_tuple)
                       for t in template[1]])


def build_index(template, parts):
    """The Python index object for `template`, taking values from `parts` in order."""
    return _walk(template, iter(parts), lambda v: v, slice, None, Ellipsis, tuple)


def to_ast(template, atoms):
    """The subscript AST (what goes between the brackets) for emitted code."""
    return _walk(template, iter(atoms), lambda a: a, ast.Slice, ast.Constant(None),
                 ast.Constant(Ellipsis), lambda items: ast.Tuple(items, ast.Load()))


def to_value_ast(template, atoms, slice_name):
    """The index as an ordinary expression (for passing to a helper): `(slice(None, 3), i)`."""
    def make_slice(*bounds):
        parts = [b if b is not None else ast.Constant(None) for b in bounds]
        return ast.Call(ast.Name(slice_name, ast.Load()), parts, [])
    return _walk(template, iter(atoms), lambda a: a, make_slice, ast.Constant(None),
                 ast.Constant(Ellipsis), lambda items: ast.Tuple(items, ast.Load()))

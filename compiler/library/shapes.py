"""Shapes and rearrangements: axes swapped or moved, flips, rolls, tiles, diagonals, triangles, pads,
joins, gathers and sorts.

Functions NumPy may return as a view of their input (swapaxes, moveaxis, flip, diagonal, ravel,
broadcast_to, atleast_*d) are family "view" (opaque views: writes near them are checked at run time);
those returning a new array are family "linalg". Every adjoint is written with NumPy functions that
the tape records too (no writes into arrays), so a gradient taken with create_graph=True can be
differentiated again; scatters (take, take_along_axis, the diagonal's embedding) are one-hot products
rather than np.add.at for that reason.
"""
from __future__ import annotations

import numpy as np

from . import Fn, helper, LINEAR, ROWS


def _dtype(g):
    """The dtype of a gradient (a float32 gradient stays float32 through the one-hot products)."""
    return np.result_type(g)


def _shape_of(x_shape):
    """A helper's `x_shape`: the compiler passes the array, the tape its shape (ops._for_tape)."""
    return x_shape if isinstance(x_shape, tuple) else np.shape(x_shape)


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


# --- axes and order ------------------------------------------------------------------------------

@helper(fresh=False, tangent=(LINEAR,))
def swapaxes_grad(g, axis1=0, axis2=1):
    """Swapping two axes is its own inverse."""
    return np.swapaxes(g, axis1, axis2)


@helper(fresh=False, tangent=(LINEAR,))
def moveaxis_back_grad(g, source=0, destination=0):
    """np.moveaxis(x, source, destination)'s adjoint moves the axes back."""
    return np.moveaxis(g, destination, source)


@helper(fresh=False, tangent=(LINEAR,))
def flip_grad(g, axis=None):
    """A flip is its own inverse."""
    return np.flip(g, axis)


@helper(tangent=(LINEAR,))
def roll_grad(g, shift=0, axis=None):
    """A roll's adjoint rolls the other way."""
    back = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return np.roll(g, back, axis)


# --- copies along axes ---------------------------------------------------------------------------

@helper(tangent=(LINEAR, None))
def tile_grad(g, x_shape, reps=1):
    """np.tile(x, reps): g's copies of x summed back (each axis split into (copy, entry))."""
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    shape = _shape_of(x_shape)
    d = max(len(shape), len(reps))
    shape_d = (1,) * (d - len(shape)) + tuple(shape)
    reps_d = (1,) * (d - len(reps)) + reps
    split = [n for pair in zip(reps_d, shape_d) for n in pair]
    summed = np.sum(np.reshape(g, split), axis=tuple(range(0, 2 * d, 2)))
    return np.reshape(summed, shape)


@helper(tangent=(LINEAR, None))
def repeat_grad(g, x_shape, repeats=1, axis=None):
    """np.repeat(x, repeats, axis): each entry's copies summed back (a count per entry: a product
    with the 0/1 matrix of which copy came from which entry)."""
    shape = _shape_of(x_shape)
    if axis is None:
        return np.reshape(repeat_grad(np.reshape(g, (-1,)), (int(np.prod(shape)),), repeats, 0),
                          shape)
    a = _axis(axis, len(shape))
    n = shape[a]
    if isinstance(repeats, int) and not isinstance(repeats, bool):
        split = tuple(shape[:a]) + (n, repeats) + tuple(shape[a + 1:])
        return np.sum(np.reshape(g, split), axis=a + 1)
    source = np.repeat(np.arange(n), np.broadcast_to(np.asarray(repeats, dtype=int), (n,)))
    onehot = _onehot(source, n, _dtype(g))                           # (copies, n)
    return np.moveaxis(np.matmul(np.moveaxis(g, a, -1), onehot), -1, a)


# --- diagonals and triangles ---------------------------------------------------------------------

def _embed(gd, m, p, offset):
    """A (..., m, p) array holding gd[..., t] at (t + max(-offset, 0), t + max(offset, 0)) and zeros
    elsewhere, as a product with 0/1 matrices (recordable by the tape, unlike a write); gd's last
    axis may be 1 (the same value all along the diagonal, for trace)."""
    lo, hi = max(-offset, 0), max(offset, 0)
    n = max(0, min(m - lo, p - hi))
    dtype = _dtype(gd)
    rows = np.eye(m, n, -lo, dtype=dtype)     # rows[t + lo, t] = 1
    cols = np.eye(n, p, hi, dtype=dtype)      # cols[t, t + hi] = 1
    return np.matmul(np.expand_dims(gd, -2) * rows, cols)


@helper(tangent=(LINEAR, None))
def diagonal_grad(g, x_shape, offset=0, axis1=0, axis2=1):
    """np.diagonal(x, offset, axis1, axis2) (and np.diag of a matrix): g put back on the diagonal
    (its last axis), the two axes moved back where they were."""
    nd = len(_shape_of(x_shape))
    a1, a2 = _axis(axis1, nd), _axis(axis2, nd)
    shape = _shape_of(x_shape)
    full = _embed(g, shape[a1], shape[a2], offset)
    return np.moveaxis(full, (-2, -1), (a1, a2))


@helper(tangent=(LINEAR, None))
def diag_grad(g, x_shape, k=0):
    """np.diag: of a vector, the matrix's k-th diagonal is its adjoint; of a matrix, g is put back on
    the k-th diagonal."""
    if len(_shape_of(x_shape)) == 1:
        return np.diag(g, k)
    return diagonal_grad(g, x_shape, offset=k)


@helper(tangent=(LINEAR, None))
def trace_grad(g, x_shape, offset=0, axis1=0, axis2=1):
    """np.trace: g reaches every entry of the diagonal."""
    return diagonal_grad(np.expand_dims(g, -1), x_shape, offset=offset, axis1=axis1, axis2=axis2)


@helper(tangent=(LINEAR,))
def triu_grad(g, k=0):
    return np.triu(g, k)


@helper(tangent=(LINEAR,))
def tril_grad(g, k=0):
    return np.tril(g, k)


# --- padding and joins ---------------------------------------------------------------------------

@helper(fresh=False, tangent=(LINEAR, None))
def pad_grad(g, x_shape, pad_width=0):
    """np.pad(x, pad_width) (constant mode): the adjoint is g without the padding."""
    nd = len(_shape_of(x_shape))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (nd, 2))
    shape = np.shape(g)
    index = tuple(slice(int(before), shape[k] - int(after)) for k, (before, after) in enumerate(widths))
    return g[index]


def _joined(shape, kind):
    """The shape an array of `shape` takes in a join of `kind`, and the join's axis."""
    shape = tuple(shape)
    if kind == "v":
        return (shape if len(shape) >= 2 else (1,) + shape + (1,) * (1 - len(shape))), 0
    if kind == "h":
        s = shape if len(shape) >= 1 else (1,)
        return s, (0 if len(s) == 1 else 1)
    if kind == "d":
        if len(shape) == 0:
            return (1, 1, 1), 2
        if len(shape) == 1:
            return (1,) + shape + (1,), 2
        if len(shape) == 2:
            return shape + (1,), 2
        return shape, 2
    if kind == "c":
        return (shape + (1,) if len(shape) < 2 else shape), 1
    raise ValueError(kind)


@helper(fresh=False, tangent=(LINEAR, None))
def join_grad(g, *shapes, kind="v", position=0):
    """vstack/hstack/dstack/column_stack: the slice of g that input `position` filled, reshaped back."""
    joined = [_joined(s, kind) for s in shapes]
    axis = joined[0][1]
    if kind == "h" and len(joined[0][0]) == 1:
        axis = 0
    start = sum(j[0][axis] for j in joined[:position])
    stop = start + joined[position][0][axis]
    index = (slice(None),) * axis + (slice(start, stop),)
    return np.reshape(g[index], tuple(shapes[position]))


def _join(kind, fn):
    def bind(args, kwargs, ctx):
        if len(args) != 1 or kwargs:
            raise TypeError(f"takes one tuple of arrays, without keywords")
        return ctx.items(args[0]), {"kind": kind}
    return bind


def vstack(*xs, kind="v"):
    return np.vstack(xs)


def hstack(*xs, kind="h"):
    return np.hstack(xs)


def dstack(*xs, kind="d"):
    return np.dstack(xs)


def column_stack(*xs, kind="c"):
    return np.column_stack(xs)


def _single(args, kwargs, ctx):
    """np.atleast_2d(x): one array only (NumPy would return a list for several)."""
    if len(args) != 1 or kwargs:
        raise TypeError("takes one array here")
    return [args[0]], {}


# --- gathers and sorts ---------------------------------------------------------------------------

def _onehot(indices, n, dtype):
    """(..., n) with a 1 at each index (negative indices counted from the end)."""
    idx = np.asarray(indices) % n
    return (np.expand_dims(idx, -1) == np.arange(n)).astype(dtype)


@helper(tangent=(LINEAR, None, None))
def take_grad(g, x_shape, indices, axis=None):
    """np.take(x, indices, axis): g summed back onto the entries taken (repeats add up), as a product
    with a one-hot matrix."""
    shape = _shape_of(x_shape)
    idx = np.asarray(indices)
    if axis is None:
        size = int(np.prod(shape))
        flat = np.matmul(np.reshape(g, (-1,)), np.reshape(_onehot(idx, size, _dtype(g)), (-1, size)))
        return np.reshape(flat, shape)
    a = _axis(axis, len(shape))
    n = shape[a]
    pre, post = int(np.prod(shape[:a])), int(np.prod(shape[a + 1:]))
    k = idx.size
    gr = np.moveaxis(np.reshape(g, (pre, k, post)), 1, 2)        # (pre, post, k)
    out = np.matmul(gr, np.reshape(_onehot(idx, n, _dtype(g)), (k, n)))   # (pre, post, n)
    return np.reshape(np.moveaxis(out, 2, 1), shape)


@helper(tangent=(LINEAR, None, None))
def take_along_axis_grad(g, x_shape, indices, axis=-1):
    """np.take_along_axis(x, indices, axis): g summed back onto the entries taken (repeats add up)."""
    shape = _shape_of(x_shape)
    idx = np.asarray(indices)
    if axis is None:
        size = int(np.prod(shape))
        flat = np.sum(np.expand_dims(g, -1) * _onehot(idx, size, _dtype(g)), axis=-2)
        return np.reshape(flat, shape)
    a = _axis(axis, len(shape))
    n = shape[a]
    onehot = _onehot(np.moveaxis(idx, a, -1), n, _dtype(g))         # (..., k, n)
    gm = np.expand_dims(np.moveaxis(g, a, -1), -1)                    # (..., k, 1)
    out = np.moveaxis(np.sum(gm * onehot, axis=-2), -1, a)            # x's shape, or broadcast
    extra = tuple(k for k in range(len(shape)) if shape[k] == 1 and np.shape(out)[k] != 1)
    return np.sum(out, axis=extra, keepdims=True) if extra else out


@helper(tangent=(LINEAR, None))
def sort_grad(g, x, axis=-1):
    """np.sort: each entry gets g at the place it was sorted to. Ties: tied entries get g in the
    order np.argsort(x, kind="stable") gives them (the earlier entry the earlier sorted place)."""
    if axis is None:
        order = np.argsort(np.reshape(x, (-1,)), kind="stable")
        back = np.argsort(order, kind="stable")
        return np.reshape(np.take(g, back), np.shape(x))
    order = np.argsort(x, axis=axis, kind="stable")
    back = np.argsort(order, axis=axis, kind="stable")
    return np.take_along_axis(g, back, axis)


@helper(tangent=(LINEAR, None))
def astype_grad(g, x):
    """x.astype(dtype): the gradient comes back in x's own dtype."""
    return np.astype(g, np.result_type(x))


def _pad(args, kwargs, ctx):
    """np.pad(x, pad_width): constant mode, zeros only (bound here: NumPy's signature takes **kwargs,
    which the tape's binding by signature refuses even when empty)."""
    args, kwargs = list(args), dict(kwargs)
    x = args.pop(0) if args else kwargs.pop("array")
    width = args.pop(0) if args else kwargs.pop("pad_width")
    mode = args.pop(0) if args else kwargs.pop("mode", None)
    mode = "constant" if mode is None else ctx.const(mode, "mode")
    values = kwargs.pop("constant_values", None)
    values = 0 if values is None else ctx.const(values, "constant_values")
    if args or kwargs or mode != "constant" or np.any(np.asarray(values) != 0):
        raise TypeError("supports constant padding with zeros only: np.pad(x, pad_width)")
    return [x], {"pad_width": ctx.const(width, "pad_width")}


def astype(x, dtype):
    """x.astype(dtype) (NumPy's np.astype takes dtype by position only)."""
    return np.astype(x, dtype)


def _astype(args, kwargs, ctx):
    """x.astype(np.float32): the dtype is a NumPy type, which the compiler holds as an object."""
    args, kwargs = list(args), dict(kwargs)
    if len(args) != 2 or set(kwargs) - {"copy"}:
        raise TypeError("takes an array and a dtype")
    dtype = args[1]
    dtype = getattr(dtype, "obj", dtype)  # the compiler's value of a module attribute (np.float32)
    if not isinstance(dtype, (type, np.dtype, str)):
        dtype = ctx.const(dtype, "dtype")
    return [args[0]], {"dtype": np.dtype(dtype).name}


def flatten(a, order="C"):
    """x.flatten(): always a copy (the method's callable; users call it as a method)."""
    return np.ravel(a, order).copy()


# A view or reduction family has no makes_arrays fact: a function whose only array operations are
# these would be emitted as scalar code (statically_scalar), where they have no `math` spelling.
ARRAYS = {"makes_arrays": True}

ENTRIES = [
    Fn("swapaxes", "x", "swapaxes_grad(g, axis1=axis1, axis2=axis2)", family="view", facts=ARRAYS,
       np=np.swapaxes, params="axis1 axis2", tape=None, tangent=(LINEAR,)),
    Fn("moveaxis", "x", "moveaxis_back_grad(g, source=source, destination=destination)", family="view", facts=ARRAYS,
       np=np.moveaxis, params="source destination", tangent=(LINEAR,)),
    Fn("flip", "x", "flip_grad(g, axis=axis)", family="view", facts=ARRAYS, np=np.flip, params="axis", tangent=(LINEAR,)),
    Fn("roll", "x", "roll_grad(g, shift=shift, axis=axis)", family="linalg", np=np.roll,
       params="shift axis", tangent=(LINEAR,)),
    Fn("tile", "x", "tile_grad(g, x, reps=reps)", family="linalg", np=np.tile, params="reps", tangent=(LINEAR,)),
    Fn("repeat", "x", "repeat_grad(g, x, repeats=repeats, axis=axis)", family="linalg",
       np=np.repeat, params="repeats axis", tangent=(LINEAR,)),
    # (np.diag of a matrix is a read-only view of it: never updated in place)
    Fn("diag", "x", "diag_grad(g, x, k=k)", family="linalg", np=np.diag, params="k",
       facts={"fresh": False}, tangent=(LINEAR,)),
    Fn("diagonal", "x", "diagonal_grad(g, x, offset=offset, axis1=axis1, axis2=axis2)",
       family="view", facts=ARRAYS, np=np.diagonal, params="offset axis1 axis2", tangent=(LINEAR,)),
    Fn("trace", "x", "trace_grad(g, x, offset=offset, axis1=axis1, axis2=axis2)",
       family="reduction", facts=ARRAYS, np=np.trace, params="offset axis1 axis2", tangent=(LINEAR,)),
    Fn("triu", "x", "triu_grad(g, k=k)", family="linalg", np=np.triu, params="k", tangent=(LINEAR,)),
    Fn("tril", "x", "tril_grad(g, k=k)", family="linalg", np=np.tril, params="k", tangent=(LINEAR,)),
    Fn("ravel", "x", "reshape_grad(g, x)", family="view", facts=ARRAYS, np=np.ravel, method="ravel",
       tape=None, tangent=(LINEAR,)),
    Fn("flatten", "x", "reshape_grad(g, x)", family="linalg", np=flatten, method="flatten",
       tape=None, tangent=(LINEAR,)),
    Fn("atleast_1d", "x", "reshape_grad(g, x)", family="view", facts=ARRAYS, np=np.atleast_1d, bind=_single, tangent=(LINEAR,)),
    Fn("atleast_2d", "x", "reshape_grad(g, x)", family="view", facts=ARRAYS, np=np.atleast_2d, bind=_single, tangent=(LINEAR,)),
    Fn("atleast_3d", "x", "reshape_grad(g, x)", family="view", facts=ARRAYS, np=np.atleast_3d, bind=_single, tangent=(LINEAR,)),
    # the tape's own runtime.broadcast_to stays (a core primitive); this is the compiler's spelling
    Fn("np_broadcast_to", "x", "unbroadcast(g, x)", family="view", facts=ARRAYS, np=np.broadcast_to,
       params="shape", tape=None, tangent=(LINEAR,)),
    Fn("pad", "x", "pad_grad(g, x, pad_width=pad_width)", family="linalg", np=np.pad,
       params="pad_width", bind=_pad, tangent=(LINEAR,)),
    Fn("vstack", "*xs", "join_grad(g, *xs_shapes, kind=kind, position=i)", family="linalg",
       np=vstack, also=(np.vstack,), params="kind", bind=_join("v", vstack), tangent=(LINEAR,)),
    Fn("hstack", "*xs", "join_grad(g, *xs_shapes, kind=kind, position=i)", family="linalg",
       np=hstack, also=(np.hstack,), params="kind", bind=_join("h", hstack), tangent=(LINEAR,)),
    Fn("dstack", "*xs", "join_grad(g, *xs_shapes, kind=kind, position=i)", family="linalg",
       np=dstack, also=(np.dstack,), params="kind", bind=_join("d", dstack), tangent=(LINEAR,)),
    Fn("column_stack", "*xs", "join_grad(g, *xs_shapes, kind=kind, position=i)", family="linalg",
       np=column_stack, also=(np.column_stack,), params="kind", bind=_join("c", column_stack), tangent=(LINEAR,)),
    Fn("take", "x indices", "take_grad(g, x, indices, axis=axis)", None, family="linalg",
       np=np.take, params="axis", tangent=(LINEAR, None)),
    Fn("take_along_axis", "x indices", "take_along_axis_grad(g, x, indices, axis=axis)", None,
       family="linalg", np=np.take_along_axis, params="axis", tangent=(LINEAR, None)),
    Fn("sort", "x", "sort_grad(g, x, axis=axis)", family="linalg", np=np.sort, params="axis", tangent=(ROWS,)),
    Fn("cast", "x", "astype_grad(g, x)", family="linalg", np=astype, also=(np.astype,),
       method="astype", params="dtype", bind=_astype, tangent=(LINEAR,)),
]
